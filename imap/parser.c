/* IMAP response parser.  RFC 3501 §7/§9, RFC 9051 §7/§9, RFC 7888, RFC 3516.
 *
 * Two stages.  The framer is a small state machine fed arbitrary chunks:
 * it collects one line at a time and, when a line ends in a literal
 * announcement "{n}" / "{n+}" / "~{n}", exactly n raw bytes, until a line
 * ends without one: that is one complete response.  The tokenizer then
 * walks the complete response (its lines joined by '\n', which a line can
 * never contain) and builds a tree of values in a per-response arena.
 * Keeping the two apart means the tokenizer never waits for input and
 * the framer never interprets grammar beyond the line ending. */
#include "imap/parser.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

/* ---- per-response storage ------------------------------------------------ */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char mem[];
};

struct imap_response_priv {
	struct arena_chunk *chunks;
	char **blobs;
	size_t *blob_len;
	size_t nblobs;
};

static void *arena_alloc(struct imap_response_priv *pr, size_t size)
{
	struct arena_chunk *c = pr->chunks;
	size_t want;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->size - c->used < size) {
		want = size > 4096 ? size : 4096;
		c = malloc(sizeof(*c) + want);
		if (!c)
			return NULL;
		c->size = want;
		c->used = 0;
		c->next = pr->chunks;
		pr->chunks = c;
	}
	c->used += size;
	return c->mem + c->used - size;
}

static char *arena_strndup(struct imap_response_priv *pr, const char *s, size_t n)
{
	char *d = arena_alloc(pr, n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void imap_response_free(struct imap_response *r)
{
	struct arena_chunk *c, *next;
	size_t i;

	if (!r)
		return;
	if (r->priv) {
		for (c = r->priv->chunks; c; c = next) {
			next = c->next;
			free(c);
		}
		for (i = 0; i < r->priv->nblobs; i++)
			free(r->priv->blobs[i]);
		free(r->priv->blobs);
		free(r->priv->blob_len);
		free(r->priv);
	}
	free(r);
}

/* ---- the framer ----------------------------------------------------------- */

enum frame_state { FS_LINE, FS_LITERAL };

/* A literal's buffer starts this big and doubles as its bytes arrive. */
#define LITERAL_FIRST_CHUNK ((size_t)64 << 10)

struct imap_parser {
	struct imap_parser_limits lim;
	enum frame_state state;
	struct buf text;        /* lines of the current response, joined by '\n' */
	size_t line_start;      /* offset in text where the current line began */
	bool first_line_done;
	bool literals_allowed;  /* status responses and "+" carry no literals */
	char **blobs;
	size_t *blob_len;
	size_t nblobs;
	size_t lit_total;       /* literal bytes in this response so far */
	size_t lit_left;        /* bytes still owed for the current literal */
	size_t lit_cap;         /* bytes allocated for it so far (+1 for a NUL) */
	struct imap_response *ready;
	char err[160];
};

void imap_parser_default_limits(struct imap_parser_limits *l)
{
	l->max_line = 8u << 20;      /* a UID SEARCH answer for ~1M messages */
	l->max_literal = 512u << 20; /* the largest message we agree to read */
	l->max_depth = 64;
	l->max_items = 1u << 22;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (limits)
		p->lim = *limits;
	else
		imap_parser_default_limits(&p->lim);
	buf_init(&p->text);
	return p;
}

static void drop_frame(struct imap_parser *p)
{
	size_t i;

	for (i = 0; i < p->nblobs; i++)
		free(p->blobs[i]);
	free(p->blobs);
	free(p->blob_len);
	p->blobs = NULL;
	p->blob_len = NULL;
	p->nblobs = 0;
	buf_reset(&p->text);
	p->line_start = 0;
	p->first_line_done = false;
	p->literals_allowed = true;
	p->lit_total = p->lit_left = 0;
	p->state = FS_LINE;
}

void imap_parser_free(struct imap_parser *p)
{
	if (!p)
		return;
	drop_frame(p);
	buf_free(&p->text);
	imap_response_free(p->ready);
	free(p);
}

const char *imap_parser_error(const struct imap_parser *p) { return p->err; }

bool imap_parser_empty(const struct imap_parser *p)
{
	return p->text.len == 0 && p->state == FS_LINE && !p->ready;
}

size_t imap_parser_pending(const struct imap_parser *p) { return p->text.len + p->lit_total; }

static enum imap_parse_result fail(struct imap_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum imap_parse_result fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	drop_frame(p);
	return IMAP_PARSE_ERROR;
}

/* A status response ("tag OK ...", "* BYE ...") or a continuation is
 * human text to the end of the line: a trailing "{5}" there is text. */
static bool line_may_carry_literals(const char *line, size_t len)
{
	const char *sp, *word;
	size_t wlen;

	if (len >= 1 && line[0] == '+')
		return false;
	sp = memchr(line, ' ', len);
	if (!sp)
		return true;
	word = sp + 1;
	sp = memchr(word, ' ', len - (size_t)(word - line));
	wlen = sp ? (size_t)(sp - word) : len - (size_t)(word - line);
	static const char *const conds[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };
	for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++)
		if (wlen == strlen(conds[i]) && strncasecmp(word, conds[i], wlen) == 0)
			return false;
	return true;
}

/* If the line ends in "{digits}" or "{digits+}" (or "~{...}"), store the
 * announced length in *n.  Returns 1 for a literal, 0 for none, -1 for a
 * malformed or oversized announcement. */
static int literal_announcement(const char *line, size_t len, uint64_t *n)
{
	size_t i, digits_end;
	uint64_t v = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	if (line[i - 1] == '+' || line[i - 1] == '-')
		i--;
	digits_end = i;
	while (i > 0 && isdigit((unsigned char)line[i - 1]))
		i--;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == digits_end)
		return -1; /* "{}" */
	if (digits_end - i > 19)
		return -1; /* more than fits in 63 bits: never a real size */
	for (size_t k = i; k < digits_end; k++)
		v = v * 10 + (uint64_t)(line[k] - '0');
	*n = v;
	return 1;
}

static int start_literal(struct imap_parser *p, uint64_t n)
{
	char **nb;
	size_t *nl;

	if (n > p->lim.max_literal || p->lit_total + n > p->lim.max_literal)
		return -1;
	nb = realloc(p->blobs, (p->nblobs + 1) * sizeof(*nb));
	if (!nb)
		return -1;
	p->blobs = nb;
	nl = realloc(p->blob_len, (p->nblobs + 1) * sizeof(*nl));
	if (!nl)
		return -1;
	p->blob_len = nl;
	/* Memory follows the bytes that arrive, not the announcement: a
	 * server that announces 500 MB and sends ten bytes costs ten bytes
	 * (whatever the allocator does with large requests). */
	p->lit_cap = (size_t)n < LITERAL_FIRST_CHUNK ? (size_t)n : LITERAL_FIRST_CHUNK;
	p->blobs[p->nblobs] = malloc(p->lit_cap + 1);
	if (!p->blobs[p->nblobs])
		return -1;
	p->blobs[p->nblobs][0] = '\0'; /* "{0}" gets no bytes, still a C string */
	p->blob_len[p->nblobs] = 0;
	p->nblobs++;
	p->lit_total += (size_t)n;
	p->lit_left = (size_t)n;
	return 0;
}

static enum imap_parse_result finish_frame(struct imap_parser *p);

/* A line just ended (LF consumed).  Decide what comes next. */
static enum imap_parse_result end_of_line(struct imap_parser *p)
{
	char *line = p->text.data + p->line_start;
	size_t len = p->text.len - p->line_start;
	uint64_t n = 0;
	int lit;

	if (len && line[len - 1] == '\r')
		p->text.len--, len--;
	if (memchr(line, '\0', len))
		return fail(p, "NUL byte in a response line");
	if (!p->first_line_done) {
		p->first_line_done = true;
		p->literals_allowed = line_may_carry_literals(line, len);
	}
	lit = p->literals_allowed ? literal_announcement(line, len, &n) : 0;
	if (lit < 0)
		return fail(p, "malformed literal announcement");
	if (lit == 0)
		return finish_frame(p);
	if (start_literal(p, n) < 0)
		return fail(p, "literal of %llu bytes exceeds the limit of %zu",
			    (unsigned long long)n, p->lim.max_literal);
	if (buf_append(&p->text, "\n", 1) < 0)
		return fail(p, "out of memory");
	p->state = n ? FS_LITERAL : FS_LINE;
	p->line_start = p->text.len;
	return IMAP_PARSE_NEED_MORE;
}

static enum imap_parse_result feed_line(struct imap_parser *p, const char *data, size_t len,
					size_t *used)
{
	const char *lf = memchr(data, '\n', len);
	size_t take = lf ? (size_t)(lf - data) : len;

	if (p->text.len - p->line_start + take > p->lim.max_line)
		return fail(p, "response line longer than %zu bytes", p->lim.max_line);
	if (buf_append(&p->text, data, take) < 0)
		return fail(p, "out of memory");
	*used = take;
	if (!lf)
		return IMAP_PARSE_NEED_MORE;
	*used = take + 1;
	return end_of_line(p);
}

/* Room for `more` bytes in the current literal: doubling, never beyond
 * what was announced (blob_len + lit_left). */
static int grow_literal(struct imap_parser *p, size_t more)
{
	size_t i = p->nblobs - 1, need = p->blob_len[i] + more;
	size_t whole = p->blob_len[i] + p->lit_left, cap = p->lit_cap;
	char *nb;

	if (need <= cap)
		return 0;
	while (cap < need)
		cap = cap > whole / 2 ? whole : cap * 2;
	nb = realloc(p->blobs[i], cap + 1);
	if (!nb)
		return -1;
	p->blobs[i] = nb;
	p->lit_cap = cap;
	return 0;
}

static enum imap_parse_result feed_literal(struct imap_parser *p, const char *data, size_t len,
					   size_t *used)
{
	size_t i = p->nblobs - 1;
	size_t take = len < p->lit_left ? len : p->lit_left;

	if (grow_literal(p, take) < 0)
		return fail(p, "out of memory for a literal of %zu bytes",
			    p->blob_len[i] + p->lit_left);
	memcpy(p->blobs[i] + p->blob_len[i], data, take);
	p->blob_len[i] += take;
	p->lit_left -= take;
	*used = take;
	if (p->lit_left == 0) {
		p->blobs[i][p->blob_len[i]] = '\0';
		p->state = FS_LINE;
	}
	return IMAP_PARSE_NEED_MORE;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *used)
{
	size_t off = 0, n;
	enum imap_parse_result r;

	if (p->ready) {
		*used = 0;
		return IMAP_PARSE_RESPONSE;
	}
	while (off < len) {
		n = 0;
		if (p->state == FS_LINE)
			r = feed_line(p, data + off, len - off, &n);
		else
			r = feed_literal(p, data + off, len - off, &n);
		off += n;
		if (r != IMAP_PARSE_NEED_MORE) {
			*used = off;
			return r;
		}
	}
	*used = off;
	return IMAP_PARSE_NEED_MORE;
}

struct imap_response *imap_parser_take(struct imap_parser *p)
{
	struct imap_response *r = p->ready;

	p->ready = NULL;
	return r;
}

/* ---- the tokenizer -------------------------------------------------------- */

struct tok {
	struct imap_parser *p;
	struct imap_response *r;
	const char *s, *end;
	size_t next_blob;
	unsigned items;
	const char *err;
};

static bool at_end(const struct tok *t) { return t->s >= t->end; }

static void skip_spaces(struct tok *t)
{
	while (!at_end(t) && *t->s == ' ')
		t->s++;
}

static bool is_atom_char(char c, bool in_code)
{
	unsigned char u = (unsigned char)c;

	if (u <= 0x1f || u == 0x7f || c == ' ')
		return false;
	if (c == '(' || c == ')' || c == '{' || c == '"')
		return false;
	/* resp-specials: "]" ends a response code, but is an ASTRING-CHAR in data. */
	return !(in_code && c == ']');
}

static struct imap_value *new_values(struct tok *t, size_t n)
{
	struct imap_value *v;

	if (n > t->p->lim.max_items || (t->items += (unsigned)n) > t->p->lim.max_items) {
		t->err = "too many values in one response";
		return NULL;
	}
	v = arena_alloc(t->r->priv, n * sizeof(*v) + 1);
	if (!v)
		t->err = "out of memory";
	return v;
}

/* An atom may contain a bracketed section ("BODY[HEADER.FIELDS (TO)]<0>"),
 * in which spaces and parentheses are part of the atom. */
static int scan_atom(struct tok *t, bool in_code, size_t *len)
{
	const char *start = t->s;
	int depth = 0;

	while (!at_end(t)) {
		char c = *t->s;

		if (depth > 0) {
			if (c == '\n' || c == '\r') {
				t->err = "unterminated '[' in an atom";
				return -1;
			}
			if (c == '[')
				depth++;
			else if (c == ']')
				depth--;
			t->s++;
			continue;
		}
		if (c == '[' && t->s > start) {
			depth = 1;
			t->s++;
			continue;
		}
		if (!is_atom_char(c, in_code))
			break;
		t->s++;
	}
	*len = (size_t)(t->s - start);
	if (*len == 0) {
		t->err = "unexpected character";
		return -1;
	}
	return 0;
}

static void classify_atom(struct imap_value *v)
{
	uint64_t n = 0;
	size_t i;

	v->type = IV_ATOM;
	if (v->len == 3 && strncasecmp(v->str, "NIL", 3) == 0) {
		v->type = IV_NIL;
		return;
	}
	if (v->len > 19)
		return; /* keeps numbers below 10^19, so no overflow */
	for (i = 0; i < v->len; i++) {
		if (!isdigit((unsigned char)v->str[i]))
			return;
		n = n * 10 + (uint64_t)(v->str[i] - '0');
	}
	v->type = IV_NUMBER;
	v->num = n;
}

static int parse_quoted(struct tok *t, struct imap_value *v)
{
	struct buf b;
	int rc = -1;

	buf_init(&b);
	t->s++; /* opening quote */
	while (!at_end(t) && *t->s != '"') {
		char c = *t->s;

		if (c == '\n' || c == '\r' || c == '\0') {
			t->err = "CR, LF or NUL inside a quoted string";
			goto out;
		}
		if (c == '\\') {
			t->s++;
			if (at_end(t) || (*t->s != '"' && *t->s != '\\')) {
				t->err = "bad escape in a quoted string";
				goto out;
			}
			c = *t->s;
		}
		if (buf_append(&b, &c, 1) < 0) {
			t->err = "out of memory";
			goto out;
		}
		t->s++;
	}
	if (at_end(t)) {
		t->err = "unterminated quoted string";
		goto out;
	}
	t->s++;
	v->type = IV_STRING;
	v->len = b.len;
	v->str = arena_strndup(t->r->priv, b.data ? b.data : "", b.len);
	rc = v->str ? 0 : -1;
	if (rc < 0)
		t->err = "out of memory";
out:
	buf_free(&b);
	return rc;
}

/* "{n}" (or "{n+}", "~{n}") followed by the '\n' the framer put where the
 * raw bytes were: the value is the next blob. */
static int parse_literal(struct tok *t, struct imap_value *v)
{
	const char *close = memchr(t->s, '}', (size_t)(t->end - t->s));
	struct imap_response_priv *pr = t->r->priv;

	if (*t->s == '~')
		t->s++;
	if (!close || close + 1 >= t->end || close[1] != '\n' || t->next_blob >= pr->nblobs) {
		t->err = "literal announcement not at the end of a line";
		return -1;
	}
	v->type = IV_STRING;
	v->blob = (int)t->next_blob;
	v->str = pr->blobs[t->next_blob];
	v->len = pr->blob_len[t->next_blob];
	t->next_blob++;
	t->s = close + 2;
	return 0;
}

static int parse_values(struct tok *t, struct imap_value *list, char close, bool in_code,
			unsigned depth);

static int parse_value(struct tok *t, struct imap_value *v, bool in_code, unsigned depth)
{
	size_t len;

	memset(v, 0, sizeof(*v));
	v->blob = -1;
	switch (*t->s) {
	case '(':
		if (depth >= t->p->lim.max_depth) {
			t->err = "lists nested too deeply";
			return -1;
		}
		t->s++;
		return parse_values(t, v, ')', in_code, depth + 1);
	case '"':
		return parse_quoted(t, v);
	case '{':
		return parse_literal(t, v);
	case '~':
		if (t->s + 1 < t->end && t->s[1] == '{')
			return parse_literal(t, v);
		break;
	default:
		break;
	}
	if (scan_atom(t, in_code, &len) < 0)
		return -1;
	v->str = arena_strndup(t->r->priv, t->s - len, len);
	if (!v->str) {
		t->err = "out of memory";
		return -1;
	}
	v->len = len;
	classify_atom(v);
	return 0;
}

/* Values up to `close` (')' for a list, ']' in a response code, '\0' for
 * the end of the response).  Collected in a temporary growing array,
 * then copied into the arena at their final size. */
static int parse_values(struct tok *t, struct imap_value *list, char close, bool in_code,
			unsigned depth)
{
	struct imap_value *tmp = NULL, *grown;
	size_t n = 0, cap = 0;
	int rc = -1;

	list->type = IV_LIST;
	list->blob = -1;
	for (;;) {
		skip_spaces(t);
		if (close && !at_end(t) && *t->s == close) {
			t->s++;
			break;
		}
		if (at_end(t)) {
			if (close) {
				t->err = "unterminated list";
				goto out;
			}
			break;
		}
		if (*t->s == '\n' || *t->s == ')' || *t->s == ']') {
			t->err = "unexpected character";
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(tmp, cap * sizeof(*tmp));
			if (!grown) {
				t->err = "out of memory";
				goto out;
			}
			tmp = grown;
		}
		if (parse_value(t, &tmp[n], in_code, depth) < 0)
			goto out;
		n++;
	}
	list->n = n;
	list->items = new_values(t, n);
	if (!list->items)
		goto out;
	if (n)
		memcpy(list->items, tmp, n * sizeof(*tmp));
	rc = 0;
out:
	free(tmp);
	return rc;
}

static enum imap_cond cond_from(const char *s, size_t len)
{
	static const struct { const char *name; enum imap_cond c; } conds[] = {
		{ "OK", IMAP_COND_OK }, { "NO", IMAP_COND_NO }, { "BAD", IMAP_COND_BAD },
		{ "BYE", IMAP_COND_BYE }, { "PREAUTH", IMAP_COND_PREAUTH },
	};
	for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++)
		if (len == strlen(conds[i].name) && strncasecmp(s, conds[i].name, len) == 0)
			return conds[i].c;
	return IMAP_COND_NONE;
}

/* resp-text = ["[" resp-text-code "]" SP] text */
static int parse_resp_text(struct tok *t)
{
	struct imap_response *r = t->r;

	r->code.type = IV_LIST;
	r->code.blob = -1;
	skip_spaces(t);
	if (!at_end(t) && *t->s == '[') {
		t->s++;
		if (parse_values(t, &r->code, ']', true, 1) < 0)
			return -1;
		skip_spaces(t);
	}
	r->text = arena_strndup(r->priv, t->s, (size_t)(t->end - t->s));
	if (!r->text) {
		t->err = "out of memory";
		return -1;
	}
	for (const char *c = r->text; *c; c++)
		if (*c == '\n' || *c == '\r') {
			t->err = "control character in response text";
			return -1;
		}
	return 0;
}

static int parse_word(struct tok *t, const char **w, size_t *len)
{
	*w = t->s;
	while (!at_end(t) && *t->s != ' ' && *t->s != '\n')
		t->s++;
	*len = (size_t)(t->s - *w);
	if (*len == 0) {
		t->err = "missing tag";
		return -1;
	}
	return 0;
}

static int tokenize(struct tok *t)
{
	struct imap_response *r = t->r;
	const char *w;
	size_t len;

	r->data.type = r->code.type = IV_LIST;
	r->data.blob = r->code.blob = -1;
	if (*t->s == '+') {
		r->kind = IMAP_RESP_CONTINUE;
		t->s++;
		if (!at_end(t) && *t->s == ' ')
			t->s++;
		r->text = arena_strndup(r->priv, t->s, (size_t)(t->end - t->s));
		return r->text ? 0 : -1;
	}
	if (parse_word(t, &w, &len) < 0)
		return -1;
	if (len == 1 && *w == '*') {
		r->kind = IMAP_RESP_UNTAGGED;
	} else {
		for (size_t i = 0; i < len; i++)
			if (!is_atom_char(w[i], true) || w[i] == '+') {
				t->err = "invalid tag";
				return -1;
			}
		r->kind = IMAP_RESP_TAGGED;
		r->tag = arena_strndup(r->priv, w, len);
	}
	skip_spaces(t);
	w = t->s;
	while (!at_end(t) && isalpha((unsigned char)*t->s))
		t->s++;
	r->cond = cond_from(w, (size_t)(t->s - w));
	if (r->cond != IMAP_COND_NONE && (at_end(t) || *t->s == ' '))
		return parse_resp_text(t);
	if (r->kind == IMAP_RESP_TAGGED) {
		t->err = "tagged response without OK, NO or BAD";
		return -1;
	}
	r->cond = IMAP_COND_NONE;
	t->s = w;
	return parse_values(t, &r->data, '\0', false, 0);
}

static enum imap_parse_result finish_frame(struct imap_parser *p)
{
	struct imap_response *r = calloc(1, sizeof(*r));
	struct tok t = { 0 };

	if (!r || !(r->priv = calloc(1, sizeof(*r->priv)))) {
		free(r);
		return fail(p, "out of memory");
	}
	/* The blobs move into the response. */
	r->priv->blobs = p->blobs;
	r->priv->blob_len = p->blob_len;
	r->priv->nblobs = p->nblobs;
	p->blobs = NULL;
	p->blob_len = NULL;
	p->nblobs = 0;

	t.p = p;
	t.r = r;
	t.s = p->text.data ? p->text.data : "";
	t.end = t.s + p->text.len;
	if (t.s == t.end)
		t.err = "empty line";
	else if (tokenize(&t) == 0 && t.next_blob != r->priv->nblobs)
		t.err = "literal not attached to a value";
	if (t.err) {
		imap_response_free(r);
		return fail(p, "%s", t.err);
	}
	drop_frame(p);
	p->ready = r;
	return IMAP_PARSE_RESPONSE;
}

/* ---- helpers for consumers ------------------------------------------------ */

char *imap_value_steal(struct imap_response *r, const struct imap_value *v, size_t *len)
{
	char *d;

	*len = v->len;
	if (v->blob >= 0 && (size_t)v->blob < r->priv->nblobs && r->priv->blobs[v->blob]) {
		d = r->priv->blobs[v->blob];
		r->priv->blobs[v->blob] = NULL;
		return d;
	}
	d = malloc(v->len + 1);
	if (!d)
		return NULL;
	memcpy(d, v->str, v->len);
	d[v->len] = '\0';
	return d;
}

bool imap_value_is(const struct imap_value *v, const char *atom)
{
	return v && v->type == IV_ATOM && v->len == strlen(atom) &&
	       strncasecmp(v->str, atom, v->len) == 0;
}

bool imap_value_is_string(const struct imap_value *v)
{
	return v && (v->type == IV_ATOM || v->type == IV_NUMBER || v->type == IV_STRING);
}

bool imap_value_u32(const struct imap_value *v, uint32_t *out)
{
	if (!v || v->type != IV_NUMBER || v->num == 0 || v->num > UINT32_MAX)
		return false;
	*out = (uint32_t)v->num;
	return true;
}

const struct imap_value *imap_list_item(const struct imap_value *list, size_t i)
{
	if (!list || list->type != IV_LIST || i >= list->n)
		return NULL;
	return &list->items[i];
}

const char *imap_cond_name(enum imap_cond c)
{
	static const char *const names[] = { "", "OK", "NO", "BAD", "BYE", "PREAUTH" };
	return names[c];
}
