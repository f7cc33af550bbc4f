/* BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) as a flat list of the
 * leaf parts a reader may want, each with its IMAP section number.  An
 * attached message (message/rfc822, message/global) is a leaf: its own
 * parts are not listed.  The structure comes from the server and is
 * hostile: nesting and the number of parts are bounded, and anything that
 * does not follow the grammar makes the whole structure unusable (the
 * caller then parses the message itself). */
#ifndef INBOXFS_IMAP_BODYSTRUCTURE_H
#define INBOXFS_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"

/* Nesting of multiparts we follow; deeper is refused (not cut). */
#define IMAP_BS_MAX_DEPTH 32
/* Leaf parts kept; a structure with more keeps the first ones. */
#define IMAP_BS_MAX_PARTS 16000
/* "1.12.3": at most IMAP_BS_MAX_DEPTH numbers below IMAP_BS_MAX_PARTS. */
#define IMAP_SECTION_MAX (IMAP_BS_MAX_DEPTH * 6 + 1)

struct imap_bodypart {
	char section[IMAP_SECTION_MAX]; /* "1", "4.2" */
	char type[40], subtype[80];     /* lower case; "" when the server gave NIL */
	char encoding[40];              /* Content-Transfer-Encoding, lower case */
	char charset[40];               /* the charset parameter, as given; "" when none */
	uint64_t octets;                /* encoded size */
	char *params;       /* Content-Type parameters as header text ("; a=b"), malloc'd */
	char *disposition;  /* "attachment; filename=x" as header text, or NULL */
};

struct imap_bodystructure {
	struct imap_bodypart *parts;
	size_t n;
	bool truncated;     /* more than IMAP_BS_MAX_PARTS: only the first are here */
};

/* Parse the value of a BODYSTRUCTURE item.  0 with out filled (free with
 * imap_bodystructure_free), or -1 (out empty) when it is malformed, too
 * deep, or memory ran out. */
int imap_bodystructure_parse(const struct imap_value *v, struct imap_bodystructure *out);
void imap_bodystructure_free(struct imap_bodystructure *bs);

/* A section number as we make them: digits and dots, no empty number. */
bool imap_section_valid(const char *section);

#endif
