/* The account: its life cycle, the worker's session and its lock, the
 * folder list, the message lists (with the disk cache's copies); bodies
 * are fetched by fetch.c. */
#include "fs/mail/account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/mail/conn.h"
#include "fs/mail/diskcache.h"
#include "fs/mail/events.h"
#include "fs/mail/newfile.h"
#include "fs/mail/paths.h"
#include "fs/mail/pool.h"
#include "fs/mail/state.h"
#include "fs/mail/tree.h"
#include "imap/commands.h"
#include "imap/utf7.h"

/* The order the account's locks are taken in (common/lockorder.h). */
#define LOCK_RANK_SESSION 1
#define LOCK_RANK_INDEX 2

/* ---- connecting ----------------------------------------------------------- */

/* A usable session for the call whose deadline is set (see conn_ensure). */
static enum imap_result ensure_session(struct account *a, struct imap_status *st)
{
	return conn_ensure(&a->conn, a->deadline_ms, st);
}

enum imap_result account_session(struct account *a, struct imap_status *st)
{
	return ensure_session(a, st);
}

void account_abort(struct account *a)
{
	atomic_store(&a->shutting_down, true);
	conn_abort(&a->conn);
	pool_abort(a->readers);
}

/* ---- the folder list ------------------------------------------------------ */

/* Split a decoded name at the delimiter into path components. */
static size_t split_name(char *name, char delim, char **parts, size_t max)
{
	size_t n = 0;
	char *p = name, *d;

	for (;;) {
		if (n == max)
			return 0;
		parts[n++] = p;
		if (!delim || !(d = strchr(p, delim)))
			break;
		*d = '\0';
		p = d + 1;
	}
	return n;
}

static void on_list(void *ctx, const char *name, size_t len, char delim, unsigned flags)
{
	account_add_listed(ctx, name, len, delim, flags);
}

char *account_name_path(const char *name, size_t len, char delim, enum log_level lvl,
			char **parts, size_t *n)
{
	char *decoded;

	*n = 0;
	if (memchr(name, '\0', len)) {
		log_msg(lvl, LOG_CAT_IMAP, "ignoring a mailbox name containing NUL");
		return NULL;
	}
	decoded = len == 5 && strncasecmp(name, "INBOX", 5) == 0 ? strdup("INBOX")
								 : imap_utf7_decode(name, len);
	if (!decoded)
		log_msg(lvl, LOG_CAT_IMAP, "ignoring mailbox '%.100s': not valid modified UTF-7",
			name);
	else
		*n = split_name(decoded, delim, parts, ACCOUNT_MAX_DEPTH);
	return decoded;
}

void account_add_listed(struct account *a, const char *name, size_t len, char delim,
			unsigned flags)
{
	/* Every later LIST names them again: said once, at the first. */
	enum log_level lvl = atomic_load(&a->listed) ? LOG_LVL_DEBUG : LOG_LVL_WARN;
	char *decoded, *parts[ACCOUNT_MAX_DEPTH];
	bool added;
	size_t n;

	if (!(decoded = account_name_path(name, len, delim, lvl, parts, &n)))
		return;
	if (delim && !a->delim)
		a->delim = delim;
	rlock_take(&a->index_lock);
	added = n && index_add_mailbox(a->index, (const char *const *)parts, n,
				       strcasecmp(name, "INBOX") == 0 ? "INBOX" : name, flags);
	rlock_drop(&a->index_lock);
	if (!added)
		log_msg(lvl, LOG_CAT_IMAP, "ignoring mailbox '%.100s': its name cannot be a path here",
			name);
	free(decoded);
}

static enum imap_result load_folders(struct account *a, struct imap_status *st)
{
	return imap_list(a->session, on_list, a, st);
}

/* A listing asks the server what changed (NOOP); a change needs no NOOP
 * first: its own answer brings any EXPUNGE/EXISTS. */
static enum imap_result open_folder(struct account *a, struct folder *f, bool rw,
				    struct imap_status *st)
{
	enum imap_result rr;

	if (!index_folder_selectable(f))
		return IMAP_R_OK; /* a directory without messages */
	rr = ensure_session(a, st);
	return rr == IMAP_R_OK ? view_open(&a->view, f, rw, !rw, st) : rr;
}

/* Reading is safe to repeat: when the server closed the connection under
 * us (BYE, reset), try once more on a new one before giving up. */
static bool worth_retrying(enum imap_result rr) { return rr == IMAP_R_LOST; }

/* Without watchers nothing else LISTs: a listing of the root does, so
 * that folders made or deleted elsewhere show (tree.h). */
static enum imap_result relist_root(struct account *a, struct imap_status *st)
{
	enum imap_result rr = ensure_session(a, st);

	return rr == IMAP_R_OK ? tree_relist_held(a, st) : rr;
}

static enum imap_result refresh(struct account *a, struct folder *f, struct imap_status *st)
{
	if (!f->parent && !a->nwatched)
		return relist_root(a, st);
	return open_folder(a, f, false, st);
}

enum imap_result account_refresh_folder(struct account *a, struct folder *f,
					struct imap_status *st)
{
	enum imap_result rr = refresh(a, f, st);

	return worth_retrying(rr) ? refresh(a, f, st) : rr;
}

enum imap_result account_select_rw(struct account *a, struct folder *f, struct imap_status *st)
{
	enum imap_result rr = open_folder(a, f, true, st);

	if (rr == IMAP_R_OK && !a->view.rw) {
		imap_status_set(st, IMAP_R_NO, "%s is read-only on the server", f->imap_name);
		st->code = IMAP_CODE_NOPERM;
		return IMAP_R_NO;
	}
	return rr;
}

enum imap_result account_leave_folder(struct account *a, struct imap_status *st)
{
	return view_leave(&a->view, st);
}

enum imap_result account_ensure_loaded(struct account *a, struct folder *f,
				       struct imap_status *st)
{
	if (f->loaded || !index_folder_selectable(f))
		return IMAP_R_OK;
	return account_refresh_folder(a, f, st);
}

/* ---- the session lock ---------------------------------------------------- */

long long account_deadline(const struct account *a)
{
	return clock_ms() + (long long)a->opt->timeout * 1000;
}

long long account_last_word_ms(struct account *a)
{
	long long quiet = -1;

	pthread_mutex_lock(&a->conn_lock);
	if (a->session)
		quiet = imap_session_quiet_ms(a->session);
	pthread_mutex_unlock(&a->conn_lock);
	return quiet < 0 ? 0 : clock_ms() - quiet;
}

/* The session_lock holder's call is due at deadline (0: none). */
static void set_deadline(struct account *a, long long deadline)
{
	a->deadline_ms = deadline;
	if (a->session)
		imap_session_set_deadline(a->session, deadline);
}

/* For the log: a command that waits while a scan holds the connection
 * (the scan lets go at its next command; tests count what it sent). */
static void note_waiting(struct account *a)
{
	struct folder *f = atomic_load(&a->scanning);

	if (f)
		log_debug(LOG_CAT_FS, "%s: a command waits for the connection after %u commands "
			  "of the scan", f->imap_name, atomic_load(&a->scan_cmds));
}

bool account_lock_session_within(struct account *a, long long wait_until, long long deadline,
				 struct imap_status *st)
{
	long long patience = wait_until - clock_ms(), spoke;
	bool got;

	atomic_fetch_add(&a->session_wanted, 1);
	note_waiting(a);
	while (!(got = rlock_take_until(&a->session_lock, wait_until)) &&
	       (spoke = account_last_word_ms(a)) + patience > wait_until)
		wait_until = spoke + patience;
	atomic_fetch_sub(&a->session_wanted, 1);
	if (!got) {
		imap_status_set(st, IMAP_R_TIMEOUT, "no answer in time: another request is "
				"waiting for the server");
		return false;
	}
	set_deadline(a, deadline);
	return true;
}

bool account_lock_session(struct account *a, long long deadline, struct imap_status *st)
{
	return account_lock_session_within(a, deadline, deadline, st);
}

bool account_trylock_session(struct account *a, long long deadline)
{
	if (!rlock_try(&a->session_lock))
		return false;
	set_deadline(a, deadline);
	return true;
}

void account_abort_busy(struct account *a)
{
	if (rlock_try(&a->session_lock))
		rlock_drop(&a->session_lock);
	else
		account_abort(a);
}

void account_unlock_session(struct account *a)
{
	set_deadline(a, 0);
	rlock_drop(&a->session_lock);
}

/* ---- the folder lists on disk ---------------------------------------------- */

typedef void (*folder_fn)(struct account *a, struct folder *f);

static void each_folder(struct account *a, struct folder *f, folder_fn fn)
{
	if (f->imap_name && index_folder_selectable(f))
		fn(a, f);
	for (size_t i = 0; i < f->nchildren; i++)
		each_folder(a, f->children[i], fn);
}

/* A folder as it was at the last unmount: listed at once; the first look
 * at it (view_open) fetches what is new and reloads if anything went. */
static void restore_folder(struct account *a, struct folder *f)
{
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	size_t n;
	struct msg *msgs = diskcache_load_folder(a->disk, f->imap_name, &uidvalidity, &uidnext,
						 &modseq, &n);

	if (!msgs)
		return;
	events_merge(a, f, uidvalidity, uidnext, msgs, n, true, 0);
	rlock_take(&a->index_lock);
	f->highestmodseq = modseq;
	rlock_drop(&a->index_lock);
	free(msgs);
	log_debug(LOG_CAT_FS, "%s: %zu messages from the disk cache", f->imap_name, n);
}

static void save_folder(struct account *a, struct folder *f)
{
	if (f->loaded && !f->gone &&
	    diskcache_save_folder(a->disk, f->imap_name, f->uidvalidity, f->uidnext,
				  f->highestmodseq, f->msgs, f->nmsgs) < 0)
		log_warn(LOG_CAT_FS, "%s: cannot save the folder list to the disk cache",
			 f->imap_name);
}

static int open_disk_cache(struct account *a, char *err, size_t errlen)
{
	char *id = paths_account_id(a->url.user, a->url.host, a->url.port);

	if (!id) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->disk = diskcache_open(id, a->opt->cache_disk_bytes, err, errlen);
	free(id);
	if (!a->disk)
		return *err ? -1 : 0;
	each_folder(a, index_root(a->index), restore_folder);
	return 0;
}

/* ---- life cycle ------------------------------------------------------------ */

int account_open(struct account *a, const struct options *opt, char *err, size_t errlen)
{
	struct imap_status st;

	memset(a, 0, sizeof(*a));
	a->opt = opt;
	rlock_init(&a->session_lock, LOCK_RANK_SESSION, "session_lock");
	rlock_init(&a->index_lock, LOCK_RANK_INDEX, "index_lock");
	pthread_mutex_init(&a->conn_lock, NULL);
	pthread_mutex_init(&a->login_lock, NULL);
	conn_init(&a->conn, a, "", &a->session, &a->conn_lock, &a->view, opt->reconnect_tries);
	if (!opt->url) {
		snprintf(err, errlen, "no server URL given (imaps://USER@HOST)");
		return -1;
	}
	if (imap_url_parse(opt->url, &a->url, err, errlen) < 0)
		return -1;
	a->scfg.host = a->url.host;
	a->scfg.port = a->url.port;
	a->scfg.implicit_tls = a->url.implicit_tls;
	a->scfg.no_tls = opt->tls && strcmp(opt->tls, "none") == 0;
	a->scfg.tls.cafile = opt->cafile;
	a->scfg.timeout_ms = (int)opt->timeout * 1000;
	a->scfg.max_message = opt->max_message_bytes;
	if (login_init(&a->login, opt, &a->url, err, errlen) < 0)
		return -1;
	view_init(&a->view, a, NULL);
	a->index = index_new();
	a->bodies = bodycache_new(opt->cache_mem_bytes);
	a->newfiles = newfiles_new(opt->max_message_bytes);
	if (!a->index || !a->bodies || !a->newfiles) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (conn_first(&a->conn, &st) != IMAP_R_OK || load_folders(a, &st) != IMAP_R_OK) {
		if (st.result == IMAP_R_LOGIN)
			snprintf(err, errlen, "login rejected: %s", st.text);
		else
			snprintf(err, errlen, "%s", st.text);
		return -1;
	}
	atomic_store(&a->listed, true);
	return open_disk_cache(a, err, errlen);
}

void account_close(struct account *a)
{
	pool_free(a->readers);
	if (a->disk)
		each_folder(a, index_root(a->index), save_folder);
	diskcache_close(a->disk);
	conn_close(&a->conn);
	pthread_mutex_destroy(&a->conn_lock);
	pthread_mutex_destroy(&a->login_lock);
	view_free(&a->view);
	tree_free(a);
	index_free(a->index);
	free(a->watched);
	state_close(a->state);
	bodycache_free(a->bodies);
	newfiles_free(a->newfiles);
	login_free(&a->login);
	imap_url_free(&a->url);
	rlock_destroy(&a->session_lock);
	rlock_destroy(&a->index_lock);
}

/* ---- the connection budget -------------------------------------------------------- */

static void log_plan(const struct account *a, bool notify)
{
	const struct budget *b = &a->budget;
	const struct options *o = a->opt;

	if (b->readers + 1 < o->connections)
		log_info(LOG_CAT_IMAP, "max_connections=%u: %u connections for reading, not %u",
			 b->max, b->readers + 1, o->connections);
	if (notify)
		return; /* one connection for all: the watcher says so */
	if (b->idle < a->nwatched && b->poller)
		log_info(LOG_CAT_IMAP, "IDLE for %zu watched folders (max_connections=%u, "
			 "watch_max=%u), the other %zu polled every %u s on one connection", b->idle,
			 b->max, o->watch_max, a->nwatched - b->idle, o->poll_interval);
	else if (b->idle < a->nwatched)
		log_warn(LOG_CAT_IMAP, "max_connections=%u leaves no connection to watch %zu "
			 "folders for new mail", b->max, a->nwatched - b->idle);
}

int account_plan_connections(struct account *a)
{
	unsigned caps = atomic_load(&a->server_caps);
	/* NOTIFY tells of every folder on one connection (IDLE to hear it). */
	bool notify = (caps & CAP_NOTIFY) && (caps & CAP_IDLE) && a->nwatched > 1;

	budget_plan(&a->budget, a->opt->max_connections, a->opt->connections, a->nwatched,
		    notify ? 0 : a->opt->watch_max);
	atomic_store(&a->conns_limit, a->budget.max);
	a->readers = pool_new(a, a->budget.readers);
	if (!a->readers)
		return -1;
	log_plan(a, notify);
	return 0;
}
