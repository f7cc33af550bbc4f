/* Names the kernel keeps for messages we moved.  After `mv 5.eml ../Sent/`
 * the kernel knows the message as Sent/5.eml until told otherwise, while
 * the server gave it a new UID; the old name is dropped at the next
 * listing of its folder, not at once (an invalidation now would race the
 * rename's own reply). */
#ifndef INBOXFS_FS_ALIAS_H
#define INBOXFS_FS_ALIAS_H

#include <stdint.h>

struct mail_hooks;

/* Remember name in folder dir_ino as a rename target to drop later
 * through h. */
void alias_add(const struct mail_hooks *h, uint64_t dir_ino, const char *name);
/* Drop, through h, the kernel's aliases in a folder about to be listed. */
void alias_flush(const struct mail_hooks *h, uint64_t dir_ino);
/* Forget them all (unmounting). */
void alias_free_all(void);

#endif
