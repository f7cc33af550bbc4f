/* Packing a part list (see parts_store.h).  Layout, native byte order
 * (the file never leaves this machine):
 *   "IFSP1", u32 hlen, header, u8 local, u8 truncated, u32 n, n entries;
 *   entry: u8 kind, u8 message, u8 size_exact, u64 size, then the
 *   strings name, section, encoding, charset, value, each u32 length
 *   (NO_STR: absent) and the bytes. */
#include "fs/mail/parts_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/bodystructure.h"

#define MAGIC "IFSP1"
#define MAGIC_LEN 5
#define NO_STR UINT32_MAX

struct out { char *p; size_t len, cap; bool bad; };

static void put(struct out *o, const void *src, size_t n)
{
	if (o->bad)
		return;
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 256;
		char *p = realloc(o->p, cap);

		if (!p) {
			o->bad = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static void put_u8(struct out *o, uint8_t v) { put(o, &v, 1); }
static void put_u32(struct out *o, uint32_t v) { put(o, &v, 4); }

static void put_str(struct out *o, const char *s)
{
	put_u32(o, s ? (uint32_t)strlen(s) : NO_STR);
	if (s)
		put(o, s, strlen(s));
}

static void put_entry(struct out *o, const struct parts_entry *e)
{
	uint64_t size = e->size;

	put_u8(o, (uint8_t)e->kind);
	put_u8(o, e->message);
	put_u8(o, e->size_exact);
	put(o, &size, 8);
	put_str(o, e->name);
	put_str(o, e->section);
	put_str(o, e->encoding);
	put_str(o, e->charset);
	put_str(o, e->value);
}

int parts_pack(const struct parts_msg *pm, char **out, size_t *len)
{
	struct out o = { NULL, 0, 0, pm->hlen > UINT32_MAX || pm->n > UINT32_MAX };

	put(&o, MAGIC, MAGIC_LEN);
	put_u32(&o, (uint32_t)pm->hlen);
	put(&o, pm->header, pm->hlen);
	put_u8(&o, pm->local);
	put_u8(&o, pm->truncated);
	put_u32(&o, (uint32_t)pm->n);
	for (size_t i = 0; i < pm->n; i++)
		put_entry(&o, &pm->e[i]);
	if (o.bad) {
		free(o.p);
		return -1;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}

/* ---- unpacking: every read bounded by what is left ---------------------- */

struct in { const char *p; size_t left; bool bad; };

static bool get(struct in *in, void *dst, size_t n)
{
	if (in->bad || n > in->left) {
		in->bad = true;
		return false;
	}
	memcpy(dst, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static uint8_t get_u8(struct in *in)
{
	uint8_t v = 0;

	get(in, &v, 1);
	return v;
}

static uint32_t get_u32(struct in *in)
{
	uint32_t v = 0;

	get(in, &v, 4);
	return v;
}

/* A string with no NUL in it, malloc'd; NULL when absent (or bad). */
static char *get_str(struct in *in)
{
	uint32_t n = get_u32(in);
	char *s;

	if (in->bad || n == NO_STR)
		return NULL;
	if (n > in->left || !(s = malloc((size_t)n + 1))) {
		in->bad = true;
		return NULL;
	}
	get(in, s, n);
	s[n] = '\0';
	if (strlen(s) != n)
		in->bad = true;
	return s;
}

/* Into a fixed buffer (encoding, charset): must fit. */
static void get_fixed(struct in *in, char *dst, size_t cap)
{
	char *s = get_str(in);

	if (!s || strlen(s) >= cap)
		in->bad = true;
	else
		strcpy(dst, s);
	free(s);
}

/* A name the mount can show: what parts_name makes never fails this. */
static bool safe_name(const char *s)
{
	return s && *s && *s != '.' && !strchr(s, '/') && strlen(s) <= 255;
}

static void get_entry(struct in *in, struct parts_entry *e)
{
	uint8_t kind = get_u8(in);

	e->kind = (enum parts_kind)kind;
	e->message = get_u8(in) != 0;
	e->size_exact = get_u8(in) != 0;
	get(in, &e->size, 8);
	e->name = get_str(in);
	e->section = get_str(in);
	get_fixed(in, e->encoding, sizeof(e->encoding));
	get_fixed(in, e->charset, sizeof(e->charset));
	e->value = get_str(in);
	if (kind > PARTS_LEAF || !safe_name(e->name) ||
	    ((kind == PARTS_TEXT || kind == PARTS_LEAF) && !e->section) ||
	    (kind == PARTS_FIELD && !e->value))
		in->bad = true;
}

int parts_unpack(struct parts_msg *pm, const char *buf, size_t len)
{
	struct in in = { buf, len, false };
	char magic[MAGIC_LEN];
	uint32_t n;

	if (!get(&in, magic, MAGIC_LEN) || memcmp(magic, MAGIC, MAGIC_LEN) != 0)
		return -1;
	pm->hlen = get_u32(&in);
	if (pm->hlen > in.left || !(pm->header = malloc(pm->hlen + 1)))
		return -1;
	get(&in, pm->header, pm->hlen);
	pm->header[pm->hlen] = '\0';
	pm->local = get_u8(&in) != 0;
	pm->truncated = get_u8(&in) != 0;
	n = get_u32(&in);
	if (n > IMAP_BS_MAX_PARTS + 16 || !(pm->e = calloc(n ? n : 1, sizeof(*pm->e))))
		in.bad = true;
	for (uint32_t i = 0; i < n && !in.bad; i++, pm->n++)
		get_entry(&in, &pm->e[i]);
	if (in.bad || in.left) {
		parts_msg_free(pm);
		return -1;
	}
	return 0;
}
