/* IMAP response parser: RFC 3501 §7 and §9 (formal syntax), RFC 9051,
 * RFC 7888 (LITERAL+/LITERAL- literal forms), RFC 3516 (literal8).
 *
 * The parser never touches a socket: the connection feeds it whatever
 * bytes arrived, in chunks of any size, and takes complete responses out.
 * Nothing a server sends is trusted: lines, literals, nesting depth and
 * numbers are bounded, and a violation makes the stream untrustworthy
 * (IMAP_PARSE_ERROR), after which the caller must drop the connection. */
#ifndef INBOXFS_IMAP_PARSER_H
#define INBOXFS_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_vtype { IV_ATOM, IV_NUMBER, IV_STRING, IV_NIL, IV_LIST };

struct imap_value {
	enum imap_vtype type;
	/* ATOM, NUMBER, STRING: the bytes (NUL-terminated for convenience,
	 * but a literal may hold NULs itself: use len). */
	const char *str;
	size_t len;
	uint64_t num;            /* NUMBER */
	struct imap_value *items; /* LIST */
	size_t n;                 /* LIST: number of items */
	int blob;                 /* STRING from a literal: index of its blob, else -1 */
};

enum imap_resp_kind { IMAP_RESP_TAGGED, IMAP_RESP_UNTAGGED, IMAP_RESP_CONTINUE };
enum imap_cond { IMAP_COND_NONE, IMAP_COND_OK, IMAP_COND_NO, IMAP_COND_BAD,
		 IMAP_COND_BYE, IMAP_COND_PREAUTH };

struct imap_response {
	enum imap_resp_kind kind;
	const char *tag;          /* TAGGED only */
	enum imap_cond cond;      /* status responses; NONE for untagged data */
	struct imap_value code;   /* LIST: "[CODE args]" items; n == 0 when absent */
	const char *text;         /* human text of a status, or continuation text */
	struct imap_value data;   /* LIST: untagged data items ("5" "EXISTS") */
	struct imap_response_priv *priv;
};

struct imap_parser_limits {
	size_t max_line;      /* bytes of one line, CRLF excluded */
	size_t max_literal;   /* bytes of all literals in one response */
	unsigned max_depth;   /* nesting of parenthesised lists */
	unsigned max_items;   /* values in one response */
};

enum imap_parse_result { IMAP_PARSE_NEED_MORE, IMAP_PARSE_RESPONSE, IMAP_PARSE_ERROR };

struct imap_parser;

/* limits may be NULL for the defaults. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser *p);
void imap_parser_default_limits(struct imap_parser_limits *l);

/* Feed up to len bytes.  *used is set to how many were consumed.  On
 * IMAP_PARSE_RESPONSE take the response before feeding the rest. */
enum imap_parse_result imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *used);
struct imap_response *imap_parser_take(struct imap_parser *p);
const char *imap_parser_error(const struct imap_parser *p);
/* True when no partial response is buffered. */
bool imap_parser_empty(const struct imap_parser *p);
/* Bytes of the response being assembled (for progress and memory caps). */
size_t imap_parser_pending(const struct imap_parser *p);

void imap_response_free(struct imap_response *r);

/* Take ownership of a string's bytes (malloc'd, len bytes + a NUL).
 * Literals are handed over without a copy. */
char *imap_value_steal(struct imap_response *r, const struct imap_value *v, size_t *len);

/* Helpers for consumers. */
bool imap_value_is(const struct imap_value *v, const char *atom); /* case-insensitive atom */
bool imap_value_is_string(const struct imap_value *v); /* atom, number or string: usable as astring */
/* A number in 1..2^32-1 (nz-number as used for UIDs, sequence numbers, counts > 0). */
bool imap_value_u32(const struct imap_value *v, uint32_t *out);
const struct imap_value *imap_list_item(const struct imap_value *list, size_t i);
const char *imap_cond_name(enum imap_cond c);

#endif
