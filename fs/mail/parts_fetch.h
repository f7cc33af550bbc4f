/* Getting a message's part list and a part's bytes (parts.h): from the
 * caches when the body is at hand, else from the server one section at a
 * time on the worker's session.  No FUSE: results are errno values
 * (fs/errno_map.c). */
#ifndef INBOXFS_FS_MAIL_PARTS_FETCH_H
#define INBOXFS_FS_MAIL_PARTS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/parts.h"

struct account;
struct folder;

/* Which message: folder f (in a->index), its UID and inode. */
struct parts_ref {
	struct account *a;
	struct folder *f;
	uint32_t uid;
	uint64_t ino;
	long long deadline;  /* the call's (account_deadline) */
	const char *file;    /* the file a lookup wants, NULL: none in particular */
};

/* The part list of r's message, pinned (parts_cache_release): kept, else
 * parsed from the body when it is cached, else BODYSTRUCTURE and the
 * header block from the server (with, in the same command, the first
 * bytes of the section r->file names, kept for its open: a path to a part
 * costs one round trip), else (a structure the server gets wrong
 * or cannot give) the whole body parsed here.  0 or an errno.  Takes
 * session_lock and index_lock itself: call with neither. */
int parts_load(const struct parts_ref *r, struct parts_msg **out);

/* The bytes of entry i of pm (r's list), malloc'd into *data: from the
 * body when it is at hand, else its section from the server (BINARY where
 * offered).  0 or an errno.  Locks as parts_load. */
int parts_read(const struct parts_ref *r, struct parts_msg *pm, size_t i, char **data,
	       size_t *len);

/* Where the server offers BINARY.SIZE (RFC 3516), the decoded sizes of
 * pm's parts that are estimates (at most IMAP_SIZES_MAX of them, one
 * command): for a listing (ls -l) to show them.  Still estimates (a read
 * settles them); asked once per part, a failure leaves the old ones.
 * Locks as parts_load. */
void parts_exact_sizes(const struct parts_ref *r, struct parts_msg *pm);

#endif
