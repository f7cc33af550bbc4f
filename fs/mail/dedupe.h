/* -o append_dedupe: before a file written into a folder is appended, is
 * the very same message there already?  A restore run twice (rsync -a of
 * a backup taken from the mount: the names differ, so rsync sends every
 * file again) must not store each message twice.
 *
 * "The same" is exact: a message of the folder with the file's size and
 * the file's mtime as INTERNALDATE (both in the index: no round trip for
 * a message that is new), whose bytes, fetched (or found in the body
 * cache), equal the file's.  A file with no mtime set is never a
 * duplicate (its date would be the time of the close). */
#ifndef INBOXFS_FS_MAIL_DEDUPE_H
#define INBOXFS_FS_MAIL_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/account.h"

/* At most this many messages of the same size and date are compared. */
#define DEDUPE_CANDIDATES 4

/* *uid: the message of f holding exactly data, or 0.  Lists f the first
 * time (as ls would); selects it (for writing: an APPEND follows) only to
 * compare a likely duplicate.  Called with session_lock held; a failure
 * is the server's (the connection, a refused SELECT). */
enum imap_result dedupe_find(struct account *a, struct folder *f, const char *data, size_t len,
			     int64_t date, uint32_t *uid, struct imap_status *st);

#endif
