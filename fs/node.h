/* Kinds of nodes: what an inode or a name of the mount is, and the
 * handlers of each kind.  The FUSE handlers (ops.c) classify the inode of
 * a request (node_of) or ask the kinds in turn whose a name is
 * (node_by_name), and call that kind's handler; a NULL handler gives the
 * operation's default (said below).
 *
 * Folders and messages are the main kinds; each special file (.newmail,
 * .inboxfs/, files being written, the announcer's own calls) is a kind of
 * its own, in a file of its own, listed once in the table of node.c.  So a
 * new kind of file is a new file and a line in that table. */
#ifndef INBOXFS_FS_NODE_H
#define INBOXFS_FS_NODE_H

#define FUSE_USE_VERSION 314
#include <stdbool.h>
#include <stddef.h>
#include <fuse_lowlevel.h>

struct account;
struct node_kind;

/* A name handler's answer for a name that is not its kind's: the next
 * kind is asked. */
#define NODE_NOT_MINE (-1)

/* One kind's entries of a directory listing, taken at opendir. */
struct node_part {
	const struct node_kind *kind;
	fuse_ino_t dir;
	size_t n;          /* entries */
	void *data;        /* the kind's copy: NULL or one block, freed with free() */
};

struct node_kind {
	/* Its names are asked for before the other kinds' names (they shadow
	 * them).  Otherwise names are asked for in the table's order. */
	bool names_first;
	/* Its inodes, told by the number alone (inode.h).  NULL: it has none. */
	bool (*owns)(fuse_ino_t ino);

	/* Name handlers: an errno (0: done), or NODE_NOT_MINE.  The caller
	 * replies. */
	/* lookup: 0 and *e filled. */
	int (*lookup)(fuse_req_t req, fuse_ino_t parent, const char *name,
		      struct fuse_entry_param *e);
	/* create (a file is written into parent): 0 and *e, fi set for the open. */
	int (*create)(fuse_req_t req, fuse_ino_t parent, const char *name,
		      struct fuse_file_info *fi, struct fuse_entry_param *e);
	/* mknod: 0 and *e. */
	int (*mknod)(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e);
	int (*unlink)(fuse_req_t req, fuse_ino_t parent, const char *name);
	int (*rename)(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags);
	/* mkdir, rmdir, ln -s, ln of name in parent: an errno when its kind
	 * refuses them all (a read-only part of the tree), else NODE_NOT_MINE
	 * and the operation's own code runs. */
	int (*refuse_change)(fuse_req_t req, fuse_ino_t parent, const char *name);

	/* Listing handlers. */
	/* Take its entries of directory dir into *part (n, data): 0 or an
	 * errno.  Run within account_with_index: the index is held still;
	 * take no other lock but the kind's own. */
	int (*list)(struct account *a, fuse_ino_t dir, struct node_part *part);
	/* Entry i (< part->n) of what list took: its name and attributes. */
	void (*list_entry)(struct account *a, const struct node_part *part, size_t i,
			   char *name, size_t namelen, struct fuse_entry_param *e);
	/* Directory dir is being read from its start. */
	void (*listed)(struct account *a, fuse_ino_t dir);

	/* Inode handlers (node_of gives the default for a NULL one).
	 * getattr: 0 with *st and how long the kernel may keep it, or an
	 * errno (the caller replies); the others reply. */
	/* Default: ENOENT. */
	int (*getattr)(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout);
	/* Default: node_setattr_default. */
	void (*setattr)(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi);
	/* Default: ENOENT. */
	void (*opendir)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	/* Default: ENOENT. */
	void (*open)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	/* Default: the handle's bytes (handle_read). */
	void (*read)(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
	/* Default: EPERM. */
	void (*write)(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi);
	/* Default: nothing to do (0). */
	void (*flush)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
	/* Default: the handle's bytes are let go (handle_release). */
	void (*release)(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
};

/* The kind of inode ino with every inode handler set: its own, or the
 * default.  Numbers no kind has get the defaults alone. */
const struct node_kind *node_of(fuse_ino_t ino);
/* The i-th kind to ask whose a name is (names_first ones first), NULL
 * past the last. */
const struct node_kind *node_by_name(size_t i);
/* The i-th kind in listing order (the table's), NULL past the last. */
const struct node_kind *node_by_listing(size_t i);
/* How many kinds there are. */
size_t node_count(void);

/* Reply to a getattr of ino (its kind's attributes, or an errno). */
void node_reply_attr(fuse_req_t req, fuse_ino_t ino);
/* setattr of a node that has no handler of its own: chmod, chown and
 * touch are harmless no-ops (the server has no such thing); truncation
 * would change a message and is refused. */
void node_setattr_default(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi);

/* The request was made by the announcer thread on its own mount. */
bool node_from_announcer(fuse_req_t req);
/* Every change is refused on a read-only mount, with a log line: true
 * (and EROFS replied) then. */
bool node_refuse_if_ro(fuse_req_t req, const char *what, const char *name);
/* Log why name was refused and return err. */
int node_refuse(const char *why, const char *name, int err);

#endif
