/* The account: connection, login, folder list, message lists, bodies. */
#include "fs/mail/account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "fs/mail/byuid.h"
#include "fs/mail/conn.h"
#include "fs/mail/diskcache.h"
#include "fs/mail/events.h"
#include "fs/mail/newfile.h"
#include "fs/mail/paths.h"
#include "fs/mail/pool.h"
#include "fs/mail/state.h"
#include "imap/commands.h"
#include "imap/utf7.h"

#define MAX_DEPTH 64
#define READAHEAD_MAX_MSGS 256
#define READAHEAD_MAX_BYTES (8u << 20)
#define READAHEAD_MSG_LIMIT (1u << 20) /* larger messages are only read on demand */
/* A scan keeps FETCH_WINDOW x UIDS_PER_COMMAND = 512 messages in flight
 * (at 5 KB, 2.6 MB: what an ls elsewhere waits for when a scan yields).
 * 32 UIDs a command, not 8 (with 64 in flight): a quarter of the commands
 * for the server to parse and answer; with 4 readers of one folder, where
 * the two cores are saturated, 10 000 x 5 KB in 0.69 s, was 0.70 s
 * (medians of 8 alternating runs; ranges 0.65-0.71 and 0.70-0.76). */
#define UIDS_PER_COMMAND 32
#define FETCH_WINDOW 16
/* A far server needs more in flight: about what 100 MB/s brings in one
 * round trip (10 MB at 100 ms), within the session's 64 commands. */
#define FAR_BYTES_PER_US 100
#define FETCH_WINDOW_MAX 64
#define SCAN_RUN 8 /* misses in a row in one folder that make a scan, streamed */
/* ... or 2, when the folder was just listed (a glob, grep -r, ls then
 * cat): a bulk read is then all but certain. */
#define LISTED_SCAN_RUN 1
#define LISTED_RECENTLY_MS 60000

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
	struct account *a = ctx;
	char *decoded, *parts[MAX_DEPTH];
	bool added;
	size_t n;

	if (memchr(name, '\0', len)) {
		log_warn(LOG_CAT_IMAP, "ignoring a mailbox name containing NUL");
		return;
	}
	decoded = strcasecmp(name, "INBOX") == 0 ? strdup("INBOX") : imap_utf7_decode(name, len);
	if (!decoded) {
		log_warn(LOG_CAT_IMAP, "ignoring mailbox '%.100s': not valid modified UTF-7", name);
		return;
	}
	if (delim && !a->delim)
		a->delim = delim;
	n = split_name(decoded, delim, parts, MAX_DEPTH);
	pthread_mutex_lock(&a->index_lock);
	added = n && index_add_mailbox(a->index, (const char *const *)parts, n,
				       strcasecmp(name, "INBOX") == 0 ? "INBOX" : name, flags);
	pthread_mutex_unlock(&a->index_lock);
	if (!added)
		log_warn(LOG_CAT_IMAP, "ignoring mailbox '%.100s': its name cannot be a path here",
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

enum imap_result account_refresh_folder(struct account *a, struct folder *f,
					struct imap_status *st)
{
	enum imap_result rr = open_folder(a, f, false, st);

	return worth_retrying(rr) ? open_folder(a, f, false, st) : rr;
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
	enum imap_result rr = IMAP_R_OK;

	if (!a->view.f)
		return IMAP_R_OK;
	/* UNSELECT (RFC 3691) never expunges; without it, EXAMINE of INBOX
	 * leaves the folder just as harmlessly (CLOSE would expunge). */
	if (imap_session_caps(a->session) & CAP_UNSELECT)
		rr = imap_simple(a->session, st, NULL, NULL, "UNSELECT");
	else
		rr = imap_simple(a->session, st, NULL, NULL, "EXAMINE INBOX");
	view_reset(&a->view);
	return rr;
}

enum imap_result account_ensure_loaded(struct account *a, struct folder *f,
				       struct imap_status *st)
{
	if (f->loaded || !index_folder_selectable(f))
		return IMAP_R_OK;
	return account_refresh_folder(a, f, st);
}

/* ---- bodies ---------------------------------------------------------------- */

struct body_load {
	struct account *a;
	struct folder *f;
	uint32_t want;
	body_ready_fn ready;
	void *ctx;
	bool delivered;
	struct imap_session *s;
	size_t expected;   /* read-ahead bytes still to come, as RFC822.SIZE said */
};

/* The real size is known now: RFC822.SIZE may have been wrong (Gmail).
 * Called with index_lock held. */
static void note_real_size(struct account *a, struct folder *f, struct msg *m, size_t len)
{
	uint32_t real = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

	if (m->size_exact)
		return;
	if (m->size == real) {
		m->size_exact = 1;
		return;
	}
	log_info(LOG_CAT_FS, "%s/%u.eml: server said %u bytes, sent %zu; size corrected",
		 f->imap_name, m->uid, m->size, len);
	m->size = real;
	m->size_exact = 2;
	hooks_inval_inode(&a->hooks, index_msg_ino(f, m->uid));
}

void account_keep_body(struct account *a, struct folder *f, uint32_t uidvalidity, uint32_t uid,
		       char *data, size_t len)
{
	uint64_t key;

	pthread_mutex_lock(&a->index_lock);
	key = index_msg_ino(f, uid);
	pthread_mutex_unlock(&a->index_lock);
	diskcache_put_body(a->disk, f->imap_name, uidvalidity, uid, data, len);
	bodycache_put(a->bodies, key, data, len, false);
}

static void store_body(struct body_load *bl, uint32_t uid, char *data, size_t len)
{
	uint64_t key = index_msg_ino(bl->f, uid);
	uint32_t uidvalidity = 0;
	struct msg *m;
	struct body *b;
	bool exact = false;

	pthread_mutex_lock(&bl->a->index_lock);
	m = index_find_msg(bl->f, uid);
	if (m) {
		note_real_size(bl->a, bl->f, m, len);
		exact = m->size_exact == 1;
		uidvalidity = bl->f->uidvalidity;
	}
	pthread_mutex_unlock(&bl->a->index_lock);
	if (!m) {
		free(data);
		return;
	}
	diskcache_put_body(bl->a->disk, bl->f->imap_name, uidvalidity, uid, data, len);
	if (uid != bl->want || bl->delivered) {
		/* Read-ahead: into the kernel's page cache too, when the size is
		 * right (a store cannot shrink a file the kernel thinks larger). */
		b = bodycache_put(bl->a->bodies, key, data, len,
				  hooks_can_store(&bl->a->hooks) && exact);
		if (b && hooks_can_store(&bl->a->hooks))
			hooks_store(&bl->a->hooks, key, bl->a->bodies, b);
		return;
	}
	b = bodycache_put(bl->a->bodies, key, data, len, true);
	if (b) {
		bl->delivered = true;
		bl->ready(bl->ctx, b);
	}
}

/* Once the wanted body is in, the rest of a fetch is read-ahead that no
 * one waits for yet: read it in batches of half what should still come
 * (half: announced sizes may be too large; a shortfall costs 2 ms). */
static void batch_rest(struct body_load *bl, uint32_t uid, size_t len)
{
	if (uid != bl->want)
		bl->expected -= len < bl->expected ? len : bl->expected;
	if (bl->delivered)
		imap_session_batch_reads(bl->s, bl->expected / 2);
}

static void on_body(void *ctx, uint32_t uid, char *data, size_t len)
{
	struct body_load *bl = ctx;

	store_body(bl, uid, data, len);
	batch_rest(bl, uid, len);
}

/* Up to `window` uncached, not too large messages from position `from`
 * on, appended to uids[n..max) (the first n are not taken twice).
 * Called with index_lock. */
static size_t collect_uncached(struct account *a, struct folder *f, size_t from, uint32_t *uids,
			       size_t n, size_t max, size_t window)
{
	size_t bytes = 0, first = n;

	for (size_t i = from; i < f->nmsgs && n - first < window && n < max; i++) {
		const struct msg *m = &f->msgs[i];

		if (m->size > READAHEAD_MSG_LIMIT || bytes + m->size > READAHEAD_MAX_BYTES)
			break;
		if (bodycache_has(a->bodies, index_msg_ino(f, m->uid)) ||
		    (first && m->uid == uids[0]))
			continue;
		uids[n++] = m->uid;
		bytes += m->size;
	}
	return n;
}

void account_note_listing(struct account *a, struct folder *f)
{
	pthread_mutex_lock(&a->index_lock);
	a->listed_folder = f;
	a->listed_ms = clock_ms();
	pthread_mutex_unlock(&a->index_lock);
}

/* A scan of a folder (grep -r in UID order, cat *.eml in the shell's
 * name order 1, 10, 100, 1000, 1001 ...) opens one message after another
 * in the same folder: each miss then also fetches the next messages in
 * UID order, a window that doubles with every miss in a row, and a long
 * enough run becomes a scan, which streams the folder in UID order from
 * its first uncached message (the name order jumps back: a stream from
 * the reader's place would restart each time).  A single cat of one
 * message fetches just that one.  Called with index_lock. */
static size_t plan_readahead(struct account *a, struct folder *f, long pos, uint32_t *uids,
			     size_t max, bool *scan)
{
	bool listed = a->listed_folder == f && clock_ms() - a->listed_ms < LISTED_RECENTLY_MS;
	size_t window;

	if (a->ra_folder == f && pos != a->ra_pos)
		a->ra_run = a->ra_run < 16 ? a->ra_run + 1 : a->ra_run;
	else
		a->ra_run = 0;
	a->ra_folder = f;
	a->ra_pos = pos;
	uids[0] = f->msgs[pos].uid;
	window = a->ra_run ? (size_t)1 << (a->ra_run < 9 ? a->ra_run : 8) : 0;
	*scan = a->ra_run >= (listed ? LISTED_SCAN_RUN : SCAN_RUN);
	if (*scan)
		return collect_uncached(a, f, 0, uids, 1, max, max);
	return collect_uncached(a, f, (size_t)pos + 1, uids, 1, max, window);
}

/* Commands in flight for a fetch on s: enough to fill the link for one
 * round trip (the connection's own measure) at FAR_BYTES_PER_US, given
 * the mean size of the messages planned; never fewer than on loopback. */
static size_t fetch_window(struct account *a, struct folder *f, struct imap_session *s,
			   const uint32_t *uids, size_t n)
{
	unsigned long long bytes = 0, seen = 0, want = 0;
	const struct msg *m;
	size_t w;

	pthread_mutex_lock(&a->index_lock);
	for (size_t i = 0; i < n && i < 64; i++)
		if ((m = index_find_msg(f, uids[i]))) {
			bytes += m->size;
			seen++;
		}
	pthread_mutex_unlock(&a->index_lock);
	if (seen && bytes)
		want = (unsigned long long)imap_session_rtt_us(s) * FAR_BYTES_PER_US /
		       (bytes / seen * UIDS_PER_COMMAND + 1);
	w = (size_t)want + 1;
	return w < FETCH_WINDOW ? FETCH_WINDOW : w > FETCH_WINDOW_MAX ? FETCH_WINDOW_MAX : w;
}

/* One fetch as a feed of UID sets: the planned UIDs (the wanted one
 * alone in the first command, so that its body comes first; then the
 * read-ahead in commands of a few UIDs), and for a scan, more after the
 * last one asked for, for as long as the reader keeps up: commands go
 * out while earlier bodies arrive, so the stream never stops to refill.
 * Each UID is announced as pending, so that a reader who wants it waits
 * for it rather than fetching it again. */
struct fetch_plan {
	struct account *a;
	struct folder *f;
	struct body_load *bl;
	const uint32_t *uids;
	size_t n, next;
	bool stream;
	bool worker;              /* on the worker's connection, which others may want */
	uint32_t last;            /* the last UID asked for */
	size_t asked, asked_bytes;
	long long ahead;          /* bytes asked for that the reader has not opened yet */
	struct uid_list *missed;  /* asked for, and no body came */
};

struct uid_set {
	uint32_t uids[UIDS_PER_COMMAND];
	size_t n;
	char text[UIDS_PER_COMMAND * 11];
};

/* A scan: the next uncached messages after the last one asked for,
 * unless the reader is READAHEAD_MAX_BYTES behind (each open served from
 * the cache counts as one message read) or another command waits for
 * the connection (an ls elsewhere should not wait for a whole grep -r;
 * the reader's next miss resumes the scan). */
static size_t stream_take(struct fetch_plan *p, uint32_t *out)
{
	long hits = atomic_exchange(&p->a->ra_hits, 0);
	size_t k = 0;
	long pos;

	if (hits && p->asked)
		p->ahead -= hits * (long long)(p->asked_bytes / p->asked);
	if (p->ahead < 0)
		p->ahead = 0;
	if (!p->stream || p->ahead >= READAHEAD_MAX_BYTES)
		return 0;
	pthread_mutex_lock(&p->a->index_lock);
	pos = index_msg_pos(p->f, p->last);
	if (pos >= 0)
		k = collect_uncached(p->a, p->f, (size_t)pos + 1, out, 0, UIDS_PER_COMMAND,
				     UIDS_PER_COMMAND);
	pthread_mutex_unlock(&p->a->index_lock);
	return k;
}

static size_t plan_take(struct fetch_plan *p, uint32_t *out)
{
	size_t k = 0, max = p->next == 0 ? 1 : UIDS_PER_COMMAND;

	while (p->next < p->n && k < max)
		out[k++] = p->uids[p->next++];
	return k;
}

/* Another command waits for the worker's connection (an ls elsewhere):
 * ask for nothing more than the wanted message already asked for; the
 * reader's next miss takes up the read-ahead again. */
static void let_go_if_wanted(struct fetch_plan *p)
{
	if (!p->worker || (!p->stream && p->next == p->n) ||
	    !atomic_load(&p->a->session_wanted))
		return;
	if (p->stream)
		log_debug(LOG_CAT_FS, "%s: the scan lets the connection go after %u commands",
			  p->f->imap_name, atomic_load(&p->a->scan_cmds));
	p->stream = false;
	p->n = p->next;
}

static const char *plan_next(void *ctx, void **id)
{
	struct fetch_plan *p = ctx;
	struct uid_set *set = calloc(1, sizeof(*set));
	const struct msg *m;
	size_t bytes = 0, used = 0;

	if (!set)
		return NULL;
	if (p->next > 0)
		let_go_if_wanted(p);
	set->n = p->next < p->n ? plan_take(p, set->uids) : stream_take(p, set->uids);
	if (!set->n) {
		free(set);
		return NULL;
	}
	pthread_mutex_lock(&p->a->index_lock);
	for (size_t k = 0; k < set->n; k++) {
		bodycache_mark_pending(p->a->bodies, index_msg_ino(p->f, set->uids[k]));
		used += (size_t)snprintf(set->text + used, sizeof(set->text) - used, "%s%u",
					 k ? "," : "", set->uids[k]);
		if (set->uids[k] != p->bl->want && (m = index_find_msg(p->f, set->uids[k])))
			bytes += m->size;
	}
	pthread_mutex_unlock(&p->a->index_lock);
	if (p->stream)
		atomic_fetch_add(&p->a->scan_cmds, 1);
	p->last = set->uids[set->n - 1];
	p->asked += set->n;
	p->asked_bytes += bytes;
	p->ahead += (long long)bytes;
	p->bl->expected += bytes;
	*id = set;
	return set->text;
}

static void plan_done(void *ctx, void *id, const struct imap_status *st)
{
	struct fetch_plan *p = ctx;
	struct uid_set *set = id;

	(void)st;
	for (size_t k = 0; set && k < set->n; k++)
		if (bodycache_unmark_pending(p->a->bodies, index_msg_ino(p->f, set->uids[k])))
			uid_list_add(p->missed, set->uids[k]);
	free(set);
}

/* A fetch of some UIDs on one connection, as byuid_run runs it. */
struct fetch_run {
	struct account *a;
	struct view *v;
	struct folder *f;
	struct body_load *bl;
	bool stream;
};

static enum imap_result fetch_uids(void *ctx, const uint32_t *uids, size_t n,
				   struct uid_list *missed, struct imap_status *st)
{
	struct fetch_run *fr = ctx;
	struct fetch_plan p = { .a = fr->a, .f = fr->f, .bl = fr->bl, .uids = uids, .n = n,
				.stream = fr->stream, .worker = fr->v == &fr->a->view,
				.missed = missed };
	struct imap_session *s = fr->v->s;
	struct imap_uidset_feed feed = { plan_next, plan_done, &p,
					 fetch_window(fr->a, fr->f, s, uids, n) };
	bool scan = fr->stream && fr->v == &fr->a->view;
	enum imap_result rr;

	fr->stream = false; /* a second go asks only for what did not come */
	fr->bl->s = s;
	fr->bl->expected = 0;
	if (scan) {
		atomic_store(&fr->a->scan_cmds, 0);
		atomic_store(&fr->a->scanning, fr->f);
	}
	rr = imap_fetch_bodies(s, &feed, on_body, fr->bl, st);
	if (scan)
		atomic_store(&fr->a->scanning, NULL);
	imap_session_batch_reads(s, 1);
	hooks_flush(&fr->a->hooks);
	return rr;
}

/* Fetch uids on v's connection (v has f selected); the bodies go to bl.
 * Those that did not come are asked for again once v is up to date. */
static enum imap_result run_fetch(struct account *a, struct view *v, struct folder *f,
				  const uint32_t *uids, size_t n, bool stream, struct body_load *bl,
				  struct imap_status *st)
{
	struct fetch_run fr = { a, v, f, bl, stream };

	return byuid_run(v, uids, n, fetch_uids, &fr, st);
}

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

static bool lock_until(pthread_mutex_t *m, long long until)
{
	struct timespec ts = { until / 1000, until % 1000 * 1000000L };

	return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts) == 0;
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
	while (!(got = lock_until(&a->session_lock, wait_until)) &&
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
	if (pthread_mutex_trylock(&a->session_lock) != 0)
		return false;
	set_deadline(a, deadline);
	return true;
}

void account_unlock_session(struct account *a)
{
	set_deadline(a, 0);
	pthread_mutex_unlock(&a->session_lock);
}

bool account_scanning(struct account *a, struct folder *f) { return atomic_load(&a->scanning) == f; }

void account_note_cache_hit(struct account *a) { atomic_fetch_add(&a->ra_hits, 1); }

struct body *account_body_from_disk(struct account *a, struct folder *f, uint32_t uid)
{
	uint32_t uidvalidity;
	size_t len = 0;
	char *data;

	if (!a->disk)
		return NULL;
	pthread_mutex_lock(&a->index_lock);
	uidvalidity = f->uidvalidity;
	pthread_mutex_unlock(&a->index_lock);
	data = diskcache_get_body(a->disk, f->imap_name, uidvalidity, uid, &len);
	if (!data)
		return NULL;
	return bodycache_put(a->bodies, index_msg_ino(f, uid), data, len, true);
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
	pthread_mutex_lock(&a->index_lock);
	f->highestmodseq = modseq;
	pthread_mutex_unlock(&a->index_lock);
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

/* A reader connection serves a reader while the worker streams for
 * another: parallel scans (xargs -P4 grep) each get a short read-ahead
 * of their own, in UID order after the wanted message. */
#define READER_READAHEAD 16

enum imap_result account_fetch_body_on(struct account *a, struct view *v,
				       struct folder *f, uint32_t uid, body_ready_fn ready,
				       void *ctx, struct imap_status *st, bool *delivered)
{
	struct body_load bl = { .a = a, .f = f, .want = uid, .ready = ready, .ctx = ctx };
	uint32_t uids[READER_READAHEAD + 1] = { uid };
	enum imap_result rr;
	size_t n = 1;
	long pos;

	pthread_mutex_lock(&a->index_lock);
	pos = index_msg_pos(f, uid);
	if (pos >= 0)
		n = collect_uncached(a, f, (size_t)pos + 1, uids, 1, READER_READAHEAD + 1,
				     READER_READAHEAD);
	pthread_mutex_unlock(&a->index_lock);
	rr = run_fetch(a, v, f, uids, n, false, &bl, st);
	*delivered = bl.delivered;
	return rr;
}

static enum imap_result load_body(struct account *a, struct folder *f, uint32_t uid,
				  body_ready_fn ready, void *ctx, struct imap_status *st, bool *delivered);

enum imap_result account_load_body(struct account *a, struct folder *f, uint32_t uid,
				   body_ready_fn ready, void *ctx, struct imap_status *st)
{
	bool delivered = false;
	enum imap_result rr = load_body(a, f, uid, ready, ctx, st, &delivered);

	if (!delivered && worth_retrying(rr))
		rr = load_body(a, f, uid, ready, ctx, st, &delivered);
	return rr;
}

static enum imap_result load_body(struct account *a, struct folder *f, uint32_t uid,
				  body_ready_fn ready, void *ctx, struct imap_status *st, bool *delivered)
{
	struct body_load bl = { .a = a, .f = f, .want = uid, .ready = ready, .ctx = ctx };
	uint32_t uids[READAHEAD_MAX_MSGS + 1];
	enum imap_result rr;
	struct body *b;
	bool scan;
	long pos;
	size_t n;

	/* Another reader's read-ahead may have brought it meanwhile. */
	b = bodycache_get(a->bodies, index_msg_ino(f, uid));
	if (b) {
		*delivered = true;
		ready(ctx, b);
		return IMAP_R_OK;
	}
	rr = ensure_session(a, st);
	/* Selecting again also notices a new UIDVALIDITY: the message is then gone. */
	if (rr == IMAP_R_OK && a->view.f != f)
		rr = account_refresh_folder(a, f, st);
	if (rr != IMAP_R_OK)
		return rr;
	pthread_mutex_lock(&a->index_lock);
	pos = index_msg_pos(f, uid);
	n = pos < 0 ? 0 : plan_readahead(a, f, pos, uids, READAHEAD_MAX_MSGS + 1, &scan);
	pthread_mutex_unlock(&a->index_lock);
	if (n == 0) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		return IMAP_R_GONE;
	}
	log_debug(LOG_CAT_FS, "%s: fetching message %u and %zu more", f->imap_name, uid, n - 1);
	atomic_store(&a->ra_hits, 0);
	/* A scan: streamed on while the reader keeps up. */
	if (scan)
		log_debug(LOG_CAT_FS, "%s: a scan: read-ahead streams from message %u", f->imap_name,
			  uid);
	rr = run_fetch(a, &a->view, f, uids, n, scan, &bl, st);
	if (!bl.delivered && rr == IMAP_R_OK) {
		imap_status_set(st, IMAP_R_GONE, "the server returned no body for message %u", uid);
		rr = IMAP_R_GONE;
	}
	*delivered = bl.delivered;
	return rr;
}

/* ---- life cycle ------------------------------------------------------------ */

int account_open(struct account *a, const struct options *opt, char *err, size_t errlen)
{
	struct imap_status st;

	memset(a, 0, sizeof(*a));
	a->opt = opt;
	pthread_mutex_init(&a->session_lock, NULL);
	pthread_mutex_init(&a->index_lock, NULL);
	pthread_mutex_init(&a->conn_lock, NULL);
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
	a->readers = pool_new(a, opt->connections > 1 ? opt->connections - 1 : 0);
	if (!a->readers) {
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
	view_free(&a->view);
	index_free(a->index);
	free(a->watched);
	state_close(a->state);
	bodycache_free(a->bodies);
	newfiles_free(a->newfiles);
	login_free(&a->login);
	imap_url_free(&a->url);
	pthread_mutex_destroy(&a->session_lock);
	pthread_mutex_destroy(&a->index_lock);
}
