/* Body fetch and read-ahead (see fetch.h). */
#include "fs/mail/fetch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/bodycache.h"
#include "fs/mail/byuid.h"
#include "fs/mail/diskcache.h"
#include "fs/mail/index.h"
#include "imap/commands.h"

#define READAHEAD_MAX_MSGS 256
#define READAHEAD_MAX_BYTES (8u << 20)
#define READAHEAD_MSG_LIMIT (1u << 20) /* larger messages are only read on demand */
/* A scan keeps FETCH_WINDOW x UIDS_PER_COMMAND = 512 messages in flight:
 * few commands for the server to parse, little for a yielding scan to
 * finish before an ls elsewhere gets the connection. */
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

	rlock_take(&a->index_lock);
	key = index_msg_ino(f, uid);
	rlock_drop(&a->index_lock);
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

	rlock_take(&bl->a->index_lock);
	m = index_find_msg(bl->f, uid);
	if (m) {
		note_real_size(bl->a, bl->f, m, len);
		exact = m->size_exact == 1;
		uidvalidity = bl->f->uidvalidity;
	}
	rlock_drop(&bl->a->index_lock);
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
	rlock_take(&a->index_lock);
	a->listed_folder = f;
	a->listed_ms = clock_ms();
	rlock_drop(&a->index_lock);
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

	rlock_take(&a->index_lock);
	for (size_t i = 0; i < n && i < 64; i++)
		if ((m = index_find_msg(f, uids[i]))) {
			bytes += m->size;
			seen++;
		}
	rlock_drop(&a->index_lock);
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
	rlock_take(&p->a->index_lock);
	pos = index_msg_pos(p->f, p->last);
	if (pos >= 0)
		k = collect_uncached(p->a, p->f, (size_t)pos + 1, out, 0, UIDS_PER_COMMAND,
				     UIDS_PER_COMMAND);
	rlock_drop(&p->a->index_lock);
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
	rlock_take(&p->a->index_lock);
	for (size_t k = 0; k < set->n; k++) {
		bodycache_mark_pending(p->a->bodies, index_msg_ino(p->f, set->uids[k]));
		used += (size_t)snprintf(set->text + used, sizeof(set->text) - used, "%s%u",
					 k ? "," : "", set->uids[k]);
		if (set->uids[k] != p->bl->want && (m = index_find_msg(p->f, set->uids[k])))
			bytes += m->size;
	}
	rlock_drop(&p->a->index_lock);
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

bool account_scanning(struct account *a, struct folder *f)
{
	return atomic_load(&a->scanning) == f && atomic_load(&a->scan_cmds) >= FETCH_WINDOW;
}

void account_note_cache_hit(struct account *a) { atomic_fetch_add(&a->ra_hits, 1); }

struct body *account_body_from_disk(struct account *a, struct folder *f, uint32_t uid)
{
	uint32_t uidvalidity;
	size_t len = 0;
	char *data;

	if (!a->disk)
		return NULL;
	rlock_take(&a->index_lock);
	uidvalidity = f->uidvalidity;
	rlock_drop(&a->index_lock);
	data = diskcache_get_body(a->disk, f->imap_name, uidvalidity, uid, &len);
	if (!data)
		return NULL;
	return bodycache_put(a->bodies, index_msg_ino(f, uid), data, len, true);
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

	rlock_take(&a->index_lock);
	pos = index_msg_pos(f, uid);
	if (pos >= 0)
		n = collect_uncached(a, f, (size_t)pos + 1, uids, 1, READER_READAHEAD + 1,
				     READER_READAHEAD);
	rlock_drop(&a->index_lock);
	rr = run_fetch(a, v, f, uids, n, false, &bl, st);
	*delivered = bl.delivered;
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
	rr = account_session(a, st);
	/* Selecting again also notices a new UIDVALIDITY: the message is then gone. */
	if (rr == IMAP_R_OK && a->view.f != f)
		rr = account_refresh_folder(a, f, st);
	if (rr != IMAP_R_OK)
		return rr;
	rlock_take(&a->index_lock);
	pos = index_msg_pos(f, uid);
	n = pos < 0 ? 0 : plan_readahead(a, f, pos, uids, READAHEAD_MAX_MSGS + 1, &scan);
	rlock_drop(&a->index_lock);
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

enum imap_result account_load_body(struct account *a, struct folder *f, uint32_t uid,
				   body_ready_fn ready, void *ctx, struct imap_status *st)
{
	bool delivered = false;
	enum imap_result rr = load_body(a, f, uid, ready, ctx, st, &delivered);

	/* Reading is safe to repeat: when the server closed the connection
	 * under us (BYE, reset), try once more on a new one. */
	if (!delivered && rr == IMAP_R_LOST)
		rr = load_body(a, f, uid, ready, ctx, st, &delivered);
	return rr;
}
