/* Where announcing starts on a folder's first mount: at what the server
 * held when the mount came up (STATUS UIDNEXT, RFC 3501 §6.3.10), not at
 * what a watcher finds when its own SELECT lands a moment later, so mail
 * that arrives in between is announced like any later arrival. */
#ifndef INBOXFS_FS_MAIL_STARTMARK_H
#define INBOXFS_FS_MAIL_STARTMARK_H

struct account;

/* For each watched folder the state file does not know yet, record
 * UIDNEXT - 1 as announced, asked in one round trip on the worker's
 * session before the mount exists.  Nothing to ask (every folder known,
 * no state): no traffic.  A failure is logged and leaves the folder to
 * its first look, as before. */
void startmark_take(struct account *a);

#endif
