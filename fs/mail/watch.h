/* IDLE watchers (RFC 2177): one connection per watched folder, telling
 * the index (and through it inotify watchers) what arrives and what goes,
 * within moments of the server saying so; the watched folders the
 * connection budget has no IDLE room for are polled (poller.h). */
#ifndef INBOXFS_FS_MAIL_WATCH_H
#define INBOXFS_FS_MAIL_WATCH_H

struct account;
struct buf;
struct watchers;

/* One thread for each of the first a->budget.idle folders of
 * a->watched, and one poller for the others when the budget has one. */
struct watchers *watchers_start(struct account *a);
/* One "watch FOLDER: state" line (and details) per watcher. */
void watchers_describe(struct watchers *w, struct buf *out);
/* Stop every watcher (wakes them out of IDLE or a backoff wait). */
void watchers_stop(struct watchers *w);

#endif
