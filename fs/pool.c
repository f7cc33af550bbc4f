/* Reader connections (see pool.h). */
#include "fs/pool.h"

#include <stdlib.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "fs/sync.h"

struct reader {
	pthread_mutex_t lock;       /* held for a whole fetch */
	pthread_mutex_t conn_lock;  /* s is assigned under it too (pool_abort) */
	struct imap_session *s;
	struct view view;
	struct backoff backoff;
	long long next_try_ms;
};

struct pool {
	struct account *a;
	size_t n;
	struct reader *r;
};

struct pool *pool_new(struct account *a, size_t readers)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (!p || (readers && !(p->r = calloc(readers, sizeof(*p->r))))) {
		free(p);
		return NULL;
	}
	p->a = a;
	p->n = readers;
	for (size_t i = 0; i < readers; i++) {
		pthread_mutex_init(&p->r[i].lock, NULL);
		pthread_mutex_init(&p->r[i].conn_lock, NULL);
		view_init(&p->r[i].view, a, NULL);
		backoff_init(&p->r[i].backoff, a->opt->reconnect_max, 0);
	}
	return p;
}

static void set_session(struct reader *r, struct imap_session *s)
{
	pthread_mutex_lock(&r->conn_lock);
	r->s = s;
	pthread_mutex_unlock(&r->conn_lock);
}

static void drop(struct pool *p, struct reader *r)
{
	struct imap_session *s = r->s;

	set_session(r, NULL);
	view_reset(&r->view);
	login_session_ended(&p->a->login, s);
	imap_session_close(s);
}

/* A logged-in session on r, or false (then the worker serves). */
static bool ensure(struct pool *p, struct reader *r, long long deadline, struct imap_status *st)
{
	struct imap_session *s;
	long long now = clock_ms();

	if (r->s && imap_session_usable(r->s))
		return true;
	if (r->s)
		drop(p, r);
	if (now < r->next_try_ms || atomic_load(&p->a->shutting_down))
		return false;
	if (!(s = imap_session_new(&p->a->scfg)))
		return false;
	imap_session_set_deadline(s, deadline);
	set_session(r, s);
	if (atomic_load(&p->a->shutting_down))
		imap_session_abort(s);
	if (account_connect(p->a, s, st) != IMAP_R_OK) {
		long wait = st->result == IMAP_R_TIMEOUT ? backoff_silent(&r->backoff) :
			    backoff_next(&r->backoff, imap_login_rejected(st));

		log_info(LOG_CAT_IMAP, "a reader connection failed (%s): the worker serves alone "
			 "for %ld s", st->text, (wait + 999) / 1000);
		r->next_try_ms = clock_ms() + wait; /* the try may have taken a timeout */
		set_session(r, NULL);
		imap_session_close(s);
		return false;
	}
	backoff_reset(&r->backoff);
	view_reset(&r->view);
	r->view.s = s;
	imap_session_set_untagged(s, view_on_untagged, &r->view);
	return true;
}

static enum imap_result fetch(struct pool *p, struct reader *r, struct folder *f, uint32_t uid,
			      body_ready_fn ready, void *ctx, struct imap_status *st)
{
	enum imap_result rr = view_open(&r->view, f, false, false, st);
	bool delivered = false;

	if (rr == IMAP_R_OK)
		rr = account_fetch_body_on(p->a, &r->view, f, uid, ready, ctx, st, &delivered);
	if (rr == IMAP_R_OK && !delivered) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		rr = IMAP_R_GONE;
	}
	return rr;
}

bool pool_load_body(struct pool *p, struct folder *f, uint32_t uid, body_ready_fn ready,
		    void *ctx, long long deadline, struct imap_status *st, enum imap_result *rr)
{
	for (size_t i = 0; p && i < p->n; i++) {
		struct reader *r = &p->r[i];

		if (pthread_mutex_trylock(&r->lock) != 0)
			continue;
		if (!ensure(p, r, deadline, st)) {
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		imap_session_set_deadline(r->s, deadline);
		*rr = fetch(p, r, f, uid, ready, ctx, st);
		if (r->s)
			imap_session_set_deadline(r->s, 0);
		pthread_mutex_unlock(&r->lock);
		return true;
	}
	return false;
}

void pool_abort(struct pool *p)
{
	for (size_t i = 0; p && i < p->n; i++) {
		pthread_mutex_lock(&p->r[i].conn_lock);
		if (p->r[i].s)
			imap_session_abort(p->r[i].s);
		pthread_mutex_unlock(&p->r[i].conn_lock);
	}
}

void pool_abort_busy(struct pool *p)
{
	for (size_t i = 0; p && i < p->n; i++) {
		if (pthread_mutex_trylock(&p->r[i].lock) == 0) {
			pthread_mutex_unlock(&p->r[i].lock);
			continue;
		}
		pthread_mutex_lock(&p->r[i].conn_lock);
		if (p->r[i].s)
			imap_session_abort(p->r[i].s);
		pthread_mutex_unlock(&p->r[i].conn_lock);
	}
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct reader *r = &p->r[i];

		if (r->s) {
			imap_session_set_untagged(r->s, NULL, NULL);
			imap_session_close(r->s);
		}
		view_free(&r->view);
		pthread_mutex_destroy(&r->lock);
		pthread_mutex_destroy(&r->conn_lock);
	}
	free(p->r);
	free(p);
}
