/* One connection's view of its selected folder (RFC 3501 §7.3.1 EXISTS,
 * §7.4.1 EXPUNGE, §6.3.1 SELECT, §6.3.2 EXAMINE), fed into the index. */
#include "fs/mail/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/events.h"
#include "imap/commands.h"

void view_init(struct view *v, struct account *a, struct imap_session *s)
{
	memset(v, 0, sizeof(*v));
	v->a = a;
	v->s = s;
	seqmap_init(&v->seq);
}

void view_free(struct view *v) { seqmap_free(&v->seq); }

void view_reset(struct view *v)
{
	v->f = NULL;
	v->exists = 0;
	v->uidvalidity = 0;
	v->selected_ms = 0;
	v->dirty = false;
	v->stale = false;
	v->rw = false;
	seqmap_clear(&v->seq);
}

enum imap_result view_leave(struct view *v, struct imap_status *st)
{
	enum imap_result rr = IMAP_R_OK;

	if (!v->f)
		return IMAP_R_OK;
	if (imap_session_caps(v->s) & CAP_UNSELECT)
		rr = imap_simple(v->s, st, NULL, NULL, "UNSELECT");
	else
		rr = imap_simple(v->s, st, NULL, NULL, "EXAMINE INBOX");
	view_reset(v);
	return rr;
}

/* The view looks at the folder the index shows (not at a mailbox that
 * was deleted and re-created since). */
static bool current(const struct view *v)
{
	return v->f && v->uidvalidity == v->f->uidvalidity;
}

static void on_expunge(struct view *v, uint32_t seq)
{
	uint32_t uid = seqmap_expunge(&v->seq, seq);

	if (v->exists)
		v->exists--;
	if (!current(v)) {
		v->stale = true; /* news of an older mailbox: look again */
		return;
	}
	if (!uid) {
		v->dirty = true; /* a number we cannot place: reload to be sure */
		return;
	}
	events_departed(v->a, v->f, uid, v->quiet);
}

/* VANISHED [(EARLIER)] uid-set (RFC 7162 §3.2.10): expunges by UID, once
 * QRESYNC is enabled.  EARLIER ones happened before this session looked. */
static void on_vanished(struct view *v, const struct imap_response *r)
{
	const struct imap_value *set = imap_list_item(&r->data, r->data.n - 1);
	bool earlier = r->data.n == 3;
	uint32_t *uids = NULL;
	size_t n = 0;

	if (!set || (set->type != IV_ATOM && set->type != IV_NUMBER) ||
	    imap_uid_set_expand(set->str, &uids, &n) < 0) {
		v->dirty = true; /* cannot place it: resynchronise */
		return;
	}
	if (!current(v)) {
		v->stale = true;
		free(uids);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (seqmap_remove_uid(&v->seq, uids[i]) && !earlier && v->exists)
			v->exists--;
		events_departed(v->a, v->f, uids[i], v->quiet);
	}
	free(uids);
}

static void on_flags(struct view *v, const struct imap_msg_meta *m)
{
	uint32_t uid = m->uid ? m->uid : seqmap_uid(&v->seq, m->seq);
	struct msg *msg;

	if (!current(v) || !uid || !m->has_flags)
		return;
	rlock_take(&v->a->index_lock);
	msg = index_find_msg(v->f, uid);
	if (msg)
		msg->flags = (uint8_t)m->flags;
	rlock_drop(&v->a->index_lock);
}

bool view_on_untagged(struct imap_session *s, struct imap_response *r, void *ctx)
{
	struct view *v = ctx;
	const struct imap_value *what = imap_list_item(&r->data, 1);
	const struct imap_value *num = imap_list_item(&r->data, 0);
	struct imap_msg_meta m;
	uint32_t n;

	(void)s;
	if (r->kind == IMAP_RESP_UNTAGGED && r->cond == IMAP_COND_NO && v->f) {
		/* Dovecot says "* NO Internal error" to a session whose mailbox
		 * was deleted (and maybe re-created) under it: select it again,
		 * which also shows a new UIDVALIDITY. */
		log_info(LOG_CAT_IMAP, "%s: server reports a problem (%s); selecting it again",
			 v->f->imap_name, r->text);
		v->stale = true;
		return true;
	}
	if (r->cond == IMAP_COND_NONE && imap_value_is(num, "VANISHED") && r->data.n >= 2) {
		if (v->f)
			on_vanished(v, r);
		return true;
	}
	if (r->cond != IMAP_COND_NONE || !what)
		return false;
	if (imap_value_is(what, "EXISTS")) {
		v->exists = num->type == IV_NUMBER && num->num <= UINT32_MAX ? (uint32_t)num->num : 0;
		return true;
	}
	if (imap_value_is(what, "EXPUNGE")) {
		if (imap_value_u32(num, &n))
			on_expunge(v, n);
		else
			v->dirty = true;
		return true;
	}
	if (imap_value_is(what, "FETCH") && imap_parse_fetch(r, &m)) {
		on_flags(v, &m);
		return true;
	}
	return imap_value_is(what, "RECENT");
}

/* ---- fetching message lists ---------------------------------------------- */

/* A growing list of messages, as FETCH responses bring them. */
struct collected {
	struct msg *msgs;
	size_t n, cap;
	bool oom;
};

static void push_msg(struct collected *c, const struct msg *m)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct msg *nm = realloc(c->msgs, cap * sizeof(*nm));

		if (!nm) {
			c->oom = true;
			return;
		}
		c->msgs = nm;
		c->cap = cap;
	}
	c->msgs[c->n++] = *m;
}

static struct msg msg_of(const struct imap_msg_meta *m)
{
	return (struct msg){ .uid = m->uid, .flags = (uint8_t)m->flags,
			     .date = m->has_date ? m->internaldate : 0,
			     .size = m->size > UINT32_MAX ? UINT32_MAX : (uint32_t)m->size };
}

static void collect_meta(void *ctx, const struct imap_msg_meta *m)
{
	struct msg msg = msg_of(m);

	push_msg(ctx, &msg);
}


/* Bodies that came with news (view.news_bodies). */
struct small_body {
	uint32_t uid;
	char *data;
	size_t len;
};

struct meta_batch {
	struct view *v;
	uint32_t min_uid;   /* "N:*" also returns the last message when N > UIDNEXT */
	struct collected got;
	struct small_body *bodies;
	size_t nbodies;
};

/* News that comes with its bodies: at most this many new messages, each
 * of at most NEWS_BODY_LIMIT bytes (a larger one costs that much for
 * nothing).  A script woken by IN_CREATE then reads without a round trip. */
#define NEWS_BODIES_MAX 16
#define NEWS_BODY_LIMIT 65536

static void on_meta(void *ctx, const struct imap_msg_meta *m)
{
	struct meta_batch *b = ctx;
	struct msg msg = msg_of(m);

	if (m->uid < b->min_uid)
		return;
	if (seqmap_append(&b->v->seq, m->uid) < 0) {
		log_warn(LOG_CAT_IMAP, "message UID %u in %s is out of order or repeated; "
			 "reloading", m->uid, b->v->f->imap_name);
		b->v->dirty = true;
		return;
	}
	if (m->size > UINT32_MAX)
		log_warn(LOG_CAT_IMAP, "message %u in %s claims RFC822.SIZE %llu; shown as 4 GiB "
			 "until read", m->uid, b->v->f->imap_name, (unsigned long long)m->size);
	push_msg(&b->got, &msg);
}

static void on_small_body(void *ctx, uint32_t uid, char *data, size_t len)
{
	struct meta_batch *b = ctx;

	if (b->nbodies == NEWS_BODIES_MAX || uid < b->min_uid) {
		free(data);
		return;
	}
	b->bodies[b->nbodies++] = (struct small_body){ uid, data, len };
}

/* The bodies that came: into the caches, and the sizes made exact, before
 * the news is announced. */
static void keep_bodies(struct view *v, struct meta_batch *b)
{
	for (size_t i = 0; i < b->nbodies; i++) {
		struct small_body *sb = &b->bodies[i];

		for (size_t k = 0; k < b->got.n; k++)
			if (b->got.msgs[k].uid == sb->uid) {
				b->got.msgs[k].size_exact = b->got.msgs[k].size == sb->len ? 1 : 2;
				b->got.msgs[k].size = (uint32_t)sb->len;
				account_keep_body(v->a, v->f, v->uidvalidity, sb->uid, sb->data,
						  sb->len);
				sb->data = NULL;
			}
		free(sb->data);
	}
	b->nbodies = 0;
}

/* The messages from UID first on; news (not a whole load) brings small
 * bodies along when the view asks for them. */
static enum imap_result fetch_from(struct view *v, uint32_t first, bool news,
				   struct meta_batch *b, struct imap_status *st)
{
	struct small_body bodies[NEWS_BODIES_MAX];
	char set[32];
	enum imap_result rr;
	bool small = news && v->news_bodies && v->exists >= v->seq.n &&
		     v->exists - v->seq.n <= NEWS_BODIES_MAX;

	memset(b, 0, sizeof(*b));
	b->v = v;
	b->min_uid = first;
	b->bodies = bodies;
	snprintf(set, sizeof(set), "%u:*", first);
	if (small)
		rr = imap_fetch_meta_small(v->s, set, NEWS_BODY_LIMIT, on_meta, on_small_body, b,
					   st);
	else
		rr = imap_fetch_meta(v->s, set, on_meta, b, st);
	if (rr == IMAP_R_OK && !b->got.oom)
		keep_bodies(v, b);
	for (size_t i = 0; i < b->nbodies; i++)
		free(bodies[i].data);
	b->bodies = NULL;
	b->nbodies = 0;
	if (rr == IMAP_R_OK && b->got.oom) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		rr = IMAP_R_NOMEM;
	}
	return rr;
}

static enum imap_result full_load(struct view *v, uint32_t uidvalidity, uint32_t uidnext,
				  struct imap_status *st)
{
	struct meta_batch b = { 0 };
	enum imap_result rr = IMAP_R_OK;

	seqmap_clear(&v->seq);
	v->dirty = false;
	if (v->exists)
		rr = fetch_from(v, 1, false, &b, st);
	if (rr == IMAP_R_OK &&
	    !events_merge(v->a, v->f, uidvalidity, uidnext, b.got.msgs, b.got.n, v->quiet,
				 v->selected_ms))
		v->stale = true;
	free(b.got.msgs);
	if (rr == IMAP_R_OK)
		log_debug(LOG_CAT_FS, "%s: %zu messages", v->f->imap_name, v->seq.n);
	return rr;
}

/* ---- resynchronising a known folder by its UIDs ---------------------------- */

/* The metadata of the server's UIDs the index lacks, a few hundred ranges
 * per command. */
static enum imap_result fetch_missing(struct view *v, const struct imap_seqmap *server,
				      const struct msg *known, size_t nknown,
				      struct collected *got, struct imap_status *st)
{
	enum imap_result rr = IMAP_R_OK;
	size_t i = 0, k = 0, ranges = 0;
	struct buf set;

	buf_init(&set);
	while (rr == IMAP_R_OK && i < server->n) {
		uint32_t lo = server->uids[i], hi = lo;

		while (k < nknown && known[k].uid < lo)
			k++;
		if (k < nknown && known[k].uid == lo) {
			i++;
			continue;
		}
		while (i + 1 < server->n && server->uids[i + 1] == hi + 1 &&
		       !(k < nknown && known[k].uid == hi + 1))
			hi = server->uids[++i];
		i++;
		if (lo == hi)
			buf_printf(&set, "%s%u", set.len ? "," : "", lo);
		else
			buf_printf(&set, "%s%u:%u", set.len ? "," : "", lo, hi);
		if (++ranges == 500 || i == server->n) {
			rr = imap_fetch_meta(v->s, set.data, collect_meta, got, st);
			set.len = 0;
			ranges = 0;
		}
	}
	if (rr == IMAP_R_OK && set.len)
		rr = imap_fetch_meta(v->s, set.data, collect_meta, got, st);
	buf_free(&set);
	if (rr == IMAP_R_OK && got->oom) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		rr = IMAP_R_NOMEM;
	}
	return rr;
}

/* What the index knew, in the server's order, plus what was fetched, plus
 * what the index knew above keep_above (news the session had not taken in
 * when it answered). */
static struct msg *merge(const struct imap_seqmap *server, const struct msg *known,
			 size_t nknown, const struct collected *got, uint32_t keep_above,
			 size_t *n)
{
	struct msg *out = malloc((server->n + nknown + 1) * sizeof(*out));
	size_t k = 0, g = 0;

	*n = 0;
	for (size_t i = 0; out && i < server->n; i++) {
		uint32_t uid = server->uids[i];

		while (k < nknown && known[k].uid < uid)
			k++;
		while (g < got->n && got->msgs[g].uid < uid)
			g++;
		if (k < nknown && known[k].uid == uid)
			out[(*n)++] = known[k];
		else if (g < got->n && got->msgs[g].uid == uid)
			out[(*n)++] = got->msgs[g];
		/* else: expunged between SEARCH and FETCH; the next look sees it */
	}
	while (out && k < nknown && known[k].uid <= keep_above)
		k++;
	while (out && k < nknown)
		out[(*n)++] = known[k++];
	return out;
}

/* The index's messages and the pending ones (not shown yet), ascending. */
static struct msg *copy_known(struct view *v, size_t *n, uint32_t *uidnext)
{
	struct folder *f = v->f;
	struct msg *out;
	size_t i = 0, j = 0;

	rlock_take(&v->a->index_lock);
	*n = 0;
	*uidnext = f->uidnext;
	out = malloc((f->nmsgs + f->npending + 1) * sizeof(*out));
	while (out && (i < f->nmsgs || j < f->npending)) {
		if (j == f->npending || (i < f->nmsgs && f->msgs[i].uid < f->pending[j].uid))
			out[(*n)++] = f->msgs[i++];
		else
			out[(*n)++] = f->pending[j++];
	}
	rlock_drop(&v->a->index_lock);
	return out;
}

/* Counts disagree with a folder we know (something was expunged while
 * this connection was away, or an EXPUNGE could not be placed): ask for
 * the UIDs (SEARCH: a few bytes each) instead of every message's
 * metadata, and fetch only what is new. */
static enum imap_result resync(struct view *v, struct imap_status *st)
{
	struct imap_seqmap server;
	struct collected got = { 0 };
	struct msg *known = NULL, *msgs = NULL;
	size_t nknown = 0, n = 0;
	uint32_t uidnext, keep_above;
	enum imap_result rr;

	seqmap_init(&server);
	rr = imap_uid_search_all(v->s, &server, st);
	if (rr == IMAP_R_OK) {
		known = copy_known(v, &nknown, &uidnext);
		rr = known ? fetch_missing(v, &server, known, nknown, &got, st) : IMAP_R_NOMEM;
	}
	/* Dovecot answers SEARCH from the session's last look and tells of
	 * newer mail with the answer: a message a watcher announced meanwhile
	 * is not in the list, and not gone. */
	keep_above = v->exists > server.n ? seqmap_last(&server) : UINT32_MAX;
	if (rr == IMAP_R_OK && !(msgs = merge(&server, known, nknown, &got, keep_above, &n)))
		rr = IMAP_R_NOMEM;
	if (rr == IMAP_R_OK) {
		if (!events_merge(v->a, v->f, v->uidvalidity, uidnext, msgs, n, v->quiet,
					 v->selected_ms))
			v->stale = true;
		seqmap_free(&v->seq);
		v->seq = server; /* the server's numbering, now ours */
		seqmap_init(&server);
		v->dirty = false;
		log_debug(LOG_CAT_FS, "%s: resynchronised: %zu messages, %zu fetched",
			  v->f->imap_name, n, got.n);
	} else if (rr == IMAP_R_NOMEM) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
	}
	seqmap_free(&server);
	free(known);
	free(msgs);
	free(got.msgs);
	return rr;
}

enum imap_result view_catch_up(struct view *v, uint32_t uidnext, struct imap_status *st)
{
	struct meta_batch b = { 0 };
	enum imap_result rr = IMAP_R_OK;

	if (!v->f)
		return IMAP_R_OK;
	if (v->stale || (v->f->loaded && !current(v))) {
		struct folder *f = v->f;
		bool rw = v->rw;

		view_reset(v);
		return view_open(v, f, rw, false, st);
	}
	if (!v->dirty && (v->exists > v->seq.n || (uidnext && uidnext != v->f->uidnext &&
						     uidnext > seqmap_last(&v->seq) + 1))) {
		rr = fetch_from(v, seqmap_last(&v->seq) + 1, true, &b, st);
		if (rr == IMAP_R_OK && b.got.n)
			events_arrived(v->a, v->f, b.got.msgs, b.got.n);
		free(b.got.msgs);
		if (rr != IMAP_R_OK)
			return rr;
		if (uidnext)
			v->f->uidnext = uidnext;
	}
	/* Counts still differ: something vanished while we were not looking.
	 * And the index must hold what this view sees: another connection's
	 * look at a mailbox that was re-created under it may have emptied it.
	 * Messages above the last one this view was told of are news to it (a
	 * watcher saw them first), not a difference. */
	if (v->dirty || v->exists != v->seq.n ||
	    events_count(v->a, v->f, seqmap_last(&v->seq)) != v->seq.n)
		return v->f->loaded && v->f->uidvalidity == v->uidvalidity ?
		       resync(v, st) : full_load(v, v->uidvalidity, v->f->uidnext, st);
	return IMAP_R_OK;
}

bool view_has(const struct view *v, uint32_t uid) { return seqmap_seq(&v->seq, uid) != 0; }

bool view_behind(const struct view *v)
{
	return v->f && (v->dirty || v->stale || v->exists != v->seq.n);
}

static bool knows_all(const struct view *v, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!view_has(v, uids[i]))
			return false;
	return true;
}

static bool has_news(const struct view *v)
{
	return v->exists != v->seq.n || v->dirty || v->stale;
}

/* What is learnt here is other clients' doing, even in the middle of a
 * change of ours: departures are announced. */
enum imap_result view_learn(struct view *v, const uint32_t *uids, size_t n,
			    struct imap_status *st)
{
	enum imap_result rr = IMAP_R_OK;
	bool quiet = v->quiet;

	v->quiet = false;
	if (has_news(v))
		rr = view_catch_up(v, 0, st);
	if (rr == IMAP_R_OK && v->f && !knows_all(v, uids, n)) {
		rr = imap_noop(v->s, st);
		if (rr == IMAP_R_OK)
			rr = view_catch_up(v, 0, st);
	}
	v->quiet = quiet;
	return rr;
}

/* The list is whole as of info's HIGHESTMODSEQ: remember it for the next
 * QRESYNC select. */
static enum imap_result note_modseq(struct view *v, const struct imap_select_info *info,
				    enum imap_result rr)
{
	if (rr == IMAP_R_OK && current(v) && !v->dirty && !v->stale) {
		rlock_take(&v->a->index_lock);
		v->f->highestmodseq = info->highestmodseq;
		rlock_drop(&v->a->index_lock);
	}
	return rr;
}

enum imap_result view_open(struct view *v, struct folder *f, bool rw, bool noop,
			   struct imap_status *st)
{
	struct imap_select_info info;
	struct imap_qresync qr;
	enum imap_result rr;

	if (v->f == f && f->loaded && (v->rw || !rw)) {
		rr = noop ? imap_noop(v->s, st) : IMAP_R_OK;
		return rr == IMAP_R_OK ? view_catch_up(v, 0, st) : rr;
	}
	view_reset(v);
	/* A folder known from before (this mount or the disk cache): the
	 * server says what vanished since, rather than being asked. */
	rlock_take(&v->a->index_lock);
	qr.uidvalidity = f->uidvalidity;
	qr.modseq = f->loaded ? f->highestmodseq : 0;
	rlock_drop(&v->a->index_lock);
	if (qr.modseq && imap_session_qresync(v->s)) {
		v->f = f; /* VANISHED (EARLIER) arrives during the SELECT */
		v->uidvalidity = qr.uidvalidity;
	}
	v->selected_ms = clock_ms();
	rr = imap_select(v->s, f->imap_name, !rw, qr.modseq ? &qr : NULL, &info, st);
	v->f = NULL;
	if (rr != IMAP_R_OK)
		return rr;
	v->f = f;
	v->rw = rw && !info.readonly;
	v->exists = info.exists;
	v->uidvalidity = info.uidvalidity;
	if (!f->loaded || f->uidvalidity != info.uidvalidity)
		return note_modseq(v, &info, full_load(v, info.uidvalidity, info.uidnext, st));
	/* A folder we know: assume the server has what the index has (the
	 * numbering follows), fetch what UIDNEXT says is new, and reload if
	 * the count then disagrees (something was expunged meanwhile). */
	if (events_uids(v->a, f, &v->seq) < 0) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return IMAP_R_NOMEM;
	}
	return note_modseq(v, &info, view_catch_up(v, info.uidnext, st));
}
