/* rm, mv, mkdir and rmdir of folders and messages (see ops_change.h). */
#include "fs/ops_change.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "fs/alias.h"
#include "fs/attr.h"
#include "fs/mail/errno_map.h"
#include "fs/mail/account.h"
#include "fs/mail/changes.h"
#include "fs/mail/lookup.h"
#include "fs/node.h"
#include "fs/node_announce.h"

/* One change the user asked for: what it is and what it acts on. */
struct change_req {
	enum { CH_DELETE_MSG, CH_LOAD, CH_MOVE_MSG, CH_RENAME, CH_CREATE, CH_DELETE_FOLDER } kind;
	struct folder *f;	/* the folder acted on, or the source of a move */
	struct folder *to;	/* the target folder of a move or rename */
	uint32_t uid;		/* the message, for CH_DELETE_MSG and CH_MOVE_MSG */
	uint32_t *new_uid;	/* out: the moved message's UID, or 0 when unknown */
	const char *name;	/* the new folder's name, for CH_RENAME and CH_CREATE */
	struct folder **made;	/* out: the folder CH_CREATE made */
};

/* Runs c; the caller holds the session. */
static enum imap_result run_change(struct account *a, const struct change_req *c,
				   struct imap_status *st)
{
	switch (c->kind) {
	case CH_DELETE_MSG:
		return change_delete_message(a, c->f, c->uid, st);
	case CH_LOAD:
		return account_ensure_loaded(a, c->f, st);
	case CH_MOVE_MSG:
		return change_move_message(a, c->f, c->uid, c->to, c->new_uid, st);
	case CH_RENAME:
		return change_rename_folder(a, c->f, c->to, c->name, st);
	case CH_CREATE:
		return change_create_folder(a, c->f, c->name, c->made, st);
	case CH_DELETE_FOLDER:
		return change_delete_folder(a, c->f, st);
	}
	imap_status_set(st, IMAP_R_BAD, "unknown change %d", (int)c->kind);
	return st->result;
}

/* Runs c with the session, due at deadline: 0 or an errno (logged as
 * what). */
static int with_session(struct account *a, long long deadline, const struct change_req *c,
			const char *what)
{
	struct imap_status st;
	enum imap_result rr = IMAP_R_TIMEOUT;

	if (account_lock_session(a, deadline, &st)) {
		rr = run_change(a, c, &st);
		account_unlock_session(a);
	}
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, what);
}

/* The folder of inode ino, or NULL. */
static struct folder *folder_of(struct account *a, fuse_ino_t ino)
{
	struct folder_info f;

	return lookup_folder(a, ino, &f) ? f.f : NULL;
}

/* Folder f has a message uid (as far as the index knows). */
static bool has_message(struct account *a, struct folder *f, uint32_t uid)
{
	struct folder_info dir;
	struct msg m;

	return lookup_message_in(a, f->ino, uid, &dir, &m) == 0;
}

int ops_unlink_folder(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info sub;

	if (!folder_of(a, parent))
		return ENOENT;
	return lookup_subfolder(a, parent, name, &sub) ? EISDIR : NODE_NOT_MINE;
}

int ops_unlink_message(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct folder *dir;
	char what[300];
	uint32_t uid;

	if (!index_parse_msg_name(name, &uid) || !(dir = folder_of(a, parent)))
		return NODE_NOT_MINE;
	snprintf(what, sizeof(what), "rm %s/%s", dir->imap_name ? dir->imap_name : "", name);
	return with_session(a, deadline,
			    &(struct change_req){ .kind = CH_DELETE_MSG, .f = dir, .uid = uid }, what);
}

/* The kernel now holds the typed name (Archive/7.eml) for the moved
 * message, and coreutils mv stats it right after rename() succeeds.  So
 * that name stays, as an alias of the moved message, until the folder is
 * next listed; if the folder has a real message of that name, the alias
 * is dropped at once so that the real one shows. */
static void keep_typed_name(struct account *a, struct folder *to, const char *newname,
			    uint32_t new_uid)
{
	uint32_t other;
	bool shadows = index_parse_msg_name(newname, &other) && other != new_uid &&
		       has_message(a, to, other);

	if (shadows || !new_uid) /* a real message to show, or nothing to alias */
		hooks_inval_entry(&a->hooks, to->ino, newname);
	else
		alias_add(&a->hooks, to->ino, newname);
}

/* A move never replaces: the target name is refused only when it is a
 * folder, or a message and noreplace.  0 or an errno (logged). */
static int check_move_target(struct account *a, struct folder *to, const char *newname,
			     bool noreplace, long long deadline, const char *what)
{
	struct folder_info sub;
	uint32_t other;
	int err = lookup_subfolder(a, to->ino, newname, &sub) ? EISDIR : 0;

	if (!err && noreplace && index_folder_selectable(to) &&
	    (err = with_session(a, deadline, &(struct change_req){ .kind = CH_LOAD, .f = to },
					 what)) == 0 &&
	    index_parse_msg_name(newname, &other) && has_message(a, to, other))
		err = EEXIST;
	if (err == EISDIR || err == EEXIST)
		return node_refuse("the target name exists", what, err);
	return err;
}

/* mv of a message: only to another folder.  The message gets a new UID
 * there (COPYUID), so the typed target name means nothing to the server:
 * `mv INBOX/7.eml Archive/` moves message 7 even when Archive has a 7.eml
 * of its own, which stays untouched (a move never replaces a message).
 * Only with RENAME_NOREPLACE (mv -n) an existing name gives EEXIST. */
static int move_message(struct account *a, struct folder *from, const char *name,
			struct folder *to, const char *newname, bool noreplace, long long deadline)
{
	uint32_t uid, new_uid = 0;
	char what[600];
	int err;

	if (!index_parse_msg_name(name, &uid))
		return ENOENT;
	snprintf(what, sizeof(what), "mv %s/%s %s/%s", from->imap_name ? from->imap_name : "",
		 name, to->imap_name ? to->imap_name : to->name, newname);
	if (from == to)
		return strcmp(name, newname) == 0 ? 0 :
		       node_refuse("a message's name is its UID: it cannot be renamed within its "
				   "folder", what, EPERM);
	err = check_move_target(a, to, newname, noreplace, deadline, what);
	if (!err)
		err = with_session(a, deadline, &(struct change_req){ .kind = CH_MOVE_MSG, .f = from,
				   .uid = uid, .to = to, .new_uid = &new_uid }, what);
	if (!err)
		keep_typed_name(a, to, newname, new_uid);
	return err;
}

int ops_move_message(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct folder *from = folder_of(a, parent), *to = folder_of(a, newparent);

	if (!from || !to)
		return ENOENT;
	return move_message(a, from, name, to, newname, flags & RENAME_NOREPLACE, deadline);
}

int ops_rename_folder(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct folder *from = folder_of(a, parent), *to = folder_of(a, newparent), *f;
	struct folder_info sub;
	char what[600];

	(void)flags;
	if (!from || !to)
		return ENOENT;
	if (!lookup_subfolder(a, parent, name, &sub))
		return NODE_NOT_MINE;
	f = sub.f;
	snprintf(what, sizeof(what), "mv %s %s", f->imap_name ? f->imap_name : f->name, newname);
	return with_session(a, deadline, &(struct change_req){ .kind = CH_RENAME, .f = f, .to = to,
			    .name = newname }, what);
}

void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct fuse_entry_param e;
	struct folder *dir, *f = NULL;
	struct folder_info made;
	char what[300];
	int err;

	(void)mode;
	if (announce_mkdir(req, parent, name) || node_refuse_if_ro(req, "mkdir", name))
		return;
	snprintf(what, sizeof(what), "mkdir %s", name);
	dir = folder_of(a, parent);
	err = dir ? with_session(a, deadline, &(struct change_req){ .kind = CH_CREATE,
			   .f = dir, .name = name, .made = &f }, what) :
	      ENOENT;
	if (!err && !lookup_folder(a, f->ino, &made))
		err = ENOENT; /* removed again already */
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	attr_folder_entry(a, &made, &e);
	fuse_reply_entry(req, &e);
}

void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct folder_info sub;
	char what[300];
	uint32_t uid;
	int err;

	if (announce_rmdir(req, parent, name) || node_refuse_if_ro(req, "rmdir", name))
		return;
	snprintf(what, sizeof(what), "rmdir %s", name);
	if (!folder_of(a, parent))
		err = ENOENT;
	else if (!lookup_subfolder(a, parent, name, &sub))
		err = index_parse_msg_name(name, &uid) ? ENOTDIR : ENOENT;
	else
		err = with_session(a, deadline,
				   &(struct change_req){ .kind = CH_DELETE_FOLDER, .f = sub.f }, what);
	fuse_reply_err(req, err);
}
