/* Watched folders without a connection of their own (the connection
 * budget has no room for IDLE on each): one connection asks for the
 * STATUS of them all every poll_interval, and brings each folder whose
 * answer changed up to date, so its news is announced as IDLE's is. */
#ifndef INBOXFS_FS_MAIL_POLLER_H
#define INBOXFS_FS_MAIL_POLLER_H

#include <stddef.h>

struct account;
struct buf;
struct folder;
struct poller;

/* Start polling folders (n of them; the array is copied).  NULL when
 * out of memory or the thread cannot start (logged). */
struct poller *poller_start(struct account *a, struct folder *const *folders, size_t n);
/* One "watch FOLDER: polled ..." line per folder, for .inboxfs/status. */
void poller_describe(struct poller *p, struct buf *out);
/* Stop it (wakes it out of its wait) and free it. */
void poller_stop(struct poller *p);

#endif
