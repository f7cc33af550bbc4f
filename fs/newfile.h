/* Files being written into a mail folder (cp, mv from another file
 * system, shell redirection): held in memory under their typed name until
 * the last close, then appended to the folder as one message (see
 * changes.c change_append).  Nothing reaches the server while the file is
 * written, so a write that fails (too large) appends nothing; a file
 * removed before it is closed is never appended.
 *
 * Their inode numbers have NEWFILE_INO_BIT set; the name disappears once
 * the file is closed (entries are given with no cache time), and the
 * message shows under its new "<UID>.eml".  Thread-safe. */
#ifndef INBOXFS_FS_NEWFILE_H
#define INBOXFS_FS_NEWFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NEWFILE_INO_BIT (UINT64_C(1) << 60)

static inline bool is_newfile_ino(uint64_t ino)
{
	return (ino >> 60) == 1; /* bit 60 alone: not a message, marker or status inode */
}

struct newfiles;

struct newfile_info {
	uint64_t ino, dir_ino;
	size_t size;
	int64_t mtime;        /* set by touch/cp -p; -1 when not */
};

struct newfiles *newfiles_new(size_t max_size);
void newfiles_free(struct newfiles *nf);

/* A new file, opened once.  EEXIST when one of that name is being written. */
int newfile_create(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t *ino);
/* The file being written under that name: 0 and info, or ENOENT. */
int newfile_lookup(struct newfiles *nf, uint64_t dir_ino, const char *name,
		   struct newfile_info *info);
int newfile_stat(struct newfiles *nf, uint64_t ino, struct newfile_info *info);
/* EFBIG past max_size (and the file is marked: it will never be appended). */
int newfile_write(struct newfiles *nf, uint64_t ino, const char *buf, size_t size, off_t off);
int newfile_truncate(struct newfiles *nf, uint64_t ino, size_t size);
int newfile_set_mtime(struct newfiles *nf, uint64_t ino, int64_t mtime);
/* rm of a file not yet closed: it will not be appended. */
int newfile_unlink(struct newfiles *nf, uint64_t dir_ino, const char *name);

/* What append() is called with at a close that has something to send. */
typedef int (*newfile_append_fn)(void *ctx, uint64_t dir_ino, const char *name,
				 const char *data, size_t len, int64_t mtime);
/* A close (flush): when the file has unsent bytes, hand them to fn and
 * return its result; a failed write before gives its errno; 0 when there
 * is nothing to send. */
int newfile_flush(struct newfiles *nf, uint64_t ino, newfile_append_fn fn, void *ctx);
/* The last close: forget the file. */
void newfile_release(struct newfiles *nf, uint64_t ino);

#endif
