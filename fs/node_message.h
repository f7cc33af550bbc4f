/* Messages as files: <UID>.eml in their folder (node_message.c). */
#ifndef INBOXFS_FS_NODE_MESSAGE_H
#define INBOXFS_FS_NODE_MESSAGE_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <fuse_lowlevel.h>

/* Open message ino for reading: replied once its body is here.  ghost:
 * opened by a name kept for an appended file, whose size is the file's,
 * so the message is read past the page cache. */
void message_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool ghost);

#endif
