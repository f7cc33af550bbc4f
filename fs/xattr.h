/* Message flags and facts as extended attributes:
 *   user.imap.flags         "\Seen \Flagged $Label1" (read-write: UID STORE FLAGS)
 *   user.imap.uid           read-only
 *   user.imap.internaldate  read-only, "25-Nov-2026 10:00:00 +0000" (UTC)
 *   user.imap.modseq        read-only, only where the server has CONDSTORE
 * Folders and the generated files have none.  Unknown user.* names:
 * ENODATA to read or remove, ENOTSUP to set, as Linux file systems answer;
 * other namespaces (security.*, system.*, trusted.*) are not supported. */
#ifndef INBOXFS_FS_XATTR_H
#define INBOXFS_FS_XATTR_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

void xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	       int flags);
void xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name);
/* The value of user.imap.flags as typed by a user: the flags joined by
 * single spaces, system flags in their canonical spelling.  -1 when a flag
 * cannot be sent (not an atom, \Recent, \*, or too long). */
int xattr_normalise_flags(const char *value, size_t len, char *out, size_t cap);

#endif
