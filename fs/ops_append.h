/* FUSE handlers for files written into a mail folder (cp, shell
 * redirection, rsync and atomic writers: a hidden temporary file renamed
 * into place): see newfile.h for what happens to them.  Called by ops.c
 * for inodes and names that are new files; each replies itself. */
#ifndef INBOXFS_FS_OPS_APPEND_H
#define INBOXFS_FS_OPS_APPEND_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

#include "fs/newfile.h"

void newmsg_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   struct fuse_file_info *fi);
/* True (and replied) when name in parent is a file held here. */
bool newmsg_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
bool newmsg_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
/* True (and replied) when name in parent is a file held here: a parked
 * temporary renamed to a visible name is appended now, into newparent. */
bool newmsg_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags);
void newmsg_getattr(fuse_req_t req, fuse_ino_t ino);
void newmsg_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set);
/* An open of a file held here.  For writing: it is written again
 * (replied).  For reading an appended file's name: true and *msg_ino, the
 * message to read as any other (not replied); other reads are refused. */
bool newmsg_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, uint64_t *msg_ino);
void newmsg_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off);
void newmsg_flush(fuse_req_t req, fuse_ino_t ino);
void newmsg_release(fuse_req_t req, fuse_ino_t ino);
/* The entry a listing gives for a file held here (never cached). */
void newmsg_entry(const struct newfile_info *info, struct fuse_entry_param *e);

#endif
