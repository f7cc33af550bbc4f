/* The index as the FUSE side sees it.  Each call takes index_lock itself
 * and answers with copies, never with pointers into the index, but for a
 * folder's handle (folders are never freed while mounted). */
#ifndef INBOXFS_FS_MAIL_LOOKUP_H
#define INBOXFS_FS_MAIL_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/mail/index.h"

struct account;

struct folder_info {
	struct folder *f;     /* the handle, for the engine's calls */
	uint64_t ino;
	uint64_t parent;      /* the root is its own parent */
	size_t nchildren;
	uint32_t gen;         /* its messages' generation (their inodes carry it) */
	bool selectable;      /* a mailbox, not only a level of the hierarchy */
	bool loaded;          /* its message list is known */
	bool watched;         /* it has an IDLE watcher (and a .newmail) */
	bool pushed;          /* that watcher is idling now (-o list_from_watch) */
};

/* FOLDER/.newmail: the names of the last batch of new mail. */
struct marker_info {
	uint64_t dir;
	size_t len;
	int64_t mtime;        /* 0: never written */
};

/* Folder ino; false when there is none (or it is gone). */
bool lookup_folder(struct account *a, uint64_t ino, struct folder_info *out);
/* The subfolder name of folder parent; false when there is none. */
bool lookup_subfolder(struct account *a, uint64_t parent, const char *name,
		      struct folder_info *out);
/* Message uid of folder dir: 0 (*dirp and *m filled), ENOENT (no such
 * folder, no mailbox, no such message) or EAGAIN (the folder's messages
 * were never loaded: *dirp filled, to load them). */
int lookup_message_in(struct account *a, uint64_t dir, uint32_t uid, struct folder_info *dirp,
		      struct msg *m);
/* The message whose inode is ino (or the one it moved to): its folder,
 * itself and its inode now.  False when gone. */
bool lookup_message(struct account *a, uint64_t ino, struct folder_info *dir, struct msg *m,
		    uint64_t *ino_now);
/* The .newmail of watched folder dir, and a copy of its text when text is
 * not NULL (free it; NULL out of memory).  False when dir is not watched. */
bool lookup_marker(struct account *a, uint64_t dir, struct marker_info *out, char **text);
/* Describe f (from within account_with_index). */
void lookup_describe(struct folder *f, struct folder_info *out);
/* Run fn with the index held still (index_lock), for a snapshot too large
 * to copy field by field (a listing).  fn takes no other lock of the
 * account's. */
void account_with_index(struct account *a, void (*fn)(struct account *a, void *ctx), void *ctx);

#endif
