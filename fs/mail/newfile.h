/* Files being written into a mail folder (cp, mv from another file
 * system, shell redirection, rsync's and editors' temporary files): held
 * in memory under their typed name until they become a message.
 *
 * - A visible name is appended to its folder at the close (see
 *   node_newfile.c); nothing reaches the server while it is written, so a
 *   write that fails (too large) appends nothing, and a file removed
 *   before it is closed is never appended.
 * - A hidden name (".x") is never sent: after its close it stays here
 *   ("parked") until it is renamed to a visible name (then appended) or
 *   removed.  Parked files are bounded (PARKED_MAX_*): creating another
 *   hidden file beyond that fails with ENOSPC.
 * - Once appended, the name stays a while as a "ghost" of the message
 *   (its UID, size and date, no bytes), so that what a writer does with
 *   the name after closing it (install's chmod, rsync --inplace's
 *   utimensat, a rename into place) still finds it.  Ghosts go at the
 *   next listing of their folder (newfile_forget_ghosts), or the oldest
 *   beyond GHOSTS_MAX.
 *
 * Their inode numbers are in the NEWFILE_INO_BIT range (inode.h); the
 * kernel is told never to cache their entries.  Thread-safe. */
#ifndef INBOXFS_FS_MAIL_NEWFILE_H
#define INBOXFS_FS_MAIL_NEWFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PARKED_MAX_FILES 1024
#define PARKED_MAX_BYTES ((size_t)64 << 20)
#define GHOSTS_MAX 1024

/* Hidden names are never sent to the server. */
static inline bool newfile_hidden(const char *name) { return name[0] == '.'; }

struct newfiles;

struct newfile_info {
	uint64_t ino, dir_ino;
	size_t size;
	int64_t mtime;        /* set by touch/cp -p/rsync; -1 when not */
	bool open;            /* open (maybe only its RELEASE is still to come) */
	bool ghost;           /* appended and closed: only the name is left */
	uint32_t uid;         /* a ghost's message (0: the server did not say) */
};

/* One file of a folder's listing (newfile_list). */
struct newfile_entry {
	struct newfile_info info;
	char name[256];
};

struct newfiles *newfiles_new(size_t max_size);
void newfiles_free(struct newfiles *nf);

/* A new file, opened once.  EEXIST when one of that name is being
 * written or parked (a ghost of that name is replaced); ENOSPC for a
 * hidden name when the parked files are at their bound. */
int newfile_create(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t *ino);
/* The file of that name: 0 and info, or ENOENT. */
int newfile_lookup(struct newfiles *nf, uint64_t dir_ino, const char *name,
		   struct newfile_info *info);
int newfile_stat(struct newfiles *nf, uint64_t ino, struct newfile_info *info);
/* Open a closed file for writing again: an appended file starts over as
 * a new, empty file (a second message when closed); a parked file keeps
 * its bytes unless trunc.  EBUSY while a writer is at it (open and
 * written since its last close), ENOENT when gone. */
int newfile_reopen(struct newfiles *nf, uint64_t ino, bool trunc);
/* EFBIG past max_size (and the file is marked: it will never be appended). */
int newfile_write(struct newfiles *nf, uint64_t ino, const char *buf, size_t size, off_t off);
/* What a writer reads back (open(O_RDWR), Python's "w+"): up to size
 * bytes at off of what it wrote, malloc'd into *out (*len 0 at the end).
 * ENOENT when gone, ENOMEM. */
int newfile_read(struct newfiles *nf, uint64_t ino, size_t size, off_t off, char **out,
		 size_t *len);
int newfile_truncate(struct newfiles *nf, uint64_t ino, size_t size);
int newfile_set_mtime(struct newfiles *nf, uint64_t ino, int64_t mtime);
/* rm: a file not yet closed will not be appended; a parked file or a
 * ghost goes at once (a ghost's message stays). */
int newfile_unlink(struct newfiles *nf, uint64_t dir_ino, const char *name);

/* What append() reports of a message it stored (or found already there). */
struct newfile_sent {
	uint32_t uid;         /* 0: the server did not say */
	int64_t date;         /* the INTERNALDATE given */
};
/* What append() is called with when a file's bytes are to become a
 * message of folder dir_ino (mtime -1: none was set). */
typedef int (*newfile_append_fn)(void *ctx, uint64_t dir_ino, const char *name,
				 const char *data, size_t len, int64_t mtime,
				 struct newfile_sent *sent);
/* A close (flush): when a visibly named file has unsent bytes, hand them
 * to fn and return its result; a failed write before gives its errno; 0
 * when there is nothing to send (hidden names never are). */
int newfile_flush(struct newfiles *nf, uint64_t ino, newfile_append_fn fn, void *ctx);
/* The last close: a visible file that was not appended is forgotten, an
 * appended one becomes a ghost, a hidden one is parked. */
void newfile_release(struct newfiles *nf, uint64_t ino);

/* rename(dir/name, newdir/newname) of a file held here.  A closed hidden
 * file (parked, or closed with its RELEASE still to come: the kernel
 * sends it after close() returns) renamed to a visible name is appended
 * now through fn, into newdir; on failure it stays under its old name and
 * fn's errno is returned.  Anything else only changes the name (a file a
 * writer is at is appended at its close under the new one).  An appended
 * file stays in its folder (EXDEV).  A file held under the new name is
 * replaced, unless a writer is at it (EBUSY) or noreplace (EEXIST).
 * ENOENT when nothing of that name is held. */
int newfile_rename(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t newdir,
		   const char *newname, bool noreplace, newfile_append_fn fn, void *ctx);

/* The files of a folder that a listing shows (open and parked ones, not
 * ghosts): a malloc'd array in *out, n entries. */
int newfile_list(struct newfiles *nf, uint64_t dir_ino, struct newfile_entry **out, size_t *n);
/* The folder is being listed: its ghosts go. */
void newfile_forget_ghosts(struct newfiles *nf, uint64_t dir_ino);

#endif
