/* The FUSE low-level operations table. */
#ifndef INBOXFS_FS_OPS_H
#define INBOXFS_FS_OPS_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops inboxfs_ops;

#endif
