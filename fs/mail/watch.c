/* IDLE watchers.  RFC 2177 (IDLE, and re-issuing it well within the
 * 29-minute autologout), RFC 3501 §5.4 (autologout).  Any data from the
 * server counts as a heartbeat; none for idle_timeout means the link is
 * dead although it looks open, and the watcher reconnects.  Servers
 * without IDLE are polled with NOOP every poll_interval. */
#include "fs/mail/watch.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/napper.h"
#include "common/thread.h"
#include "fs/mail/account.h"
#include "fs/mail/conn.h"
#include "fs/mail/idler.h"
#include "fs/mail/poller.h"
#include "fs/mail/tree.h"
#include "fs/mail/view.h"
#include "imap/commands.h"
#include "imap/idle.h"

struct watcher {
	struct account *a;
	struct folder *f;
	pthread_t thread;
	pthread_mutex_t lock;     /* guards s (for aborting it) and the sleep */
	struct napper nap;
	struct imap_session *s;
	char state[160];          /* for .inboxfs/status (under lock) */
	struct conn conn;
	char who[128];            /* log prefix */
	bool relists;             /* LISTs every poll_interval (no poller does) */
	long long next_relist;    /* when (monotonic ms) */
};

struct watchers {
	struct watcher *w;
	size_t n;
	struct poller *poller;     /* the watched folders without IDLE, if any */
};

static void set_state(struct watcher *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_state(struct watcher *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->lock);
	va_start(ap, fmt);
	vsnprintf(w->state, sizeof(w->state), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&w->lock);
}

/* The log line and .inboxfs/status say "watching" once it is so: for
 * IDLE, once the server has said it is idling (scripts and tests wait for
 * it before they count on new mail being seen). */
static void report_watching(struct watcher *w, bool idle)
{
	log_info(LOG_CAT_IMAP, "watching %s (%s)", w->f->imap_name,
		 idle ? "IDLE" : "polling with NOOP: the server has no IDLE");
	set_state(w, "connected (%s)", idle ? "idle" : "polling");
}

/* While the server idles for us, it tells of every change to the folder:
 * a listing may trust the index without asking (-o list_from_watch). */
static void set_pushed(struct watcher *w, bool pushed)
{
	rlock_take(&w->a->index_lock);
	w->f->pushed = pushed;
	rlock_drop(&w->a->index_lock);
}

/* What an IDLE round of a watcher watches for. */
struct round {
	struct watcher *w;
	struct view *v;
	bool *reported;
};

static bool round_changed(void *ctx)
{
	return view_behind(((struct round *)ctx)->v);
}

static void round_idling(void *ctx)
{
	struct round *r = ctx;

	if (!*r->reported) {
		report_watching(r->w, true);
		set_pushed(r->w, true);
	}
	*r->reported = true;
}

/* One IDLE command: until something changes, the re-issue time comes, or
 * the link dies.  IMAP_R_OK when the caller should catch up and go on. */
static enum imap_result idle_once(struct watcher *w, struct view *v, bool *reported)
{
	struct round r = { w, v, reported };
	struct idler i = { w->a, w->s, &w->nap, w->f->imap_name, round_changed, round_idling, &r,
			   w->relists ? w->next_relist : 0 };

	return idle_round(&i);
}

/* Folders created or deleted elsewhere, when it is this watcher's turn:
 * without a poller, the first watcher LISTs every poll_interval. */
static enum imap_result relist_if_due(struct watcher *w, struct imap_status *st)
{
	bool changed;

	if (!w->relists || clock_ms() < w->next_relist)
		return IMAP_R_OK;
	w->next_relist = clock_ms() + (long long)w->a->opt->poll_interval * 1000;
	return tree_relist(w->a, w->s, account_deadline(w->a), &changed, st);
}

static enum imap_result poll_once(struct watcher *w)
{
	struct imap_status st;

	if (!napper_nap(&w->nap, (long long)w->a->opt->poll_interval * 1000))
		return IMAP_R_OK;
	return imap_noop(w->s, &st);
}

/* Watch over one connection until it breaks, the folder cannot be
 * selected (the result says why) or we are stopped. */
static enum imap_result watch_connection(struct watcher *w)
{
	struct view v;
	struct imap_status st = { 0 };
	enum imap_result rr;
	bool idle = imap_session_caps(w->s) & CAP_IDLE, reported = !idle;

	view_init(&v, w->a, w->s);
	v.news_bodies = true; /* a script woken by the news reads at once */
	imap_session_set_untagged(w->s, view_on_untagged, &v);
	rr = view_open(&v, w->f, false, false, &st);
	if (rr == IMAP_R_OK && !idle)
		report_watching(w, false);
	while (rr == IMAP_R_OK && !napper_stopped(&w->nap)) {
		rr = idle ? idle_once(w, &v, &reported) : poll_once(w);
		if (rr == IMAP_R_OK)
			rr = view_catch_up(&v, 0, &st);
		if (rr == IMAP_R_OK)
			rr = relist_if_due(w, &st);
	}
	set_pushed(w, false);
	imap_session_set_untagged(w->s, NULL, NULL);
	view_free(&v);
	return rr;
}

static bool folder_gone(struct watcher *w)
{
	bool gone;

	rlock_take(&w->a->index_lock);
	gone = w->f->gone;
	rlock_drop(&w->a->index_lock);
	return gone;
}

/* The server refused the folder (deleted elsewhere, say) on a connection
 * that is fine: keep it, and look again a poll_interval later.  False
 * once the folder is gone from the tree: nothing is left to watch. */
static bool refused(struct watcher *w, enum imap_result rr)
{
	struct imap_status st;
	bool changed;

	if (w->relists) /* no one else would tell the tree that it is gone */
		tree_relist(w->a, w->s, account_deadline(w->a), &changed, &st);
	if (folder_gone(w)) {
		log_info(LOG_CAT_IMAP, "no longer watching %s: deleted on the server",
			 w->f->imap_name);
		set_state(w, "deleted on the server");
		return false;
	}
	set_state(w, "refused by the server (%s); trying again in %u s", imap_result_name(rr),
		  w->a->opt->poll_interval);
	napper_nap(&w->nap, (long long)w->a->opt->poll_interval * 1000);
	return true;
}

/* Connect (at the schedule's times) and watch, until stopped or the
 * reconnect_tries are used up. */
static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	struct imap_status st;
	enum imap_result rr;

	pthread_setname_np(pthread_self(), "ibx-watch"); /* named in top, gdb, perf */
	while (!napper_stopped(&w->nap) && !conn_gave_up(&w->conn)) {
		if (conn_ensure(&w->conn, 0, &st) != IMAP_R_OK) {
			set_state(w, "disconnected: %.100s", st.text);
			napper_nap(&w->nap, conn_wait_ms(&w->conn));
			continue;
		}
		rr = watch_connection(w);
		if (rr == IMAP_R_NO || rr == IMAP_R_GONE) {
			if (!refused(w, rr))
				break;
			continue;
		}
		if (rr != IMAP_R_OK && !napper_stopped(&w->nap))
			log_info(LOG_CAT_IMAP, "stopped watching %s: %s; reconnecting",
				 w->f->imap_name, imap_result_name(rr));
		set_state(w, "disconnected");
		conn_close(&w->conn);
	}
	conn_close(&w->conn); /* one kept while the folder was refused */
	return NULL;
}

static void start_one(struct watchers *ws, struct account *a, struct folder *f, bool relists)
{
	struct watcher *w = &ws->w[ws->n];

	w->a = a;
	w->f = f;
	w->relists = relists;
	w->next_relist = clock_ms() + (long long)a->opt->poll_interval * 1000;
	pthread_mutex_init(&w->lock, NULL);
	snprintf(w->who, sizeof(w->who), "watching %.100s: ", f->imap_name);
	conn_init(&w->conn, a, w->who, &w->s, &w->lock, NULL, a->opt->reconnect_tries);
	napper_init(&w->nap, &w->lock);
	if (thread_start(&w->thread, watch_main, w) != 0) {
		log_err(LOG_CAT_IMAP, "cannot start watching %s", f->imap_name);
		napper_destroy(&w->nap);
		pthread_mutex_destroy(&w->lock);
		return;
	}
	ws->n++;
}

struct watchers *watchers_start(struct account *a)
{
	struct watchers *ws = calloc(1, sizeof(*ws));
	size_t idle = a->budget.idle < a->nwatched ? a->budget.idle : a->nwatched;
	bool polls = a->budget.poller && idle < a->nwatched;

	if (!ws || !(ws->w = calloc(idle + 1, sizeof(*ws->w)))) {
		free(ws);
		return NULL;
	}

	for (size_t i = 0; i < idle; i++)
		start_one(ws, a, a->watched[i], i == 0 && !polls);
	if (polls)
		ws->poller = poller_start(a, a->watched + idle, a->nwatched - idle);

	return ws;
}

void watchers_describe(struct watchers *ws, struct buf *out)
{
	for (size_t i = 0; ws && i < ws->n; i++) {
		struct watcher *w = &ws->w[i];
		long long quiet;

		pthread_mutex_lock(&w->lock);
		quiet = w->s ? imap_session_quiet_ms(w->s) : -1;
		buf_printf(out, "watch %s: %s\n", w->f->imap_name, w->state[0] ? w->state :
			   "connecting");
		if (quiet >= 0)
			buf_printf(out, "watch %s last_contact: %lld s ago\n", w->f->imap_name,
				   quiet / 1000);
		buf_printf(out, "watch %s connections: %u\n", w->f->imap_name, w->conn.connects);
		pthread_mutex_unlock(&w->lock);
	}
	if (ws)
		poller_describe(ws->poller, out);
}

void watchers_stop(struct watchers *ws)
{
	if (!ws)
		return;
	poller_stop(ws->poller);
	for (size_t i = 0; i < ws->n; i++) {
		struct watcher *w = &ws->w[i];

		napper_stop(&w->nap);
		conn_abort(&w->conn); /* out of IDLE at once */
	}
	for (size_t i = 0; i < ws->n; i++) {
		pthread_join(ws->w[i].thread, NULL);
		napper_destroy(&ws->w[i].nap);
		pthread_mutex_destroy(&ws->w[i].lock);
	}
	free(ws->w);
	free(ws);
}
