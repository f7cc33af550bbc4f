/* The changes a user makes to folders and messages with rm, mv, mkdir and
 * rmdir (changes.c sends them): the folder and message kinds' name
 * handlers (node.h) and the FUSE mkdir and rmdir. */
#ifndef INBOXFS_FS_OPS_CHANGE_H
#define INBOXFS_FS_OPS_CHANGE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

/* rm of a subfolder's name: EISDIR (ENOENT when parent is no folder). */
int ops_unlink_folder(fuse_req_t req, fuse_ino_t parent, const char *name);
/* rm of <UID>.eml: expunged on the server; NODE_NOT_MINE for other names. */
int ops_unlink_message(fuse_req_t req, fuse_ino_t parent, const char *name);
/* mv of a subfolder: RENAME on the server (ENOENT when a parent is no
 * folder); NODE_NOT_MINE when name is no subfolder. */
int ops_rename_folder(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags);
/* mv of a message: only to another folder, where it gets a new UID. */
int ops_move_message(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags);

/* mkdir: CREATE on the server. */
void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
/* rmdir: DELETE on the server. */
void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

#endif
