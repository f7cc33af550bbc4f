/* The announcer's mkdir, rmdir and rename of folders another client
 * created, deleted or renamed (node_announce.c): they come before the
 * read-only refusal, which node kinds' hooks do not. */
#ifndef INBOXFS_FS_NODE_ANNOUNCE_H
#define INBOXFS_FS_NODE_ANNOUNCE_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

/* When the announcer makes the request: reply (the folder's entry, or
 * an errno) and true; false otherwise, with nothing done. */
bool announce_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name);
bool announce_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
bool announce_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname);

#endif
