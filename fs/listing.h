/* Directory listings: a snapshot of a directory's entries, taken at
 * opendir from every kind of node (node.h), read by readdir. */
#ifndef INBOXFS_FS_LISTING_H
#define INBOXFS_FS_LISTING_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

/* Answer an opendir of dir (whose ".." is parent) with its entries as
 * they are now: ENOMEM, or the snapshot in fi->fh.  Takes index_lock. */
void listing_open(fuse_req_t req, struct fuse_file_info *fi, fuse_ino_t dir, fuse_ino_t parent);
/* readdir (plus: readdirplus) of a snapshot: ".", "..", then each kind's
 * entries in the table's order. */
void listing_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus);
/* releasedir: the snapshot goes. */
void listing_release(fuse_req_t req, struct fuse_file_info *fi);

#endif
