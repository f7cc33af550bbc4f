/* IMAP commands.  RFC 3501 / RFC 9051 (greeting, CAPABILITY, STARTTLS,
 * LOGIN, AUTHENTICATE, LIST, SELECT/EXAMINE, UID FETCH, NOOP, LOGOUT),
 * RFC 4959 (SASL-IR), RFC 6154 (special-use LIST attributes). */
#include "imap/commands.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/log.h"
#include "imap/net.h"
#include "imap/session_priv.h"

static unsigned session_counter;

/* ---- opening a session ------------------------------------------------- */

static enum imap_result read_greeting(struct imap_session *s, struct imap_status *st)
{
	struct imap_response *r;
	enum imap_result rr = imap_read_response(s, &r);

	if (rr != IMAP_R_OK) {
		imap_status_set(st, rr, "no greeting from the server: %s", s->broken_text);
		return rr;
	}
	/* The first thing a server says must be its greeting; data before
	 * it is a server (or a man in the middle) we cannot trust. */
	if (r->kind != IMAP_RESP_UNTAGGED || (r->cond != IMAP_COND_OK &&
	    r->cond != IMAP_COND_PREAUTH && r->cond != IMAP_COND_BYE)) {
		imap_response_free(r);
		imap_status_set(st, IMAP_R_PROTOCOL, "the server did not start with a greeting");
		return IMAP_R_PROTOCOL;
	}
	if (r->cond == IMAP_COND_BYE) {
		imap_status_set(st, IMAP_R_LOST, "server refused the connection: %s", r->text);
		imap_response_free(r);
		return IMAP_R_LOST;
	}
	imap_session_dispatch(s, r, NULL, NULL); /* CAPABILITY in the greeting */
	imap_session_set_state(s, r->cond == IMAP_COND_PREAUTH ? IMAP_ST_AUTHENTICATED
							       : IMAP_ST_NOT_AUTHENTICATED);
	imap_response_free(r);
	return IMAP_R_OK;
}

static enum imap_result tls_handshake(struct imap_session *s, struct imap_status *st)
{
	char msg[200];
	enum net_err e = net_start_tls(s->net, s->cfg.host, &s->cfg.tls, imap_session_wait_ms(s),
				       msg, sizeof(msg));

	if (e == NET_OK)
		return IMAP_R_OK;
	/* A silent server is not a TLS problem: it is out of reach. */
	imap_status_set(st, e == NET_ERR_TIMEOUT ? IMAP_R_TIMEOUT : IMAP_R_TLS, "%s", msg);
	return st->result;
}

static enum imap_result starttls(struct imap_session *s, struct imap_status *st)
{
	enum imap_result rr;

	if (!s->have_caps && (rr = imap_capability(s, st)) != IMAP_R_OK)
		return rr;
	if (!(s->caps & CAP_STARTTLS)) {
		imap_status_set(st, IMAP_R_TLS, "the server does not offer STARTTLS; use imaps:// "
			       "(plaintext only with -o tls=none)");
		return IMAP_R_TLS;
	}
	rr = imap_simple(s, st, NULL, NULL, "STARTTLS");
	if (rr != IMAP_R_OK) {
		if (st->result == IMAP_R_OK || rr == IMAP_R_NO || rr == IMAP_R_BAD)
			imap_status_set(st, IMAP_R_TLS, "STARTTLS refused: %s", st->text);
		return IMAP_R_TLS;
	}
	/* Anything the server sent after its OK arrived before encryption:
	 * an injection attempt (CVE-2011-0411 style).  Never act on it. */
	if (s->rlen > s->roff || !imap_parser_empty(s->parser)) {
		imap_status_set(st, IMAP_R_PROTOCOL,
			       "server sent data before TLS was established; refusing it");
		return IMAP_R_PROTOCOL;
	}
	rr = tls_handshake(s, st);
	if (rr != IMAP_R_OK)
		return rr;
	/* Capabilities seen before TLS may have been forged: ask again. */
	s->have_caps = false;
	s->caps = 0;
	return imap_capability(s, st);
}

struct imap_session *imap_session_new(const struct imap_session_config *cfg)
{
	struct imap_session *s = calloc(1, sizeof(*s));
	struct imap_parser_limits lim;

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "imap-%u", __atomic_add_fetch(&session_counter, 1,
									 __ATOMIC_RELAXED));
	s->cfg = *cfg;
	imap_parser_default_limits(&lim);
	if (cfg->max_message)
		lim.max_literal = cfg->max_message;
	s->parser = imap_parser_new(&lim);
	if (!s->parser) {
		free(s);
		return NULL;
	}
	return s;
}

enum imap_result imap_session_connect(struct imap_session *s, struct imap_status *st)
{
	const struct imap_session_config *cfg = &s->cfg;
	struct net_conn *net;
	enum net_err e;
	char msg[200];

	imap_session_set_state(s, IMAP_ST_CONNECTING);
	net = net_connect(cfg->host, cfg->port, imap_session_wait_ms(s), &e, msg, sizeof(msg));
	if (!net) {
		imap_status_set(st, e == NET_ERR_TIMEOUT ? IMAP_R_TIMEOUT : IMAP_R_CONNECT, "%s",
				msg);
		goto fail;
	}
	__atomic_store_n(&s->net, net, __ATOMIC_SEQ_CST);
	/* An abort that came while connecting found no socket to shut. */
	if (atomic_load(&s->aborted))
		net_abort(net);
	if (cfg->implicit_tls && !cfg->no_tls && tls_handshake(s, st) != IMAP_R_OK)
		goto fail;
	if (read_greeting(s, st) != IMAP_R_OK)
		goto fail;
	if (!cfg->implicit_tls && !cfg->no_tls && starttls(s, st) != IMAP_R_OK)
		goto fail;
	if (!s->have_caps && imap_capability(s, st) != IMAP_R_OK)
		goto fail;
	log_debug(LOG_CAT_IMAP, "[%s] connected to %s:%u%s", s->name, cfg->host, cfg->port,
		  net_is_tls(s->net) ? " (TLS)" : " (plaintext)");
	return IMAP_R_OK;
fail:
	imap_session_set_state(s, IMAP_ST_DISCONNECTED);
	s->broken = true;
	return st->result;
}

struct imap_session *imap_session_open(const struct imap_session_config *cfg,
				       struct imap_status *st)
{
	struct imap_session *s = imap_session_new(cfg);

	if (!s) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return NULL;
	}
	if (imap_session_connect(s, st) != IMAP_R_OK) {
		imap_session_close(s);
		return NULL;
	}
	return s;
}

void imap_session_close(struct imap_session *s)
{
	if (!s)
		return;
	if (imap_session_usable(s))
		imap_logout(s);
	net_close(s->net);
	imap_parser_free(s->parser);
	free(s);
}

/* ---- capabilities, login ------------------------------------------------ */

enum imap_result imap_capability(struct imap_session *s, struct imap_status *st)
{
	enum imap_result rr = imap_simple(s, st, NULL, NULL, "CAPABILITY");

	if (rr == IMAP_R_OK && !s->have_caps) {
		imap_status_set(st, IMAP_R_PROTOCOL, "CAPABILITY answered without capabilities");
		return IMAP_R_PROTOCOL;
	}
	return rr;
}

/* After a login: a CAPABILITY command only when the server did not list
 * them with its OK (Dovecot and Cyrus do, Courier does not). */
static enum imap_result login_capabilities(struct imap_session *s, struct imap_status *st)
{
	return s->have_caps ? IMAP_R_OK : imap_capability(s, st);
}

/* Decode a base64 server challenge into out (NUL-terminated, non-printable
 * bytes replaced by '?').  Returns the length, or -1. */
static int decode_challenge(const char *b64, char *out, size_t outlen)
{
	size_t len = strlen(b64);
	unsigned char *raw;
	int n;

	if (outlen == 0 || len == 0 || len % 4 || len / 4 * 3 >= outlen)
		return -1;
	raw = malloc(len / 4 * 3 + 1);
	if (!raw)
		return -1;
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n >= 0) {
		/* EVP_DecodeBlock counts the padding as zero bytes */
		while (len && b64[--len] == '=' && n > 0)
			n--;
		for (int i = 0; i < n; i++)
			out[i] = raw[i] < 0x20 || raw[i] > 0x7e ? '?' : (char)raw[i];
		out[n] = '\0';
	}
	free(raw);
	return n;
}

/* A failure challenge carries the server's reason (XOAUTH2, OAUTHBEARER:
 * base64 JSON such as {"status":"401","schemes":"bearer"}). */
static void note_challenge(struct imap_session *s, const char *b64, char *out, size_t outlen)
{
	if (decode_challenge(b64, out, outlen) < 0)
		snprintf(out, outlen, "(undecodable)");
	log_info(LOG_CAT_AUTH, "[%s] server's authentication error: %s", s->name, out);
}

/* After the initial response: answer a failure challenge once, then read
 * until the tagged result. */
static enum imap_result finish_authenticate(struct imap_session *s, const char *tag,
					    const char *initial, const char *failure_reply,
					    struct imap_status *st)
{
	bool sent_initial = initial == NULL, answered = false;
	char challenge[256] = "";
	struct imap_response *r;
	enum imap_result rr;

	for (;;) {
		rr = imap_read_response(s, &r);
		if (rr != IMAP_R_OK) {
			imap_status_set(st, rr, "%s", s->broken_text);
			return rr;
		}
		if (r->kind == IMAP_RESP_CONTINUE) {
			const char *reply = failure_reply;

			if (!sent_initial) {
				reply = initial; /* no SASL-IR: the response goes here */
				sent_initial = true;
			} else if (answered) {
				reply = "*"; /* a second challenge: abort the exchange */
			} else {
				note_challenge(s, r->text, challenge, sizeof(challenge));
				answered = true;
			}
			imap_response_free(r);
			rr = imap_send_line(s, reply, strlen(reply), true);
			if (rr != IMAP_R_OK) {
				imap_status_set(st, rr, "%s", s->broken_text);
				return rr;
			}
			continue;
		}
		if (r->kind == IMAP_RESP_TAGGED && strcmp(r->tag, tag) == 0) {
			imap_status_from_response(st, r);
			imap_response_free(r);
			if (st->result == IMAP_R_NO || st->result == IMAP_R_BAD)
				st->result = IMAP_R_LOGIN;
			if (st->result == IMAP_R_LOGIN && *challenge) {
				size_t n = strlen(st->text);

				snprintf(st->text + n, sizeof(st->text) - n, " (server: %s)",
					 challenge);
			}
			return st->result;
		}
		if (r->kind == IMAP_RESP_TAGGED) {
			imap_response_free(r);
			imap_status_set(st, IMAP_R_PROTOCOL, "response to a tag never sent");
			return IMAP_R_PROTOCOL;
		}
		imap_session_dispatch(s, r, NULL, NULL);
		imap_response_free(r);
	}
}

enum imap_result imap_authenticate(struct imap_session *s, const char *mech,
				   const char *initial_b64, const char *failure_reply,
				   struct imap_status *st)
{
	bool ir = (s->caps & CAP_SASL_IR) != 0;
	enum imap_result rr;
	struct buf line;
	char tag[16];

	buf_init(&line);
	/* SASL-IR sends an empty initial response as "=" (RFC 4959 §3). */
	if (ir)
		rr = buf_printf(&line, "AUTHENTICATE %s %s", mech,
				*initial_b64 ? initial_b64 : "=") < 0 ? IMAP_R_NOMEM : IMAP_R_OK;
	else
		rr = buf_printf(&line, "AUTHENTICATE %s", mech) < 0 ? IMAP_R_NOMEM : IMAP_R_OK;
	/* Capabilities change at login: those of the OK or an untagged
	 * CAPABILITY before it count, else they are asked for after. */
	s->have_caps = false;
	if (rr == IMAP_R_OK)
		rr = imap_start_command(s, line.data, true, tag, sizeof(tag));
	buf_free(&line);
	if (rr != IMAP_R_OK) {
		imap_status_set(st, rr, "%s", imap_result_name(rr));
		return rr;
	}
	rr = finish_authenticate(s, tag, ir ? NULL : initial_b64, failure_reply, st);
	if (rr == IMAP_R_OK) {
		imap_session_set_state(s, IMAP_ST_AUTHENTICATED);
		rr = login_capabilities(s, st);
	}
	return rr;
}

enum imap_result imap_login(struct imap_session *s, const char *user, const char *password,
			    struct imap_status *st)
{
	char qu[512], qp[1024];
	enum imap_result rr;

	if (s->caps & CAP_LOGINDISABLED) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "the server does not allow LOGIN here");
		return IMAP_R_UNSUPPORTED;
	}
	if (imap_quote(qu, sizeof(qu), user) < 0 || imap_quote(qp, sizeof(qp), password) < 0) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "the user name or password cannot be sent "
			       "with LOGIN (control or 8-bit characters)");
		return IMAP_R_UNSUPPORTED;
	}
	{
		struct imap_cmd cmd = { .secret = true };
		struct buf b;

		buf_init(&b);
		if (buf_printf(&b, "LOGIN %s %s", qu, qp) < 0)
			return IMAP_R_NOMEM;
		cmd.line = b.data;
		s->have_caps = false; /* as for AUTHENTICATE */
		rr = imap_run(s, &cmd, 1, NULL, NULL);
		OPENSSL_cleanse(b.data, b.len);
		OPENSSL_cleanse(qp, sizeof(qp));
		buf_free(&b);
		*st = cmd.st;
	}
	if (rr != IMAP_R_OK)
		return rr;
	if (st->result != IMAP_R_OK) {
		st->result = IMAP_R_LOGIN;
		return IMAP_R_LOGIN;
	}
	imap_session_set_state(s, IMAP_ST_AUTHENTICATED);
	return login_capabilities(s, st);
}

enum imap_result imap_noop(struct imap_session *s, struct imap_status *st)
{
	return imap_simple(s, st, NULL, NULL, "NOOP");
}

void imap_logout(struct imap_session *s)
{
	struct imap_status st;

	/* A courtesy: never worth more than a second (the server may be gone
	 * silent, and unmounting must not wait for it). */
	if (s->cfg.timeout_ms > 1000)
		s->cfg.timeout_ms = 1000;
	s->deadline_ms = 0;
	imap_session_set_state(s, IMAP_ST_LOGOUT);
	/* BYE then OK is the normal answer: BYE in LOGOUT state is expected. */
	imap_simple(s, &st, NULL, NULL, "LOGOUT");
}

/* ---- LIST ---------------------------------------------------------------- */

static unsigned mailbox_attr(const struct imap_value *v)
{
	static const struct { const char *name; unsigned bit; } attrs[] = {
		{ "\\Noselect", MBX_NOSELECT }, { "\\NoInferiors", MBX_NOINFERIORS },
		{ "\\NonExistent", MBX_NONEXISTENT }, { "\\HasChildren", MBX_HASCHILDREN },
		{ "\\HasNoChildren", MBX_HASNOCHILDREN }, { "\\Marked", MBX_MARKED },
		{ "\\Trash", MBX_TRASH }, { "\\Sent", MBX_SENT }, { "\\Drafts", MBX_DRAFTS },
		{ "\\Junk", MBX_JUNK }, { "\\Archive", MBX_ARCHIVE }, { "\\All", MBX_ALL },
		{ "\\Flagged", MBX_FLAGGED },
	};
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (imap_value_is(v, attrs[i].name))
			return attrs[i].bit;
	return 0;
}

struct list_ctx {
	imap_list_fn fn;
	void *ctx;
};

/* * LIST (\attrs) "/" name */
static bool on_list(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct list_ctx *lc = vctx;
	struct imap_list_line l;

	if (!imap_value_is(imap_list_item(&r->data, 0), "LIST"))
		return false;
	if (!imap_list_parse(r, &l)) {
		log_warn(LOG_CAT_IMAP, "[%s] ignoring a malformed LIST response", s->name);
		return true;
	}
	lc->fn(lc->ctx, l.name, l.len, l.delim, l.flags);
	return true;
}

enum imap_result imap_list(struct imap_session *s, imap_list_fn fn, void *ctx,
			   struct imap_status *st)
{
	struct list_ctx lc = { fn, ctx };

	return imap_simple(s, st, on_list, &lc, "LIST \"\" \"*\"");
}

static bool mailbox_name(const struct imap_value *v)
{
	return imap_value_is_string(v) && v->len && !memchr(v->str, '\0', v->len);
}

/* The extended items' OLDNAME (RFC 5258 §3.5): ("OLDNAME" (old)). */
static const struct imap_value *oldname(const struct imap_value *ext)
{
	const struct imap_value *tag = imap_list_item(ext, 0);
	const struct imap_value *old = imap_list_item(imap_list_item(ext, 1), 0);

	if (!imap_value_is_string(tag) || tag->len != 7 || strncasecmp(tag->str, "OLDNAME", 7))
		return NULL;
	return mailbox_name(old) ? old : NULL;
}

bool imap_list_parse(const struct imap_response *r, struct imap_list_line *out)
{
	const struct imap_value *attrs = imap_list_item(&r->data, 1);
	const struct imap_value *delim = imap_list_item(&r->data, 2);
	const struct imap_value *name = imap_list_item(&r->data, 3);
	const struct imap_value *old = oldname(imap_list_item(&r->data, 4));

	memset(out, 0, sizeof(*out));
	if (r->cond != IMAP_COND_NONE || !imap_value_is(imap_list_item(&r->data, 0), "LIST") ||
	    !attrs || attrs->type != IV_LIST || !delim || !imap_value_is_string(name) ||
	    (delim->type != IV_NIL && (delim->type != IV_STRING || delim->len != 1)))
		return false;
	for (size_t i = 0; i < attrs->n; i++)
		out->flags |= mailbox_attr(&attrs->items[i]);
	out->delim = delim->type == IV_STRING ? delim->str[0] : 0;
	out->name = name->str;
	out->len = name->len;
	if (old) {
		out->oldname = old->str;
		out->oldlen = old->len;
	}
	return true;
}

/* ---- SELECT / EXAMINE ---------------------------------------------------- */

static bool on_select(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct imap_select_info *info = vctx;
	const struct imap_value *first;
	uint32_t v;

	(void)s;
	if (r->cond == IMAP_COND_OK) {
		first = imap_list_item(&r->code, 0);
		if (imap_value_is(first, "UIDVALIDITY") && imap_value_u32(imap_list_item(&r->code, 1), &v))
			info->uidvalidity = v;
		else if (imap_value_is(first, "UIDNEXT") && imap_value_u32(imap_list_item(&r->code, 1), &v))
			info->uidnext = v;
		else if (imap_value_is(first, "HIGHESTMODSEQ") && imap_list_item(&r->code, 1) &&
			 imap_list_item(&r->code, 1)->type == IV_NUMBER)
			info->highestmodseq = imap_list_item(&r->code, 1)->num;
		return first && (imap_value_is(first, "UIDVALIDITY") || imap_value_is(first, "UIDNEXT") ||
				 imap_value_is(first, "PERMANENTFLAGS") || imap_value_is(first, "UNSEEN") ||
				 imap_value_is(first, "HIGHESTMODSEQ") || imap_value_is(first, "NOMODSEQ"));
	}
	if (r->cond == IMAP_COND_NONE && r->data.n == 2 &&
	    imap_value_is(imap_list_item(&r->data, 1), "EXISTS")) {
		first = imap_list_item(&r->data, 0);
		info->exists = first->type == IV_NUMBER && first->num <= UINT32_MAX ?
			       (uint32_t)first->num : 0;
		return false; /* the mailbox layer wants EXISTS too */
	}
	return false;
}

enum imap_result imap_select(struct imap_session *s, const char *mailbox, bool readonly,
			     const struct imap_qresync *qr, struct imap_select_info *info,
			     struct imap_status *st)
{
	char q[1024], param[80] = "";
	enum imap_result rr;

	memset(info, 0, sizeof(*info));
	if (imap_quote(q, sizeof(q), mailbox) < 0) {
		imap_status_set(st, IMAP_R_GONE, "mailbox name cannot be quoted");
		return IMAP_R_GONE;
	}
	if (s->state == IMAP_ST_SELECTED)
		imap_session_set_state(s, IMAP_ST_AUTHENTICATED);
	if (qr && s->qresync)
		snprintf(param, sizeof(param), " (QRESYNC (%u %llu))", qr->uidvalidity,
			 (unsigned long long)qr->modseq);
	rr = imap_simple(s, st, on_select, info, "%s %s%s", readonly ? "EXAMINE" : "SELECT", q,
			 param);
	if (rr != IMAP_R_OK)
		return rr;
	info->readonly = readonly || st->code == IMAP_CODE_READONLY;
	if (info->uidvalidity == 0) {
		imap_status_set(st, IMAP_R_PROTOCOL, "SELECT gave no UIDVALIDITY");
		return IMAP_R_PROTOCOL;
	}
	imap_session_set_state(s, IMAP_ST_SELECTED);
	return IMAP_R_OK;
}

/* ---- FETCH --------------------------------------------------------------- */

static int month_index(const char *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (strncasecmp(m, months + 3 * i, 3) == 0)
			return i;
	return -1;
}

/* Fixed-width decimal field: -1 unless all digits. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no time zone, no locale, no table. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* date-time (RFC 3501 §9) without its quotes: "dd-Mon-yyyy hh:mm:ss +hhmm",
 * the day space-padded (or, from some servers, one digit).  Parsed by
 * hand: a listing parses one per message. */
int imap_parse_date_time(const char *s, size_t len, int64_t *out)
{
	int day, mon, year, hh, mm, ss, zone;
	const char *p;

	if (len == 25) {
		day = digits(s, 1);
		p = s + 1;
	} else if (len == 26) {
		day = s[0] == ' ' ? digits(s + 1, 1) : digits(s, 2);
		p = s + 2;
	} else {
		return -1;
	}
	if (p[0] != '-' || p[4] != '-' || p[9] != ' ' || p[12] != ':' || p[15] != ':' ||
	    p[18] != ' ' || (p[19] != '+' && p[19] != '-'))
		return -1;
	mon = month_index(p + 1);
	year = digits(p + 5, 4);
	hh = digits(p + 10, 2);
	mm = digits(p + 13, 2);
	ss = digits(p + 16, 2);
	zone = digits(p + 20, 4);
	if (day < 1 || day > 31 || mon < 0 || year < 1900 || hh < 0 || hh > 23 || mm < 0 ||
	    mm > 59 || ss < 0 || ss > 60 || zone < 0 || zone % 100 > 59 || zone > 2400)
		return -1;
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	*out = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss -
	       (p[19] == '+' ? zone : -zone);
	return 0;
}

static unsigned message_flags(const struct imap_value *list)
{
	static const struct { const char *name; unsigned bit; } flags[] = {
		{ "\\Seen", MSG_SEEN }, { "\\Answered", MSG_ANSWERED }, { "\\Flagged", MSG_FLAGGED },
		{ "\\Deleted", MSG_DELETED }, { "\\Draft", MSG_DRAFT }, { "\\Recent", MSG_RECENT },
	};
	unsigned bits = 0;

	for (size_t i = 0; i < list->n; i++)
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (imap_value_is(&list->items[i], flags[k].name))
				bits |= flags[k].bit;
	return bits;
}

static void parse_fetch_item(const struct imap_value *key, const struct imap_value *val,
			     struct imap_msg_meta *m)
{
	uint32_t u;

	if (imap_value_is(key, "UID") && imap_value_u32(val, &u)) {
		m->uid = u;
	} else if (imap_value_is(key, "RFC822.SIZE")) {
		if (val->type == IV_NUMBER) {
			m->size = val->num;
			m->has_size = true;
		} else {
			log_warn(LOG_CAT_IMAP, "server sent an invalid RFC822.SIZE '%.40s'",
				 val->str ? val->str : "");
		}
	} else if (imap_value_is(key, "INTERNALDATE")) {
		if (val->type == IV_STRING && imap_parse_date_time(val->str, val->len,
								   &m->internaldate) == 0)
			m->has_date = true;
		else
			log_warn(LOG_CAT_IMAP, "server sent an invalid INTERNALDATE '%.40s'",
				 val->str ? val->str : "");
	} else if (imap_value_is(key, "FLAGS") && val->type == IV_LIST) {
		m->flags = message_flags(val);
		m->has_flags = true;
	}
}

bool imap_parse_fetch(const struct imap_response *r, struct imap_msg_meta *m)
{
	const struct imap_value *seq = imap_list_item(&r->data, 0);
	const struct imap_value *items = imap_list_item(&r->data, 2);

	memset(m, 0, sizeof(*m));
	if (r->cond != IMAP_COND_NONE || !imap_value_is(imap_list_item(&r->data, 1), "FETCH") ||
	    !imap_value_u32(seq, &m->seq) || !items || items->type != IV_LIST)
		return false;
	for (size_t i = 0; i + 1 < items->n; i += 2)
		parse_fetch_item(&items->items[i], &items->items[i + 1], m);
	return true;
}

/* The callbacks of a metadata fetch; body_fn NULL: no bodies asked for. */
struct small_ctx {
	imap_meta_fn meta_fn;
	imap_body_fn body_fn;
	void *ctx;
	size_t limit;
};

struct body_ctx {
	imap_body_fn fn;
	void *ctx;
};

/* "BODY[]<0>": the start of a partial body (RFC 9051 §7.5.2). */
static const struct imap_value *partial_body(const struct imap_value *items)
{
	for (size_t i = 0; i + 1 < items->n; i += 2)
		if (imap_value_is(&items->items[i], "BODY[]<0>") &&
		    items->items[i + 1].type == IV_STRING)
			return &items->items[i + 1];
	return NULL;
}

static bool on_fetch_small(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct small_ctx *sc = vctx;
	const struct imap_value *body;
	struct imap_msg_meta m;
	size_t len;
	char *data;

	if (!imap_parse_fetch(r, &m))
		return false;
	if (m.uid == 0) {
		log_warn(LOG_CAT_IMAP, "[%s] FETCH response without a valid UID ignored", s->name);
		return true;
	}
	body = sc->body_fn ? partial_body(imap_list_item(&r->data, 2)) : NULL;
	if (body && body->len < sc->limit && (data = imap_value_steal(r, body, &len)))
		sc->body_fn(sc->ctx, m.uid, data, len);
	sc->meta_fn(sc->ctx, &m);
	return true;
}

enum imap_result imap_fetch_meta_small(struct imap_session *s, const char *uidset, size_t limit,
				       imap_meta_fn meta_fn, imap_body_fn body_fn, void *ctx,
				       struct imap_status *st)
{
	struct small_ctx sc = { meta_fn, body_fn, ctx, limit };

	return imap_simple(s, st, on_fetch_small, &sc,
			   "UID FETCH %s (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[]<0.%zu>)",
			   uidset, limit);
}

enum imap_result imap_fetch_meta(struct imap_session *s, const char *uidset, imap_meta_fn fn,
				 void *ctx, struct imap_status *st)
{
	struct small_ctx sc = { fn, NULL, ctx, 0 };

	return imap_simple(s, st, on_fetch_small, &sc,
			   "UID FETCH %s (UID RFC822.SIZE INTERNALDATE FLAGS)", uidset);
}

static bool on_fetch_body(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct body_ctx *bc = vctx;
	const struct imap_value *items = imap_list_item(&r->data, 2);
	const struct imap_value *body = NULL;
	struct imap_msg_meta m;
	uint32_t uid = 0;
	size_t len;
	char *data;

	if (!imap_parse_fetch(r, &m))
		return false;
	for (size_t i = 0; i + 1 < items->n; i += 2) {
		if (imap_value_is(&items->items[i], "UID"))
			imap_value_u32(&items->items[i + 1], &uid);
		else if (imap_value_is(&items->items[i], "BODY[]"))
			body = &items->items[i + 1];
	}
	if (!body)
		return true; /* a flag update that happened to arrive now */
	if (uid == 0 || body->type != IV_STRING) {
		log_warn(LOG_CAT_IMAP, "[%s] body without UID or content ignored", s->name);
		return true;
	}
	data = imap_value_steal(r, body, &len);
	if (data)
		bc->fn(bc->ctx, uid, data, len);
	return true;
}

/* The caller's UID sets become commands as the session asks for them. */
struct body_cmd {
	struct imap_cmd cmd;   /* first: the session hands this back */
	char *line;
	void *id;
};

struct body_feed {
	const struct imap_uidset_feed *up;
	struct imap_status failure;   /* the first command that failed */
	bool failed;
};

static void note_failure(struct body_feed *bf, const struct imap_status *st)
{
	if (st->result != IMAP_R_OK && !bf->failed) {
		bf->failure = *st;
		bf->failed = true;
	}
}

static struct imap_cmd *body_next(void *ctx)
{
	struct body_feed *bf = ctx;
	struct body_cmd *bc;
	void *id = NULL;
	const char *set = bf->up->next(bf->up->ctx, &id);
	struct imap_status st;

	if (!set)
		return NULL;
	bc = calloc(1, sizeof(*bc));
	if (bc && asprintf(&bc->line, "UID FETCH %s (UID BODY.PEEK[])", set) >= 0) {
		bc->cmd.line = bc->line;
		bc->id = id;
		return &bc->cmd;
	}
	free(bc);
	imap_status_set(&st, IMAP_R_NOMEM, "out of memory");
	note_failure(bf, &st);
	bf->up->done(bf->up->ctx, id, &st);
	return NULL;
}

static void body_done(void *ctx, struct imap_cmd *cmd)
{
	struct body_feed *bf = ctx;
	struct body_cmd *bc = (struct body_cmd *)cmd;

	note_failure(bf, &cmd->st);
	bf->up->done(bf->up->ctx, bc->id, &cmd->st);
	free(bc->line);
	free(bc);
}

enum imap_result imap_fetch_bodies(struct imap_session *s, const struct imap_uidset_feed *feed,
				   imap_body_fn fn, void *ctx, struct imap_status *st)
{
	struct body_ctx bctx = { fn, ctx };
	struct body_feed bf = { .up = feed };
	struct imap_feed f = { body_next, body_done, &bf, feed->window };
	enum imap_result rr = imap_run_feed(s, &f, on_fetch_body, &bctx);

	if (bf.failed) {
		*st = bf.failure;
		if (rr == IMAP_R_OK)
			rr = st->result;
	} else if (rr != IMAP_R_OK) {
		imap_status_set(st, rr, "%s", imap_result_name(rr));
	} else {
		imap_status_set(st, IMAP_R_OK, "fetched");
	}
	return rr;
}

/* ---- changes ------------------------------------------------------------- */

/* A mailbox argument: our names come from LIST or from utf7 encoding, so a
 * quoted string always fits; anything else is refused, never sent. */
static bool quote_mailbox(const char *name, char *out, size_t cap, struct imap_status *st)
{
	if (imap_quote(out, cap, name) == 0)
		return true;
	imap_status_set(st, IMAP_R_BAD, "mailbox name cannot be sent safely");
	return false;
}

enum imap_result imap_uid_store(struct imap_session *s, uint32_t uid, char op, const char *flags,
				struct imap_status *st)
{
	return imap_simple(s, st, NULL, NULL, "UID STORE %u %cFLAGS.SILENT (%s)", uid, op, flags);
}

enum imap_result imap_uid_expunge(struct imap_session *s, uint32_t uid, struct imap_status *st)
{
	return imap_simple(s, st, NULL, NULL, "UID EXPUNGE %u", uid);
}

enum imap_result imap_expunge_all(struct imap_session *s, struct imap_status *st)
{
	return imap_simple(s, st, NULL, NULL, "EXPUNGE");
}

static bool parse_u32(const char *s, char **end, uint32_t *out)
{
	unsigned long long v;

	if (*s < '1' || *s > '9')
		return false;
	v = strtoull(s, end, 10);
	if (v == 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool imap_parse_copyuid(const char *args, struct imap_copyuid *cu)
{
	uint32_t src;
	char *end;

	memset(cu, 0, sizeof(*cu));
	if (!parse_u32(args, &end, &cu->uidvalidity) || *end != ' ' ||
	    !parse_u32(end + 1, &end, &src) || *end != ' ' ||
	    !parse_u32(end + 1, &end, &cu->dst_uid) || *end != '\0')
		return false;
	cu->valid = true;
	return true;
}

/* MOVE sends COPYUID in an untagged OK before the EXPUNGE (RFC 6851 §4.3). */
static bool on_copyuid(struct imap_session *s, struct imap_response *r, void *ctx)
{
	struct imap_copyuid *cu = ctx;
	char args[96];

	(void)s;
	if (r->cond != IMAP_COND_OK || !imap_value_is(imap_list_item(&r->code, 0), "COPYUID"))
		return false;
	imap_code_args(&r->code, args, sizeof(args));
	imap_parse_copyuid(args, cu);
	return true;
}

static enum imap_result copy_or_move(struct imap_session *s, const char *verb, uint32_t uid,
				     const char *mailbox, struct imap_copyuid *cu,
				     struct imap_status *st)
{
	char q[1024];
	enum imap_result rr;

	memset(cu, 0, sizeof(*cu));
	if (!quote_mailbox(mailbox, q, sizeof(q), st))
		return st->result;
	rr = imap_simple(s, st, on_copyuid, cu, "UID %s %u %s", verb, uid, q);
	if (rr == IMAP_R_OK && !cu->valid && st->code == IMAP_CODE_COPYUID)
		imap_parse_copyuid(st->code_args, cu); /* COPYUID in the tagged OK */
	return rr;
}

enum imap_result imap_uid_move(struct imap_session *s, uint32_t uid, const char *mailbox,
			       struct imap_copyuid *cu, struct imap_status *st)
{
	return copy_or_move(s, "MOVE", uid, mailbox, cu, st);
}

enum imap_result imap_uid_copy(struct imap_session *s, uint32_t uid, const char *mailbox,
			       struct imap_copyuid *cu, struct imap_status *st)
{
	return copy_or_move(s, "COPY", uid, mailbox, cu, st);
}

static enum imap_result mailbox_command(struct imap_session *s, const char *verb,
					const char *mailbox, struct imap_status *st)
{
	char q[1024];

	if (!quote_mailbox(mailbox, q, sizeof(q), st))
		return st->result;
	return imap_simple(s, st, NULL, NULL, "%s %s", verb, q);
}

enum imap_result imap_create(struct imap_session *s, const char *mailbox, struct imap_status *st)
{
	return mailbox_command(s, "CREATE", mailbox, st);
}

enum imap_result imap_delete(struct imap_session *s, const char *mailbox, struct imap_status *st)
{
	return mailbox_command(s, "DELETE", mailbox, st);
}

enum imap_result imap_rename(struct imap_session *s, const char *from, const char *to,
			     struct imap_status *st)
{
	char qf[1024], qt[1024];

	if (!quote_mailbox(from, qf, sizeof(qf), st) || !quote_mailbox(to, qt, sizeof(qt), st))
		return st->result;
	return imap_simple(s, st, NULL, NULL, "RENAME %s %s", qf, qt);
}

/* ---- flags (RFC 3501 §6.4.6-6.4.8, RFC 7162 §3.1.4 MODSEQ) ---------------- */

struct stored_ctx {
	uint32_t uid;
	bool answered;
};

/* Returns false so that the mailbox view learns the flags too. */
static bool on_stored(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct stored_ctx *sc = vctx;
	struct imap_msg_meta m;

	(void)s;
	if (imap_parse_fetch(r, &m) && m.uid == sc->uid)
		sc->answered = true;
	return false;
}

enum imap_result imap_uid_set_flags(struct imap_session *s, uint32_t uid, const char *flags,
				    bool *answered, struct imap_status *st)
{
	struct stored_ctx sc = { uid, false };
	enum imap_result rr;

	/* Not .SILENT: the FETCH the server answers with updates the view. */
	rr = imap_simple(s, st, on_stored, &sc, "UID STORE %u FLAGS (%s)", uid, flags);
	*answered = sc.answered;
	return rr;
}

struct flags_ctx {
	uint32_t uid;
	char *out;
	size_t cap;
	uint64_t *modseq;
	bool found;
};

/* "(\\Seen $Label1)" -> "\\Seen $Label1"; atoms only (flags are atoms). */
static void join_flags(const struct imap_value *list, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < list->n; i++) {
		const struct imap_value *v = &list->items[i];

		if (v->type != IV_ATOM || o + v->len + 2 > cap)
			continue;
		o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", v->str);
	}
}

static void take_flags_item(struct flags_ctx *fc, const struct imap_value *name,
			    const struct imap_value *val)
{
	const struct imap_value *num = imap_list_item(val, 0);

	if (imap_value_is(name, "FLAGS") && val->type == IV_LIST)
		join_flags(val, fc->out, fc->cap);
	else if (imap_value_is(name, "MODSEQ") && fc->modseq && num && num->type == IV_NUMBER)
		*fc->modseq = num->num;
}

/* Returns false so that the mailbox view learns the flags too. */
static bool on_flags(struct imap_session *s, struct imap_response *r, void *vctx)
{
	struct flags_ctx *fc = vctx;
	const struct imap_value *items = imap_list_item(&r->data, 2);
	struct imap_msg_meta m;

	(void)s;
	if (!imap_parse_fetch(r, &m) || m.uid != fc->uid)
		return false;
	fc->found = true;
	for (size_t i = 0; i + 1 < items->n; i += 2)
		take_flags_item(fc, &items->items[i], &items->items[i + 1]);
	return false;
}

enum imap_result imap_uid_get_flags(struct imap_session *s, uint32_t uid, char *flags,
				    size_t cap, uint64_t *modseq, struct imap_status *st)
{
	struct flags_ctx fc = { uid, flags, cap, modseq, false };
	enum imap_result rr;

	flags[0] = '\0';
	if (modseq)
		*modseq = 0;
	rr = imap_simple(s, st, on_flags, &fc, "UID FETCH %u (UID FLAGS%s)", uid,
			 modseq ? " MODSEQ" : "");
	if (rr == IMAP_R_OK && !fc.found) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		return IMAP_R_GONE;
	}
	return rr;
}

/* ---- APPEND (RFC 3501 §6.3.11, RFC 7888 LITERAL+, RFC 4315 APPENDUID) ------ */

void imap_format_date(int64_t date, char *out, size_t cap)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)date;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, mon[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Read until the tagged response; a continuation means "send the literal"
 * (*cont set, returns IMAP_R_OK with st untouched). */
static enum imap_result await_tag(struct imap_session *s, const char *tag, bool *cont,
				  struct imap_status *st)
{
	struct imap_response *r;
	enum imap_result rr;

	for (;;) {
		if ((rr = imap_read_response(s, &r)) != IMAP_R_OK) {
			imap_status_set(st, rr, "%s", s->broken_text);
			return rr;
		}
		if (r->kind == IMAP_RESP_CONTINUE && cont) {
			imap_response_free(r);
			*cont = true;
			return IMAP_R_OK;
		}
		if (r->kind == IMAP_RESP_TAGGED) {
			bool ours = strcmp(r->tag, tag) == 0;

			if (ours)
				imap_status_from_response(st, r);
			imap_response_free(r);
			if (!ours) {
				imap_status_set(st, IMAP_R_PROTOCOL, "response to a tag never sent");
				return IMAP_R_PROTOCOL;
			}
			return IMAP_R_OK;
		}
		if (r->kind == IMAP_RESP_UNTAGGED)
			imap_session_dispatch(s, r, NULL, NULL);
		imap_response_free(r);
	}
}

/* "uidvalidity uid", the same numbers as COPYUID's (parse_u32). */
static void parse_appenduid(const struct imap_status *st, struct imap_appenduid *au)
{
	char *end;

	memset(au, 0, sizeof(*au));
	au->valid = st->code == IMAP_CODE_APPENDUID &&
		    parse_u32(st->code_args, &end, &au->uidvalidity) && *end == ' ' &&
		    parse_u32(end + 1, &end, &au->uid) && *end == '\0';
}

enum imap_result imap_append(struct imap_session *s, const char *mailbox, const char *flags,
			     int64_t date, const char *data, size_t len,
			     struct imap_appenduid *au, struct imap_status *st)
{
	bool plus = (s->caps & CAP_LITERALPLUS) != 0, cont = false;
	char q[1024], when[40] = "", date_time[32], tag[16];
	enum imap_result rr;
	struct buf line;

	memset(au, 0, sizeof(*au));
	if (!quote_mailbox(mailbox, q, sizeof(q), st))
		return st->result;
	if (date >= 0) {
		imap_format_date(date, date_time, sizeof(date_time));
		snprintf(when, sizeof(when), " \"%s\"", date_time);
	}
	buf_init(&line);
	if (buf_printf(&line, "APPEND %s%s%s%s%s {%zu%s}", q, flags && *flags ? " (" : "",
		       flags && *flags ? flags : "", flags && *flags ? ")" : "", when, len,
		       plus ? "+" : "") < 0) {
		buf_free(&line);
		return IMAP_R_NOMEM;
	}
	rr = imap_start_command(s, line.data, false, tag, sizeof(tag));
	buf_free(&line);
	if (rr == IMAP_R_OK && !plus) {
		rr = await_tag(s, tag, &cont, st);
		if (rr == IMAP_R_OK && !cont)
			return st->result; /* refused before the bytes were sent */
	}
	if (rr == IMAP_R_OK)
		rr = imap_send_literal(s, data, len);
	if (rr == IMAP_R_OK)
		rr = await_tag(s, tag, NULL, st);
	if (rr != IMAP_R_OK) {
		if (st->result == IMAP_R_OK)
			imap_status_set(st, rr, "%s", imap_result_name(rr));
		return rr;
	}
	parse_appenduid(st, au);
	return st->result;
}

/* ---- COMPRESS (RFC 4978) ---------------------------------------------------- */

enum imap_result imap_compress(struct imap_session *s, struct imap_status *st)
{
	enum imap_result rr = imap_simple(s, st, NULL, NULL, "COMPRESS DEFLATE");

	if (rr != IMAP_R_OK)
		return rr;
	/* What was read past the OK is the start of the compressed stream. */
	if (net_start_compress(s->net, s->rbuf + s->roff, s->rlen - s->roff) < 0) {
		imap_status_set(st, IMAP_R_NOMEM, "cannot start compression");
		return IMAP_R_NOMEM;
	}
	s->rlen = s->roff = 0;
	log_debug(LOG_CAT_IMAP, "[%s] compression on (COMPRESS=DEFLATE)", s->name);
	return IMAP_R_OK;
}

/* ---- QRESYNC (RFC 7162 §3.2, RFC 5161 ENABLE) --------------------------------- */

enum imap_result imap_enable_qresync(struct imap_session *s, struct imap_status *st)
{
	enum imap_result rr;
	char tag[16];

	if (!(s->caps & CAP_QRESYNC) || !(s->caps & CAP_ENABLE))
		return IMAP_R_OK;
	rr = imap_start_command(s, "ENABLE QRESYNC", false, tag, sizeof(tag));
	if (rr != IMAP_R_OK) {
		imap_status_set(st, rr, "%s", s->broken_text);
		return rr;
	}
	/* Taken as agreed until the server says otherwise (ENABLED lists
	 * what it turned on; a refusal turns it off): commands sent before
	 * the answer are read by the server after it. */
	s->qresync = true;
	if (imap_session_set_aside(s, tag, ASIDE_ENABLE))
		return IMAP_R_OK;
	rr = await_tag(s, tag, NULL, st);
	if (rr == IMAP_R_OK && st->result != IMAP_R_OK)
		s->qresync = false; /* a refusal only means: no QRESYNC here */
	return rr;
}

bool imap_session_qresync(const struct imap_session *s) { return s->qresync; }
