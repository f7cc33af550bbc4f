#include "imap/bodystructure.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* Parameters kept per part, in bytes of header text: names are short, and
 * a longer list is a server's mistake or an attack. */
#define PARAMS_MAX 8192

/* Header text being made; err once memory ran out. */
struct text {
	struct buf b;
	int err;
};

static void put(struct text *t, const void *data, size_t len)
{
	if (buf_append(&t->b, data, len) < 0)
		t->err = -1;
}

struct walk {
	struct imap_bodystructure *out;
	size_t cap;
};

/* A string (or NIL) of the structure into dst, lower-cased, cut at cap. */
static bool copy_lower(char *dst, size_t cap, const struct imap_value *v)
{
	size_t n = 0;

	dst[0] = '\0';
	if (v->type == IV_NIL)
		return true;
	if (v->type != IV_STRING && v->type != IV_ATOM)
		return false;
	for (; n + 1 < cap && n < v->len; n++)
		dst[n] = (char)tolower((unsigned char)v->str[n]);
	dst[n] = '\0';
	return true;
}

/* Token characters (RFC 2045): such a value needs no quotes, and RFC 2231
 * extended values ("utf-8''%E2%82%AC") must not have them. */
static bool is_token(const char *s, size_t len)
{
	static const char specials[] = "()<>@,;:\\\"/[]?= ";

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    strchr(specials, s[i]))
			return false;
	return true;
}

/* One string as header text: a token as is, else quoted; CR, LF and NUL
 * (which no header can hold) become spaces. */
static void put_value(struct text *t, const struct imap_value *v)
{
	if (is_token(v->str, v->len)) {
		put(t, v->str, v->len);
		return;
	}
	put(t, "\"", 1);
	for (size_t i = 0; i < v->len; i++) {
		char c = v->str[i];

		if (c == '"' || c == '\\')
			put(t, "\\", 1);
		put(t, c == '\r' || c == '\n' || c == '\0' ? " " : &c, 1);
	}
	put(t, "\"", 1);
}

/* body-fld-param: ("name" "value" ...) or NIL, appended as "; name=value".
 * Names that are not tokens are dropped; past PARAMS_MAX the rest too. */
static bool put_params(struct text *t, const struct imap_value *v)
{
	if (v->type == IV_NIL)
		return true;
	if (v->type != IV_LIST || v->n % 2)
		return false;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct imap_value *k = &v->items[i], *val = &v->items[i + 1];

		if (!imap_value_is_string(k) || !imap_value_is_string(val))
			return false;
		if (!is_token(k->str, k->len) || t->b.len + k->len + val->len * 2 + 8 > PARAMS_MAX)
			continue;
		put(t, "; ", 2);
		put(t, k->str, k->len);
		put(t, "=", 1);
		put_value(t, val);
	}
	return true;
}

/* The charset parameter's value into p->charset ("" when none). */
static void find_charset(struct imap_bodypart *p, const struct imap_value *params)
{
	for (size_t i = 0; params->type == IV_LIST && i + 1 < params->n; i += 2)
		if (imap_value_is_string(&params->items[i]) && params->items[i].len == 7 &&
		    strncasecmp(params->items[i].str, "charset", 7) == 0)
			copy_lower(p->charset, sizeof(p->charset), &params->items[i + 1]);
}

/* body-fld-dsp: ("attachment" (params)) or NIL, as "attachment; a=b". */
static bool take_disposition(struct imap_bodypart *p, const struct imap_value *v)
{
	struct text t = { .err = 0 };

	if (v->type == IV_NIL)
		return true;
	if (v->type != IV_LIST || v->n != 2 || !imap_value_is_string(&v->items[0]) ||
	    !is_token(v->items[0].str, v->items[0].len))
		return false;
	buf_init(&t.b);
	put(&t, v->items[0].str, v->items[0].len);
	if (!put_params(&t, &v->items[1]) || t.err) {
		buf_free(&t.b);
		return false;
	}
	p->disposition = buf_steal(&t.b, NULL);
	return p->disposition != NULL;
}

static bool take_params(struct imap_bodypart *p, const struct imap_value *v)
{
	struct text t = { .err = 0 };

	buf_init(&t.b);
	if (!put_params(&t, v) || t.err) {
		buf_free(&t.b);
		return false;
	}
	find_charset(p, v);
	p->params = buf_steal(&t.b, NULL);
	return p->params != NULL;
}

/* Where body-fld-md5 is in a one-part body: after the lines of a text
 * part, after the envelope, body and lines of an attached message. */
static size_t md5_index(const struct imap_bodypart *p)
{
	if (strcmp(p->type, "text") == 0)
		return 8;
	if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0))
		return 10;
	return 7;
}

/* body-type-1part: type subtype params id desc encoding octets ... */
static bool fill_leaf(struct imap_bodypart *p, const struct imap_value *v)
{
	const struct imap_value *it = v->items;
	size_t dsp;

	if (v->n < 7 || !copy_lower(p->type, sizeof(p->type), &it[0]) ||
	    !copy_lower(p->subtype, sizeof(p->subtype), &it[1]) ||
	    !copy_lower(p->encoding, sizeof(p->encoding), &it[5]) || it[6].type != IV_NUMBER)
		return false;
	p->octets = it[6].num;
	if (!take_params(p, &it[2]))
		return false;
	dsp = md5_index(p) + 1;
	return dsp >= v->n || take_disposition(p, &it[dsp]);
}

static int add_leaf(struct walk *w, const struct imap_value *v, const char *section)
{
	struct imap_bodystructure *bs = w->out;
	struct imap_bodypart *p;

	if (bs->n == IMAP_BS_MAX_PARTS) {
		bs->truncated = true;
		return 0;
	}
	if (bs->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;

		p = realloc(bs->parts, cap * sizeof(*p));
		if (!p)
			return -1;
		bs->parts = p;
		w->cap = cap;
	}
	p = &bs->parts[bs->n];
	memset(p, 0, sizeof(*p));
	snprintf(p->section, sizeof(p->section), "%s", section);
	bs->n++; /* counted now, so that a failure frees what it took */
	return fill_leaf(p, v) ? 0 : -1;
}

static int walk(struct walk *w, const struct imap_value *v, const char *section, unsigned depth);

/* body-type-mpart: 1*body subtype [ext]; children numbered from 1 below
 * prefix ("" at the top). */
static int walk_multipart(struct walk *w, const struct imap_value *v, const char *prefix,
			  unsigned depth)
{
	char sec[IMAP_SECTION_MAX];
	size_t i;

	for (i = 0; i < v->n && v->items[i].type == IV_LIST; i++) {
		if (w->out->n == IMAP_BS_MAX_PARTS) {
			w->out->truncated = true; /* the rest is not walked, only skipped */
			continue;
		}
		snprintf(sec, sizeof(sec), "%s%s%zu", prefix, *prefix ? "." : "", i + 1);
		if (walk(w, &v->items[i], sec, depth + 1) < 0)
			return -1;
	}
	return i < v->n && imap_value_is_string(&v->items[i]) ? 0 : -1;
}

static int walk(struct walk *w, const struct imap_value *v, const char *section, unsigned depth)
{
	if (v->type != IV_LIST || v->n == 0 || depth > IMAP_BS_MAX_DEPTH)
		return -1;
	if (v->items[0].type == IV_LIST)
		return walk_multipart(w, v, section, depth);
	return add_leaf(w, v, *section ? section : "1");
}

int imap_bodystructure_parse(const struct imap_value *v, struct imap_bodystructure *out)
{
	struct walk w = { out, 0 };

	memset(out, 0, sizeof(*out));
	if (walk(&w, v, "", 0) == 0 && out->n > 0)
		return 0;
	imap_bodystructure_free(out);
	return -1;
}

void imap_bodystructure_free(struct imap_bodystructure *bs)
{
	for (size_t i = 0; i < bs->n; i++) {
		free(bs->parts[i].params);
		free(bs->parts[i].disposition);
	}
	free(bs->parts);
	memset(bs, 0, sizeof(*bs));
}

bool imap_section_valid(const char *section)
{
	bool digit = false;
	size_t n = 0;

	for (; section[n] && n < IMAP_SECTION_MAX; n++) {
		if (isdigit((unsigned char)section[n]))
			digit = true;
		else if (section[n] == '.' && digit)
			digit = false;
		else
			return false;
	}
	return digit && n < IMAP_SECTION_MAX;
}
