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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/mail/index.h"
#include "imap/seqmap.h"

struct account;
struct announcer;

/* ---- events (any thread; they take index_lock) ---------------------- */

/* New messages (ascending UIDs) the index does not have yet. */
void account_msgs_arrived(struct account *a, struct folder *f, const struct msg *msgs, size_t n);
/* A message expunged; quiet when it was our own change (the kernel
 * already told watchers). */
void account_msg_departed(struct account *a, struct folder *f, uint32_t uid, bool quiet);
/* The whole list as the server has it now (first load, reload,
 * UIDVALIDITY change): the index becomes exactly this.  seen_ms: when
 * the look began (monotonic; 0 for the disk cache).  False (nothing done)
 * for a look at another UIDVALIDITY that began before the one the index
 * has. */
bool account_folder_sync(struct account *a, struct folder *f, uint32_t uidvalidity,
			 uint32_t uidnext, const struct msg *msgs, size_t n, bool quiet,
			 long long seen_ms);
/* How many messages up to UID upto the server should have: the index's
 * plus the pending. */
size_t account_folder_count(struct account *a, struct folder *f, uint32_t upto);
/* The UIDs the server should have: the index's plus the pending ones. */
int account_folder_uids(struct account *a, struct folder *f, struct imap_seqmap *out);

/* ---- the announcer ---------------------------------------------------- */

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

/* For the announcer's own calls (each takes index_lock itself): */
/* Pending message uid of folder dir becomes visible (the announcer's
 * mknod): a copy in *m, its inode in *ino; false when it was not pending. */
bool announce_publish(struct account *a, uint64_t dir, uint32_t uid, struct msg *m,
		      uint64_t *ino);
/* Departed message uid of folder dir, which the announcer is about to
 * unlink: a copy in *m, its inode in *ino; false when there is none. */
bool announce_departed(struct account *a, uint64_t dir, uint32_t uid, struct msg *m,
		       uint64_t *ino);
/* The announcer's unlink of uid in folder dir went through. */
void announce_forget_departed(struct account *a, uint64_t dir, uint32_t uid);

#endif
