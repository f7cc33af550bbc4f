#define FUSE_USE_VERSION 314
#include "fs/notify.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/thread.h"
#include "fs/mail/bodycache.h"
#include "fs/mail/hooks.h"

struct note {
	uint64_t ino;     /* inode, or the parent for an entry */
	char *name;       /* entry invalidation */
	struct body *body; /* page cache store */
	struct bodycache *bc;
	struct note *next;
};

struct notifier {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct note *head, *tail;
	size_t queued;
	size_t unsignalled;  /* stores queued without waking the thread */
	bool sleeping;   /* the thread waits for work: only then is a wake-up needed */
	bool stop;
};

static void send_note(struct notifier *n, const struct note *nt)
{
	int r;

	if (nt->body) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(nt->body->len);

		bv.buf[0].mem = nt->body->data;
		r = fuse_lowlevel_notify_store(n->se, nt->ino, 0, &bv, 0);
		bodycache_release(nt->bc, nt->body);
	} else if (nt->name)
		r = fuse_lowlevel_notify_inval_entry(n->se, nt->ino, nt->name, strlen(nt->name));
	else
		r = fuse_lowlevel_notify_inval_inode(n->se, nt->ino, 0, 0);
	/* ENOENT: the kernel had nothing cached, which is fine. */
	if (r < 0 && r != -ENOENT)
		log_debug(LOG_CAT_FS, "invalidation of %llu%s%s failed: %s",
			  (unsigned long long)nt->ino, nt->name ? "/" : "", nt->name ? nt->name : "",
			  strerror(-r));
}

/* Takes the whole queue at each turn: a read-ahead queues a note per
 * message, and one lock round and wake-up per batch is cheaper. */
static void *notifier_main(void *arg)
{
	struct notifier *n = arg;
	struct note *batch, *nt;
	size_t done;

	pthread_setname_np(pthread_self(), "ibx-notify"); /* named in top, gdb, perf */
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stop) {
			n->sleeping = true;
			pthread_cond_wait(&n->cond, &n->lock);
			n->sleeping = false;
		}
		if (n->stop)
			break;
		batch = n->head;
		n->head = n->tail = NULL;
		pthread_mutex_unlock(&n->lock);
		for (done = 0; (nt = batch); done++) {
			batch = nt->next;
			send_note(n, nt);
			free(nt->name);
			free(nt);
		}
		pthread_mutex_lock(&n->lock);
		n->queued -= done;
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

struct notifier *notifier_start(struct fuse_session *se)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->se = se;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (thread_start(&n->thread, notifier_main, n) != 0) {
		free(n);
		return NULL;
	}
	return n;
}

/* Stores wait for a batch (or notifier_flush): a store is only ever an
 * optimisation, and a wake-up per 5 KB message cost more than it saved.
 * Invalidations go at once. */
#define STORE_BATCH 16

static void wake(struct notifier *n)
{
	n->unsignalled = 0;
	if (n->sleeping)
		pthread_cond_signal(&n->cond);
}

static void append(struct notifier *n, struct note *nt)
{
	pthread_mutex_lock(&n->lock);
	n->queued++;
	if (n->tail)
		n->tail->next = nt;
	else
		n->head = nt;
	n->tail = nt;
	if (!nt->body || ++n->unsignalled >= STORE_BATCH)
		wake(n);
	pthread_mutex_unlock(&n->lock);
}

void notifier_flush(struct notifier *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	if (n->unsignalled)
		wake(n);
	pthread_mutex_unlock(&n->lock);
}

static void enqueue(struct notifier *n, uint64_t ino, const char *name)
{
	struct note *nt;

	if (!n || !(nt = calloc(1, sizeof(*nt))))
		return;
	nt->ino = ino;
	if (name && !(nt->name = strdup(name))) {
		free(nt);
		return;
	}
	append(n, nt);
}

void notifier_store(struct notifier *n, uint64_t ino, struct bodycache *bc, struct body *b)
{
	struct note *nt = NULL;

	/* Only an optimisation: skip it rather than queue without bound. */
	if (n && n->queued < 4096)
		nt = calloc(1, sizeof(*nt));
	if (!nt) {
		bodycache_release(bc, b);
		return;
	}
	nt->ino = ino;
	nt->body = b;
	nt->bc = bc;
	append(n, nt);
}

void notifier_inval_inode(struct notifier *n, uint64_t ino) { enqueue(n, ino, NULL); }

void notifier_inval_entry(struct notifier *n, uint64_t parent, const char *name)
{
	enqueue(n, parent, name);
}

void notifier_stop(struct notifier *n)
{
	struct note *nt, *next;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	for (nt = n->head; nt; nt = next) {
		next = nt->next;
		if (nt->body)
			bodycache_release(nt->bc, nt->body);
		free(nt->name);
		free(nt);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}

static void hook_inval_inode(void *ctx, uint64_t ino) { notifier_inval_inode(ctx, ino); }

static void hook_inval_entry(void *ctx, uint64_t dir, const char *name)
{
	notifier_inval_entry(ctx, dir, name);
}

static void hook_store(void *ctx, uint64_t ino, struct bodycache *bc, struct body *b)
{
	notifier_store(ctx, ino, bc, b);
}

static void hook_flush(void *ctx) { notifier_flush(ctx); }

void notifier_hooks(struct notifier *n, struct mail_hooks *h)
{
	*h = (struct mail_hooks){ .ctx = n, .inval_inode = hook_inval_inode,
				  .inval_entry = hook_inval_entry, .store = hook_store,
				  .flush = hook_flush };
}
