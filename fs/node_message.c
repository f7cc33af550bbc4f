/* Messages: <UID>.eml in their folder, immutable, read from the body
 * cache, the disk cache or the server. */
#include "fs/node_message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/attr.h"
#include "fs/mail/errno_map.h"
#include "fs/inode.h"
#include "fs/mail/account.h"
#include "fs/mail/pool.h"
#include "fs/node.h"
#include "fs/ops_change.h"

static bool message_owns(fuse_ino_t ino) { return ino_is_message(ino); }

/* Name in dir from the index: 0 and e filled, NODE_NOT_MINE, or EAGAIN
 * when the folder's messages must be loaded first (*dirp says which). */
static int find_in_index(struct account *a, fuse_ino_t parent, uint32_t uid,
			 struct folder_info *dirp, struct fuse_entry_param *e)
{
	struct msg m;
	int err = lookup_message_in(a, parent, uid, dirp, &m);

	if (err == ENOENT)
		return NODE_NOT_MINE;
	if (err == 0)
		attr_message_entry(a, index_msg_ino(dirp->f, m.uid), &m, e);
	return err;
}

static int load_folder(struct account *a, struct folder *dir, long long deadline)
{
	struct imap_status st;
	enum imap_result rr = IMAP_R_TIMEOUT;

	if (account_lock_session(a, deadline, &st)) {
		rr = account_ensure_loaded(a, dir, &st);
		account_unlock_session(a);
	}
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, dir->imap_name);
}

/* Only "<UID>.eml" can be a message: no server round trip for the .Trash,
 * autorun.inf and libc.so.6 probes of the world. */
static int message_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			  struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct folder_info dir;
	uint32_t uid;
	int err;

	if (!index_parse_msg_name(name, &uid))
		return NODE_NOT_MINE;
	err = find_in_index(a, parent, uid, &dir, e);
	if (err == EAGAIN && !(err = load_folder(a, dir.f, deadline))) {
		err = find_in_index(a, parent, uid, &dir, e);
		if (err == EAGAIN)
			err = EIO; /* loaded, yet not loaded: never loop */
	}
	return err;
}

/* The messages: a copy of the list and of the folder's generation (which
 * their inodes carry). */
struct msgs_copy {
	struct folder of;
	struct msg msgs[];
};

static int message_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	struct folder *f = index_folder_by_ino(a->index, dir);
	struct msgs_copy *c;

	if (!f || !f->loaded || !f->nmsgs)
		return 0;
	c = calloc(1, sizeof(*c) + f->nmsgs * sizeof(c->msgs[0]));
	if (!c)
		return ENOMEM;
	c->of.gen = f->gen;
	c->of.msgs = c->msgs;
	c->of.nmsgs = f->nmsgs;
	memcpy(c->msgs, f->msgs, f->nmsgs * sizeof(c->msgs[0]));
	part->data = c;
	part->n = f->nmsgs;
	return 0;
}

static void message_list_entry(struct account *a, const struct node_part *part, size_t i,
			       char *name, size_t namelen, struct fuse_entry_param *e)
{
	const struct msgs_copy *c = part->data;

	snprintf(name, namelen, "%u.eml", c->msgs[i].uid);
	attr_message_entry(a, index_msg_ino(&c->of, c->msgs[i].uid), &c->msgs[i], e);
}

static int message_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info f;
	uint64_t now;
	struct msg m;

	if (!lookup_message(a, ino, &f, &m, &now))
		return ENOENT;
	attr_message(a, now, &m, st);
	*timeout = ATTR_MSG_TIMEOUT;
	return 0;
}

/* ---- open ------------------------------------------------------------------ */

struct open_req {
	fuse_req_t req;
	struct fuse_file_info *fi;
	struct account *a;
	fuse_ino_t ino;
	bool ghost;       /* opened by a name kept for an appended file */
};

/* Reply to open as soon as the body is there; read-ahead goes on after. */
static void open_ready(void *ctx, struct body *b)
{
	struct open_req *o = ctx;
	struct folder_info f;
	uint64_t now;
	struct msg m;

	/* A corrected size may not have reached the kernel yet: bypass the
	 * page cache, which would cut the read at the old size. */
	o->fi->direct_io = !lookup_message(o->a, o->ino, &f, &m, &now) || m.size_exact == 2 ||
			   o->ghost;
	o->fi->keep_cache = !o->fi->direct_io;
	o->fi->noflush = 1; /* only files being written need a FLUSH at close */
	o->fi->fh = (uintptr_t)b;
	if (fuse_reply_open(o->req, o->fi) != 0)
		bodycache_release(o->a->bodies, b); /* the opener is gone */
	o->req = NULL;
}

/* Fetch for an open: on the worker's connection, or on a free reader's
 * while the worker is busy (another reader's fetch, a scan's read-ahead). */
static enum imap_result load_for_open(struct account *a, struct folder *f, uint32_t uid,
				      struct open_req *o, long long deadline,
				      struct imap_status *st)
{
	enum imap_result rr;

	if (!account_trylock_session(a, deadline)) {
		if (!account_scanning(a, f) &&
		    pool_load_body(a->readers, f, uid, open_ready, o, deadline, st, &rr))
			return rr;
		if (!account_lock_session(a, deadline, st))
			return st->result;
	}
	rr = account_load_body(a, f, uid, open_ready, o, st);
	account_unlock_session(a);
	return rr;
}

/* The body from the caches (no session needed), else from the server. */
static void open_body(struct open_req *o, struct folder *f, uint32_t uid, long long deadline)
{
	struct account *a = o->a;
	struct imap_status st;
	char what[300];
	struct body *b;
	int err = 0;

	/* Cached, or on its way in a read-ahead. */
	b = bodycache_wait(a->bodies, o->ino);
	if (!b)
		b = account_body_from_disk(a, f, uid); /* also when the server is away */
	if (b) {
		account_note_cache_hit(a);
		open_ready(o, b);
		return;
	}
	if (load_for_open(a, f, uid, o, deadline, &st) != IMAP_R_OK && o->req) {
		snprintf(what, sizeof(what), "%s/%u.eml", f->imap_name, uid);
		err = imap_errno(&st, what);
	}
	if (o->req)
		fuse_reply_err(o->req, err ? err : EIO);
}

void message_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool ghost)
{
	struct open_req o = { req, fi, fuse_req_userdata(req), ino, ghost };
	long long deadline = account_deadline(o.a);
	struct folder_info f;
	uint64_t now;
	struct msg m;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		log_info(LOG_CAT_FS, "refused to open message inode %llx for writing: messages "
			 "are immutable", (unsigned long long)ino);
		fuse_reply_err(req, o.a->opt->ro ? EROFS : EPERM);
		return;
	}
	if (!lookup_message(o.a, ino, &f, &m, &now))
		fuse_reply_err(req, ENOENT);
	else
		open_body(&o, f.f, m.uid, deadline);
}

static void message_open_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	message_open(req, ino, fi, false);
}

const struct node_kind node_message = {
	.owns = message_owns,
	.lookup = message_lookup,
	.unlink = ops_unlink_message,
	.rename = ops_move_message,
	.list = message_list,
	.list_entry = message_list_entry,
	.getattr = message_getattr,
	.open = message_open_op,
};
