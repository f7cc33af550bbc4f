/* Arrivals, departures and the merge, and the announcer's batches (see
 * events.h).  The pending and departed lists are searched linearly: they
 * hold what waits for the announcer, usually a message or two. */
#include "fs/mail/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/state.h"

static bool announcing(const struct account *a, const struct folder *f)
{
	return f->watched && hooks_announcing(&a->hooks);
}

static int push(struct msg **arr, size_t *n, size_t *cap, const struct msg *m)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct msg *na = realloc(*arr, nc * sizeof(*na));

		if (!na)
			return -1;
		*arr = na;
		*cap = nc;
	}
	(*arr)[(*n)++] = *m;
	return 0;
}

static long find_in(const struct msg *arr, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (arr[i].uid == uid)
			return (long)i;
	return -1;
}

static void drop_at(struct msg *arr, size_t *n, size_t i)
{
	memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(*arr));
	(*n)--;
}

static void name_of(uint32_t uid, char *buf, size_t len) { snprintf(buf, len, "%u.eml", uid); }

/* ---- arrivals and departures ------------------------------------------- */

/* index_lock held.  Returns true when the message went to pending. */
static bool arrive_locked(struct account *a, struct folder *f, const struct msg *m)
{
	if (index_find_msg(f, m->uid) || find_in(f->pending, f->npending, m->uid) >= 0)
		return false;
	if (announcing(a, f) && m->uid > f->announced &&
	    push(&f->pending, &f->npending, &f->pending_cap, m) == 0)
		return true;
	if (index_folder_insert(f, m) < 0)
		log_warn(LOG_CAT_FS, "%s: cannot add message %u", f->imap_name, m->uid);
	return false;
}

void events_arrived(struct account *a, struct folder *f, const struct msg *msgs, size_t n)
{
	bool queued = false;

	rlock_take(&a->index_lock);
	for (size_t i = 0; i < n; i++)
		queued |= arrive_locked(a, f, &msgs[i]);
	rlock_drop(&a->index_lock);
	if (queued)
		hooks_news(&a->hooks);
}

void events_departed(struct account *a, struct folder *f, uint32_t uid, bool quiet)
{
	long pos;
	struct msg m;
	bool announce = false;
	char name[24];

	rlock_take(&a->index_lock);
	pos = index_msg_pos(f, uid);
	if (pos >= 0) {
		m = f->msgs[pos];
		index_remove_at(f, (size_t)pos);
		announce = !quiet && announcing(a, f) &&
			   push(&f->departed, &f->ndeparted, &f->departed_cap, &m) == 0;
	} else if ((pos = find_in(f->pending, f->npending, uid)) >= 0) {
		drop_at(f->pending, &f->npending, (size_t)pos); /* never shown: nothing to say */
	}
	rlock_drop(&a->index_lock);
	log_debug(LOG_CAT_FS, "message %u expunged from %s", uid, f->imap_name);
	if (announce) {
		hooks_news(&a->hooks);
	} else {
		name_of(uid, name, sizeof(name));
		hooks_inval_entry(&a->hooks, f->ino, name);
	}
}

/* ---- the merge: accept the look, merge the lists, drop stale pending ---- */

/* What to start announcing from: the saved mark, or (first mount, new
 * UIDVALIDITY) the newest message, so that nothing old is announced. */
static void set_watermark(struct account *a, struct folder *f, const struct msg *msgs, size_t n)
{
	uint32_t saved;

	if (a->state && state_get(a->state, f->imap_name, f->uidvalidity, &saved)) {
		f->announced = saved;
		return;
	}
	f->announced = n ? msgs[n - 1].uid : 0;
	if (a->state && f->watched)
		state_set(a->state, f->imap_name, f->uidvalidity, f->announced);
}

static void forget_all_names(struct account *a, struct folder *f)
{
	char name[24];

	for (size_t i = 0; i < f->nmsgs; i++) {
		name_of(f->msgs[i].uid, name, sizeof(name));
		hooks_inval_entry(&a->hooks, f->ino, name);
	}
}

/* Step 1 (index_lock held): false when an older look must be ignored;
 * otherwise a first look or a new UIDVALIDITY empties the folder.  The
 * newer look decides, not the larger number: a connection still on a
 * deleted mailbox reports its old UIDVALIDITY late, and a value reported
 * by a server in trouble must not outvote every later SELECT. */
static bool accept_look(struct account *a, struct folder *f, uint32_t uidvalidity,
			const struct msg *msgs, size_t n, long long seen_ms)
{
	if (f->loaded && uidvalidity != f->uidvalidity && seen_ms < f->uidvalidity_ms) {
		log_debug(LOG_CAT_FS, "%s: ignoring an older look at UIDVALIDITY %u (now %u)",
			  f->imap_name, uidvalidity, f->uidvalidity);
		return false;
	}
	if (seen_ms > f->uidvalidity_ms)
		f->uidvalidity_ms = seen_ms;
	if (!f->loaded || f->uidvalidity != uidvalidity) {
		if (f->loaded) {
			log_info(LOG_CAT_FS, "%s: UIDVALIDITY changed, rebuilding the folder",
				 f->imap_name);
			forget_all_names(a, f);
		}
		index_folder_reset(a->index, f, uidvalidity);
		f->npending = f->ndeparted = 0;
		set_watermark(a, f, msgs, n);
	}
	return true;
}

/* Step 2 (index_lock held): the new list keeps what we knew of each
 * message (its real size) with the server's flags, gains the arrivals
 * (or makes them pending) and loses what the server no longer has.
 * Returns whether the announcer has work; -1 when out of memory (the
 * index is left as it was). */
static int merge_lists(struct account *a, struct folder *f, const struct msg *msgs, size_t n,
		       bool quiet)
{
	struct msg *old = f->msgs, *keep = malloc((n + 1) * sizeof(*keep));
	size_t nold = f->nmsgs, i = 0, j = 0, nkeep = 0;
	bool work = false;

	if (!keep)
		return -1;
	while (i < nold || j < n) {
		if (j == n || (i < nold && old[i].uid < msgs[j].uid)) {
			if (!quiet && announcing(a, f) &&
			    push(&f->departed, &f->ndeparted, &f->departed_cap, &old[i]) == 0)
				work = true;
			i++;
		} else if (i == nold || msgs[j].uid < old[i].uid) {
			const struct msg *m = &msgs[j++];

			if (find_in(f->pending, f->npending, m->uid) >= 0)
				continue;
			if (announcing(a, f) && m->uid > f->announced &&
			    push(&f->pending, &f->npending, &f->pending_cap, m) == 0)
				work = true;
			else
				keep[nkeep++] = *m;
		} else {
			keep[nkeep] = old[i++];
			keep[nkeep++].flags = msgs[j++].flags;
		}
	}
	f->msgs = keep;
	f->nmsgs = nkeep;
	f->cap = n + 1;
	free(old);
	return work;
}

static bool listed(const struct msg *msgs, size_t n, uint32_t uid)
{
	for (size_t lo = 0, hi = n; lo < hi;) { /* msgs ascend */
		size_t mid = lo + (hi - lo) / 2;

		if (msgs[mid].uid == uid)
			return true;
		if (msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Step 3 (index_lock held): pending messages the server no longer has
 * were never shown; they go without a word. */
static void drop_vanished_pending(struct folder *f, const struct msg *msgs, size_t n)
{
	for (size_t k = 0; k < f->npending;) {
		if (listed(msgs, n, f->pending[k].uid))
			k++;
		else
			drop_at(f->pending, &f->npending, k);
	}
}

bool events_merge(struct account *a, struct folder *f, uint32_t uidvalidity, uint32_t uidnext,
		  const struct msg *msgs, size_t n, bool quiet, long long seen_ms)
{
	int work;

	rlock_take(&a->index_lock);
	if (!accept_look(a, f, uidvalidity, msgs, n, seen_ms)) {
		rlock_drop(&a->index_lock);
		return false;
	}
	work = merge_lists(a, f, msgs, n, quiet);
	if (work < 0) {
		rlock_drop(&a->index_lock);
		log_err(LOG_CAT_FS, "%s: out of memory", f->imap_name);
		return true;
	}
	drop_vanished_pending(f, msgs, n);
	f->uidnext = uidnext;
	f->loaded = true;
	rlock_drop(&a->index_lock);
	if (work)
		hooks_news(&a->hooks);
	return true;
}

/* ---- what the server should have ---------------------------------------- */

size_t events_count(struct account *a, struct folder *f, uint32_t upto)
{
	size_t lo = 0, hi, n;

	rlock_take(&a->index_lock);
	for (hi = f->nmsgs; lo < hi;) { /* ascending: how many are <= upto */
		size_t mid = lo + (hi - lo) / 2;

		if (f->msgs[mid].uid <= upto)
			lo = mid + 1;
		else
			hi = mid;
	}
	n = lo;
	for (size_t i = 0; i < f->npending; i++)
		n += f->pending[i].uid <= upto;
	rlock_drop(&a->index_lock);
	return n;
}

int events_uids(struct account *a, struct folder *f, struct imap_seqmap *out)
{
	size_t i = 0, j = 0;
	int rc = 0;

	seqmap_clear(out);
	rlock_take(&a->index_lock);
	/* Both lists ascend; pending ones are not in the index. */
	while (rc == 0 && (i < f->nmsgs || j < f->npending)) {
		if (j == f->npending || (i < f->nmsgs && f->msgs[i].uid < f->pending[j].uid))
			rc = seqmap_append(out, f->msgs[i++].uid);
		else
			rc = seqmap_append(out, f->pending[j++].uid);
	}
	rlock_drop(&a->index_lock);
	return rc;
}

/* ---- the announcer's own calls -------------------------------------------- */

/* Publish pending uid of f.  index_lock held. */
static bool publish_locked(struct folder *f, uint32_t uid, struct msg *m, uint64_t *ino)
{
	long pos = find_in(f->pending, f->npending, uid);

	if (pos < 0)
		return false;
	*m = f->pending[pos];
	drop_at(f->pending, &f->npending, (size_t)pos);
	if (index_folder_insert(f, m) < 0)
		return false;
	*ino = index_msg_ino(f, uid);
	return true;
}

bool events_publish(struct account *a, uint64_t dir, uint32_t uid, struct msg *m, uint64_t *ino)
{
	struct folder *f;
	bool done;

	rlock_take(&a->index_lock);
	f = index_folder_by_ino(a->index, dir);
	done = f && publish_locked(f, uid, m, ino);
	rlock_drop(&a->index_lock);
	return done;
}

bool events_departure(struct account *a, uint64_t dir, uint32_t uid, struct msg *m,
		      uint64_t *ino)
{
	struct folder *f;
	long pos = -1;

	rlock_take(&a->index_lock);
	f = index_folder_by_ino(a->index, dir);
	if (f && (pos = find_in(f->departed, f->ndeparted, uid)) >= 0) {
		*m = f->departed[pos];
		*ino = index_msg_ino(f, uid);
	}
	rlock_drop(&a->index_lock);
	return pos >= 0;
}

void events_forget_departure(struct account *a, uint64_t dir, uint32_t uid)
{
	struct folder *f;
	long pos;

	rlock_take(&a->index_lock);
	f = index_folder_by_ino(a->index, dir);
	if (f && (pos = find_in(f->departed, f->ndeparted, uid)) >= 0)
		drop_at(f->departed, &f->ndeparted, (size_t)pos);
	rlock_drop(&a->index_lock);
}

/* ---- the announcer's batches --------------------------------------------- */

uint32_t events_pending_top(struct account *a, struct folder *f)
{
	uint32_t top = 0;

	rlock_take(&a->index_lock);
	for (size_t i = 0; i < f->npending; i++)
		top = f->pending[i].uid > top ? f->pending[i].uid : top;
	rlock_drop(&a->index_lock);
	return top;
}

bool events_pending_upto(struct account *a, struct folder *f, uint32_t top)
{
	bool any = false;

	rlock_take(&a->index_lock);
	for (size_t i = 0; i < f->npending && !any; i++)
		any = f->pending[i].uid <= top;
	rlock_drop(&a->index_lock);
	return any;
}

bool events_take_batch(struct account *a, struct folder *f, struct events_batch *b)
{
	bool ok;

	rlock_take(&a->index_lock);
	b->nborn = b->ngone = 0;
	for (size_t i = 0; i < f->npending && b->nborn < EVENTS_BATCH_MAX; i++)
		b->born[b->nborn++] = f->pending[i].uid;
	for (size_t i = 0; i < f->ndeparted && b->ngone < EVENTS_BATCH_MAX; i++)
		b->gone[b->ngone++] = f->departed[i].uid;
	ok = (b->nborn || b->ngone) && !f->gone && index_folder_path(f, b->path, sizeof(b->path)) == 0;
	rlock_drop(&a->index_lock);
	return ok;
}

void events_announced(struct account *a, struct folder *f, struct buf *marker, uint32_t top)
{
	rlock_take(&a->index_lock);
	free(f->marker);
	f->marker = buf_steal(marker, &f->marker_len);
	f->marker_mtime = time(NULL);
	if (top > f->announced)
		f->announced = top;
	rlock_drop(&a->index_lock);
	if (a->state)
		state_set(a->state, f->imap_name, f->uidvalidity, f->announced);
}
