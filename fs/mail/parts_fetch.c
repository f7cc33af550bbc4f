#include "fs/mail/parts_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/diskcache.h"
#include "fs/mail/errno_map.h"
#include "fs/mail/parts_cache.h"
#include "fs/mail/parts_name.h"
#include "fs/mail/parts_sections.h"
#include "fs/mail/parts_store.h"
#include "imap/fetch_parts.h"

/* A command on the worker's session, r's folder selected. */
typedef enum imap_result (*session_fn)(const struct parts_ref *r, void *ctx,
				       struct imap_status *st);

/* What a failure is about, for the log. */
static void what(const struct parts_ref *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s/.parts/%u", r->f->imap_name ? r->f->imap_name : "", r->uid);
}

/* Run fn with r's folder selected (once more after a lost connection: the
 * session reconnects).  A message this session was not told of yet (an
 * IDLE watcher saw it first) is learnt first: servers answer UID FETCH
 * only for messages the session knows. */
static enum imap_result on_folder(const struct parts_ref *r, session_fn fn, void *ctx,
				  struct imap_status *st)
{
	struct account *a = r->a;
	enum imap_result rr = IMAP_R_LOST;

	if (!account_lock_session(a, r->deadline, st))
		return st->result;
	for (int tries = 0; tries < 2 && rr == IMAP_R_LOST; tries++) {
		rr = account_session(a, st);
		if (rr == IMAP_R_OK && a->view.f != r->f)
			rr = account_refresh_folder(a, r->f, st);
		if (rr == IMAP_R_OK && !view_has(&a->view, r->uid))
			rr = view_learn(&a->view, &r->uid, 1, st);
		if (rr == IMAP_R_OK)
			rr = fn(r, ctx, st);
	}
	account_unlock_session(a);
	return rr;
}

/* The message's body, pinned, when a cache has it. */
static struct body *body_at_hand(const struct parts_ref *r)
{
	struct body *b = bodycache_get(r->a->bodies, r->ino);

	return b ? b : account_body_from_disk(r->a, r->f, r->uid);
}

static void body_ready(void *ctx, struct body *b) { *(struct body **)ctx = b; }

static enum imap_result fetch_body(const struct parts_ref *r, void *ctx, struct imap_status *st)
{
	return account_load_body(r->a, r->f, r->uid, body_ready, ctx, st);
}

/* The whole body, pinned: cached, else fetched.  0 or an errno. */
static int whole_body(const struct parts_ref *r, struct body **out)
{
	struct body *b = body_at_hand(r);
	struct imap_status st;
	char w[300];

	if (!b && on_folder(r, fetch_body, &b, &st) != IMAP_R_OK && !b) {
		what(r, w, sizeof(w));
		return imap_errno(&st, w);
	}
	*out = b;
	return b ? 0 : EIO;
}

static int from_body(const struct parts_ref *r, struct parts_msg *pm, struct body *b)
{
	int rc = parts_from_message(pm, b->data, b->len);

	bodycache_release(r->a->bodies, b);
	return rc < 0 ? ENOMEM : 0;
}

/* The structure, and the section a lookup's file names when it names one. */
struct structure_req {
	struct imap_structure s;
	struct imap_section_want w;
	char section[IMAP_SECTION_MAX];
	bool with;
};

static enum imap_result fetch_structure(const struct parts_ref *r, void *ctx,
					struct imap_status *st)
{
	struct structure_req *q = ctx;

	imap_structure_free(&q->s); /* a try before a lost connection may have left some */
	free(q->w.data);
	q->w.data = NULL;
	if (q->with)
		return imap_fetch_structure_with(r->a->session, r->uid, &q->w, &q->s, st);
	return imap_fetch_structure(r->a->session, r->uid, &q->s, st);
}

/* BINARY (the server decodes) where offered; never for an attached
 * message, whose exact bytes are wanted. */
static bool binary_for(const struct parts_ref *r, bool message)
{
	return !message && (atomic_load(&r->a->server_caps) & CAP_BINARY);
}

/* The file's section, asked for with the structure: an attached message
 * is named SECTION.eml before the structure says what it is. */
static void want_file(const struct parts_ref *r, struct structure_req *q)
{
	size_t n = r->file ? strlen(r->file) : 0;

	q->with = r->file && parts_name_section(r->file, q->section, sizeof(q->section));
	q->w.section = q->section;
	q->w.binary = binary_for(r, n > 4 && strcmp(r->file + n - 4, ".eml") == 0);
	q->w.limit = PARTS_SECTIONS_BYTES / 4;
}

/* With the structure (no extra command then), or refused with it (no such
 * section, RFC 3516 [UNKNOWN-CTE]): once more without. */
static enum imap_result structure_from_server(const struct parts_ref *r, struct structure_req *q,
					      struct imap_status *st)
{
	enum imap_result rr;

	want_file(r, q);
	rr = on_folder(r, fetch_structure, q, st);
	if (q->with && (rr == IMAP_R_NO || rr == IMAP_R_BAD)) {
		q->with = false;
		rr = on_folder(r, fetch_structure, q, st);
	}
	/* Kept only when whole: a part as long as the limit may go on. */
	if (rr == IMAP_R_OK && q->with && q->w.data && q->w.len < q->w.limit)
		parts_sections_put(r->ino, q->section, q->w.data, q->w.len, q->w.binary);
	free(q->w.data);
	q->w.data = NULL;
	return rr;
}

/* The server answered, but not with a structure we can use: malformed,
 * too deep for the protocol parser (IMAP_R_PROTOCOL), or refused (BAD,
 * NO: a server without BODYSTRUCTURE). */
static bool structure_unusable(enum imap_result rr)
{
	return rr == IMAP_R_OK || rr == IMAP_R_PROTOCOL || rr == IMAP_R_BAD || rr == IMAP_R_NO;
}

/* BODYSTRUCTURE and the header block; the whole body, parsed here, when
 * the server's structure is unusable. */
static int from_server(const struct parts_ref *r, struct parts_msg *pm)
{
	struct structure_req q = { .s = { .bs_ok = false } };
	struct imap_status st;
	enum imap_result rr = structure_from_server(r, &q, &st);
	struct body *b;
	char w[300];
	int err;

	if (rr == IMAP_R_OK && q.s.bs_ok) {
		char *header = q.s.header;

		q.s.header = NULL;
		err = parts_from_structure(pm, header, q.s.hlen, &q.s.bs) < 0 ? ENOMEM : 0;
		imap_structure_free(&q.s);
		return err;
	}
	imap_structure_free(&q.s);
	if (!structure_unusable(rr)) {
		what(r, w, sizeof(w));
		return imap_errno(&st, w);
	}
	if ((err = whole_body(r, &b)) != 0)
		return err;
	return from_body(r, pm, b);
}

/* ---- the disk cache: a remount sends no BODYSTRUCTURE again ---------------- */

static uint32_t uidvalidity_now(const struct parts_ref *r)
{
	uint32_t uv;

	rlock_take(&r->a->index_lock);
	uv = r->f->uidvalidity;
	rlock_drop(&r->a->index_lock);
	return uv;
}

/* The list kept on disk under (mailbox, uv, UID): 0, or -1 (none, or bad). */
static int from_disk(const struct parts_ref *r, uint32_t uv, struct parts_msg *pm)
{
	size_t len = 0;
	char *buf = r->a->disk ? diskcache_get_parts(r->a->disk, r->f->imap_name, uv, r->uid, &len)
			       : NULL;
	int rc = buf ? parts_unpack(pm, buf, len) : -1;

	if (buf && rc < 0)
		log_warn(LOG_CAT_FS, "disk cache: the part list of %s/%u is unusable; fetched again",
			 r->f->imap_name ? r->f->imap_name : "", r->uid);
	free(buf);
	return rc;
}

/* Kept on disk, unless the folder's UIDVALIDITY changed while it was
 * fetched (the list may be of another message by now). */
static void to_disk(const struct parts_ref *r, uint32_t uv, const struct parts_msg *pm)
{
	char *buf;
	size_t len;

	if (!r->a->disk || uidvalidity_now(r) != uv || parts_pack(pm, &buf, &len) < 0)
		return;
	diskcache_put_parts(r->a->disk, r->f->imap_name, uv, r->uid, buf, len);
	free(buf);
}

/* The list from the disk cache, the body at hand, or the server. */
static int build(const struct parts_ref *r, struct parts_msg *pm)
{
	uint32_t uv = uidvalidity_now(r);
	struct body *b;
	int err;

	if (from_disk(r, uv, pm) == 0)
		return 0;
	memset(pm, 0, sizeof(*pm));
	if ((b = body_at_hand(r)))
		return from_body(r, pm, b);
	if ((err = from_server(r, pm)) == 0)
		to_disk(r, uv, pm);
	return err;
}

int parts_load(const struct parts_ref *r, struct parts_msg **out)
{
	struct parts_msg *pm = parts_cache_get(r->ino);
	int err;

	if (pm) {
		*out = pm;
		return 0;
	}
	if (!(pm = calloc(1, sizeof(*pm))))
		return ENOMEM;
	if ((err = build(r, pm)) != 0) {
		free(pm);
		return err;
	}
	if (pm->truncated)
		log_info(LOG_CAT_FS, "%s/%u.eml has more than %d parts: the first are shown",
			 r->f->imap_name ? r->f->imap_name : "", r->uid, IMAP_BS_MAX_PARTS);
	*out = parts_cache_put(r->ino, pm);
	return *out ? 0 : ENOMEM;
}

/* ---- reading a part --------------------------------------------------------- */

struct section_ctx {
	const struct parts_entry *e;
	bool binary;
	char *raw;
	size_t len;
};

static enum imap_result fetch_section(const struct parts_ref *r, void *ctx,
				      struct imap_status *st)
{
	struct section_ctx *sc = ctx;

	free(sc->raw);
	sc->raw = NULL;
	return imap_fetch_section(r->a->session, r->uid, sc->e->section, sc->binary, &sc->raw,
				  &sc->len, st);
}

/* The section fetched a moment ago for another file of the message (text
 * and 1.txt are one section): 0, or -1 (not kept).  An attached message
 * is never taken from what the server decoded. */
static int kept_part(const struct parts_ref *r, const struct parts_entry *e, char **data,
		     size_t *len)
{
	bool binary = false;
	size_t rlen = 0;
	char *raw = parts_sections_get(r->ino, e->section, &rlen, &binary);

	if (raw && e->message && binary) {
		free(raw);
		raw = NULL;
	}
	if (!raw || parts_decode(e, raw, rlen, binary, data, len) < 0)
		return -1;
	return 0;
}

/* The part's section from the server (binary_for), else BODY and decoding
 * here; also after a BINARY refused (RFC 3516 [UNKNOWN-CTE]). */
static int fetch_part(const struct parts_ref *r, const struct parts_entry *e, char **data,
		      size_t *len)
{
	struct section_ctx sc = { e, binary_for(r, e->message), NULL, 0 };
	struct imap_status st;
	enum imap_result rr = on_folder(r, fetch_section, &sc, &st);
	char w[300];
	int rc;

	if (rr == IMAP_R_NO && sc.binary) {
		sc.binary = false;
		rr = on_folder(r, fetch_section, &sc, &st);
	}
	if (rr != IMAP_R_OK) {
		free(sc.raw);
		what(r, w, sizeof(w));
		return imap_errno(&st, w);
	}
	parts_sections_put(r->ino, e->section, sc.raw, sc.len, sc.binary);
	rc = parts_decode(e, sc.raw, sc.len, sc.binary, data, len);
	return rc < 0 ? ENOMEM : 0;
}

static int copy_out(const char *src, size_t n, char **data, size_t *len)
{
	if (!(*data = malloc(n + 1)))
		return ENOMEM;
	memcpy(*data, src, n);
	(*data)[n] = '\0';
	*len = n;
	return 0;
}

/* A part from the whole body (cached, or fetched when the list was made
 * from it): parsed here, no server traffic for a cached one. */
static int from_whole(const struct parts_ref *r, const struct parts_entry *e, struct body *b,
		      char **data, size_t *len)
{
	int rc = parts_extract(e, b->data, b->len, data, len);

	bodycache_release(r->a->bodies, b);
	return rc < 0 ? EIO : 0;
}

int parts_read(const struct parts_ref *r, struct parts_msg *pm, size_t i, char **data,
	       size_t *len)
{
	const struct parts_entry *e = &pm->e[i];
	struct body *b;
	int err;

	if (e->kind == PARTS_HEADER)
		return copy_out(pm->header, pm->hlen, data, len);
	if (e->kind == PARTS_FIELD)
		return copy_out(e->value, strlen(e->value), data, len);
	b = body_at_hand(r);
	if (!b && pm->local && (err = whole_body(r, &b)) != 0)
		return err;
	if (b)
		err = from_whole(r, e, b, data, len);
	else
		err = kept_part(r, e, data, len) == 0 ? 0 : fetch_part(r, e, data, len);
	if (err == 0)
		parts_cache_set_size(pm, i, *len, true);
	return err;
}

/* ---- sizes ----------------------------------------------------------------- */

struct sizes_req {
	const char *sections[IMAP_SIZES_MAX];
	size_t idx[IMAP_SIZES_MAX];
	int64_t sizes[IMAP_SIZES_MAX];
	size_t n;
};

static enum imap_result fetch_sizes(const struct parts_ref *r, void *ctx,
				    struct imap_status *st)
{
	struct sizes_req *q = ctx;

	return imap_fetch_binary_sizes(r->a->session, r->uid, q->sections, q->n, q->sizes, st);
}

void parts_exact_sizes(const struct parts_ref *r, struct parts_msg *pm)
{
	struct sizes_req q = { .n = 0 };
	struct imap_status st;

	if (pm->local || !(atomic_load(&r->a->server_caps) & CAP_BINARY))
		return;
	for (size_t i = 0; i < pm->n && q.n < IMAP_SIZES_MAX; i++) {
		if (pm->e[i].kind != PARTS_LEAF || pm->e[i].message ||
		    parts_cache_size_settled(pm, i))
			continue;
		q.sections[q.n] = pm->e[i].section;
		q.idx[q.n++] = i;
	}
	if (q.n == 0 || on_folder(r, fetch_sizes, &q, &st) != IMAP_R_OK)
		return;
	for (size_t k = 0; k < q.n; k++)
		if (q.sizes[k] >= 0)
			parts_cache_set_size(pm, q.idx[k], (uint64_t)q.sizes[k], false);
}
