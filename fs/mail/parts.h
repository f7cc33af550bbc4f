/* The parts of one message as files (FOLDER/.parts/UID/): its header
 * block, some header fields, its main text and one file per leaf part.
 * Built from the server's BODYSTRUCTURE and header block, or from the
 * whole message parsed here (GMime) when the server's structure is
 * unusable or the body is at hand anyway.  No FUSE. */
#ifndef INBOXFS_FS_MAIL_PARTS_H
#define INBOXFS_FS_MAIL_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/bodystructure.h"

enum parts_kind {
	PARTS_HEADER,  /* "header": the raw header block */
	PARTS_FIELD,   /* "subject", "from", ...: one decoded line */
	PARTS_TEXT,    /* "text": the main text, decoded, in UTF-8 */
	PARTS_LEAF,    /* "<section>-<name>": a part's decoded bytes */
};

struct parts_entry {
	char *name;          /* a safe file name (parts_name.h) */
	enum parts_kind kind;
	char *section;       /* TEXT, LEAF: the IMAP section ("4.2") */
	char encoding[40];   /* TEXT, LEAF: Content-Transfer-Encoding, lower case */
	char charset[40];    /* TEXT: what to convert from */
	bool message;        /* LEAF: an attached message: its exact bytes */
	uint64_t size;       /* exact once size_exact, else an estimate */
	bool size_exact;
	bool size_told;       /* size is the server's BINARY.SIZE: not asked again */
	char *value;         /* FIELD: the line, "\n"-terminated */
};

struct parts_msg {
	char *header;        /* the header block with its ending blank line */
	size_t hlen;
	struct parts_entry *e;
	size_t n;
	bool local;          /* built from the whole message: read parts from it */
	bool truncated;      /* more parts than are shown */
	int refs;            /* parts_cache's */
};

/* The GMime library, once per process (any thread, any number of times). */
void parts_init(void);

/* Build pm from the server's structure and header block (taken: header
 * belongs to pm from now on, also on failure).  0, or -1 (out of memory). */
int parts_from_structure(struct parts_msg *pm, char *header, size_t hlen,
			 const struct imap_bodystructure *bs);
/* Build pm from the whole message (len bytes).  0, or -1. */
int parts_from_message(struct parts_msg *pm, const char *msg, size_t len);
void parts_msg_free(struct parts_msg *pm);

/* The entry named name, or -1. */
long parts_find(const struct parts_msg *pm, const char *name);

/* The bytes of entry e from what the server sent for its section (raw,
 * len bytes, malloc'd and taken: freed, or handed back as *out when there
 * is nothing to do): still transfer-encoded unless decoded, never so for
 * an attached message.  The text is converted to UTF-8 with LF line ends.
 * Into *out (malloc'd): 0, or -1. */
int parts_decode(const struct parts_entry *e, char *raw, size_t len, bool decoded, char **out,
		 size_t *outlen);
/* The bytes of entry e (TEXT or LEAF) from the whole message: 0, or -1
 * (no such section, or out of memory). */
int parts_extract(const struct parts_entry *e, const char *msg, size_t len, char **out,
		  size_t *outlen);

#endif
