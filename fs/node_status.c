/* .inboxfs/ at the root and the status file in it (its text: status.c).
 * Generated, never cached: read with direct I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fs/attr.h"
#include "fs/handle.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/node.h"
#include "fs/status.h"

static bool status_owns(fuse_ino_t ino) { return ino_is_status(ino); }

static void status_attr(fuse_ino_t ino, struct stat *st)
{
	if (ino == STATUS_DIR_INO) {
		attr_fill(st, ino, S_IFDIR | 0500, 2, time(NULL));
	} else {
		attr_fill(st, ino, S_IFREG | 0400, 1, time(NULL));
		/* Generated at open and read with direct I/O, so its length is
		 * what read gives; 0 as /proc says it: any other figure is wrong
		 * by the time of the read (rsync failed verifying it). */
		st->st_size = 0;
	}
}

static void status_entry(fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->entry_timeout = ATTR_MSG_TIMEOUT;
	status_attr(ino, &e->attr);
}

/* Its one entry in dir: .inboxfs in the root, status in .inboxfs; 0 for other dirs. */
static fuse_ino_t status_child(fuse_ino_t dir, const char **name)
{
	*name = dir == ROOT_INO ? STATUS_DIR_NAME : STATUS_FILE_NAME;
	return dir == ROOT_INO ? STATUS_DIR_INO : dir == STATUS_DIR_INO ? STATUS_FILE_INO : 0;
}

static int status_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	const char *ours;
	fuse_ino_t ino = status_child(parent, &ours);

	(void)req;
	if (!ino || strcmp(name, ours) != 0)
		return NODE_NOT_MINE;
	status_entry(ino, e);
	return 0;
}

static int status_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	const char *ours;

	(void)a;
	part->n = status_child(dir, &ours) ? 1 : 0;
	return 0;
}

static void status_list_entry(struct account *a, const struct node_part *part, size_t i,
			      char *name, size_t namelen, struct fuse_entry_param *e)
{
	const char *ours;

	(void)a;
	(void)i;
	status_entry(status_child(part->dir, &ours), e);
	snprintf(name, namelen, "%s", ours);
}

static int status_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	(void)req;
	if (ino != STATUS_DIR_INO && ino != STATUS_FILE_INO)
		return ENOENT;
	status_attr(ino, st);
	*timeout = 0;
	return 0;
}

static void status_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != STATUS_DIR_INO)
		fuse_reply_err(req, ENOTDIR);
	else
		listing_open(req, fi, ino, ROOT_INO);
}

static void status_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	size_t len = 0;
	char *text;

	if (ino != STATUS_FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	text = status_text(fuse_req_userdata(req), &len);
	handle_open_text(req, fi, text, len);
}

const struct node_kind node_status = {
	.owns = status_owns,
	.lookup = status_lookup,
	.list = status_list,
	.list_entry = status_list_entry,
	.getattr = status_getattr,
	.opendir = status_opendir,
	.open = status_open,
};
