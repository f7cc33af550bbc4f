/* One connection and its reconnect policy (see conn.h).  RFC 5530 §3
 * (UNAVAILABLE: a temporary login failure). */
#include "fs/mail/conn.h"

#include <stdio.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/view.h"
#include "imap/commands.h"

/* After a session went silent, a caller's next try is a probe this short:
 * a server that is back answers within a round trip or two, and over a
 * dead link a full try would keep the caller (and those queued behind it)
 * a whole timeout. */
#define PROBE_MS 1000
#define FIRST_LOGIN_TRIES 4
#define FIRST_LOGIN_WAIT_MS 500
/* A connection the server's limit leaves no room for is not tried again
 * sooner (one may have closed by then). */
#define NO_ROOM_WAIT_MS 60000

void conn_init(struct conn *c, struct account *a, const char *who,
	       struct imap_session **slot, pthread_mutex_t *slot_lock, struct view *view,
	       unsigned tries)
{
	c->a = a;
	c->who = who;
	c->slot = slot;
	c->slot_lock = slot_lock;
	c->view = view;
	backoff_init(&c->backoff, a->opt->reconnect_max, tries);
}

static void publish(struct conn *c, struct imap_session *s)
{
	pthread_mutex_lock(c->slot_lock);
	if (!*c->slot != !s) /* one more open, or one fewer */
		atomic_fetch_add(&c->a->conns_open, s ? 1u : (unsigned)-1);
	*c->slot = s;
	if (s && atomic_load(&c->a->shutting_down))
		imap_session_abort(s);
	pthread_mutex_unlock(c->slot_lock);
}

/* Connect and log in s; compression after the login (RFC 4978 allows it
 * before, but a failed login's challenge would be compressed for
 * nothing); QRESYNC for expunges by UID and what vanished while away. */
static enum imap_result handshake(struct account *a, struct imap_session *s,
				  struct imap_status *st)
{
	enum imap_result rr = imap_session_connect(s, st);

	if (rr == IMAP_R_OK)
		rr = login_run(&a->login, s, st);
	if (rr == IMAP_R_OK && a->opt->compress && (imap_session_caps(s) & CAP_COMPRESS_DEFLATE))
		rr = imap_compress(s, st);
	if (rr == IMAP_R_OK)
		rr = imap_enable_qresync(s, st);
	return rr;
}

/* Extra connections (readers, watchers) log in one after the other: a
 * server counts connections at login, and one refused for its limit then
 * tells how many it takes (those logged in), not how many were racing. */
static enum imap_result handshake_one_at_a_time(struct conn *c, struct imap_session *s,
						struct imap_status *st)
{
	enum imap_result rr;

	if (c == &c->a->conn)
		return handshake(c->a, s, st);
	pthread_mutex_lock(&c->a->login_lock);
	rr = handshake(c->a, s, st);
	pthread_mutex_unlock(&c->a->login_lock);
	return rr;
}

/* A new session in *slot, the server due to answer by `until` while
 * connecting and by `deadline` afterwards.  Published before any I/O, so
 * that unmounting can abort a connect that hangs. */
static enum imap_result open_session(struct conn *c, long long until, long long deadline,
				     struct imap_status *st)
{
	struct imap_session *s = imap_session_new(&c->a->scfg);

	if (!s) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return IMAP_R_NOMEM;
	}
	imap_session_set_deadline(s, until);
	publish(c, s);
	if (handshake_one_at_a_time(c, s, st) != IMAP_R_OK) {
		publish(c, NULL);
		imap_session_close(s);
		return st->result;
	}
	imap_session_set_deadline(s, deadline);
	c->up = true;
	atomic_fetch_add(&c->a->conns_up, 1);
	atomic_store(&c->a->server_caps, imap_session_caps(s));
	if (c->view) {
		view_reset(c->view);
		c->view->s = s;
		imap_session_set_untagged(s, view_on_untagged, c->view);
	}
	c->connects++;
	return IMAP_R_OK;
}

static bool unavailable_for_now(const struct imap_status *st)
{
	return st->result == IMAP_R_LOGIN && !imap_login_rejected(st);
}

enum imap_result conn_first(struct conn *c, struct imap_status *st)
{
	long wait_ms = FIRST_LOGIN_WAIT_MS;

	for (int tries = 1;; tries++) {
		if (open_session(c, 0, 0, st) == IMAP_R_OK)
			return IMAP_R_OK;
		if (!unavailable_for_now(st) || tries == FIRST_LOGIN_TRIES ||
		    atomic_load(&c->a->shutting_down))
			return st->result;
		log_warn(LOG_CAT_AUTH, "%slogin: the server is unavailable for now (%s); trying "
			 "again in %ld ms", c->who, st->text, wait_ms);
		nanosleep(&(struct timespec){ wait_ms / 1000, wait_ms % 1000 * 1000000L }, NULL);
		wait_ms *= 2;
	}
}

/* No new connection for `wait` ms from now (-1: the tries are used up);
 * from now, not from when the try began: one that timed out took a whole
 * timeout.  why: the failure, for the log and the status file. */
static void schedule_retry(struct conn *c, long wait, const char *why)
{
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	if (wait < 0) {
		log_err(LOG_CAT_IMAP, "%scannot reach %s after %u tries (%s): giving up "
			"(reconnect_tries)", c->who, c->a->url.host, c->backoff.tries, why);
		atomic_store(&c->gave_up, true);
		wait = 24L * 3600 * 1000;
	} else {
		log_info(LOG_CAT_IMAP, "%scannot reach %s: %s; next try in %ld s", c->who,
			 c->a->url.host, why, (wait + 999) / 1000);
	}
	c->next_try_ms = clock_ms() + wait;
}

void conn_close(struct conn *c)
{
	struct imap_session *s = *c->slot;

	if (!s)
		return;
	imap_session_set_untagged(s, NULL, NULL);
	publish(c, NULL);
	if (c->up)
		atomic_fetch_sub(&c->a->conns_up, 1);
	c->up = false;
	login_session_ended(&c->a->login, s);
	imap_session_close(s); /* logs out */
}

/* Drop the broken session s (the one in *c->slot); one that went silent
 * makes the next try a probe. */
static void drop(struct conn *c, struct imap_session *s)
{
	const char *why;

	if (imap_session_broken(s, &why) == IMAP_R_TIMEOUT)
		c->probe = true;
	conn_close(c);
}

/* The server refused a login for its limit on connections (RFC 5530
 * [LIMIT]; Dovecot's "Maximum number of connections from user+IP"): the
 * budget comes down to the sessions logged in now (others being made
 * may be refused too), said once. */
static void lower_budget(struct conn *c, const struct imap_status *st)
{
	unsigned open = atomic_load(&c->a->conns_up);
	unsigned limit = atomic_load(&c->a->conns_limit);

	if (!open || open >= limit ||
	    !atomic_compare_exchange_strong(&c->a->conns_limit, &limit, open))
		return;
	log_warn(LOG_CAT_IMAP, "%sthe server allows no more than %u connections (%s): the "
		 "mount goes on with %u (max_connections was %u)", c->who, open, st->text, open,
		 limit);
}

/* Room under the budget for a new connection (the worker's always has:
 * every file operation needs it). */
static bool room(struct conn *c, struct imap_status *st)
{
	unsigned limit = atomic_load(&c->a->conns_limit);

	if (c == &c->a->conn || !limit || atomic_load(&c->a->conns_open) < limit)
		return true;
	snprintf(c->last_error, sizeof(c->last_error), "no room under the server's limit of "
		 "%u connections", limit);
	imap_status_set(st, IMAP_R_LOST, "%s", c->last_error);
	c->next_try_ms = clock_ms() + NO_ROOM_WAIT_MS;
	return false;
}

/* Whether a try may start now for a call due at deadline; st says why not.
 * A try cut short by the deadline would say nothing of the server: it is
 * left to the next call, uncounted. */
static bool try_due(struct conn *c, long long deadline, struct imap_status *st)
{
	long long now = clock_ms();

	if (now < c->next_try_ms) {
		imap_status_set(st, IMAP_R_LOST, "server unreachable (%.150s); next try in %lld s",
			       c->last_error, (c->next_try_ms - now + 999) / 1000);
		return false;
	}
	if (deadline && deadline - now < (c->probe ? PROBE_MS : 1)) {
		imap_status_set(st, IMAP_R_TIMEOUT, "no time left to reconnect");
		return false;
	}
	return true;
}

/* One try, and the backoff's books.  A probe only where a caller waits
 * (a deadline): a watcher has time for a whole try. */
static enum imap_result try_connect(struct conn *c, bool again, long long deadline,
				    struct imap_status *st)
{
	long long until = c->probe && deadline ? clock_ms() + PROBE_MS : deadline;
	enum imap_result rr;

	c->probe = false;
	rr = open_session(c, until, deadline, st);
	if (rr == IMAP_R_OK) {
		if (c->backoff.failures || again)
			log_info(LOG_CAT_IMAP, "%sconnected to %s again", c->who, c->a->url.host);
		backoff_reset(&c->backoff);
		return IMAP_R_OK;
	}
	if (st->code == IMAP_CODE_LIMIT && c != &c->a->conn) {
		lower_budget(c, st);
		snprintf(c->last_error, sizeof(c->last_error), "%s", st->text);
		c->next_try_ms = clock_ms() + NO_ROOM_WAIT_MS; /* quietly: said once */
		return IMAP_R_LOST;
	}
	schedule_retry(c, rr == IMAP_R_TIMEOUT ? backoff_silent(&c->backoff) :
			  backoff_next(&c->backoff, imap_login_rejected(st)), st->text);
	return rr;
}

enum imap_result conn_ensure(struct conn *c, long long deadline, struct imap_status *st)
{
	struct imap_session *old = *c->slot;

	if (old && imap_session_usable(old))
		return IMAP_R_OK;
	if (atomic_load(&c->a->shutting_down)) {
		imap_status_set(st, IMAP_R_LOST, "unmounting");
		return IMAP_R_LOST;
	}
	if (old)
		drop(c, old);
	if (c->view)
		view_reset(c->view);
	if (!try_due(c, deadline, st) || !room(c, st))
		return st->result;
	return try_connect(c, old != NULL, deadline, st);
}

void conn_abort(struct conn *c)
{
	pthread_mutex_lock(c->slot_lock);
	if (*c->slot)
		imap_session_abort(*c->slot);
	pthread_mutex_unlock(c->slot_lock);
}

long long conn_wait_ms(const struct conn *c)
{
	long long wait = c->next_try_ms - clock_ms();

	return wait > 0 ? wait : 0;
}

bool conn_gave_up(struct conn *c) { return atomic_load(&c->gave_up); }
