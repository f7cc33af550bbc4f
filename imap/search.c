/* UID SEARCH (see search.h): the command, with its values as quoted
 * strings or literals, and its answer, SEARCH or ESEARCH. */
#include "imap/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "imap/session_priv.h"

/* ---- the arguments ------------------------------------------------------------ */

int imap_search_add(struct imap_search *q, bool value, const char *text, size_t len)
{
	char *copy;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct imap_search_arg *na = realloc(q->args, cap * sizeof(*na));

		if (!na)
			return -1;
		q->args = na;
		q->cap = cap;
	}
	if (!(copy = malloc(len + 1)))
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	q->args[q->n++] = (struct imap_search_arg){ value, copy, len };
	return 0;
}

void imap_search_free(struct imap_search *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->args[i].text);
	free(q->args);
	memset(q, 0, sizeof(*q));
}

/* A value goes as a quoted string when it can be one and is not long
 * (servers bound their lines), else as a literal. */
#define QUOTED_MAX 1024

static bool quotable(const struct imap_search_arg *a)
{
	if (a->len > QUOTED_MAX)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if ((unsigned char)a->text[i] < 0x20 || (unsigned char)a->text[i] >= 0x7f)
			return false;
	return true;
}

/* " KEY", " "quoted"" or " {N[+]}" onto line; *literal: a literal's
 * bytes follow. */
static int put_arg(struct buf *line, const struct imap_search_arg *a, bool plus, bool *literal)
{
	int rc = buf_append(line, " ", 1);

	*literal = a->value && !quotable(a);
	if (!a->value)
		return rc < 0 ? rc : buf_append(line, a->text, a->len);
	if (*literal)
		return rc < 0 ? rc : buf_printf(line, "{%zu%s}", a->len, plus ? "+" : "");
	rc = rc < 0 ? rc : buf_append(line, "\"", 1);
	for (size_t i = 0; rc >= 0 && i < a->len; i++)
		rc = strchr("\"\\", a->text[i]) ? buf_printf(line, "\\%c", a->text[i]) :
		     buf_append(line, &a->text[i], 1);
	return rc < 0 ? rc : buf_append(line, "\"", 1);
}

void imap_search_describe(const struct imap_search *q, char *out, size_t cap)
{
	struct buf line;
	bool literal;

	buf_init(&line);
	for (size_t i = 0; i < q->n; i++)
		if (put_arg(&line, &q->args[i], false, &literal) == 0 && literal)
			buf_append(&line, q->args[i].text, q->args[i].len);
	snprintf(out, cap, "%.*s", (int)(line.len > 1 ? line.len - 1 : 0),
		 line.len > 1 ? line.data + 1 : "");
	buf_free(&line);
}

/* ---- the answer: SEARCH or ESEARCH ------------------------------------------ */

#define SEARCH_MAX_UIDS (16u << 20) /* more than any mailbox; bounds a hostile set */

struct search_ctx {
	uint32_t *uids;
	size_t n, cap;
	bool bad;
};

static bool add_uid(struct search_ctx *sc, uint32_t uid)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 1024;
		uint32_t *nu;

		if (cap > SEARCH_MAX_UIDS || !(nu = realloc(sc->uids, cap * sizeof(*nu))))
			return false;
		sc->uids = nu;
		sc->cap = cap;
	}
	sc->uids[sc->n++] = uid;
	return true;
}

/* "1:3,7,9:10" -> 1 2 3 7 9 10.  False on anything else. */
static bool add_set(struct search_ctx *sc, const char *set)
{
	while (*set) {
		char *end;
		unsigned long long lo = strtoull(set, &end, 10), hi = lo;

		if (end == set || lo == 0 || lo > UINT32_MAX)
			return false;
		if (*end == ':') {
			set = end + 1;
			hi = strtoull(set, &end, 10);
			if (end == set || hi == 0 || hi > UINT32_MAX)
				return false;
			if (hi < lo) {
				unsigned long long t = lo;

				lo = hi;
				hi = t;
			}
		}
		if (hi - lo >= SEARCH_MAX_UIDS)
			return false;
		for (unsigned long long u = lo; u <= hi; u++)
			if (!add_uid(sc, (uint32_t)u))
				return false;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		set = end;
	}
	return true;
}

static bool on_search(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct search_ctx *sc = vctx;
	const struct imap_value *first = imap_list_item(&r->data, 0);

	(void)s;
	if (r->cond != IMAP_COND_NONE || !first)
		return false;
	if (imap_value_is(first, "SEARCH")) {
		for (size_t i = 1; i < r->data.n; i++) {
			uint32_t uid;

			if (!imap_value_u32(&r->data.items[i], &uid) || !add_uid(sc, uid))
				sc->bad = true;
		}
		return true;
	}
	if (!imap_value_is(first, "ESEARCH"))
		return false;
	/* ESEARCH (TAG "A5") UID ALL 1:3,7 */
	for (size_t i = 1; i + 1 < r->data.n; i++)
		if (imap_value_is(&r->data.items[i], "ALL") &&
		    (r->data.items[i + 1].type == IV_ATOM || r->data.items[i + 1].type == IV_NUMBER) &&
		    !add_set(sc, r->data.items[i + 1].str))
			sc->bad = true;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The UIDs collected, sorted and without repeats (RFC 3501 promises no
 * order), handed to *uids and *n. */
static void sorted_uids(struct search_ctx *sc, uint32_t **uids, size_t *n)
{
	size_t k = 0;

	if (sc->n)
		qsort(sc->uids, sc->n, sizeof(*sc->uids), cmp_u32);
	for (size_t i = 0; i < sc->n; i++)
		if (i == 0 || sc->uids[i] != sc->uids[k - 1])
			sc->uids[k++] = sc->uids[i];
	*uids = sc->uids;
	*n = k;
	sc->uids = NULL;
}

/* rr and a search's answer: IMAP_R_PROTOCOL for one that made no sense. */
static enum imap_result search_result(enum imap_result rr, struct search_ctx *sc,
				      uint32_t **uids, size_t *n, struct imap_status *st)
{
	*uids = NULL;
	*n = 0;
	if (rr == IMAP_R_OK && sc->bad) {
		imap_status_set(st, IMAP_R_PROTOCOL, "unusable SEARCH result");
		rr = IMAP_R_PROTOCOL;
	}
	if (rr == IMAP_R_OK)
		sorted_uids(sc, uids, n);
	free(sc->uids);
	return rr;
}

enum imap_result imap_uid_search_all(struct imap_session *s, struct imap_seqmap *out,
				     struct imap_status *st)
{
	struct search_ctx sc = { 0 };
	enum imap_result rr;
	uint32_t *uids;
	size_t n;

	seqmap_clear(out);
	rr = imap_simple(s, st, on_search, &sc, (s->caps & CAP_ESEARCH) ?
			 "UID SEARCH RETURN (ALL) ALL" : "UID SEARCH ALL");
	rr = search_result(rr, &sc, &uids, &n, st);
	for (size_t i = 0; rr == IMAP_R_OK && i < n; i++)
		if (seqmap_append(out, uids[i]) < 0) {
			imap_status_set(st, IMAP_R_NOMEM, "out of memory");
			rr = IMAP_R_NOMEM;
		}
	free(uids);
	return rr;
}

int imap_uid_set_expand(const char *set, uint32_t **uids, size_t *n)
{
	struct search_ctx sc = { 0 };

	if (!add_set(&sc, set)) {
		free(sc.uids);
		return -1;
	}
	*uids = sc.uids;
	*n = sc.n;
	return 0;
}

/* ---- the command ------------------------------------------------------------- */

/* A UID SEARCH made ready before a byte is sent (so that running out of
 * memory never leaves a command half sent): lines[0], literal 0, lines[1],
 * ..., lines[nlits], each line sent with a CRLF, each literal without. */
struct plan {
	struct buf *lines;
	const struct imap_search_arg **lits;
	bool *plus;          /* literal i is non-synchronising */
	size_t nlits;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; p->lines && i <= p->nlits; i++)
		buf_free(&p->lines[i]);
	free(p->lines);
	free(p->lits);
	free(p->plus);
}

/* LITERAL+ (RFC 7888) for any literal; LITERAL- for those up to 4096. */
static bool non_sync(const struct imap_session *s, size_t len)
{
	return (s->caps & CAP_LITERALPLUS) || ((s->caps & CAP_LITERALMINUS) && len <= 4096);
}

static int plan_make(const struct imap_session *s, const struct imap_search *q, struct plan *p)
{
	size_t k = 0;
	bool literal;
	int rc;

	memset(p, 0, sizeof(*p));
	p->lines = calloc(q->n + 1, sizeof(*p->lines));
	p->lits = calloc(q->n + 1, sizeof(*p->lits));
	p->plus = calloc(q->n + 1, sizeof(*p->plus));
	if (!p->lines || !p->lits || !p->plus)
		return -1;
	rc = buf_printf(&p->lines[0], "UID SEARCH%s%s",
			(s->caps & CAP_ESEARCH) ? " RETURN (ALL)" : "",
			q->utf8 ? " CHARSET UTF-8" : "");
	for (size_t i = 0; rc >= 0 && i < q->n; i++) {
		bool plus = non_sync(s, q->args[i].len);

		rc = put_arg(&p->lines[k], &q->args[i], plus, &literal);
		if (rc >= 0 && literal) {
			p->lits[k] = &q->args[i];
			p->plus[k++] = plus;
			rc = buf_append(&p->lines[k], "", 0);
		}
	}
	p->nlits = k;
	return rc < 0 ? -1 : 0;
}

/* The command being run and its answer so far. */
struct run {
	struct imap_session *s;
	char tag[16];
	bool answered;       /* its tagged answer came */
	struct search_ctx sc;
	struct imap_status *st;
};

/* Read until the tagged answer or, when cont, a continuation request.
 * Anything out of step breaks the connection (the command may be half
 * sent). */
static enum imap_result read_answer(struct run *x, bool cont)
{
	for (;;) {
		struct imap_response *r;
		enum imap_result rr = imap_read_response(x->s, &r);

		if (rr != IMAP_R_OK) {
			imap_status_set(x->st, rr, "%s", x->s->broken_text);
			return rr;
		}
		if (r->kind == IMAP_RESP_CONTINUE || (r->kind == IMAP_RESP_TAGGED &&
						      strcmp(r->tag, x->tag) != 0)) {
			rr = cont && r->kind == IMAP_RESP_CONTINUE ? IMAP_R_OK :
			     imap_session_refuse(x->s, r, r->kind == IMAP_RESP_CONTINUE ?
						 "unexpected continuation request" :
						 "response to a tag never sent");
			if (rr == IMAP_R_OK)
				imap_response_free(r);
			else
				imap_status_set(x->st, rr, "%s", x->s->broken_text);
			return rr;
		}
		if (r->kind == IMAP_RESP_TAGGED) {
			imap_status_from_response(x->st, r);
			x->answered = true;
		} else {
			imap_session_dispatch(x->s, r, on_search, &x->sc);
		}
		imap_response_free(r);
		if (x->answered)
			return IMAP_R_OK;
	}
}

/* Send the plan; a synchronising literal waits for the server's go
 * ahead, and a refusal instead ends the command there. */
static enum imap_result send_plan(struct run *x, const struct plan *p)
{
	enum imap_result rr = imap_start_command(x->s, p->lines[0].data, false, x->tag,
						 sizeof(x->tag));

	for (size_t k = 0; rr == IMAP_R_OK && k < p->nlits; k++) {
		if (!p->plus[k] && (rr = read_answer(x, true)) == IMAP_R_OK && x->answered)
			return IMAP_R_OK;
		if (rr == IMAP_R_OK)
			rr = imap_send_bytes(x->s, p->lits[k]->text, p->lits[k]->len);
		if (rr == IMAP_R_OK)
			rr = imap_send_line(x->s, p->lines[k + 1].data, p->lines[k + 1].len, false);
	}
	if (rr != IMAP_R_OK)
		imap_status_set(x->st, rr, "%s", x->s->broken_text);
	return rr;
}

enum imap_result imap_uid_search(struct imap_session *s, const struct imap_search *q,
				 uint32_t **uids, size_t *n, struct imap_status *st)
{
	struct run x = { .s = s, .st = st };
	enum imap_result rr = IMAP_R_OK;
	struct plan p;

	*uids = NULL;
	*n = 0;
	if (q->gmail && !(s->caps & CAP_XGM_EXT1)) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "gmail: needs a Gmail server (X-GM-EXT-1)");
		return IMAP_R_UNSUPPORTED;
	}
	if (!q->n || plan_make(s, q, &p) < 0) {
		if (q->n)
			plan_free(&p);
		imap_status_set(st, q->n ? IMAP_R_NOMEM : IMAP_R_BAD, "cannot make the search");
		return st->result;
	}
	rr = send_plan(&x, &p);
	if (rr == IMAP_R_OK && !x.answered)
		rr = read_answer(&x, false);
	plan_free(&p);
	rr = search_result(rr, &x.sc, uids, n, st);
	return rr == IMAP_R_OK ? st->result : rr;
}
