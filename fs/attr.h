/* Attributes of the mount's nodes: owner, permissions, times, and those of
 * folders and messages, which several kinds of node give. */
#ifndef INBOXFS_FS_ATTR_H
#define INBOXFS_FS_ATTR_H

#define FUSE_USE_VERSION 314
#include <sys/stat.h>
#include <time.h>
#include <fuse_lowlevel.h>

#include "fs/mail/lookup.h"

struct account;

/* Messages never change under one UIDVALIDITY, so the kernel may keep
 * their attributes long; changes are pushed by invalidations (s). */
#define ATTR_MSG_TIMEOUT 3600.0
/* A folder's entry and attributes (s). */
#define ATTR_DIR_ENTRY_TIMEOUT 60.0
#define ATTR_DIR_TIMEOUT 1.0

/* At mount: the owner and the time of folders, asked once. */
void attr_init(void);
/* The mount's start (a folder's times). */
time_t attr_mount_time(void);
/* The mounting user's permission bits (owner), shared for reading with
 * everyone under -o allow_other. */
mode_t attr_perms(const struct account *a, mode_t owner);
/* Zero *st and set what every node has: ino, mode, links, owner, block
 * size and the three times t. */
void attr_fill(struct stat *st, fuse_ino_t ino, mode_t mode, nlink_t nlink, time_t t);

/* A folder's attributes and entry. */
void attr_folder(const struct account *a, const struct folder_info *f, struct stat *st);
void attr_folder_entry(const struct account *a, const struct folder_info *f,
		       struct fuse_entry_param *e);
/* Message m, inode ino: its attributes and entry. */
void attr_message(const struct account *a, uint64_t ino, const struct msg *m, struct stat *st);
void attr_message_entry(const struct account *a, uint64_t ino, const struct msg *m,
			struct fuse_entry_param *e);

#endif
