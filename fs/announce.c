/* The announcer: arrivals and departures in watched folders (kept
 * pending by fs/mail/events.c) go out to inotify watchers through real
 * system calls on the mount (see announce.h for why).  Linux facts relied
 * on, measured on this kernel: mknod on a FUSE mount raises IN_CREATE for
 * every watcher, unlink raises IN_DELETE, and closing a file written
 * through the mount IN_CLOSE_WRITE. */
#include "fs/announce.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"
#include "fs/mail/account.h"
#include "fs/mail/events.h"
#include "fs/mail/tree.h"

#define PATH_LEN 8300
/* How long a listing waits for the announcer to show what is pending: one
 * mknod per message; only an announcer held up by a busy mount takes
 * longer, and the listing then goes on without what is left. */
#define LISTING_WAIT_MS 2000

struct announcer {
	struct account *a;
	pthread_t thread;
	char root[4096];          /* the mount's absolute path (no fd held: that would
				   * make fusermount -u fail with EBUSY) */
	dev_t dev;                /* the mount's device, to know it is still there */
	atomic_int tid;
	pthread_mutex_t lock;     /* guards work, stop and batches */
	pthread_cond_t cond;
	pthread_cond_t progress;  /* a batch was announced, or stop (CLOCK_MONOTONIC) */
	unsigned long batches;
	bool work;
	atomic_bool stop;
};

pid_t announcer_tid(const struct account *a)
{
	return a->announcer ? atomic_load(&a->announcer->tid) : 0;
}

/* The engine's news hook: the announcer has work. */
static void announcer_wake(void *ctx)
{
	struct account *a = ctx;
	struct announcer *an = a->announcer;

	if (!an)
		return;
	pthread_mutex_lock(&an->lock);
	an->work = true;
	pthread_cond_signal(&an->cond);
	pthread_mutex_unlock(&an->lock);
}

static void name_of(uint32_t uid, char *buf, size_t len) { snprintf(buf, len, "%u.eml", uid); }

/* ---- listings wait for what is pending ----------------------------------- */

static unsigned long batches_now(struct announcer *an)
{
	unsigned long n;

	pthread_mutex_lock(&an->lock);
	n = an->batches;
	pthread_mutex_unlock(&an->lock);
	return n;
}

/* Until a batch after the seen-th is announced.  False at the deadline
 * or when the announcer stops. */
static bool next_batch(struct announcer *an, unsigned long seen, const struct timespec *until)
{
	bool stop;
	int rc = 0;

	pthread_mutex_lock(&an->lock);
	while (an->batches == seen && !atomic_load(&an->stop) && rc == 0)
		rc = pthread_cond_timedwait(&an->progress, &an->lock, until);
	stop = atomic_load(&an->stop);
	pthread_mutex_unlock(&an->lock);
	return rc == 0 && !stop;
}

void announce_wait_pending(struct account *a, struct folder *f)
{
	struct announcer *an = a->announcer;
	long long until_ms = clock_ms() + LISTING_WAIT_MS;
	struct timespec until = { until_ms / 1000, until_ms % 1000 * 1000000L };
	unsigned long seen;
	uint32_t top;

	if (!an || !f->watched || !(top = events_pending_top(a, f)))
		return;
	for (;;) {
		seen = batches_now(an);
		if (!events_pending_upto(a, f, top))
			return;
		if (!next_batch(an, seen, &until))
			break;
	}
	log_info(LOG_CAT_FS, "%s: listed before its new mail was announced (the announcer is "
		 "busy or stopping)", f->imap_name);
}

/* ---- the announcer thread --------------------------------------------- */

/* False when the path would not fit (then nothing is announced for it). */
static bool child_path(const struct announcer *an, const struct events_batch *b,
		       const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s", an->root, b->path, name);

	return n > 0 && (size_t)n < len;
}

/* Still our mount?  After an unmount the path names the directory below. */
static bool mounted(struct announcer *an)
{
	struct stat st;

	return stat(an->root, &st) == 0 && st.st_dev == an->dev;
}

static void announce_departures(struct announcer *an, struct folder *f,
				struct events_batch *b)
{
	char name[24], path[PATH_LEN];

	for (size_t i = 0; i < b->ngone; i++) {
		name_of(b->gone[i], name, sizeof(name));
		if (!child_path(an, b, name, path, sizeof(path)) || unlink(path) < 0)
			log_debug(LOG_CAT_FS, "announcing %s gone: %s", path, strerror(errno));
		events_forget_departure(an->a, f->ino, b->gone[i]);
	}
}

/* mknod makes each new message visible (the handler publishes it) and
 * raises IN_CREATE.  One that could not be announced is shown anyway. */
static void announce_arrivals(struct announcer *an, struct folder *f,
			      struct events_batch *b)
{
	char name[24], path[PATH_LEN];
	uint64_t ino;
	struct msg m;

	for (size_t i = 0; i < b->nborn; i++) {
		name_of(b->born[i], name, sizeof(name));
		if (child_path(an, b, name, path, sizeof(path)) && mknod(path, S_IFREG | 0600, 0) == 0)
			continue;
		log_warn(LOG_CAT_FS, "could not announce %s (%s): shown without an event", path,
			 strerror(errno));
		events_publish(an->a, f->ino, b->born[i], &m, &ino);
	}
}

/* FOLDER/.newmail: the batch's names, one per line, rewritten through the
 * mount so that watchers get IN_CLOSE_WRITE; then the mark is saved. */
static void write_marker(struct announcer *an, struct folder *f, struct events_batch *b)
{
	struct account *a = an->a;
	char path[PATH_LEN];
	struct buf text;
	uint32_t top = 0;
	int fd;

	buf_init(&text);
	for (size_t i = 0; i < b->nborn; i++) {
		buf_printf(&text, "%u.eml\n", b->born[i]);
		top = b->born[i] > top ? b->born[i] : top;
	}
	events_announced(a, f, &text, top);
	fd = child_path(an, b, MARKER_NAME, path, sizeof(path)) ?
	     open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) : -1;
	/* f->marker without the lock: this thread is the only one to change it. */
	if (fd < 0 || write(fd, f->marker, f->marker_len) < 0)
		log_warn(LOG_CAT_FS, "cannot rewrite %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	log_info(LOG_CAT_FS, "%s: %zu new message%s announced", f->imap_name, b->nborn,
		 b->nborn == 1 ? "" : "s");
}

/* A batch is visible: listings waiting for it may go on. */
static void progressed(struct announcer *an)
{
	pthread_mutex_lock(&an->lock);
	an->batches++;
	pthread_cond_broadcast(&an->progress);
	pthread_mutex_unlock(&an->lock);
}

static void announce_folder(struct announcer *an, struct folder *f)
{
	struct events_batch *b = malloc(sizeof(*b));

	while (b && !an->stop && events_take_batch(an->a, f, b) && mounted(an)) {
		announce_departures(an, f, b);
		announce_arrivals(an, f, b);
		progressed(an);
		if (b->nborn)
			write_marker(an, f, b);
	}
	free(b);
}

/* One folder change as a call of our own on the mount. */
static int announce_change(struct announcer *an, const struct tree_change *c)
{
	char path[PATH_LEN], from[PATH_LEN];
	int n = snprintf(path, sizeof(path), "%s/%s", an->root, c->path);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	if (!c->moved)
		return c->born ? mkdir(path, 0700) : rmdir(path);
	n = snprintf(from, sizeof(from), "%s/%s", an->root, c->from_path);
	return n < 0 || (size_t)n >= sizeof(from) ? -1 : rename(from, path);
}

/* Folders another client created, deleted or renamed: mkdir, rmdir or
 * rename of our own raises IN_CREATE, IN_DELETE or IN_MOVED_FROM/TO on
 * the parents (node_announce.c answers them from the pending change).
 * The kernel first forgets the new name's entry. */
static void announce_tree(struct announcer *an)
{
	struct tree_change c;

	while (!an->stop && tree_next(an->a, &c) && mounted(an)) {
		hooks_inval_entry(&an->a->hooks, c.parent, c.name);
		hooks_flush(&an->a->hooks);
		if (announce_change(an, &c) < 0) {
			log_debug(LOG_CAT_FS, "announcing folder %s %s: %s", c.path,
				  c.moved ? "moved" : c.born ? "created" : "deleted",
				  strerror(errno));
			if (c.moved) /* not moved in the kernel: it forgets the old name */
				hooks_inval_entry(&an->a->hooks, c.from_parent, c.from_name);
		}
		tree_done(an->a, c.parent, c.name);
	}
}

static bool wait_for_work(struct announcer *an)
{
	bool go;

	pthread_mutex_lock(&an->lock);
	while (!an->work && !atomic_load(&an->stop))
		pthread_cond_wait(&an->cond, &an->lock);
	an->work = false;
	go = !atomic_load(&an->stop);
	pthread_mutex_unlock(&an->lock);
	return go;
}

static void *announcer_main(void *arg)
{
	struct announcer *an = arg;
	struct account *a = an->a;
	struct stat st;

	pthread_setname_np(pthread_self(), "ibx-announce"); /* named in top, gdb, perf */
	atomic_store(&an->tid, (int)syscall(SYS_gettid));
	if (stat(an->root, &st) < 0) {
		log_err(LOG_CAT_FS, "cannot reach the mount %s: %s; no announcements", an->root,
			strerror(errno));
		announcer_request_stop(an); /* listings need not wait for it */
		return NULL;
	}
	an->dev = st.st_dev;
	while (wait_for_work(an)) {
		announce_tree(an);
		for (size_t i = 0; i < a->nwatched && !an->stop; i++)
			announce_folder(an, a->watched[i]);
	}
	return NULL;
}

static void init_monotonic_cond(pthread_cond_t *c)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
}

struct announcer *announcer_start(struct account *a, const char *root)
{
	struct announcer *an = calloc(1, sizeof(*an));

	if (!an)
		return NULL;
	an->a = a;
	snprintf(an->root, sizeof(an->root), "%s", root);
	pthread_mutex_init(&an->lock, NULL);
	pthread_cond_init(&an->cond, NULL);
	init_monotonic_cond(&an->progress);
	an->work = true; /* catch-up found at mount time */
	a->announcer = an; /* before its first mknod reaches a handler */
	a->hooks.news_ctx = a;
	a->hooks.news = announcer_wake;
	if (thread_start(&an->thread, announcer_main, an) != 0) {
		a->announcer = NULL;
		a->hooks.news = NULL;
		free(an);
		return NULL;
	}
	return an;
}

void announcer_request_stop(struct announcer *an)
{
	if (!an)
		return;
	pthread_mutex_lock(&an->lock);
	atomic_store(&an->stop, true);
	pthread_cond_signal(&an->cond);
	pthread_cond_broadcast(&an->progress);
	pthread_mutex_unlock(&an->lock);
}

void announcer_stop(struct announcer *an)
{
	if (!an)
		return;
	announcer_request_stop(an);
	pthread_join(an->thread, NULL);
	an->a->hooks.news = NULL;
	an->a->announcer = NULL;
	pthread_mutex_destroy(&an->lock);
	pthread_cond_destroy(&an->cond);
	pthread_cond_destroy(&an->progress);
	free(an);
}
