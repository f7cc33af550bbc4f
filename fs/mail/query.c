/* The search language (see query.h). */
#include "fs/mail/query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The parse of one query: where it is, what it made, what went wrong. */
struct lexer {
	const char *p;           /* the next byte */
	const char *term;        /* the start of the term being read */
	unsigned nterm;          /* its number, from 1 */
	struct imap_search *q;
	char *why;
	size_t whylen;
	char val[QUERY_MAX_VALUE + 1]; /* the value being read, unquoted */
	size_t vlen;
};

/* The term being read, for the log: printable ASCII, cut short. */
static void show_term(const struct lexer *lx, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *t = lx->term; *t && *t != ' ' && o + 4 < cap; t++)
		out[o++] = (unsigned char)*t >= 0x20 && (unsigned char)*t < 0x7f ? *t : '?';
	if (*lx->term && o + 4 >= cap)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
}

/* Say which term is bad and why: EINVAL. */
static int refuse(struct lexer *lx, const char *why)
{
	char term[64];

	show_term(lx, term, sizeof(term));
	snprintf(lx->why, lx->whylen, "term %u \"%s\": %s", lx->nterm, term, why);
	return EINVAL;
}

static int add(struct lexer *lx, bool value, const char *text, size_t len)
{
	return imap_search_add(lx->q, value, text, len) == 0 ? 0 : ENOMEM;
}

static int add_key(struct lexer *lx, const char *key) { return add(lx, false, key, strlen(key)); }

/* ---- values ----------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (n bytes left), 0 when not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (s[0] >= 0xf8 || len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return len;
}

/* The value read is text a server can search for: printable, UTF-8. */
static int check_value(struct lexer *lx)
{
	const unsigned char *v = (const unsigned char *)lx->val;

	if (lx->vlen == 0)
		return refuse(lx, "empty value");
	for (size_t i = 0; i < lx->vlen;) {
		size_t len = v[i] < 0x80 ? 1 : utf8_len(v + i, lx->vlen - i);

		if (v[i] < 0x20 || v[i] == 0x7f)
			return refuse(lx, "control character in the value");
		if (len == 0)
			return refuse(lx, "the value is not UTF-8");
		if (len > 1)
			lx->q->utf8 = true;
		i += len;
	}
	return 0;
}

static int put_char(struct lexer *lx, char c)
{
	if (lx->vlen >= QUERY_MAX_VALUE)
		return refuse(lx, "value too long");
	lx->val[lx->vlen++] = c;
	return 0;
}

/* "..." with \" and \\ inside, at lx->p. */
static int read_quoted(struct lexer *lx)
{
	int err = 0;

	for (lx->p++; !err && *lx->p != '"'; lx->p++) {
		if (*lx->p == '\\' && (lx->p[1] == '"' || lx->p[1] == '\\'))
			lx->p++;
		if (!*lx->p)
			return refuse(lx, "no closing quote");
		err = put_char(lx, *lx->p);
	}
	if (!err)
		lx->p++;
	if (!err && *lx->p && *lx->p != ' ')
		err = refuse(lx, "a closing quote must end the term");
	return err;
}

/* A value, quoted or up to the next space, into lx->val (checked);
 * stop (':' or 0) also ends an unquoted one. */
static int read_value(struct lexer *lx, char stop)
{
	int err = 0;

	lx->vlen = 0;
	if (*lx->p == '"')
		err = read_quoted(lx);
	for (; !err && *lx->p && *lx->p != ' ' && *lx->p != stop; lx->p++)
		err = *lx->p == '"' ? refuse(lx, "a quote inside a value") : put_char(lx, *lx->p);
	lx->val[lx->vlen] = '\0';
	return err ? err : check_value(lx);
}

static int add_value(struct lexer *lx, const char *key, char stop)
{
	int err = read_value(lx, stop);

	if (!err && key)
		err = add_key(lx, key);
	return err ? err : add(lx, true, lx->val, lx->vlen);
}

/* ---- keys that take no typed value ------------------------------------------- */

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* YYYY-MM-DD -> the IMAP date "D-Mon-YYYY" (RFC 3501 §9 date), in out. */
static bool imap_date(const char *v, size_t len, char *out, size_t cap)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					   "Aug", "Sep", "Oct", "Nov", "Dec" };
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (len != 10 || v[4] != '-' || v[7] != '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
			return false;
	y = atoi(v);
	m = atoi(v + 5);
	d = atoi(v + 8);
	if (y < 1900 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap(y)))
		return false;
	snprintf(out, cap, "%d-%s-%04d", d, mon[m - 1], y);
	return true;
}

static int add_date(struct lexer *lx, const char *key)
{
	char date[32];
	int err = read_value(lx, 0);

	if (!err && !imap_date(lx->val, lx->vlen, date, sizeof(date)))
		err = refuse(lx, "not a date (YYYY-MM-DD)");
	if (!err)
		err = add_key(lx, key);
	return err ? err : add_key(lx, date);
}

/* "10", "10k", "1M", "2G" (powers of 1024) -> bytes, within 32 bits. */
static bool parse_size(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0, unit = 1;
	size_t i = 0;

	for (; i < len && i < 11 && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	if (i == 0)
		return false;
	if (i + 1 == len)
		unit = strchr("kK", v[i]) ? 1024 : strchr("mM", v[i]) ? 1024 * 1024 :
		       strchr("gG", v[i]) ? 1024 * 1024 * 1024 : 0;
	else if (i != len)
		return false;
	*out = n * unit;
	return unit && *out <= UINT32_MAX;
}

static int add_size(struct lexer *lx, const char *key)
{
	char num[24];
	uint64_t n = 0;
	int err = read_value(lx, 0);

	if (!err && !parse_size(lx->val, lx->vlen, &n))
		err = refuse(lx, "not a size (a number, with k, M or G, below 4G)");
	if (!err)
		err = add_key(lx, key);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	return err ? err : add_key(lx, num);
}

/* A flag keyword must be an atom (RFC 3501 §9 flag-keyword): it cannot
 * be quoted, so only atom characters pass (no space, no control), and
 * never a backslash. */
static int add_keyword(struct lexer *lx)
{
	int err = read_value(lx, 0);

	for (size_t i = 0; !err && i < lx->vlen; i++)
		if ((unsigned char)lx->val[i] <= 0x20 || (unsigned char)lx->val[i] >= 0x7f ||
		    strchr("(){%*\"\\]", lx->val[i]))
			err = refuse(lx, "not a keyword (letters, digits, $ and the like)");
	if (!err && lx->vlen > 200)
		err = refuse(lx, "keyword too long");
	if (!err)
		err = add_key(lx, "KEYWORD");
	return err ? err : add_key(lx, lx->val);
}

/* header:NAME:VALUE: NAME a header field name (RFC 5322 §3.6.8). */
static int add_header(struct lexer *lx)
{
	int err = read_value(lx, ':');

	for (size_t i = 0; !err && i < lx->vlen; i++)
		if ((unsigned char)lx->val[i] > 0x7e || lx->val[i] == ':')
			err = refuse(lx, "not a header name");
	if (!err && *lx->p != ':')
		err = refuse(lx, "header:NAME:VALUE wanted");
	if (!err)
		err = add_key(lx, "HEADER");
	if (!err)
		err = add(lx, true, lx->val, lx->vlen);
	if (err)
		return err;
	lx->p++;
	return add_value(lx, NULL, 0);
}

/* ---- terms ---------------------------------------------------------------------- */

/* Operators that take a value typed by the user, and their key. */
static const struct { const char *op, *key; } text_ops[] = {
	{ "from", "FROM" }, { "to", "TO" }, { "cc", "CC" }, { "bcc", "BCC" },
	{ "subject", "SUBJECT" }, { "body", "BODY" }, { "text", "TEXT" },
	{ "gmail", "X-GM-RAW" },
};

/* Words that are a flag's search key. */
static const struct { const char *word, *key; } flag_words[] = {
	{ "seen", "SEEN" }, { "unseen", "UNSEEN" }, { "flagged", "FLAGGED" },
	{ "unflagged", "UNFLAGGED" }, { "answered", "ANSWERED" },
	{ "unanswered", "UNANSWERED" }, { "draft", "DRAFT" }, { "undraft", "UNDRAFT" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* op: (len bytes, lx->p just past its ':'). */
static int operator_term(struct lexer *lx, const char *op, size_t len)
{
	for (size_t i = 0; i < COUNT(text_ops); i++)
		if (strlen(text_ops[i].op) == len && strncasecmp(op, text_ops[i].op, len) == 0) {
			lx->q->gmail |= strcmp(text_ops[i].key, "X-GM-RAW") == 0;
			return add_value(lx, text_ops[i].key, 0);
		}
	if (len == 5 && strncasecmp(op, "since", 5) == 0)
		return add_date(lx, "SINCE");
	if (len == 6 && strncasecmp(op, "before", 6) == 0)
		return add_date(lx, "BEFORE");
	if (len == 2 && strncasecmp(op, "on", 2) == 0)
		return add_date(lx, "ON");
	if (len == 6 && strncasecmp(op, "larger", 6) == 0)
		return add_size(lx, "LARGER");
	if (len == 7 && strncasecmp(op, "smaller", 7) == 0)
		return add_size(lx, "SMALLER");
	if (len == 7 && strncasecmp(op, "keyword", 7) == 0)
		return add_keyword(lx);
	if (len == 6 && strncasecmp(op, "header", 6) == 0)
		return add_header(lx);
	return refuse(lx, "unknown operator");
}

/* A word without an operator: a flag, or text to find anywhere. */
static int bare_term(struct lexer *lx, size_t len)
{
	for (size_t i = 0; i < COUNT(flag_words); i++)
		if (strlen(flag_words[i].word) == len &&
		    strncasecmp(lx->p, flag_words[i].word, len) == 0) {
			lx->p += len;
			return add_key(lx, flag_words[i].key);
		}
	return add_value(lx, "TEXT", 0);
}

/* One term at lx->p: [-]op:value, [-]flag, [-]word or [-]"words". */
static int term(struct lexer *lx)
{
	size_t len;
	int err = 0;

	lx->term = lx->p;
	if (++lx->nterm > QUERY_MAX_TERMS)
		return refuse(lx, "too many terms");
	if (*lx->p == '-') {
		lx->p++;
		if (!*lx->p || *lx->p == ' ' || *lx->p == '-')
			return refuse(lx, "'-' must be followed by a term");
		err = add_key(lx, "NOT");
	}
	len = strcspn(lx->p, ": \"");
	if (err)
		return err;
	if (lx->p[len] == ':') {
		lx->p += len + 1;
		return operator_term(lx, lx->p - len - 1, len);
	}
	if (lx->p[len] == '"' && len > 0)
		return refuse(lx, "a quote inside a value");
	return bare_term(lx, len);
}

int query_parse(const char *text, struct imap_search *out, char *why, size_t whylen)
{
	struct lexer *lx = calloc(1, sizeof(*lx));
	int err = 0;

	memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "%s", "");
	if (!lx)
		return ENOMEM;
	*lx = (struct lexer){ .p = text, .term = text, .q = out, .why = why, .whylen = whylen };
	if (strnlen(text, QUERY_MAX_LEN + 1) > QUERY_MAX_LEN)
		err = refuse(lx, "query too long");
	while (!err) {
		while (*lx->p == ' ')
			lx->p++;
		if (!*lx->p)
			break;
		err = term(lx);
	}
	if (!err && !out->n) {
		snprintf(why, whylen, "empty query");
		err = EINVAL;
	}
	if (err)
		imap_search_free(out);
	free(lx);
	return err;
}
