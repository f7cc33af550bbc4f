/* The announcer's mkdir and rmdir of folders another client created or
 * deleted (node_announce.c): FUSE has no node kind hook for them. */
#ifndef INBOXFS_FS_NODE_ANNOUNCE_H
#define INBOXFS_FS_NODE_ANNOUNCE_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

/* When the announcer makes the request: reply (the folder's entry, or
 * an errno) and true; false otherwise, with nothing done. */
bool announce_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name);
bool announce_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);

#endif
