/* Events from the server reach the index here, and for watched folders
 * they are announced to inotify watchers.
 *
 * Linux raises no inotify event for a change a FUSE daemon learns of
 * remotely, but it does for system calls on the mount, the daemon's own
 * threads included.  So a new message in a watched folder is held back
 * (pending) until the announcer thread mknod()s its name on the mount: the
 * mknod handler, seeing the announcer's thread id, makes the message
 * visible and the kernel raises IN_CREATE.  A message expunged elsewhere is
 * unlink()ed the same way (IN_DELETE), and FOLDER/.newmail is rewritten
 * with the batch's names (IN_CLOSE_WRITE).  The announcer never runs in a
 * request handler or an IDLE thread: a wedged mount cannot stall IDLE. */
#ifndef INBOXFS_FS_ANNOUNCE_H
#define INBOXFS_FS_ANNOUNCE_H

#include <sys/types.h>

#include "fs/mail/index.h"

struct account;
struct announcer;

/* Start announcing for the mount at root (an absolute path).  NULL when
 * announcements are off (single-threaded mode); events still reach the
 * index then, without inotify events. */
struct announcer *announcer_start(struct account *a, const char *root);
/* Ask it to stop (it finishes the system call it is in, if any). */
void announcer_request_stop(struct announcer *an);
/* Stop and wait: no system call on the mount after this returns. */
void announcer_stop(struct announcer *an);
/* The thread whose requests are the announcer's own (0 when none). */
pid_t announcer_tid(const struct account *a);
/* Before a listing of f (no lock held): wait until the messages pending
 * in f now are announced, so that it shows what the server has (a new
 * message is visible only once its mknod raised IN_CREATE).  At most 2 s,
 * and not once the announcer stops. */
void announce_wait_pending(struct account *a, struct folder *f);

#endif
