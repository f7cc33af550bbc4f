/* One connection to the server and the rules for making it again: connect,
 * log in, publish the session for aborting, and after a failure the wait
 * before the next try.  The worker, each reader and each watcher own one;
 * this is the only user of common/backoff.h, so the policy lives here. */
#ifndef INBOXFS_FS_MAIL_CONN_H
#define INBOXFS_FS_MAIL_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/backoff.h"
#include "imap/session.h"

struct account;
struct view;

struct conn {
	struct account *a;
	const char *who;               /* log prefix ("" for the worker) */
	struct imap_session **slot;    /* where the session is published, */
	pthread_mutex_t *slot_lock;    /* under this lock (aborts read it) */
	struct view *view;             /* bound to each new session; NULL: none */
	struct backoff backoff;
	long long next_try_ms;         /* no new connection before (monotonic) */
	bool probe;                    /* the last one went silent: try briefly */
	bool up;                       /* its session is logged in (counted in conns_up) */
	unsigned connects;             /* sessions made, the first included */
	char last_error[256];
	atomic_bool gave_up;           /* reconnect_tries used up */
};

/* Set c up for a session published in *slot under slot_lock; tries:
 * give up after that many failures in a row (0: never). */
void conn_init(struct conn *c, struct account *a, const char *who,
	       struct imap_session **slot, pthread_mutex_t *slot_lock, struct view *view,
	       unsigned tries);
/* The mount's first session: a login the server says is unavailable for
 * now gets three more tries, 0.5, 1 and 2 s apart; anything else is final
 * at once (the user waits for the mount command). */
enum imap_result conn_first(struct conn *c, struct imap_status *st);
/* A usable session in *slot, for a call due at deadline (0: none): the
 * one there, or a new one when the schedule allows a try now.  Otherwise
 * fails at once: IMAP_R_LOST (not due yet, or unmounting), IMAP_R_TIMEOUT
 * (too little of the deadline left to try).  Called by the slot's owner. */
enum imap_result conn_ensure(struct conn *c, long long deadline, struct imap_status *st);
/* Log out and close the session in *slot, if any.  Owner only. */
void conn_close(struct conn *c);
/* Fail what waits on the session now.  Any thread. */
void conn_abort(struct conn *c);
/* Milliseconds until a new try is due (0: now). */
long long conn_wait_ms(const struct conn *c);
/* True once reconnect_tries are used up. */
bool conn_gave_up(struct conn *c);

#endif
