/* STATUS of many mailboxes in one round trip: RFC 3501 §6.3.10 (STATUS),
 * RFC 7162 §3.1.2.2 (HIGHESTMODSEQ in STATUS, with CONDSTORE), RFC 5819
 * (LIST-STATUS: all of them in one command).  For
 * watching folders without a connection each: a poll asks for all. */
#ifndef INBOXFS_IMAP_STATUS_H
#define INBOXFS_IMAP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/session.h"

/* What STATUS said of one mailbox. */
struct imap_mbox_status {
	bool answered;             /* the server said something of it */
	uint32_t messages, uidnext, uidvalidity;
	uint64_t highestmodseq;    /* 0: not offered (no CONDSTORE) */
};

/* STATUS name (MESSAGES UIDNEXT UIDVALIDITY [HIGHESTMODSEQ]) for each of
 * names (n of them, as the server spells them), pipelined, or in one
 * LIST-STATUS command (RFC 5819) for all where offered; out[i] is
 * names[i]'s (zeroed first: a mailbox the server refused stays
 * unanswered).  IMAP_R_OK when the connection survived, whatever each
 * command's own answer; a name that cannot be quoted is left out. */
enum imap_result imap_status_many(struct imap_session *s, const char *const *names, size_t n,
				  struct imap_mbox_status *out, struct imap_status *st);
/* An untagged STATUS of one of names (n) into that name's out[i]: the
 * items it carries replace those values, the others stay (NOTIFY's
 * events, RFC 5465 §5.2, omit what did not change).  Returns its index,
 * n when it names none of them, -1 when r is not a STATUS. */
long imap_status_take(const struct imap_response *r, const char *const *names, size_t n,
		      struct imap_mbox_status *out);

#endif
