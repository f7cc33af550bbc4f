/* FUSE handlers for files written into a mail folder (cp, shell
 * redirection): see newfile.h for what happens to them.  Called by ops.c
 * for inodes and names that are new files; each replies itself. */
#ifndef INBOXFS_FS_OPS_APPEND_H
#define INBOXFS_FS_OPS_APPEND_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

void newmsg_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   struct fuse_file_info *fi);
/* True (and replied) when name in parent is a file being written. */
bool newmsg_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
bool newmsg_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void newmsg_getattr(fuse_req_t req, fuse_ino_t ino);
void newmsg_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set);
void newmsg_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off);
void newmsg_flush(fuse_req_t req, fuse_ino_t ino);
void newmsg_release(fuse_req_t req, fuse_ino_t ino);

#endif
