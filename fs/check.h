/* inboxfs --check URL|ACCOUNT: what a user runs first when a mount
 * misbehaves.  Connects and logs in exactly as a mount would, then prints
 * the server's capabilities that change what inboxfs does, what it does
 * without each missing one, the folder count and the special-use folders.
 * Nothing on the server changes (LIST and CAPABILITY only). */
#ifndef INBOXFS_FS_CHECK_H
#define INBOXFS_FS_CHECK_H

#include "fs/options.h"

/* The report goes to stdout, a failure is one line on stderr (the mount's
 * wording).  Returns the exit status: 0 when a mount would connect, log in
 * and list the folders, 1 otherwise. */
int check_account(const struct options *o);

#endif
