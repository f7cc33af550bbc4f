/* Building the list of a message's part files (parts.h). */
#include "fs/mail/parts.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/parts_name.h"

/* The header fields shown as files, by file name. */
static const char *const fields[] = {
	"subject", "from", "to", "cc", "date", "message-id", "in-reply-to",
};

/* One leaf as both builders see it. */
struct leaf {
	const char *section, *type, *subtype, *encoding, *charset, *filename;
	bool attachment;
	uint64_t octets;
};

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void) { g_mime_init(); }

void parts_init(void) { pthread_once(&gmime_once, gmime_start); }

static struct parts_entry *add_entry(struct parts_msg *pm, size_t *cap, const char *name,
				     enum parts_kind kind)
{
	struct parts_entry *e;

	if (pm->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		e = realloc(pm->e, ncap * sizeof(*e));
		if (!e)
			return NULL;
		pm->e = e;
		*cap = ncap;
	}
	e = &pm->e[pm->n];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (!(e->name = strdup(name)))
		return NULL;
	pm->n++;
	return e;
}

/* A decoded header value as one line: controls (what a hostile encoded
 * word may hold) become spaces, the ends are trimmed, "\n" ends it. */
static char *one_line(const char *v)
{
	size_t len = strlen(v), start = 0;
	char *out;

	while (start < len && (v[start] == ' ' || v[start] == '\t'))
		start++;
	while (len > start && strchr(" \t\r\n", v[len - 1]))
		len--;
	if (!(out = malloc(len - start + 2)))
		return NULL;
	for (size_t i = start; i < len; i++)
		out[i - start] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? ' ' : v[i];
	out[len - start] = '\n';
	out[len - start + 1] = '\0';
	return out;
}

/* Field name's value in the header list: unfolded, RFC 2047 decoded to
 * UTF-8, one line; NULL when absent (or out of memory). */
static char *field_value(GMimeHeaderList *hl, const char *name)
{
	GMimeHeader *h = g_mime_header_list_get_header(hl, name);
	char *unfolded, *decoded, *line;

	if (!h || !g_mime_header_get_raw_value(h))
		return NULL;
	unfolded = g_mime_utils_header_unfold(g_mime_header_get_raw_value(h));
	decoded = g_mime_utils_header_decode_text(NULL, unfolded);
	line = one_line(decoded ? decoded : unfolded);
	g_free(decoded);
	g_free(unfolded);
	return line;
}

static int add_fields(struct parts_msg *pm, size_t *cap, GMimeObject *msg)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(msg);
	struct parts_entry *e;
	char *v;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(v = field_value(hl, fields[i])))
			continue;
		if (!(e = add_entry(pm, cap, fields[i], PARTS_FIELD))) {
			free(v);
			return -1;
		}
		e->value = v;
		e->size = strlen(v);
		e->size_exact = true;
	}
	return 0;
}

/* GMime's message for a byte string (the stream's copy is its own). */
static GMimeMessage *parse_message(const char *data, size_t len)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

	g_object_unref(parser);
	g_object_unref(stream);
	return m;
}

/* "header" and the field files, from the header block. */
static int add_header(struct parts_msg *pm, size_t *cap)
{
	GMimeMessage *m = parse_message(pm->header, pm->hlen);
	struct parts_entry *e = add_entry(pm, cap, "header", PARTS_HEADER);
	int rc = e ? 0 : -1;

	if (e) {
		e->size = pm->hlen;
		e->size_exact = true;
	}
	if (m && rc == 0)
		rc = add_fields(pm, cap, GMIME_OBJECT(m));
	if (m)
		g_object_unref(m);
	return rc;
}

/* The size a part has once its transfer encoding is undone, about. */
static uint64_t estimate(const char *encoding, uint64_t octets)
{
	return strcmp(encoding, "base64") == 0 ? octets / 4 * 3 : octets;
}

static void copy_str(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
	for (char *p = dst; *p; p++)
		*p = (char)g_ascii_tolower(*p);
}

static struct parts_entry *add_leaf(struct parts_msg *pm, size_t *cap, const struct leaf *l,
				    const char *name, enum parts_kind kind)
{
	struct parts_entry *e = add_entry(pm, cap, name, kind);

	if (!e || !(e->section = strdup(l->section)))
		return NULL;
	copy_str(e->encoding, sizeof(e->encoding), l->encoding);
	copy_str(e->charset, sizeof(e->charset), l->charset);
	e->message = strcmp(l->type, "message") == 0 &&
		     (strcmp(l->subtype, "rfc822") == 0 || strcmp(l->subtype, "global") == 0);
	e->size = e->message ? l->octets : estimate(e->encoding, l->octets);
	/* Bytes served as they are stored: the server's count is theirs. */
	e->size_exact = kind == PARTS_LEAF && l->octets > 0 &&
			(e->message || !*e->encoding || strcmp(e->encoding, "7bit") == 0 ||
			 strcmp(e->encoding, "8bit") == 0 || strcmp(e->encoding, "binary") == 0);
	return e;
}

static int add_part(struct parts_msg *pm, size_t *cap, const struct leaf *l)
{
	char name[PARTS_NAME_MAX + 1];

	parts_name(name, l->section, l->filename, l->type, l->subtype);
	return add_leaf(pm, cap, l, name, PARTS_LEAF) ? 0 : -1;
}

/* The main text: the first inline text/plain leaf, else text/html. */
static const struct leaf *main_text(const struct leaf *l, size_t n)
{
	for (int html = 0; html < 2; html++)
		for (size_t i = 0; i < n; i++)
			if (!l[i].attachment && strcmp(l[i].type, "text") == 0 &&
			    strcmp(l[i].subtype, html ? "html" : "plain") == 0)
				return &l[i];
	return NULL;
}

/* The files of the leaves, after header and fields: "text", then one per leaf. */
static int add_leaves(struct parts_msg *pm, size_t *cap, const struct leaf *l, size_t n)
{
	const struct leaf *text = main_text(l, n);

	if (text && !add_leaf(pm, cap, text, "text", PARTS_TEXT))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (add_part(pm, cap, &l[i]) < 0)
			return -1;
	return 0;
}

/* ---- from the server's structure ----------------------------------------- */

/* The decoded file name of a structure's part: Content-Disposition's
 * filename, else Content-Type's name (RFC 2231 and RFC 2047 undone by
 * GMime).  g_free it. */
static char *structure_filename(const struct imap_bodypart *p, bool *attachment)
{
	GMimeContentDisposition *cd = NULL;
	GMimeContentType *ct;
	char *ctstr, *name = NULL;

	*attachment = false;
	if (p->disposition && (cd = g_mime_content_disposition_parse(NULL, p->disposition))) {
		*attachment = g_mime_content_disposition_is_attachment(cd);
		name = g_strdup(g_mime_content_disposition_get_parameter(cd, "filename"));
		g_object_unref(cd);
	}
	if (name && *name)
		return name;
	g_free(name);
	ctstr = g_strdup_printf("%s/%s%s", *p->type ? p->type : "application",
				*p->subtype ? p->subtype : "octet-stream", p->params ? p->params : "");
	ct = g_mime_content_type_parse(NULL, ctstr);
	name = ct ? g_strdup(g_mime_content_type_get_parameter(ct, "name")) : NULL;
	if (ct)
		g_object_unref(ct);
	g_free(ctstr);
	return name;
}

static int structure_leaves(struct parts_msg *pm, size_t *cap,
			    const struct imap_bodystructure *bs)
{
	struct leaf *l = calloc(bs->n ? bs->n : 1, sizeof(*l));
	int rc = l ? 0 : -1;

	for (size_t i = 0; l && i < bs->n; i++) {
		const struct imap_bodypart *p = &bs->parts[i];
		bool attachment;
		char *filename = structure_filename(p, &attachment);

		l[i] = (struct leaf){ p->section, p->type, p->subtype, p->encoding, p->charset,
				      filename, attachment, p->octets };
	}
	if (l)
		rc = add_leaves(pm, cap, l, bs->n);
	for (size_t i = 0; l && i < bs->n; i++)
		g_free((char *)l[i].filename);
	free(l);
	return rc;
}

int parts_from_structure(struct parts_msg *pm, char *header, size_t hlen,
			 const struct imap_bodystructure *bs)
{
	size_t cap = 0;

	parts_init();
	memset(pm, 0, sizeof(*pm));
	pm->header = header;
	pm->hlen = hlen;
	pm->truncated = bs->truncated;
	if (add_header(pm, &cap) < 0 || structure_leaves(pm, &cap, bs) < 0) {
		parts_msg_free(pm);
		return -1;
	}
	return 0;
}

/* ---- from the whole message --------------------------------------------- */

/* A leaf found in GMime's tree, with copies of its strings. */
struct local_leaf {
	char section[IMAP_SECTION_MAX];
	char type[40], subtype[80], encoding[40], charset[40];
	char *filename;     /* g_free */
	bool attachment;
	uint64_t octets;
};

struct local_walk {
	struct local_leaf *l;
	size_t n, cap;
	bool truncated;
};

/* The transfer encoding GMime found for o ("" for none). */
static const char *local_encoding(GMimeObject *o)
{
	const char *enc;

	if (GMIME_IS_PART(o)) {
		enc = g_mime_content_encoding_to_string(
			g_mime_part_get_content_encoding(GMIME_PART(o)));
		return enc ? enc : "";
	}
	enc = g_mime_object_get_header(o, "Content-Transfer-Encoding");
	return enc ? enc : "";
}

static uint64_t local_octets(GMimeObject *o)
{
	GMimeDataWrapper *w = GMIME_IS_PART(o) ? g_mime_part_get_content(GMIME_PART(o)) : NULL;
	gint64 len = w ? g_mime_stream_length(g_mime_data_wrapper_get_stream(w)) : -1;

	return len > 0 ? (uint64_t)len : 0;
}

static char *local_filename(GMimeObject *o)
{
	const char *name = g_mime_object_get_content_disposition_parameter(o, "filename");

	if (!name || !*name)
		name = g_mime_object_get_content_type_parameter(o, "name");
	return g_strdup(name);
}

static int local_leaf(struct local_walk *w, GMimeObject *o, const char *section)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *disp = g_mime_object_get_disposition(o);
	struct local_leaf *l;

	if (w->n == IMAP_BS_MAX_PARTS) {
		w->truncated = true;
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;

		if (!(l = realloc(w->l, cap * sizeof(*l))))
			return -1;
		w->l = l;
		w->cap = cap;
	}
	l = &w->l[w->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->section, sizeof(l->section), "%s", section);
	copy_str(l->type, sizeof(l->type), ct ? g_mime_content_type_get_media_type(ct) : "text");
	copy_str(l->subtype, sizeof(l->subtype),
		 ct ? g_mime_content_type_get_media_subtype(ct) : "plain");
	copy_str(l->encoding, sizeof(l->encoding), local_encoding(o));
	copy_str(l->charset, sizeof(l->charset), g_mime_object_get_content_type_parameter(o, "charset"));
	l->filename = local_filename(o);
	l->attachment = disp && g_ascii_strcasecmp(disp, "attachment") == 0;
	l->octets = local_octets(o);
	return 0;
}

/* GMime's tree numbered as IMAP numbers sections (RFC 3501 §6.4.5);
 * attached messages are leaves, multiparts deeper than the structure
 * parser follows are left out. */
static int local_walk(struct local_walk *w, GMimeObject *o, const char *section, unsigned depth)
{
	char sec[IMAP_SECTION_MAX];
	int n;

	if (!GMIME_IS_MULTIPART(o))
		return local_leaf(w, o, *section ? section : "1");
	if (depth >= IMAP_BS_MAX_DEPTH)
		return 0;
	n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
	for (int i = 0; i < n; i++) {
		snprintf(sec, sizeof(sec), "%s%s%d", section, *section ? "." : "", i + 1);
		if (local_walk(w, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), sec,
			       depth + 1) < 0)
			return -1;
	}
	return 0;
}

static int local_leaves(struct parts_msg *pm, size_t *cap, GMimeObject *top)
{
	struct local_walk w = { NULL, 0, 0, false };
	struct leaf *l;
	int rc = top ? local_walk(&w, top, "", 0) : 0;

	l = calloc(w.n ? w.n : 1, sizeof(*l));
	if (!l)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		l[i] = (struct leaf){ w.l[i].section, w.l[i].type, w.l[i].subtype,
				      w.l[i].encoding, w.l[i].charset, w.l[i].filename,
				      w.l[i].attachment, w.l[i].octets };
	if (rc == 0)
		rc = add_leaves(pm, cap, l, w.n);
	pm->truncated = w.truncated;
	for (size_t i = 0; i < w.n; i++)
		g_free(w.l[i].filename);
	free(w.l);
	free(l);
	return rc;
}

/* The header block: up to and with the first empty line. */
static size_t header_length(const char *msg, size_t len)
{
	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	if (len >= 1 && msg[0] == '\n')
		return 1;
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

int parts_from_message(struct parts_msg *pm, const char *msg, size_t len)
{
	GMimeMessage *m;
	size_t cap = 0;
	int rc = -1;

	parts_init();
	memset(pm, 0, sizeof(*pm));
	pm->local = true;
	pm->hlen = header_length(msg, len);
	if (!(pm->header = malloc(pm->hlen + 1)))
		return -1;
	memcpy(pm->header, msg, pm->hlen);
	pm->header[pm->hlen] = '\0';
	m = parse_message(msg, len);
	if (add_header(pm, &cap) == 0)
		rc = local_leaves(pm, &cap, m ? g_mime_message_get_mime_part(m) : NULL);
	if (m)
		g_object_unref(m);
	if (rc < 0)
		parts_msg_free(pm);
	return rc;
}

void parts_msg_free(struct parts_msg *pm)
{
	for (size_t i = 0; i < pm->n; i++) {
		free(pm->e[i].name);
		free(pm->e[i].section);
		free(pm->e[i].value);
	}
	free(pm->e);
	free(pm->header);
	memset(pm, 0, sizeof(*pm));
}

long parts_find(const struct parts_msg *pm, const char *name)
{
	for (size_t i = 0; i < pm->n; i++)
		if (strcmp(pm->e[i].name, name) == 0)
			return (long)i;
	return -1;
}
