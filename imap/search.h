/* UID SEARCH with the user's criteria (RFC 3501 §6.4.4, RFC 4731
 * ESEARCH).  A search is a list of arguments: keys that inboxfs wrote
 * itself (atoms, numbers, dates) and values someone typed, which are only
 * ever sent as quoted strings or literals, never spliced into the line. */
#ifndef INBOXFS_IMAP_SEARCH_H
#define INBOXFS_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/seqmap.h"
#include "imap/session.h"

/* One argument of a search. */
struct imap_search_arg {
	bool value;   /* typed by someone: sent quoted or as a literal */
	char *text;   /* NUL-terminated (NUL-free), malloc'd */
	size_t len;
};

struct imap_search {
	struct imap_search_arg *args;
	size_t n, cap;
	bool utf8;    /* a value has 8-bit bytes: CHARSET UTF-8 */
	bool gmail;   /* uses X-GM-RAW: only where X-GM-EXT-1 is offered */
};

/* Append a key we wrote (value false) or a typed value (true), copied.
 * 0, or -1 out of memory. */
int imap_search_add(struct imap_search *q, bool value, const char *text, size_t len);
/* Free the arguments (q itself is the caller's) and zero q. */
void imap_search_free(struct imap_search *q);
/* The arguments as they would be sent, literals shown as {N}"text"
 * (for logs and tests): into out, cap bytes, cut when longer. */
void imap_search_describe(const struct imap_search *q, char *out, size_t cap);

/* UID SEARCH [RETURN (ALL)] [CHARSET UTF-8] <q> in the selected mailbox:
 * the matching UIDs, ascending, without repeats, malloc'd into *uids (NULL
 * when none).  RETURN (ALL) where ESEARCH is offered.  A value that cannot
 * be a quoted string (8-bit, long) goes as a literal: LITERAL+ where
 * offered, else synchronising (a refusal then ends the command).
 * IMAP_R_UNSUPPORTED for a search that needs a capability the server lacks,
 * before anything is sent. */
enum imap_result imap_uid_search(struct imap_session *s, const struct imap_search *q,
				 uint32_t **uids, size_t *n, struct imap_status *st);

/* Every UID of the selected mailbox, ascending, into out (cleared first):
 * UID SEARCH RETURN (ALL) ALL where ESEARCH is offered (RFC 4731: a
 * compact set), else UID SEARCH ALL. */
enum imap_result imap_uid_search_all(struct imap_session *s, struct imap_seqmap *out,
				     struct imap_status *st);
/* "1:3,7" -> {1,2,3,7} (malloc'd, as given, at most 16 Mi UIDs).  0/-1. */
int imap_uid_set_expand(const char *set, uint32_t **uids, size_t *n);

#endif
