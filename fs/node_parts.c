/* FOLDER/.parts/ (looked up, never listed: tools that walk the mount
 * never enter it), FOLDER/.parts/UID/ for each message, and the files of
 * its parts (fs/parts.h), fetched part by part (fs/parts_fetch.h).
 * Everything here is read-only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/lookup.h"
#include "fs/attr.h"
#include "fs/mail/errno_map.h"
#include "fs/handle.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/node.h"
#include "fs/mail/parts_cache.h"
#include "fs/mail/parts_fetch.h"
#include "fs/mail/parts_name.h"

#define PARTS_DIR_NAME ".parts"

/* What a parts inode names: .parts of folder (uid 0), the directory of
 * message gen/uid (file 0), or its file file - 1. */
struct pnode {
	uint64_t folder;
	uint32_t gen, uid, file;
};

static struct pnode decode(fuse_ino_t ino)
{
	struct pnode n = { 0, 0, (uint32_t)ino, 0 };

	if (n.uid == 0)
		n.folder = (ino >> 32) & PARTS_FOLDER_MAX;
	else {
		n.gen = (uint32_t)(ino >> 46) & PARTS_GEN_MAX;
		n.file = (uint32_t)(ino >> 32) & (PARTS_FILES_MAX + 1);
	}
	return n;
}

static bool parts_owns(fuse_ino_t ino) { return ino_is_parts(ino); }

/* Folder ino, when it is one that has messages (*f filled). */
static bool parts_folder(struct account *a, uint64_t ino, struct folder_info *f)
{
	return ino <= PARTS_FOLDER_MAX && lookup_folder(a, ino, f) && f->selectable;
}

/* The message of n (its folder in *dir), false when gone. */
static bool pnode_msg(struct account *a, struct pnode n, struct folder_info *dir, struct msg *m)
{
	uint64_t now;

	return lookup_message(a, MSG_INO_BIT | (uint64_t)n.gen << 32 | n.uid, dir, m, &now);
}

static void dir_attr(const struct account *a, fuse_ino_t ino, time_t t, struct stat *st)
{
	attr_fill(st, ino, S_IFDIR | attr_perms(a, 0500), 2, t);
}

static void file_attr(const struct account *a, fuse_ino_t ino, time_t t, uint64_t size,
		      struct stat *st)
{
	attr_fill(st, ino, S_IFREG | attr_perms(a, 0400), 1, t);
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

/* An entry with its attributes: kept long, but an estimated size only a
 * moment (reading a file corrects it).  The names in and of a message's
 * directory are not kept: each path through it asks the index and the
 * part list again (no server traffic), so that the directory vanishes
 * with the message, and a file's number (its place in the list) always
 * comes from the list that serves it, also one made again after an
 * eviction, maybe from the body this time. */
static void entry_of(struct fuse_entry_param *e, const struct stat *st, bool exact)
{
	struct pnode n = decode(st->st_ino);
	bool msg_dir = n.uid != 0 && n.file == 0;

	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->entry_timeout = n.uid != 0 ? 0 : ATTR_MSG_TIMEOUT;
	e->attr_timeout = msg_dir ? 0 : exact ? ATTR_MSG_TIMEOUT : ATTR_DIR_TIMEOUT;
}

/* A message's part list and what it is, for a call due at deadline
 * (about file: NULL, or the one a lookup is for). */
static int load_list(struct account *a, struct pnode n, long long deadline, const char *file,
		     struct parts_msg **pm, struct parts_ref *r, time_t *date)
{
	struct folder_info dir;
	struct msg m;

	if (!pnode_msg(a, n, &dir, &m))
		return ENOENT;
	r->f = dir.f;
	*date = (time_t)m.date;
	r->a = a;
	r->uid = n.uid;
	r->ino = MSG_INO_BIT | (uint64_t)n.gen << 32 | n.uid;
	r->deadline = deadline;
	r->file = file;
	return parts_load(r, pm);
}

/* Load folder f's messages when they never were (a lookup of .parts/UID
 * or a listing of .parts straight after mounting). */
static int ensure_loaded(struct account *a, struct folder *f, long long deadline)
{
	struct imap_status st;
	enum imap_result rr = IMAP_R_TIMEOUT;

	if (account_lock_session(a, deadline, &st)) {
		rr = account_ensure_loaded(a, f, &st);
		account_unlock_session(a);
	}
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, f->imap_name ? f->imap_name : "");
}

/* ---- names ------------------------------------------------------------------ */

/* "42": a canonical UID. */
static bool parse_uid(const char *name, uint32_t *uid)
{
	unsigned long long v = 0;
	size_t i = 0;

	if (name[0] < '1' || name[0] > '9')
		return false;
	for (; name[i] >= '0' && name[i] <= '9' && i < 11; i++)
		v = v * 10 + (unsigned)(name[i] - '0');
	if (name[i] != '\0' || v > UINT32_MAX)
		return false;
	*uid = (uint32_t)v;
	return true;
}

/* Folder ino has a .parts: it holds messages, and no subfolder of that
 * name on the server (which wins, as over .newmail). */
static bool has_parts(struct account *a, fuse_ino_t ino)
{
	struct folder_info f, sub;

	return parts_folder(a, ino, &f) && !lookup_subfolder(a, ino, PARTS_DIR_NAME, &sub);
}

static int lookup_dir(struct account *a, fuse_ino_t folder, struct fuse_entry_param *e)
{
	struct stat st;

	if (!has_parts(a, folder))
		return NODE_NOT_MINE;
	dir_attr(a, parts_dir_ino(folder), attr_mount_time(), &st);
	entry_of(e, &st, true);
	return 0;
}

/* .parts/UID of folder ino: the message's directory; EAGAIN when the
 * folder's messages must be loaded first (*f says which). */
static int find_msg_dir(struct account *a, uint64_t ino, uint32_t uid, struct folder_info *f,
			struct fuse_entry_param *e)
{
	struct stat st;
	struct msg m;
	int err;

	if (!parts_folder(a, ino, f))
		return ENOENT;
	if ((err = lookup_message_in(a, ino, uid, f, &m)) != 0)
		return err;
	if (f->gen > PARTS_GEN_MAX)
		return node_refuse("too many folders for .parts inode numbers", f->f->name, ENOENT);
	dir_attr(a, parts_ino(f->gen, uid, 0), (time_t)m.date, &st);
	entry_of(e, &st, true);
	return 0;
}

static int lookup_msg_dir(struct account *a, struct pnode n, const char *name,
			  struct fuse_entry_param *e)
{
	long long deadline = account_deadline(a);
	struct folder_info f;
	uint32_t uid;
	int err;

	if (!parse_uid(name, &uid))
		return ENOENT;
	err = find_msg_dir(a, n.folder, uid, &f, e);
	if (err == EAGAIN && !(err = ensure_loaded(a, f.f, deadline))) {
		err = find_msg_dir(a, n.folder, uid, &f, e);
		if (err == EAGAIN)
			err = EIO; /* loaded, yet not loaded: never loop */
	}
	return err;
}

static int lookup_file(struct account *a, struct pnode n, const char *name,
		       struct fuse_entry_param *e)
{
	struct parts_msg *pm;
	struct parts_ref r;
	struct stat st;
	time_t date = 0;
	bool exact;
	long i;
	int err = load_list(a, n, account_deadline(a), name, &pm, &r, &date);

	if (err)
		return err;
	i = parts_find(pm, name);
	if (i >= 0 && (size_t)i < PARTS_FILES_MAX) {
		file_attr(a, parts_ino(n.gen, n.uid, (uint32_t)i + 1), date,
			  parts_cache_size(pm, (size_t)i, &exact), &st);
		entry_of(e, &st, exact);
	}
	parts_cache_release(pm);
	return i >= 0 && (size_t)i < PARTS_FILES_MAX ? 0 : ENOENT;
}

/* ".parts" in a folder, "UID" in .parts, a file name in .parts/UID. */
static int parts_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	struct pnode n = decode(parent);

	if (ino_is_folder(parent))
		return strcmp(name, PARTS_DIR_NAME) == 0 ? lookup_dir(a, parent, e) : NODE_NOT_MINE;
	if (!ino_is_parts(parent))
		return NODE_NOT_MINE;
	if (n.uid == 0)
		return lookup_msg_dir(a, n, name, e);
	return n.file == 0 ? lookup_file(a, n, name, e) : ENOTDIR;
}

/* ---- changes: all refused ---------------------------------------------------- */

static bool is_ours(fuse_req_t req, fuse_ino_t dir, const char *name)
{
	return ino_is_parts(dir) || (ino_is_folder(dir) && strcmp(name, PARTS_DIR_NAME) == 0 &&
				     has_parts(fuse_req_userdata(req), dir));
}

static int parts_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	(void)fi;
	(void)e;
	return is_ours(req, parent, name) ? readonly_errno(name) : NODE_NOT_MINE;
}

static int parts_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       struct fuse_entry_param *e)
{
	(void)e;
	return is_ours(req, parent, name) ? readonly_errno(name) : NODE_NOT_MINE;
}

static int parts_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	return is_ours(req, parent, name) ? readonly_errno(name) : NODE_NOT_MINE;
}

static int parts_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)flags;
	return is_ours(req, parent, name) || is_ours(req, newparent, newname) ? readonly_errno(name) :
	       NODE_NOT_MINE;
}

static int parts_refuse_change(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	return is_ours(req, parent, name) ? readonly_errno(name) : NODE_NOT_MINE;
}

static void parts_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	(void)attr;
	(void)fi;
	if (to_set & FUSE_SET_ATTR_SIZE)
		fuse_reply_err(req, readonly_errno("truncate"));
	else
		node_reply_attr(req, ino);
}

/* ---- listings ------------------------------------------------------------------ */

/* .parts: the folder's messages. */
struct uid_list {
	uint32_t gen;
	struct { uint32_t uid; int64_t date; } m[];
};

/* .parts/UID: the files, copied. */
struct file_list {
	uint32_t gen, uid;
	int64_t date;
	struct { char name[PARTS_NAME_MAX + 1]; uint64_t size; bool exact; } f[];
};

/* The listing's own look at the index (held still: no lookups here). */
static int list_uids(struct account *a, struct pnode n, struct node_part *part)
{
	struct folder *f = index_folder_by_ino(a->index, n.folder);
	struct uid_list *l;

	if (!f || !index_folder_selectable(f) || n.folder > PARTS_FOLDER_MAX || !f->loaded || !f->nmsgs || f->gen > PARTS_GEN_MAX)
		return 0;
	if (!(l = malloc(sizeof(*l) + f->nmsgs * sizeof(l->m[0]))))
		return ENOMEM;
	l->gen = f->gen;
	for (size_t i = 0; i < f->nmsgs; i++) {
		l->m[i].uid = f->msgs[i].uid;
		l->m[i].date = f->msgs[i].date;
	}
	part->data = l;
	part->n = f->nmsgs;
	return 0;
}

/* The list opendir loaded (a list evicted meanwhile lists empty). */
static int list_files(struct account *a, struct pnode n, struct node_part *part)
{
	struct folder *f;
	struct msg *m = index_msg_by_ino(a->index, MSG_INO_BIT | (uint64_t)n.gen << 32 | n.uid, &f);
	struct parts_msg *pm = m ? parts_cache_get(MSG_INO_BIT | (uint64_t)n.gen << 32 | n.uid) :
				    NULL;
	size_t count = pm ? (pm->n < PARTS_FILES_MAX ? pm->n : PARTS_FILES_MAX) : 0;
	struct file_list *l = pm ? malloc(sizeof(*l) + count * sizeof(l->f[0])) : NULL;

	if (pm && l) {
		*l = (struct file_list){ n.gen, n.uid, m->date };
		for (size_t i = 0; i < count; i++) {
			snprintf(l->f[i].name, sizeof(l->f[i].name), "%s", pm->e[i].name);
			l->f[i].size = parts_cache_size(pm, i, &l->f[i].exact);
		}
		part->data = l;
		part->n = count;
	}
	if (pm)
		parts_cache_release(pm);
	return pm && !l ? ENOMEM : 0;
}

static int parts_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	struct pnode n = decode(dir);

	if (!ino_is_parts(dir) || n.file != 0)
		return 0;
	return n.uid == 0 ? list_uids(a, n, part) : list_files(a, n, part);
}

static void parts_list_entry(struct account *a, const struct node_part *part, size_t i,
			     char *name, size_t namelen, struct fuse_entry_param *e)
{
	struct stat st;

	if (decode(part->dir).uid == 0) {
		const struct uid_list *l = part->data;

		snprintf(name, namelen, "%u", l->m[i].uid);
		dir_attr(a, parts_ino(l->gen, l->m[i].uid, 0), (time_t)l->m[i].date, &st);
		entry_of(e, &st, true);
		return;
	}
	const struct file_list *l = part->data;

	snprintf(name, namelen, "%s", l->f[i].name);
	file_attr(a, parts_ino(l->gen, l->uid, (uint32_t)i + 1), (time_t)l->date, l->f[i].size,
		  &st);
	entry_of(e, &st, l->f[i].exact);
}

/* ---- inodes ------------------------------------------------------------------ */

/* .parts or a message's directory: from the index alone. */
static int dir_getattr(struct account *a, struct pnode n, fuse_ino_t ino, struct stat *st,
		       double *timeout)
{
	struct folder_info f;
	struct msg m;
	bool there = n.uid == 0 ? parts_folder(a, n.folder, &f) : pnode_msg(a, n, &f, &m);

	dir_attr(a, ino, n.uid != 0 && there ? (time_t)m.date : attr_mount_time(), st);
	*timeout = n.uid == 0 ? ATTR_MSG_TIMEOUT : 0;
	return there ? 0 : ENOENT;
}

static int parts_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	struct pnode n = decode(ino);
	struct parts_msg *pm;
	struct parts_ref r;
	time_t date = 0;
	bool exact = true;
	int err = 0;

	*timeout = ATTR_MSG_TIMEOUT;
	if (n.uid == 0 || n.file == 0)
		return dir_getattr(a, n, ino, st, timeout);
	if ((err = load_list(a, n, account_deadline(a), NULL, &pm, &r, &date)) != 0)
		return err;
	if (n.file <= pm->n)
		file_attr(a, ino, date, parts_cache_size(pm, n.file - 1, &exact), st);
	else
		err = ENOENT;
	parts_cache_release(pm);
	*timeout = exact ? ATTR_MSG_TIMEOUT : 0;
	return err;
}

static void parts_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct pnode n = decode(ino);
	struct parts_msg *pm;
	struct parts_ref r;
	struct folder_info f;
	time_t date;
	int err = ENOENT;

	if (n.file != 0) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (n.uid != 0) {
		if ((err = load_list(a, n, deadline, NULL, &pm, &r, &date)) != 0) {
			fuse_reply_err(req, err);
			return;
		}
		parts_exact_sizes(&r, pm);
		listing_open(req, fi, ino, parts_dir_ino(r.f->ino));
		parts_cache_release(pm);
		return;
	}
	if (!parts_folder(a, n.folder, &f) || (!f.loaded && (err = ensure_loaded(a, f.f, deadline))))
		fuse_reply_err(req, err);
	else
		listing_open(req, fi, ino, n.folder);
}

/* Read file i; the kernel forgets the size it had when that was an
 * estimate (it would cut a read through the page cache, and stat). */
static int read_file(const struct parts_ref *r, struct parts_msg *pm, size_t i, fuse_ino_t ino,
		     char **data, size_t *len)
{
	bool exact;
	uint64_t had = parts_cache_size(pm, i, &exact);
	int err = parts_read(r, pm, i, data, len);

	if (!err && (!exact || had != *len))
		hooks_inval_inode(&r->a->hooks, ino);
	return err;
}

static void parts_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	struct pnode n = decode(ino);
	struct parts_msg *pm;
	struct parts_ref r;
	time_t date;
	char *data = NULL;
	size_t len = 0;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, readonly_errno("open for writing"));
		return;
	}
	if (n.uid == 0 || n.file == 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((err = load_list(a, n, account_deadline(a), NULL, &pm, &r, &date)) != 0) {
		fuse_reply_err(req, err);
		return;
	}
	err = n.file <= pm->n ? read_file(&r, pm, n.file - 1, ino, &data, &len) : ENOENT;
	parts_cache_release(pm);
	if (err)
		fuse_reply_err(req, err);
	else
		handle_open_text(req, fi, data, len);
}

/* Its names shadow the others' in its directories: a change there is
 * refused here before a folder or message handler could take it. */
const struct node_kind node_parts = {
	.names_first = true,
	.owns = parts_owns,
	.lookup = parts_lookup,
	.create = parts_create,
	.mknod = parts_mknod,
	.unlink = parts_unlink,
	.rename = parts_rename,
	.refuse_change = parts_refuse_change,
	.list = parts_list,
	.list_entry = parts_list_entry,
	.getattr = parts_getattr,
	.setattr = parts_setattr,
	.opendir = parts_opendir,
	.open = parts_open,
};
