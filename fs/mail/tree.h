/* Folders another client creates, deletes or renames: LIST again, bring
 * the index's folder tree in step, and keep each change until it is
 * announced (fs/announce.c makes the kernel raise IN_CREATE, IN_DELETE or
 * IN_MOVED_FROM/TO on the parents with a mkdir, rmdir or rename of its
 * own on the mount).  A rename is known as one only when NOTIFY tells of
 * it (RFC 5465 §5.4); a LIST alone shows a deletion and a creation. */
#ifndef INBOXFS_FS_MAIL_TREE_H
#define INBOXFS_FS_MAIL_TREE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "imap/commands.h"
#include "imap/session.h"

struct account;

struct tree_change {
	char path[4096];           /* below the mount root ("Archive/2023") */
	uint64_t parent, ino;
	char name[NAME_MAX + 1];
	bool born;                 /* the name appears (created or moved there), else gone */
	bool moved;                /* born from the from_ names, the same folder */
	char from_path[4096];
	uint64_t from_parent;
	char from_name[NAME_MAX + 1];
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
/* The same on the worker's session, session_lock held (a listing of the
 * root when no watcher LISTs). */
enum imap_result tree_relist_held(struct account *a, struct imap_status *st);
/* One line of NOTIFY's MailboxName news (RFC 5465 §5.4), applied as
 * tree_relist applies a LIST, in the order the server told them.  A
 * rename moves the folder (and its subfolders) in the index, keeping its
 * inode, and waits to be announced as a move; one that cannot be a move
 * here (INBOX, a new parent not in the tree, the name taken) is a
 * deletion and a creation.  Locks as tree_relist. */
void tree_news(struct account *a, const struct imap_list_line *l, long long deadline);
/* The oldest change not announced yet, copied; false when none. */
bool tree_next(struct account *a, struct tree_change *c);
/* That change is announced (or could not be): forget it. */
void tree_done(struct account *a, uint64_t parent, const char *name);
/* Whether name in parent waits to be announced: born (or moved there),
 * or gone (or moved away), and the folder's inode.  For the announcer's
 * own lookups. */
bool tree_pending(struct account *a, uint64_t parent, const char *name, bool *born,
		  uint64_t *ino);
/* Whether a move from name in parent to newname in newparent waits to be
 * announced.  For the announcer's own rename. */
bool tree_move_pending(struct account *a, uint64_t parent, const char *name, uint64_t newparent,
		       const char *newname);
/* Unmounting: drop what was not announced. */
void tree_free(struct account *a);

#endif
