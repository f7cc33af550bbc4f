/* A message's part list (parts.h) as bytes, for the disk cache: what
 * BODYSTRUCTURE and the header block gave, so a remount fetches neither
 * again.  Unpacking checks every length and name: a file that does not
 * add up is refused, never half-used.  No FUSE. */
#ifndef INBOXFS_FS_MAIL_PARTS_STORE_H
#define INBOXFS_FS_MAIL_PARTS_STORE_H

#include <stddef.h>

#include "fs/mail/parts.h"

/* pm's bytes into *out (malloc'd): 0, or -1 (out of memory). */
int parts_pack(const struct parts_msg *pm, char **out, size_t *len);
/* pm (zeroed by the caller) from len bytes made by parts_pack: 0, or -1
 * (malformed or out of memory; pm left empty). */
int parts_unpack(struct parts_msg *pm, const char *buf, size_t len);

#endif
