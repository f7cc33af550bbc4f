/* The one place where IMAP outcomes become errno values. */
#ifndef INBOXFS_FS_MAIL_ERRNO_MAP_H
#define INBOXFS_FS_MAIL_ERRNO_MAP_H

#include "imap/session.h"

/* A positive errno for st (0 for success); logs the server's text for
 * anything that is not a plain "no such thing". */
int imap_errno(const struct imap_status *st, const char *what);

/* A change to what can never change (a message's parts): EROFS, with a
 * log line naming what was refused. */
int readonly_errno(const char *what);

#endif
