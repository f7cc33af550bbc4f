/* The file handle of an open message, marker or status file: the bytes
 * it reads, a pinned cache body or a private copy of generated text. */
#ifndef INBOXFS_FS_HANDLE_H
#define INBOXFS_FS_HANDLE_H

#define FUSE_USE_VERSION 314
#include <stddef.h>
#include <fuse_lowlevel.h>

/* Answer an open with generated text (takes text; NULL: out of memory,
 * ENOMEM): a private copy per open, read with direct I/O since its length
 * changes. */
void handle_open_text(fuse_req_t req, struct fuse_file_info *fi, char *text, size_t len);
/* A read of the handle's bytes. */
void handle_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
/* The last close: the bytes are let go; replies 0. */
void handle_release(fuse_req_t req, struct fuse_file_info *fi);

#endif
