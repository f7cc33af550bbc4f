/* FOLDER/.newmail of a watched folder: the names of the last batch of new
 * messages.  The announcer writes it through the mount so that watchers
 * get IN_CLOSE_WRITE (announce.c); everyone else only reads it.  Its
 * attributes change with each batch: never cached. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/attr.h"
#include "fs/handle.h"
#include "fs/inode.h"
#include "fs/mail/account.h"
#include "fs/mail/lookup.h"
#include "fs/node.h"

/* The file handle of the announcer's opens for writing: its writes only
 * raise the event (the text is set already). */
#define MARKER_WRITER ((uint64_t)1)

static bool marker_owns(fuse_ino_t ino) { return ino_is_marker(ino); }

static void marker_attr(const struct account *a, const struct marker_info *mi, struct stat *st)
{
	attr_fill(st, MARKER_INO_BIT | mi->dir, S_IFREG | attr_perms(a, a->opt->ro ? 0400 : 0600),
		  1, mi->mtime ? mi->mtime : attr_mount_time());
	st->st_size = (off_t)mi->len;
}

static void marker_entry(const struct account *a, const struct marker_info *mi,
			 struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = MARKER_INO_BIT | mi->dir;
	e->entry_timeout = ATTR_MSG_TIMEOUT;
	marker_attr(a, mi, &e->attr);
}

/* A subfolder of that name (the server's) wins over the marker. */
static int marker_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info sub;
	struct marker_info mi;

	if (strcmp(name, MARKER_NAME) != 0 || lookup_subfolder(a, parent, name, &sub) ||
	    !lookup_marker(a, parent, &mi, NULL))
		return NODE_NOT_MINE;
	marker_entry(a, &mi, e);
	return 0;
}

static int marker_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	struct folder *f = index_folder_by_ino(a->index, dir);

	part->n = f && f->watched;
	return 0;
}

static void marker_list_entry(struct account *a, const struct node_part *part, size_t i,
			      char *name, size_t namelen, struct fuse_entry_param *e)
{
	struct marker_info mi = { .dir = part->dir };

	(void)i;
	snprintf(name, namelen, MARKER_NAME);
	lookup_marker(a, part->dir, &mi, NULL); /* (no longer watched: an empty one) */
	marker_entry(a, &mi, e);
}

static int marker_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	struct marker_info mi;

	if (!lookup_marker(a, ino & ~MARKER_INO_BIT, &mi, NULL))
		return ENOENT;
	marker_attr(a, &mi, st);
	*timeout = 0;
	return 0;
}

/* The announcer truncates it before writing a batch; others may not. */
static void marker_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			   struct fuse_file_info *fi)
{
	if ((to_set & FUSE_SET_ATTR_SIZE) && node_from_announcer(req))
		node_reply_attr(req, ino);
	else
		node_setattr_default(req, ino, attr, to_set, fi);
}

static void open_for_announcer(fuse_req_t req, struct fuse_file_info *fi)
{
	if (!node_from_announcer(req)) {
		fuse_reply_err(req, node_refuse("the new-mail marker is written by inboxfs only",
						MARKER_NAME, EPERM));
		return;
	}
	fi->fh = MARKER_WRITER;
	fi->direct_io = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* Readers get a private copy of the text as it is now. */
static void marker_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	bool reading = (fi->flags & O_ACCMODE) == O_RDONLY;
	struct marker_info mi;
	char *text = NULL;

	if (!lookup_marker(a, ino & ~MARKER_INO_BIT, &mi, reading ? &text : NULL))
		fuse_reply_err(req, ENOENT);
	else if ((fi->flags & O_ACCMODE) != O_RDONLY)
		open_for_announcer(req, fi);
	else
		handle_open_text(req, fi, text, mi.len);
}

static void marker_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	if (fi->fh != MARKER_WRITER)
		fuse_reply_err(req, EPERM);
	else
		fuse_reply_write(req, size);
}

static void marker_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (fi->fh == MARKER_WRITER)
		fuse_reply_err(req, 0);
	else
		handle_release(req, fi);
}

const struct node_kind node_marker = {
	.owns = marker_owns,
	.lookup = marker_lookup,
	.list = marker_list,
	.list_entry = marker_list_entry,
	.getattr = marker_getattr,
	.setattr = marker_setattr,
	.open = marker_open,
	.write = marker_write,
	.release = marker_release,
};
