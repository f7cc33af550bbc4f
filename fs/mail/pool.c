/* Reader connections (see pool.h). */
#include "fs/mail/pool.h"

#include <stdio.h>
#include <stdlib.h>

#include "fs/mail/conn.h"
#include "fs/mail/view.h"

struct reader {
	pthread_mutex_t lock;       /* held for a whole fetch */
	pthread_mutex_t conn_lock;  /* s is assigned under it too (pool_abort) */
	struct imap_session *s;
	struct view view;
	struct conn conn;
	char who[32];               /* log prefix */
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
		snprintf(p->r[i].who, sizeof(p->r[i].who), "reader %zu: ", i + 1);
		conn_init(&p->r[i].conn, a, p->r[i].who, &p->r[i].s, &p->r[i].conn_lock,
			  &p->r[i].view, 0);
	}
	return p;
}

size_t pool_size(const struct pool *p)
{
	return p ? p->n : 0;
}

bool pool_run(struct pool *p, struct folder *f, bool noop, reader_job_fn job, void *ctx,
	      long long deadline, struct imap_status *st, enum imap_result *rr)
{
	for (size_t i = 0; p && i < p->n; i++) {
		struct reader *r = &p->r[i];

		if (pthread_mutex_trylock(&r->lock) != 0)
			continue;
		/* A reader that cannot connect now leaves the call to the worker. */
		if (conn_ensure(&r->conn, deadline, st) != IMAP_R_OK) {
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		imap_session_set_deadline(r->s, deadline);
		*rr = view_open(&r->view, f, false, noop, st);
		if (*rr == IMAP_R_OK)
			*rr = job(&r->view, ctx, st);
		if (r->s)
			imap_session_set_deadline(r->s, 0);
		pthread_mutex_unlock(&r->lock);
		return true;
	}
	return false;
}

/* A body wanted from a reader. */
struct body_job {
	struct account *a;
	struct folder *f;
	uint32_t uid;
	body_ready_fn ready;
	void *ctx;
};

static enum imap_result fetch(struct view *v, void *ctx, struct imap_status *st)
{
	struct body_job *j = ctx;
	bool delivered = false;
	enum imap_result rr = account_fetch_body_on(j->a, v, j->f, j->uid, j->ready, j->ctx, st,
						    &delivered);

	if (rr == IMAP_R_OK && !delivered) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", j->uid);
		rr = IMAP_R_GONE;
	}
	return rr;
}

bool pool_load_body(struct pool *p, struct folder *f, uint32_t uid, body_ready_fn ready,
		    void *ctx, long long deadline, struct imap_status *st, enum imap_result *rr)
{
	struct body_job j = { p ? p->a : NULL, f, uid, ready, ctx };

	return pool_run(p, f, false, fetch, &j, deadline, st, rr);
}

void pool_abort(struct pool *p)
{
	for (size_t i = 0; p && i < p->n; i++)
		conn_abort(&p->r[i].conn);
}

void pool_abort_busy(struct pool *p)
{
	for (size_t i = 0; p && i < p->n; i++) {
		if (pthread_mutex_trylock(&p->r[i].lock) == 0) {
			pthread_mutex_unlock(&p->r[i].lock);
			continue;
		}
		conn_abort(&p->r[i].conn);
	}
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct reader *r = &p->r[i];

		conn_close(&r->conn);
		view_free(&r->view);
		pthread_mutex_destroy(&r->lock);
		pthread_mutex_destroy(&r->conn_lock);
	}
	free(p->r);
	free(p);
}
