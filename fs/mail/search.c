/* The server's search in one folder (see search.h). */
#include "fs/mail/search.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/thread.h"
#include "fs/mail/account.h"
#include "fs/mail/pool.h"
#include "fs/mail/view.h"

/* Refresh f and search it once. */
static enum imap_result search_once(struct account *a, struct folder *f,
				    const struct imap_search *q, uint32_t **uids, size_t *n,
				    struct imap_status *st)
{
	enum imap_result rr = account_refresh_folder(a, f, st);

	if (rr == IMAP_R_OK && a->view.f != f) {
		imap_status_set(st, IMAP_R_GONE, "%s is not selected", f->imap_name);
		rr = IMAP_R_GONE;
	}
	return rr == IMAP_R_OK ? imap_uid_search(a->session, q, uids, n, st) : rr;
}

enum imap_result account_search(struct account *a, struct folder *f, const struct imap_search *q,
				uint32_t **uids, size_t *n, struct imap_status *st)
{
	enum imap_result rr;
	char shown[200];

	*uids = NULL;
	*n = 0;
	if (!index_folder_selectable(f))
		return IMAP_R_OK;
	rr = search_once(a, f, q, uids, n, st);
	if (rr == IMAP_R_LOST) /* a search is safe to repeat on a new connection */
		rr = search_once(a, f, q, uids, n, st);
	imap_search_describe(q, shown, sizeof(shown));
	log_debug(LOG_CAT_FS, "search %s for %s: %s, %zu found", f->imap_name, shown,
		  imap_result_name(rr), *n);
	return rr;
}

/* ---- many folders at once -------------------------------------------------------- */

/* A folder to search, with what it may cost. */
struct planned {
	size_t cost;
	size_t i;
};

struct many {
	struct account *a;
	struct folder *const *folders;
	size_t n;
	const struct imap_search *q;
	search_found_fn found;
	void *ctx;
	struct planned *order;     /* the longest search first */
	atomic_size_t next;        /* the next of order to take */
	pthread_mutex_t report;    /* one found() at a time */
};

/* What a reader does: the search, its folder selected and current. */
struct on_reader {
	const struct imap_search *q;
	uint32_t **uids;
	size_t *n;
};

static enum imap_result reader_search(struct view *v, void *ctx, struct imap_status *st)
{
	struct on_reader *r = ctx;

	return imap_uid_search(v->s, r->q, r->uids, r->n, st);
}

/* Folder f searched on a free reader, else on the worker. */
static enum imap_result search_one(struct many *m, struct folder *f, uint32_t **uids,
				   size_t *n, struct imap_status *st)
{
	struct on_reader job = { m->q, uids, n };
	long long deadline = account_deadline(m->a);
	enum imap_result rr;

	*uids = NULL;
	*n = 0;
	if (index_folder_selectable(f) &&
	    pool_run(m->a->readers, f, true, reader_search, &job, deadline, st, &rr) &&
	    rr != IMAP_R_LOST) {
		log_debug(LOG_CAT_FS, "search %s on a reader: %s, %zu found", f->imap_name,
			  imap_result_name(rr), *n);
		return rr;
	}
	free(*uids); /* a reader that broke: the worker's session tries again */
	if (!account_lock_session(m->a, deadline, st))
		return st->result;
	rr = account_search(m->a, f, m->q, uids, n, st);
	account_unlock_session(m->a);
	return rr;
}

static void *searcher(void *arg)
{
	struct many *m = arg;
	size_t k;

	pthread_setname_np(pthread_self(), "ibx-search"); /* named in top, gdb, perf */
	while ((k = atomic_fetch_add(&m->next, 1)) < m->n) {
		size_t i = m->order[k].i;
		struct imap_status st = { 0 };
		uint32_t *uids;
		size_t n;
		enum imap_result rr = search_one(m, m->folders[i], &uids, &n, &st);

		pthread_mutex_lock(&m->report);
		m->found(m->ctx, i, rr, uids, n, &st);
		pthread_mutex_unlock(&m->report);
	}
	return NULL;
}

/* A search's cost, guessed from what the index knows: a folder never
 * loaded may be the biggest. */
static size_t cost(const struct folder *f)
{
	return f->loaded ? f->nmsgs : SIZE_MAX;
}

static int by_cost(const void *x, const void *y)
{
	size_t a = ((const struct planned *)x)->cost, b = ((const struct planned *)y)->cost;

	return (a < b) - (a > b);
}

/* The longest searches start first, so that the last to end is not a
 * long one begun when the others were done (the root's search then takes
 * about as long as its biggest folder's). */
static void plan(struct many *m)
{
	rlock_take(&m->a->index_lock);
	for (size_t i = 0; i < m->n; i++)
		m->order[i] = (struct planned){ cost(m->folders[i]), i };
	rlock_drop(&m->a->index_lock);
	qsort(m->order, m->n, sizeof(*m->order), by_cost);
}

void account_search_many(struct account *a, struct folder *const *folders, size_t n,
			 const struct imap_search *q, search_found_fn found, void *ctx)
{
	struct many m = { .a = a, .folders = folders, .n = n, .q = q, .found = found, .ctx = ctx };
	size_t k = 1 + pool_size(a->readers);
	pthread_t *t = calloc(k, sizeof(*t));
	size_t started = 0;

	m.order = calloc(n + 1, sizeof(*m.order));
	if (!m.order) {
		for (size_t i = 0; i < n; i++)
			found(ctx, i, IMAP_R_NOMEM, NULL, 0,
			      &(struct imap_status){ .result = IMAP_R_NOMEM, .text = "out of memory" });
		free(t);
		return;
	}
	plan(&m);
	atomic_init(&m.next, 0);
	pthread_mutex_init(&m.report, NULL);
	/* One thread per connection; this one is among them. */
	for (size_t i = 1; t && i < k && i < n; i++)
		if (thread_start(&t[started], searcher, &m) == 0)
			started++;
	searcher(&m);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&m.report);
	free(m.order);
	free(t);
}
