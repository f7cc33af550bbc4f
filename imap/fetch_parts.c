#include "imap/fetch_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "imap/commands.h"
#include "imap/session_priv.h"

/* "BINARY[1.2]": a section is at most IMAP_SECTION_MAX bytes. */
#define ITEM_MAX (IMAP_SECTION_MAX + 16)

struct section_ctx {
	uint32_t uid;
	const char *item;   /* the data item that carries the bytes */
	char *data;
	size_t len;
	bool found;
};

struct structure_ctx {
	uint32_t uid;
	struct imap_structure *out;
	struct imap_section_want *w;  /* NULL: none asked for */
	const char *item;             /* w's data item: "BINARY[2]<0>" */
	bool found;
};

/* The value of item in an untagged FETCH of uid, or NULL (the response is
 * another message's, or lacks it). */
static const struct imap_value *fetch_item(const struct imap_response *r, uint32_t uid,
					   const char *item)
{
	const struct imap_value *items = imap_list_item(&r->data, 2);
	struct imap_msg_meta m;

	if (!imap_parse_fetch(r, &m) || m.uid != uid || !items)
		return NULL;
	for (size_t i = 0; i + 1 < items->n; i += 2)
		if (imap_value_is(&items->items[i], item))
			return &items->items[i + 1];
	return NULL;
}

/* A string's bytes handed over (NIL: none, empty). */
static bool take_bytes(struct imap_response *r, const struct imap_value *v, char **data,
		       size_t *len)
{
	if (v->type == IV_NIL) {
		*data = calloc(1, 1);
		*len = 0;
		return *data != NULL;
	}
	if (v->type != IV_STRING)
		return false;
	*data = imap_value_steal(r, v, len);
	return *data != NULL;
}

static bool on_structure(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct structure_ctx *sc = vctx;
	const struct imap_value *bs = fetch_item(r, sc->uid, "BODYSTRUCTURE");
	const struct imap_value *hdr = fetch_item(r, sc->uid, "BODY[HEADER]");
	const struct imap_value *part = sc->w ? fetch_item(r, sc->uid, sc->item) : NULL;

	if (!bs && !hdr && !part)
		return false;
	sc->found = true;
	if (part && !sc->w->data)
		take_bytes(r, part, &sc->w->data, &sc->w->len);
	if (bs && !sc->out->bs_ok) {
		sc->out->bs_ok = imap_bodystructure_parse(bs, &sc->out->bs) == 0;
		if (!sc->out->bs_ok)
			log_info(LOG_CAT_IMAP, "[%s] BODYSTRUCTURE of UID %u unusable: the message "
				 "is parsed here instead", s->name, sc->uid);
	}
	if (hdr && !sc->out->header)
		take_bytes(r, hdr, &sc->out->header, &sc->out->hlen);
	return true;
}

/* The structure (and w's section) as the command's answer brought them. */
static enum imap_result structure_result(struct structure_ctx *sc, enum imap_result rr,
					 struct imap_status *st)
{
	uint32_t uid = sc->uid;
	struct imap_structure *out = sc->out;

	if (rr == IMAP_R_OK && !sc->found) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		return IMAP_R_GONE;
	}
	if (rr == IMAP_R_OK && !out->header) {
		imap_status_set(st, IMAP_R_PROTOCOL, "no header block for message %u", uid);
		return IMAP_R_PROTOCOL;
	}
	return rr;
}

enum imap_result imap_fetch_structure(struct imap_session *s, uint32_t uid,
				      struct imap_structure *out, struct imap_status *st)
{
	struct structure_ctx sc = { uid, out, NULL, NULL, false };

	memset(out, 0, sizeof(*out));
	return structure_result(&sc, imap_simple(s, st, on_structure, &sc,
			"UID FETCH %u (UID BODYSTRUCTURE BODY.PEEK[HEADER])", uid), st);
}

enum imap_result imap_fetch_structure_with(struct imap_session *s, uint32_t uid,
					   struct imap_section_want *w,
					   struct imap_structure *out, struct imap_status *st)
{
	const char *kind = w->binary ? "BINARY" : "BODY";
	char item[ITEM_MAX];
	struct structure_ctx sc = { uid, out, w, item, false };

	memset(out, 0, sizeof(*out));
	w->data = NULL;
	w->len = 0;
	if (!imap_section_valid(w->section) || w->limit == 0) {
		imap_status_set(st, IMAP_R_INVALID, "bad section number");
		return IMAP_R_INVALID;
	}
	snprintf(item, sizeof(item), "%s[%s]<0>", kind, w->section);
	return structure_result(&sc, imap_simple(s, st, on_structure, &sc,
			"UID FETCH %u (UID BODYSTRUCTURE BODY.PEEK[HEADER] %s.PEEK[%s]<0.%zu>)",
			uid, kind, w->section, w->limit), st);
}

void imap_structure_free(struct imap_structure *out)
{
	imap_bodystructure_free(&out->bs);
	free(out->header);
	memset(out, 0, sizeof(*out));
}

static bool on_section(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct section_ctx *sc = vctx;
	const struct imap_value *v = fetch_item(r, sc->uid, sc->item);

	(void)s;
	if (!v)
		return false;
	if (!sc->found)
		sc->found = take_bytes(r, v, &sc->data, &sc->len);
	return true;
}

enum imap_result imap_fetch_section(struct imap_session *s, uint32_t uid, const char *section,
				    bool binary, char **data, size_t *len, struct imap_status *st)
{
	char item[ITEM_MAX];
	struct section_ctx sc = { uid, item, NULL, 0, false };
	enum imap_result rr;

	*data = NULL;
	*len = 0;
	if (!imap_section_valid(section)) {
		imap_status_set(st, IMAP_R_INVALID, "bad section number");
		return IMAP_R_INVALID;
	}
	snprintf(item, sizeof(item), "%s[%s]", binary ? "BINARY" : "BODY", section);
	rr = imap_simple(s, st, on_section, &sc, "UID FETCH %u (UID %s.PEEK[%s])", uid,
			 binary ? "BINARY" : "BODY", section);
	if (rr == IMAP_R_OK && !sc.found) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		rr = IMAP_R_GONE;
	}
	if (rr != IMAP_R_OK) {
		free(sc.data);
		return rr;
	}
	*data = sc.data;
	*len = sc.len;
	return rr;
}

struct sizes_ctx {
	uint32_t uid;
	const char *const *sections;
	size_t n;
	int64_t *sizes;
};

/* "BINARY.SIZE[1.2]" answers section i: its index, or -1. */
static long size_index(const struct sizes_ctx *sc, const struct imap_value *key)
{
	char item[ITEM_MAX];

	for (size_t i = 0; i < sc->n; i++) {
		snprintf(item, sizeof(item), "BINARY.SIZE[%s]", sc->sections[i]);
		if (imap_value_is(key, item))
			return (long)i;
	}
	return -1;
}

static bool on_sizes(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct sizes_ctx *sc = vctx;
	const struct imap_value *items = imap_list_item(&r->data, 2);
	struct imap_msg_meta m;
	long i;

	(void)s;
	if (!imap_parse_fetch(r, &m) || m.uid != sc->uid || !items)
		return false;
	for (size_t k = 0; k + 1 < items->n; k += 2)
		if (items->items[k + 1].type == IV_NUMBER &&
		    (i = size_index(sc, &items->items[k])) >= 0)
			sc->sizes[i] = (int64_t)(items->items[k + 1].num & INT64_MAX);
	return true;
}

enum imap_result imap_fetch_binary_sizes(struct imap_session *s, uint32_t uid,
					 const char *const *sections, size_t n, int64_t *sizes,
					 struct imap_status *st)
{
	struct sizes_ctx sc = { uid, sections, n, sizes };
	enum imap_result rr;
	struct buf items;

	buf_init(&items);
	for (size_t i = 0; i < n; i++) {
		sizes[i] = -1;
		if (n > IMAP_SIZES_MAX || !imap_section_valid(sections[i]) ||
		    buf_printf(&items, " BINARY.SIZE[%s]", sections[i]) < 0) {
			buf_free(&items);
			imap_status_set(st, IMAP_R_INVALID, "bad or too many sections");
			return IMAP_R_INVALID;
		}
	}
	rr = imap_simple(s, st, on_sizes, &sc, "UID FETCH %u (UID%.*s)", uid, (int)items.len,
			 items.data ? items.data : "");
	buf_free(&items);
	return rr;
}
