/* What the server tells of a folder's messages reaches the index here:
 * arrivals, departures and the merge of a whole list.  In a watched
 * folder (with an announcer) arrivals wait in f->pending and departures
 * in f->departed until the announcer's system calls on the mount make
 * them visible to inotify (see fs/announce.h, which takes its batches
 * from here); elsewhere they go straight into the index. */
#ifndef INBOXFS_FS_MAIL_EVENTS_H
#define INBOXFS_FS_MAIL_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/mail/index.h"
#include "imap/seqmap.h"

struct account;
struct buf;

/* ---- any thread, index_lock not held (they take it) -------------------- */

/* New messages (ascending UIDs): those the index and the pending list do
 * not have yet are added (or become pending, above the watermark). */
void events_arrived(struct account *a, struct folder *f, const struct msg *msgs, size_t n);
/* A message expunged; quiet when it was our own change (the kernel
 * already told watchers). */
void events_departed(struct account *a, struct folder *f, uint32_t uid, bool quiet);
/* The whole list as the server has it now (first load, reload,
 * UIDVALIDITY change): the index becomes exactly this.  seen_ms: when
 * the look began (monotonic; 0 for the disk cache).  False (nothing done)
 * for a look at another UIDVALIDITY that began before the one the index
 * has. */
bool events_merge(struct account *a, struct folder *f, uint32_t uidvalidity, uint32_t uidnext,
		  const struct msg *msgs, size_t n, bool quiet, long long seen_ms);
/* How many messages up to UID upto the server should have: the index's
 * plus the pending. */
size_t events_count(struct account *a, struct folder *f, uint32_t upto);
/* The UIDs the server should have: the index's plus the pending ones. */
int events_uids(struct account *a, struct folder *f, struct imap_seqmap *out);

/* ---- the announcer's own calls (each takes index_lock itself) -------- */

/* Pending message uid of folder dir becomes visible (the announcer's
 * mknod): a copy in *m, its inode in *ino; false when it was not pending. */
bool events_publish(struct account *a, uint64_t dir, uint32_t uid, struct msg *m, uint64_t *ino);
/* Departed message uid of folder dir, which the announcer is about to
 * unlink: a copy in *m, its inode in *ino; false when there is none. */
bool events_departure(struct account *a, uint64_t dir, uint32_t uid, struct msg *m,
		      uint64_t *ino);
/* The announcer's unlink of uid in folder dir went through. */
void events_forget_departure(struct account *a, uint64_t dir, uint32_t uid);

/* ---- the announcer's batches (each takes index_lock itself) ---------- */

#define EVENTS_BATCH_MAX 512

/* What the announcer makes visible next in one folder. */
struct events_batch {
	char path[4096];         /* the folder below the mount root ("Archive/2023") */
	uint32_t born[EVENTS_BATCH_MAX], gone[EVENTS_BATCH_MAX];
	size_t nborn, ngone;
};

/* The highest UID pending in f (0: none). */
uint32_t events_pending_top(struct account *a, struct folder *f);
/* Whether a UID up to top is still pending in f. */
bool events_pending_upto(struct account *a, struct folder *f, uint32_t top);
/* The next batch of f into *b: its pending and departed UIDs (at most
 * EVENTS_BATCH_MAX each) and its path.  False when there is nothing to
 * announce, f was deleted or its path does not fit. */
bool events_take_batch(struct account *a, struct folder *f, struct events_batch *b);
/* The batch's arrivals up to top were announced: .newmail holds marker
 * (taken over) and the watermark rises, saved for the next mount. */
void events_announced(struct account *a, struct folder *f, struct buf *marker, uint32_t top);

#endif
