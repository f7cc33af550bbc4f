/* Folders another client creates or deletes: LIST again, bring the
 * index's folder tree in step, and keep each change until it is
 * announced (fs/announce.c makes the kernel raise IN_CREATE or IN_DELETE
 * on the parent with a mkdir or rmdir of its own on the mount).  A rename
 * elsewhere is a deletion and a creation. */
#ifndef INBOXFS_FS_MAIL_TREE_H
#define INBOXFS_FS_MAIL_TREE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "imap/session.h"

struct account;

struct tree_change {
	char path[4096];           /* below the mount root ("Archive/2023") */
	uint64_t parent, ino;
	char name[NAME_MAX + 1];
	bool born;                 /* else gone */
};

/* LIST on s (any logged-in session of the account: it is not a
 * worker's call), then, under session_lock and index_lock (taken here,
 * for a call due at deadline; not had by then: nothing done, the next
 * LIST will), folders new on the server are added and those gone
 * removed (their inodes answer ENOENT).  Each change waits to
 * be announced when an announcer runs (hooks_news), else the kernel is
 * told its entry is stale.  *changed: whether anything changed. */
enum imap_result tree_relist(struct account *a, struct imap_session *s, long long deadline,
			     bool *changed, struct imap_status *st);
/* The oldest change not announced yet, copied; false when none. */
bool tree_next(struct account *a, struct tree_change *c);
/* That change is announced (or could not be): forget it. */
void tree_done(struct account *a, uint64_t parent, const char *name);
/* Whether name in parent waits to be announced: born or gone, and the
 * folder's inode.  For the announcer's own lookups. */
bool tree_pending(struct account *a, uint64_t parent, const char *name, bool *born,
		  uint64_t *ino);
/* Unmounting: drop what was not announced. */
void tree_free(struct account *a);

#endif
