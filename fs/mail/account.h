/* The mounted account: the IMAP session that serves the file system, the
 * index built from it and the body cache.  It knows nothing of FUSE
 * requests: ops.c turns its results into replies. */
#ifndef INBOXFS_FS_MAIL_ACCOUNT_H
#define INBOXFS_FS_MAIL_ACCOUNT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/lockorder.h"
#include "common/log.h"
#include "fs/mail/bodycache.h"
#include "fs/mail/budget.h"
#include "fs/mail/conn.h"
#include "fs/mail/fetch.h" /* the account's bodies: its callers use both */
#include "fs/mail/hooks.h"
#include "fs/mail/index.h"
#include "fs/mail/login.h"
#include "fs/mail/view.h"
#include "fs/options.h"
#include "imap/session.h"
#include "imap/url.h"

struct alarms;
struct tree;

struct account {
	const struct options *opt;
	struct imap_url url;
	struct imap_session_config scfg;
	struct login login;

	/* session_lock is held for a whole exchange with the server,
	 * index_lock only for moments, so that listings and cached reads
	 * never wait for the network; their ranks (account.c) make the
	 * order session_lock, then index_lock.  The index changes only with
	 * both held, so either one is enough to read it. */
	struct ranked_lock session_lock;
	atomic_int session_wanted; /* threads waiting for session_lock (a scan yields) */
	struct ranked_lock index_lock;
	struct imap_session *session; /* assigned under conn_lock too (account_abort) */
	long long deadline_ms;     /* the session_lock holder's answer is due then (0: none) */
	struct view view;          /* the session's selected folder */
	pthread_mutex_t conn_lock;
	pthread_mutex_t login_lock; /* one login of an extra connection at a time (conn.c) */

	/* The worker's connection (reconnected under session_lock). */
	struct conn conn;
	atomic_bool shutting_down; /* unmounting: no more connections */
	atomic_bool listed;        /* the first LIST is in: names it refused were said */

	atomic_uint server_caps;   /* CAP_* after the last login: any thread may look */
	atomic_uint conns_open;    /* sessions open now, all kinds (conn.c) */
	atomic_uint conns_up;      /* ... of which logged in */
	atomic_uint conns_limit;   /* the budget, lowered by a server's refusal (conn.c) */

	struct index *index;
	char delim;                /* hierarchy delimiter (from LIST; 0 = flat) */
	struct bodycache *bodies;
	struct newfiles *newfiles; /* files being written, appended when closed */
	struct pool *readers;      /* extra connections for parallel reads */
	struct diskcache *disk;    /* NULL: no disk cache */
	struct mail_hooks hooks;   /* filled in by fs/ once mounted */
	struct alarms *alarms;     /* set once mounted (NULL: none) */
	struct announcer *announcer; /* set once mounted, when announcing */
	struct state *state;       /* announced UIDs kept across mounts */
	struct tree *tree;         /* folder changes to announce (tree.c; index_lock) */
	struct folder **watched;   /* folders watched for news, INBOX first */
	size_t nwatched;
	struct budget budget;      /* how the connections are shared */
	struct watchers *watchers;

	/* Read-ahead: the last message missed and how long the run of misses
	 * is (under index_lock); the folder the worker streams a scan of now;
	 * opens served from the cache since the stream last looked. */
	struct folder *ra_folder;
	long ra_pos;
	unsigned ra_run;
	struct folder *listed_folder; /* the folder listed last, and when */
	long long listed_ms;
	_Atomic(struct folder *) scanning;
	atomic_uint scan_cmds;     /* commands the scan has sent (for the log) */
	atomic_uint ra_hits;
};

/* A logged-in session in a->session (reconnecting if needed), for
 * commands that need no selected folder.  session_lock held. */
enum imap_result account_session(struct account *a, struct imap_status *st);
/* Unmounting: fail what waits for the server now, connect no more.
 * Any thread, any time. */
void account_abort(struct account *a);
/* Parse the URL, load the password, connect, log in, list the folders.
 * On failure returns -1 with a one-line reason in err. */
int account_open(struct account *a, const struct options *opt, char *err, size_t errlen);
void account_close(struct account *a);
/* The path components of a mailbox's raw name (len bytes, split at
 * delim), decoded, into parts (at most ACCOUNT_MAX_DEPTH, pointing into
 * the malloc'd buffer returned) and their count into *n (0: too deep).
 * NULL (logged at lvl) when the name cannot be a path here. */
#define ACCOUNT_MAX_DEPTH 64
char *account_name_path(const char *name, size_t len, char delim, enum log_level lvl,
			char **parts, size_t *n);
/* Add (or refresh) one mailbox of a LIST answer to the index (name as
 * the server spells it); one that cannot be a path is logged and left
 * out.  Takes index_lock itself. */
void account_add_listed(struct account *a, const char *name, size_t len, char delim,
			unsigned flags);
/* Once the watched folders are chosen: share -o max_connections among
 * the worker, the readers and the watchers (budget.h), logged when the
 * budget leaves something out.  Several watched folders on a server with
 * NOTIFY are all watched on one connection.  -1 when out of memory. */
int account_plan_connections(struct account *a);

/* When the answer to a call that starts now is due: `timeout` from now
 * (monotonic ms).  Everything done for the call counts: the wait for the
 * session, reconnecting (connect, TLS, login, SELECT), the command and
 * its retry. */
long long account_deadline(const struct account *a);
/* When the worker's server last sent something (monotonic ms; 0: never,
 * or no connection).  Any thread. */
long long account_last_word_ms(struct account *a);
/* Take session_lock for a call due at `deadline`, letting a scan that
 * holds it know someone waits: the scan's read-ahead then stops asking
 * for more and lets go.  The wait goes on past the deadline only while
 * the server sends to the holder (it is alive, just busy), as long after
 * its last bytes as the deadline was from the start.  False (st says
 * why: IMAP_R_TIMEOUT) when the lock did not come in time.  Until
 * account_unlock_session, the server too gets until the deadline
 * (imap_session_set_deadline). */
bool account_lock_session(struct account *a, long long deadline, struct imap_status *st);
/* The same, waiting for the lock only until wait_until (a listing that
 * answers from memory when it cannot have the session soon). */
bool account_lock_session_within(struct account *a, long long wait_until, long long deadline,
				 struct imap_status *st);
/* Unmounting: abort the worker's session if a call is waiting on it
 * (an idle one stays, to log out).  Any thread holding no lock. */
void account_abort_busy(struct account *a);
/* Take session_lock if it is free; false otherwise. */
bool account_trylock_session(struct account *a, long long deadline);
void account_unlock_session(struct account *a);

/* Everything below is called with a->session_lock held (and not
 * index_lock): it takes index_lock itself around changes to the index. */

/* Make the folder's message list current (SELECT/EXAMINE on first use,
 * NOOP or a resync afterwards). */
enum imap_result account_refresh_folder(struct account *a, struct folder *f,
					struct imap_status *st);
/* Select the folder read-write (for a change) and bring it up to date. */
enum imap_result account_select_rw(struct account *a, struct folder *f, struct imap_status *st);
/* Leave the selected folder (before it is deleted or renamed). */
enum imap_result account_leave_folder(struct account *a, struct imap_status *st);
/* Load the folder's messages if they never were. */
enum imap_result account_ensure_loaded(struct account *a, struct folder *f,
				       struct imap_status *st);

#endif
