/* Fetching one message part by part (RFC 3501 §6.4.5, RFC 3516 BINARY):
 * its structure and header block, then one section at a time, so that a
 * reader of one attachment never downloads the whole message.  Every
 * fetch uses .PEEK: reading a part never sets \Seen. */
#ifndef INBOXFS_IMAP_FETCH_PARTS_H
#define INBOXFS_IMAP_FETCH_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/bodystructure.h"
#include "imap/session.h"

/* What UID FETCH uid (UID BODYSTRUCTURE BODY.PEEK[HEADER]) brought. */
struct imap_structure {
	struct imap_bodystructure bs;
	bool bs_ok;         /* false: missing or malformed, bs is empty */
	char *header;       /* the header block, exact bytes (malloc'd), NULL if not sent */
	size_t hlen;
};

/* Fetch the structure and header of message uid in the selected mailbox.
 * IMAP_R_GONE when the server sent nothing for uid.  Free out with
 * imap_structure_free, also on failure. */
enum imap_result imap_fetch_structure(struct imap_session *s, uint32_t uid,
				      struct imap_structure *out, struct imap_status *st);

/* One section asked for with the structure, in the same command: what a
 * reader of a part named by its path wants next, at no extra round trip. */
struct imap_section_want {
	const char *section;  /* passes imap_section_valid */
	bool binary;          /* BINARY.PEEK (decoded by the server), else BODY.PEEK */
	size_t limit;         /* at most this many of its first bytes */
	char *data;           /* out: malloc'd, NULL when the server sent none */
	size_t len;
};

/* imap_fetch_structure, with the first w->limit bytes of w->section in
 * the same UID FETCH.  A server that refuses the section (RFC 3516
 * [UNKNOWN-CTE], no such part) refuses the whole command: the caller asks
 * again without.  Free w->data also on failure. */
enum imap_result imap_fetch_structure_with(struct imap_session *s, uint32_t uid,
					   struct imap_section_want *w,
					   struct imap_structure *out, struct imap_status *st);
void imap_structure_free(struct imap_structure *out);

/* One section's bytes (malloc'd into *data): BINARY.PEEK[section], which
 * the server decodes, when binary; else BODY.PEEK[section], as encoded.
 * IMAP_R_GONE when the server sent nothing for uid; IMAP_R_NO when it
 * refused (a BINARY of an encoding it does not know: RFC 3516
 * [UNKNOWN-CTE]).  section must pass imap_section_valid. */
enum imap_result imap_fetch_section(struct imap_session *s, uint32_t uid, const char *section,
				    bool binary, char **data, size_t *len, struct imap_status *st);

/* Sections asked for in one imap_fetch_binary_sizes (a command line of
 * a few kilobytes). */
#define IMAP_SIZES_MAX 128

/* UID FETCH uid (UID BINARY.SIZE[s] ...) for n <= IMAP_SIZES_MAX sections
 * (each passing imap_section_valid): sizes[i] the decoded size of
 * sections[i], or -1 when the server gave none.  IMAP_R_NO when it refused
 * (one section of an encoding it does not know is enough). */
enum imap_result imap_fetch_binary_sizes(struct imap_session *s, uint32_t uid,
					 const char *const *sections, size_t n, int64_t *sizes,
					 struct imap_status *st);

#endif
