/* IMAP session engine: RFC 3501 §2.2 (command tags, untagged data at any
 * time), RFC 9051 §2.2, RFC 2683 §3.2.1 (pipelining).
 *
 * One reader per connection: whoever runs a command reads until every tag
 * it sent is answered and routes each untagged response to the command's
 * handler first, then to the mailbox layer's handler.  When the
 * connection breaks every command still in flight fails with the same
 * status: nothing waits forever. */
#include "imap/session.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "imap/session_priv.h"

long long imap_session_quiet_ms(const struct imap_session *s)
{
	long long last = atomic_load(&s->last_rx_ms);

	return last ? clock_ms() - last : -1;
}

void imap_session_set_deadline(struct imap_session *s, long long deadline_ms)
{
	s->deadline_ms = deadline_ms;
}

int imap_session_wait_ms(const struct imap_session *s)
{
	long long last = atomic_load(&s->last_rx_ms), now, end;

	if (!s->deadline_ms)
		return s->cfg.timeout_ms;
	now = clock_ms();
	end = s->deadline_ms;
	if (last && last + s->cfg.timeout_ms > end)
		end = last + s->cfg.timeout_ms;
	return end > now ? (int)(end - now) : 0;
}

bool imap_login_rejected(const struct imap_status *st)
{
	return st->result == IMAP_R_LOGIN && st->code != IMAP_CODE_UNAVAILABLE;
}

const char *imap_result_name(enum imap_result r)
{
	static const char *const names[] = {
		"ok", "refused by server", "rejected as bad command", "login rejected",
		"refused", "cannot connect", "TLS failure", "server timed out",
		"connection lost", "protocol violation", "out of memory", "no longer exists",
		"no credentials", "invalid name", "already exists", "not empty",
	};
	return names[r];
}

static const char *state_name(enum imap_state st)
{
	static const char *const names[] = { "disconnected", "connecting", "not authenticated",
					     "authenticated", "selected", "logout" };
	return names[st];
}

void imap_session_set_state(struct imap_session *s, enum imap_state st)
{
	if (s->state == st)
		return;
	log_debug(LOG_CAT_IMAP, "[%s] state %s -> %s", s->name, state_name(s->state),
		  state_name(st));
	if (st == IMAP_ST_AUTHENTICATED && s->state == IMAP_ST_NOT_AUTHENTICATED)
		s->auth_ms = clock_ms();
	s->state = st;
}

enum imap_state imap_session_state(const struct imap_session *s) { return s->state; }
unsigned imap_session_caps(const struct imap_session *s) { return s->caps; }
const char *imap_session_bye_text(const struct imap_session *s) { return s->bye_text; }
long long imap_session_auth_ms(const struct imap_session *s) { return s->auth_ms; }

bool imap_session_is_tls(const struct imap_session *s) { return s->net && net_is_tls(s->net); }

bool imap_session_peer_is_loopback(const struct imap_session *s, char *addr, size_t addrlen)
{
	return s->net && net_peer_is_loopback(s->net, addr, addrlen);
}

bool imap_session_usable(const struct imap_session *s)
{
	return s->state != IMAP_ST_DISCONNECTED && s->state != IMAP_ST_LOGOUT && !s->broken;
}

enum imap_result imap_session_broken(const struct imap_session *s, const char **why)
{
	*why = s->broken_text;
	return s->broken ? s->broken_result : IMAP_R_OK;
}

void imap_session_set_untagged(struct imap_session *s, imap_untagged_fn fn, void *ctx)
{
	s->untagged_fn = fn;
	s->untagged_ctx = ctx;
}

void imap_session_batch_reads(struct imap_session *s, size_t bytes)
{
	if (s->net)
		net_batch_reads(s->net, bytes);
}

void imap_session_abort(struct imap_session *s)
{
	struct net_conn *net;

	atomic_store(&s->aborted, true);
	net = __atomic_load_n(&s->net, __ATOMIC_SEQ_CST);
	if (net)
		net_abort(net);
}

void imap_status_set(struct imap_status *st, enum imap_result r, const char *fmt, ...)
{
	va_list ap;

	st->result = r;
	st->code = IMAP_CODE_NONE;
	st->code_args[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
}

static enum imap_code code_from(const struct imap_value *code)
{
	static const struct { const char *name; enum imap_code code; } codes[] = {
		{ "TRYCREATE", IMAP_CODE_TRYCREATE }, { "NONEXISTENT", IMAP_CODE_NONEXISTENT },
		{ "OVERQUOTA", IMAP_CODE_OVERQUOTA }, { "CANNOT", IMAP_CODE_CANNOT },
		{ "NOPERM", IMAP_CODE_NOPERM }, { "LIMIT", IMAP_CODE_LIMIT },
		{ "INUSE", IMAP_CODE_INUSE },
		{ "AUTHENTICATIONFAILED", IMAP_CODE_AUTHENTICATIONFAILED },
		{ "AUTHORIZATIONFAILED", IMAP_CODE_AUTHORIZATIONFAILED },
		{ "UNAVAILABLE", IMAP_CODE_UNAVAILABLE }, { "EXPIRED", IMAP_CODE_EXPIRED },
		{ "ALREADYEXISTS", IMAP_CODE_ALREADYEXISTS }, { "SERVERBUG", IMAP_CODE_SERVERBUG },
		{ "COPYUID", IMAP_CODE_COPYUID }, { "READ-ONLY", IMAP_CODE_READONLY },
		{ "APPENDUID", IMAP_CODE_APPENDUID },
	};
	const struct imap_value *first = imap_list_item(code, 0);

	if (!first)
		return IMAP_CODE_NONE;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (imap_value_is(first, codes[i].name))
			return codes[i].code;
	return IMAP_CODE_OTHER;
}

void imap_status_from_response(struct imap_status *st, const struct imap_response *r)
{
	switch (r->cond) {
	case IMAP_COND_OK:
		st->result = IMAP_R_OK;
		break;
	case IMAP_COND_NO:
		st->result = IMAP_R_NO;
		break;
	default:
		st->result = IMAP_R_BAD;
		break;
	}
	st->code = code_from(&r->code);
	imap_code_args(&r->code, st->code_args, sizeof(st->code_args));
	snprintf(st->text, sizeof(st->text), "%s", r->text ? r->text : "");
}

void imap_code_args(const struct imap_value *code, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 1; i < code->n && o + 1 < cap; i++) {
		const struct imap_value *v = &code->items[i];

		if (v->type != IV_ATOM && v->type != IV_NUMBER)
			break; /* only simple arguments are kept */
		o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", v->str);
	}
	if (o >= cap)
		out[0] = '\0'; /* cut short: better nothing than a wrong UID */
}

/* Protocol trace with control bytes escaped and long data cut short. */
static void trace_bytes(const struct imap_session *s, const char *dir, const char *p, size_t len)
{
	char out[400];
	size_t o = 0, i;

	if (!log_enabled(LOG_LVL_TRACE, LOG_CAT_IMAP))
		return;
	for (i = 0; i < len && o + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, c == '\n' ? "\\n" :
					      c == '\r' ? "\\r" : "\\x%02x", c);
	}
	out[o] = '\0';
	log_trace(LOG_CAT_IMAP, "[%s] %s %s%s", s->name, dir, out, i < len ? " ..." : "");
}

static void mark_broken(struct imap_session *s, enum imap_result r, const char *why)
{
	if (!s->broken && !atomic_load(&s->aborted))
		log_info(LOG_CAT_IMAP, "[%s] connection lost: %s", s->name, why);
	s->broken = true;
	s->broken_result = r;
	snprintf(s->broken_text, sizeof(s->broken_text), "%s", why);
	imap_session_set_state(s, IMAP_ST_DISCONNECTED);
	/* Hang up now, not when the session is next replaced: a server whose
	 * stream we stopped trusting gets no more reads, and it (and the
	 * kernel) learn at once that the connection is gone. */
	if (s->net)
		net_abort(s->net);
}

/* line + CRLF appended to out, traced as sent (credentials never shown). */
static int frame_line(struct imap_session *s, const char *line, size_t len, bool secret,
		      struct buf *out)
{
	if (secret)
		log_trace(LOG_CAT_IMAP, "[%s] C: <%zu bytes of credentials, not shown>", s->name, len);
	else
		trace_bytes(s, "C:", line, len);
	return buf_append(out, line, len) < 0 || buf_append(out, "\r\n", 2) < 0 ? -1 : 0;
}

static enum imap_result send_buf(struct imap_session *s, struct buf *b)
{
	enum net_err e = net_write_all(s->net, b->data, b->len, imap_session_wait_ms(s));

	buf_free(b);
	if (e != NET_OK) {
		mark_broken(s, e == NET_ERR_TIMEOUT ? IMAP_R_TIMEOUT : IMAP_R_LOST, net_err_name(e));
		return s->broken_result;
	}
	return IMAP_R_OK;
}

enum imap_result imap_send_line(struct imap_session *s, const char *line, size_t len, bool secret)
{
	struct buf b;

	if (s->broken)
		return s->broken_result;
	buf_init(&b);
	if (frame_line(s, line, len, secret, &b) < 0) {
		buf_free(&b);
		return IMAP_R_NOMEM;
	}
	return send_buf(s, &b);
}

static void parse_capability_list(struct imap_session *s, const struct imap_value *items,
				  size_t first);

long long imap_session_rtt_us(const struct imap_session *s) { return s->rtt_us; }

bool imap_session_set_aside(struct imap_session *s, const char *tag, enum imap_aside kind)
{
	for (size_t i = 0; i < sizeof(s->aside) / sizeof(s->aside[0]); i++)
		if (s->aside[i].kind == ASIDE_NONE) {
			snprintf(s->aside[i].tag, sizeof(s->aside[i].tag), "%s", tag);
			s->aside[i].kind = kind;
			return true;
		}
	return false;
}

/* The answer to a command set aside: a refused ENABLE means no QRESYNC. */
static void land_aside(struct imap_session *s, const struct imap_response *r,
		       enum imap_aside kind)
{
	if (r->cond == IMAP_COND_OK)
		return;
	if (kind == ASIDE_ENABLE)
		s->qresync = false;
	log_info(LOG_CAT_IMAP, "[%s] %s answered: %s", s->name,
		 kind == ASIDE_IDLE ? "IDLE" : "ENABLE", r->text ? r->text : "");
}

/* What a tagged response tells the session itself: the capabilities in a
 * login's OK (RFC 9051 §7.1), and the answers set aside.  True when that
 * is all the response was for: no caller waits for it. */
static bool take_tagged_aside(struct imap_session *s, const struct imap_response *r)
{
	if (r->kind != IMAP_RESP_TAGGED)
		return false;
	if (r->cond == IMAP_COND_OK && imap_value_is(imap_list_item(&r->code, 0), "CAPABILITY"))
		parse_capability_list(s, &r->code, 1);
	for (size_t i = 0; i < sizeof(s->aside) / sizeof(s->aside[0]); i++)
		if (s->aside[i].kind != ASIDE_NONE && strcmp(r->tag, s->aside[i].tag) == 0) {
			land_aside(s, r, s->aside[i].kind);
			s->aside[i].kind = ASIDE_NONE;
			return true;
		}
	return false;
}

enum imap_result imap_read_response(struct imap_session *s, struct imap_response **out)
{
	return imap_read_response_within(s, out, -1, false);
}

bool imap_session_buffered(const struct imap_session *s)
{
	return s->rlen > s->roff || !imap_parser_empty(s->parser);
}

enum imap_result imap_read_response_within(struct imap_session *s, struct imap_response **out,
					   int timeout_ms, bool quiet_ok)
{
	enum imap_parse_result pr;
	enum net_err e;
	size_t used;
	ssize_t n;

	*out = NULL;
	for (;;) {
		if (s->broken)
			return s->broken_result;
		if (s->rlen > s->roff) {
			pr = imap_parser_feed(s->parser, s->rbuf + s->roff, s->rlen - s->roff, &used);
			s->roff += used;
			if (pr == IMAP_PARSE_RESPONSE) {
				*out = imap_parser_take(s->parser);
				if (!take_tagged_aside(s, *out))
					return IMAP_R_OK;
				imap_response_free(*out);
				*out = NULL;
				continue;
			}
			if (pr == IMAP_PARSE_ERROR) {
				char why[200];

				snprintf(why, sizeof(why), "malformed response from server: %s",
					 imap_parser_error(s->parser));
				mark_broken(s, IMAP_R_PROTOCOL, why);
				return IMAP_R_PROTOCOL;
			}
			continue;
		}
		s->rlen = s->roff = 0;
		n = net_read(s->net, s->rbuf, sizeof(s->rbuf),
			     timeout_ms < 0 ? imap_session_wait_ms(s) : timeout_ms, &e);
		/* Silence between responses is normal while idling; silence in
		 * the middle of one is a dead link. */
		if (n < 0 && e == NET_ERR_TIMEOUT && quiet_ok && imap_parser_empty(s->parser))
			return IMAP_R_TIMEOUT;
		if (n < 0) {
			mark_broken(s, e == NET_ERR_TIMEOUT ? IMAP_R_TIMEOUT : IMAP_R_LOST,
				    net_err_name(e));
			return s->broken_result;
		}
		trace_bytes(s, "S:", s->rbuf, (size_t)n);
		s->rlen = (size_t)n;
		atomic_store(&s->last_rx_ms, clock_ms());
	}
}

static void parse_capability_list(struct imap_session *s, const struct imap_value *items,
				  size_t first)
{
	static const struct { const char *name; unsigned bit; } caps[] = {
		{ "IMAP4rev1", CAP_IMAP4REV1 }, { "IMAP4rev2", CAP_IMAP4REV2 },
		{ "STARTTLS", CAP_STARTTLS }, { "LOGINDISABLED", CAP_LOGINDISABLED },
		{ "SASL-IR", CAP_SASL_IR }, { "LITERAL+", CAP_LITERALPLUS },
		{ "LITERAL-", CAP_LITERALMINUS }, { "IDLE", CAP_IDLE }, { "UIDPLUS", CAP_UIDPLUS },
		{ "MOVE", CAP_MOVE }, { "CONDSTORE", CAP_CONDSTORE }, { "QRESYNC", CAP_QRESYNC },
		{ "ENABLE", CAP_ENABLE }, { "SPECIAL-USE", CAP_SPECIAL_USE },
		{ "NAMESPACE", CAP_NAMESPACE }, { "AUTH=PLAIN", CAP_AUTH_PLAIN },
		{ "AUTH=LOGIN", CAP_AUTH_LOGIN }, { "AUTH=XOAUTH2", CAP_AUTH_XOAUTH2 },
		{ "AUTH=OAUTHBEARER", CAP_AUTH_OAUTHBEARER }, { "UNSELECT", CAP_UNSELECT },
		{ "ESEARCH", CAP_ESEARCH }, { "COMPRESS=DEFLATE", CAP_COMPRESS_DEFLATE },
		{ "NOTIFY", CAP_NOTIFY }, { "BINARY", CAP_BINARY }, { "X-GM-EXT-1", CAP_XGM_EXT1 },
		{ "LIST-STATUS", CAP_LIST_STATUS },
	};
	unsigned bits = 0;

	for (size_t i = first; i < items->n; i++)
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
			if (imap_value_is(&items->items[i], caps[k].name))
				bits |= caps[k].bit;
	s->caps = bits;
	s->have_caps = true;
	log_debug(LOG_CAT_IMAP, "[%s] capabilities 0x%x", s->name, bits);
}

/* Responses every command may see: capabilities, BYE, alerts. */
static bool session_untagged(struct imap_session *s, struct imap_response *r)
{
	const struct imap_value *first;

	if (r->cond == IMAP_COND_BYE) {
		/* The server is closing; whatever is in flight fails. */
		if (s->state == IMAP_ST_LOGOUT)
			return true; /* the normal answer to LOGOUT */
		log_info(LOG_CAT_IMAP, "[%s] server said BYE: %s", s->name, r->text);
		snprintf(s->bye_text, sizeof(s->bye_text), "%s", r->text);
		mark_broken(s, IMAP_R_LOST, "server closed the session (BYE)");
		return true;
	}
	if (r->cond != IMAP_COND_NONE) {
		first = imap_list_item(&r->code, 0);
		if (imap_value_is(first, "CAPABILITY"))
			parse_capability_list(s, &r->code, 1);
		else if (imap_value_is(first, "ALERT"))
			log_warn(LOG_CAT_IMAP, "[%s] server alert: %s", s->name, r->text);
		return r->cond == IMAP_COND_OK || r->cond == IMAP_COND_NO || r->cond == IMAP_COND_BAD;
	}
	first = imap_list_item(&r->data, 0);
	if (imap_value_is(first, "CAPABILITY")) {
		parse_capability_list(s, &r->data, 1);
		return true;
	}
	if (imap_value_is(first, "ENABLED")) {
		/* RFC 5161 §3.2: what the server turned on, and only that. */
		s->qresync = false;
		for (size_t i = 1; i < r->data.n; i++)
			if (imap_value_is(&r->data.items[i], "QRESYNC"))
				s->qresync = true;
		return true;
	}
	return false;
}

void imap_session_dispatch(struct imap_session *s, struct imap_response *r, imap_untagged_fn fn,
			   void *ctx)
{
	if (fn && fn(s, r, ctx))
		return;
	if (s->untagged_fn && s->untagged_fn(s, r, s->untagged_ctx))
		return;
	if (!session_untagged(s, r) && r->data.n)
		log_debug(LOG_CAT_IMAP, "[%s] ignored untagged %s", s->name,
			  r->data.items[r->data.n > 1 ? 1 : 0].str);
}

/* Bytes onto the connection, untraced. */
static enum imap_result write_raw(struct imap_session *s, const char *data, size_t len)
{
	enum net_err e;

	if (s->broken)
		return s->broken_result;
	e = net_write_all(s->net, data, len, imap_session_wait_ms(s));
	if (e != NET_OK) {
		mark_broken(s, e == NET_ERR_TIMEOUT ? IMAP_R_TIMEOUT : IMAP_R_LOST, net_err_name(e));
		return s->broken_result;
	}
	return IMAP_R_OK;
}

enum imap_result imap_send_bytes(struct imap_session *s, const char *data, size_t len)
{
	log_trace(LOG_CAT_IMAP, "[%s] C: <literal of %zu bytes>", s->name, len);
	/* Sent from the caller's buffer: a message may be hundreds of MB. */
	return write_raw(s, data, len);
}

enum imap_result imap_send_literal(struct imap_session *s, const char *data, size_t len)
{
	enum imap_result rr = imap_send_bytes(s, data, len);

	return rr == IMAP_R_OK ? write_raw(s, "\r\n", 2) : rr;
}

/* "<tag> <line>" framed into out, under the next tag. */
static int frame_command(struct imap_session *s, const char *line, bool secret, char *tag,
			 size_t taglen, struct buf *out)
{
	struct buf b;
	int r;

	snprintf(tag, taglen, "A%u", ++s->tag_counter);
	buf_init(&b);
	if (secret) {
		/* Keep the verb visible in the trace, never the arguments
		 * (but AUTHENTICATE's mechanism: it is no secret). */
		const char *sp = strchr(line, ' ');
		size_t verb = sp ? (size_t)(sp - line) : strlen(line);

		if (sp && strncmp(line, "AUTHENTICATE ", 13) == 0)
			verb += strcspn(sp + 1, " ") + 1;

		log_trace(LOG_CAT_IMAP, "[%s] C: %s %.*s <credentials not shown>", s->name, tag,
			  (int)verb, line);
	}
	r = buf_printf(&b, "%s %s", tag, line) < 0 ? -1 : frame_line(s, b.data, b.len, secret, out);
	buf_free(&b);
	return r;
}

enum imap_result imap_start_command(struct imap_session *s, const char *line, bool secret,
				    char *tag, size_t taglen)
{
	struct buf out;

	if (s->broken)
		return s->broken_result;
	buf_init(&out);
	if (frame_command(s, line, secret, tag, taglen, &out) < 0) {
		buf_free(&out);
		return IMAP_R_NOMEM;
	}
	return send_buf(s, &out);
}

/* In flight: a command and the number of its tag. */
struct flight {
	struct imap_cmd *cmd;
	unsigned tag;
	long long sent_us;
};

#define RUN_WINDOW 64

/* Commands in flight at most: the feed's own window, within RUN_WINDOW. */
static size_t feed_window(const struct imap_feed *feed)
{
	return feed->window && feed->window < RUN_WINDOW ? feed->window : RUN_WINDOW;
}

/* Ask the feed for commands until the window is full, and send them in
 * one write: one TLS record and one wake-up of the server for a whole
 * half window of a pipelined fetch, not one each. */
static enum imap_result send_more(struct imap_session *s, const struct imap_feed *feed,
				  struct flight *fl, size_t *nfl)
{
	size_t first = *nfl;
	struct imap_cmd *cmd;
	struct buf out;
	char tag[16];

	buf_init(&out);
	while (*nfl < feed_window(feed) && (cmd = feed->next(feed->ctx))) {
		fl[*nfl].cmd = cmd;
		if (frame_command(s, cmd->line, cmd->secret, tag, sizeof(tag), &out) < 0) {
			imap_status_set(&cmd->st, IMAP_R_NOMEM, "out of memory");
			feed->done(feed->ctx, cmd);
			break;
		}
		fl[*nfl].sent_us = clock_us();
		fl[(*nfl)++].tag = s->tag_counter;
	}
	if (*nfl == first) {
		buf_free(&out);
		return IMAP_R_OK;
	}
	return send_buf(s, &out);
}

/* The command a tagged response answers, taken out of the window.  Its
 * time in flight bounds the round trip from above: the shortest one seen
 * (a NOOP, an EXAMINE) is the connection's round trip. */
static struct imap_cmd *landed(struct imap_session *s, struct flight *fl, size_t *nfl,
			       const char *tag)
{
	char *end;
	unsigned long v;

	if (!tag || tag[0] != 'A' || !isdigit((unsigned char)tag[1]))
		return NULL;
	v = strtoul(tag + 1, &end, 10);
	if (*end)
		return NULL;
	for (size_t i = 0; i < *nfl; i++)
		if (fl[i].tag == v) {
			struct imap_cmd *cmd = fl[i].cmd;
			long long took = clock_us() - fl[i].sent_us;

			if (s->rtt_us <= 0 || took < s->rtt_us)
				s->rtt_us = took > 0 ? took : 1;
			fl[i] = fl[--*nfl];
			return cmd;
		}
	return NULL;
}

/* A command the broken connection left without an answer. */
static void set_unanswered(struct imap_session *s, struct imap_cmd *cmd, enum imap_result rr)
{
	imap_status_set(&cmd->st, rr, "%s",
			s->broken_text[0] ? s->broken_text : imap_result_name(rr));
}

enum imap_result imap_session_refuse(struct imap_session *s, struct imap_response *r,
				     const char *why)
{
	log_err(LOG_CAT_IMAP, "[%s] %s: %s", s->name, why, r->tag ? r->tag : "+");
	imap_response_free(r);
	mark_broken(s, IMAP_R_PROTOCOL, why);
	return IMAP_R_PROTOCOL;
}

enum imap_result imap_run_feed(struct imap_session *s, const struct imap_feed *feed,
			       imap_untagged_fn fn, void *ctx)
{
	struct flight fl[RUN_WINDOW];
	struct imap_response *r;
	struct imap_cmd *cmd;
	enum imap_result rr = IMAP_R_OK;
	size_t nfl = 0;

	for (;;) {
		/* Refilled by half windows: the server never runs dry. */
		if (nfl <= feed_window(feed) / 2 && !s->broken &&
		    (rr = send_more(s, feed, fl, &nfl)) != IMAP_R_OK)
			break;
		if (s->broken) {
			rr = s->broken_result;
			break;
		}
		if (nfl == 0)
			return IMAP_R_OK;
		if ((rr = imap_read_response(s, &r)) != IMAP_R_OK)
			break;
		if (r->kind == IMAP_RESP_TAGGED) {
			if (!(cmd = landed(s, fl, &nfl, r->tag))) {
				rr = imap_session_refuse(s, r, "response to a tag never sent");
				break;
			}
			imap_status_from_response(&cmd->st, r);
			feed->done(feed->ctx, cmd);
		} else if (r->kind == IMAP_RESP_CONTINUE) {
			rr = imap_session_refuse(s, r, "unexpected continuation request");
			break;
		} else {
			imap_session_dispatch(s, r, fn, ctx);
		}
		imap_response_free(r);
	}
	for (size_t i = 0; i < nfl; i++) {
		set_unanswered(s, fl[i].cmd, rr);
		feed->done(feed->ctx, fl[i].cmd);
	}
	return rr;
}

/* imap_run as a feed over its array. */
struct array_feed {
	struct imap_cmd *cmds;
	size_t n, next;
};

static struct imap_cmd *array_next(void *ctx)
{
	struct array_feed *af = ctx;

	return af->next < af->n ? &af->cmds[af->next++] : NULL;
}

static void array_done(void *ctx, struct imap_cmd *cmd)
{
	(void)ctx;
	(void)cmd; /* the status is in the caller's array already */
}

enum imap_result imap_run(struct imap_session *s, struct imap_cmd *cmds, size_t n,
			  imap_untagged_fn fn, void *ctx)
{
	struct array_feed af = { cmds, n, 0 };
	struct imap_feed feed = { array_next, array_done, &af, 0 };
	enum imap_result rr;

	/* Every command taken got its status (answer, or the failure); only
	 * those never sent are left, and only when the run broke off. */
	rr = imap_run_feed(s, &feed, fn, ctx);
	for (size_t i = af.next; rr != IMAP_R_OK && i < n; i++)
		set_unanswered(s, &cmds[i], rr);
	return rr;
}

enum imap_result imap_simple(struct imap_session *s, struct imap_status *st, imap_untagged_fn fn,
			     void *ctx, const char *fmt, ...)
{
	struct imap_cmd cmd = { 0 };
	struct buf b;
	enum imap_result rr;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	if (buf_vprintf(&b, fmt, ap) < 0) {
		va_end(ap);
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return IMAP_R_NOMEM;
	}
	va_end(ap);
	cmd.line = b.data;
	rr = imap_run(s, &cmd, 1, fn, ctx);
	*st = cmd.st;
	buf_free(&b);
	return rr != IMAP_R_OK ? rr : st->result;
}

int imap_quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (cap < 3)
		return -1;
	out[o++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		/* QUOTED-CHAR is 7-bit TEXT-CHAR (RFC 3501 §9). */
		if (c < 0x20 || c >= 0x7f)
			return -1;
		if (o + 4 >= cap)
			return -1;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}
