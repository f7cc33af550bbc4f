/* FUSE low-level handlers.  Each one finds the kind of node a request is
 * about (node.h) and calls that kind's handler, or the operation's
 * default.  Inodes are derived from the index (inode.h), so lookups need
 * no per-inode table and forget is a no-op. */
#define FUSE_USE_VERSION 314
#include "fs/ops.h"

#include <errno.h>
#include <stdio.h> /* RENAME_EXCHANGE */

#include "fs/attr.h"
#include "fs/handle.h"
#include "fs/listing.h"
#include "fs/node.h"
#include "fs/node_announce.h"
#include "fs/ops_change.h"
#include "fs/xattr.h"

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	attr_init();
	/* ls -l gets names and attributes in one go, always. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

/* ---- names: the kinds are asked in turn whose a name is ------------------ */

/* Default: ENOENT. */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_kind *k;
	struct fuse_entry_param e;
	int err = NODE_NOT_MINE;

	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->lookup)
			err = k->lookup(req, parent, name, &e);
	if (err == 0)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, err == NODE_NOT_MINE ? ENOENT : err);
}

/* Default: ENOENT. */
static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_kind *k;
	int err = NODE_NOT_MINE;

	if (node_refuse_if_ro(req, "rm", name))
		return;
	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->unlink)
			err = k->unlink(req, parent, name);
	fuse_reply_err(req, err == NODE_NOT_MINE ? ENOENT : err);
}

/* Default: ENOENT. */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	const struct node_kind *k;
	int err = NODE_NOT_MINE;

	if (announce_rename(req, parent, name, newparent, newname) ||
	    node_refuse_if_ro(req, "mv", name))
		return;
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, node_refuse("exchanging two names is not possible", name,
						EINVAL));
		return;
	}
	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->rename)
			err = k->rename(req, parent, name, newparent, newname, flags);
	fuse_reply_err(req, err == NODE_NOT_MINE ? ENOENT : err);
}

/* cp into a folder.  Default: EPERM. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	const struct node_kind *k;
	struct fuse_entry_param e;
	int err = NODE_NOT_MINE;

	(void)mode;
	if (node_refuse_if_ro(req, "create", name))
		return;
	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->create)
			err = k->create(req, parent, name, fi, &e);
	if (err == 0)
		fuse_reply_create(req, &e, fi);
	else
		fuse_reply_err(req, err == NODE_NOT_MINE ? EPERM : err);
}

/* Default: refused (only the announcer makes nodes). */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	const struct node_kind *k;
	struct fuse_entry_param e;
	int err = NODE_NOT_MINE;

	(void)mode;
	(void)rdev;
	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->mknod)
			err = k->mknod(req, parent, name, &e);
	if (err == NODE_NOT_MINE)
		err = node_refuse("new files cannot be created in a mail folder", name, EPERM);
	if (err == 0)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, err);
}

/* A kind that refuses every change of name in parent has replied. */
static bool refused_by_kind(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_kind *k;
	int err = NODE_NOT_MINE;

	for (size_t i = 0; err == NODE_NOT_MINE && (k = node_by_name(i)); i++)
		if (k->refuse_change)
			err = k->refuse_change(req, parent, name);
	if (err != NODE_NOT_MINE)
		fuse_reply_err(req, err);
	return err != NODE_NOT_MINE;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	if (!refused_by_kind(req, parent, name))
		ops_mkdir(req, parent, name, mode);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!refused_by_kind(req, parent, name))
		ops_rmdir(req, parent, name);
}

/* Mail has no links: ENOSYS, as before there was a handler, but for a
 * kind that refuses changes with an errno of its own. */
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	if (!refused_by_kind(req, parent, name))
		fuse_reply_err(req, ENOSYS);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	if (!refused_by_kind(req, newparent, newname))
		fuse_reply_err(req, ENOSYS);
}

/* ---- inodes: the kind of the number (node_of: its handler or the default) - */

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	node_reply_attr(req, ino);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	node_of(ino)->setattr(req, ino, attr, to_set, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	node_of(ino)->opendir(req, ino, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	listing_read(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	listing_read(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	listing_release(req, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	node_of(ino)->open(req, ino, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	node_of(ino)->read(req, ino, size, off, fi);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	node_of(ino)->write(req, ino, buf, size, off, fi);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	node_of(ino)->flush(req, ino, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	node_of(ino)->release(req, ino, fi);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

const struct fuse_lowlevel_ops inboxfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
	.unlink = op_unlink,
	.rename = op_rename,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.link = op_link,
	.setattr = op_setattr,
	.create = op_create,
	.mknod = op_mknod,
	.write = op_write,
	.flush = op_flush,
	.getxattr = xattr_get,
	.setxattr = xattr_set,
	.listxattr = xattr_list,
	.removexattr = xattr_remove,
};
