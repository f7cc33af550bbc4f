/* IDLE: RFC 2177; RFC 9051 §6.3.13. */
#include "imap/idle.h"

#include <stdio.h>
#include <string.h>

#include "imap/session_priv.h"

enum imap_result imap_idle_begin(struct imap_session *s, char *tag, size_t taglen,
				 struct imap_status *st)
{
	struct imap_response *r;
	enum imap_result rr = imap_start_command(s, "IDLE", false, tag, taglen);

	while (rr == IMAP_R_OK) {
		rr = imap_read_response(s, &r);
		if (rr != IMAP_R_OK)
			break;
		if (r->kind == IMAP_RESP_CONTINUE) {
			imap_response_free(r);
			return IMAP_R_OK;
		}
		if (r->kind == IMAP_RESP_TAGGED) {
			/* Refused (or a tag we never sent): no IDLE on this session. */
			bool ours = strcmp(r->tag, tag) == 0;

			imap_status_from_response(st, r);
			imap_response_free(r);
			if (!ours)
				imap_status_set(st, IMAP_R_PROTOCOL, "response to a tag never sent");
			return st->result == IMAP_R_OK ? IMAP_R_PROTOCOL : st->result;
		}
		imap_session_dispatch(s, r, NULL, NULL);
		imap_response_free(r);
	}
	imap_status_set(st, rr, "%s", s->broken_text);
	return rr;
}

/* One response read while idling, dispatched. */
static enum imap_result take_one(struct imap_session *s, int timeout_ms)
{
	struct imap_response *r;
	enum imap_result rr = imap_read_response_within(s, &r, timeout_ms, true);

	if (rr != IMAP_R_OK)
		return rr;
	if (r->kind != IMAP_RESP_UNTAGGED) {
		/* Only untagged data may come while idling. */
		imap_response_free(r);
		s->broken = true;
		s->broken_result = IMAP_R_PROTOCOL;
		snprintf(s->broken_text, sizeof(s->broken_text), "unexpected response during IDLE");
		imap_session_set_state(s, IMAP_ST_DISCONNECTED);
		return IMAP_R_PROTOCOL;
	}
	imap_session_dispatch(s, r, NULL, NULL);
	imap_response_free(r);
	return s->broken ? s->broken_result : IMAP_R_OK;
}

enum imap_result imap_idle_wait(struct imap_session *s, int timeout_ms)
{
	enum imap_result rr = take_one(s, timeout_ms);

	/* And all that came with it: a batch (NOTIFY tells of a rename in
	 * several lines) is seen whole before the caller acts on it. */
	while (rr == IMAP_R_OK && imap_session_buffered(s))
		rr = take_one(s, -1);
	return rr;
}

enum imap_result imap_idle_end(struct imap_session *s, const char *tag, struct imap_status *st)
{
	struct imap_response *r;
	enum imap_result rr = imap_send_line(s, "DONE", 4, false);

	while (rr == IMAP_R_OK) {
		rr = imap_read_response(s, &r);
		if (rr != IMAP_R_OK)
			break;
		if (r->kind == IMAP_RESP_TAGGED) {
			bool ours = strcmp(r->tag, tag) == 0;

			imap_status_from_response(st, r);
			imap_response_free(r);
			if (!ours) {
				imap_status_set(st, IMAP_R_PROTOCOL, "response to a tag never sent");
				return IMAP_R_PROTOCOL;
			}
			return st->result;
		}
		imap_session_dispatch(s, r, NULL, NULL);
		imap_response_free(r);
	}
	imap_status_set(st, rr, "%s", s->broken_text);
	return rr;
}

enum imap_result imap_idle_done(struct imap_session *s, const char *tag)
{
	struct imap_status st;

	if (!imap_session_set_aside(s, tag, ASIDE_IDLE))
		return imap_idle_end(s, tag, &st);
	return imap_send_line(s, "DONE", 4, false);
}
