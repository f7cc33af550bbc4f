/* Files written into a folder (cp, shell redirection, rsync and atomic
 * writers: a hidden temporary renamed into place) become messages:
 * create, write, close -> APPEND (RFC 3501 §6.3.11); a hidden temporary
 * -> APPEND when it is renamed to a visible name.  What is held until
 * then, and how long: newfile.h.  Their names shadow the other kinds'
 * (a writer's name is its own until the close). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/mail/errno_map.h"
#include "fs/handle.h"
#include "fs/inode.h"
#include "fs/mail/account.h"
#include "fs/mail/changes.h"
#include "fs/mail/dedupe.h"
#include "fs/mail/lookup.h"
#include "fs/mail/newfile.h"
#include "fs/node.h"
#include "fs/node_message.h"

static struct account *req_acct(fuse_req_t req) { return fuse_req_userdata(req); }

static void attr_of(const struct newfile_info *info, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = info->ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = (off_t)info->size;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime =
		info->mtime >= 0 ? (time_t)info->mtime : time(NULL);
}

/* Never cached by the kernel: the name changes meaning at a close, a
 * rename, a listing. */
static void entry_of(const struct newfile_info *info, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = info->ino;
	attr_of(info, &e->attr);
}

static int refuse_name(const char *name, const char *why, int err)
{
	log_info(LOG_CAT_FS, "%s refused: %s", name, why);
	return err;
}

/* A real message of folder dir_ino has that name. */
static bool names_a_message(struct account *a, uint64_t dir_ino, const char *name)
{
	struct folder_info dir;
	struct msg m;
	uint32_t uid;

	return index_parse_msg_name(name, &uid) &&
	       lookup_message_in(a, dir_ino, uid, &dir, &m) == 0;
}

static bool names_a_subfolder(struct account *a, uint64_t dir_ino, const char *name)
{
	struct folder_info sub;

	return lookup_subfolder(a, dir_ino, name, &sub);
}

/* Which names may be written in dir: only in a folder that holds
 * messages, a usable name, not one that exists. */
static int check_new(struct account *a, uint64_t dir_ino, const char *name)
{
	struct folder_info dir;

	if (!lookup_folder(a, dir_ino, &dir))
		return ENOENT;
	if (!dir.selectable)
		return refuse_name(name, "this folder holds no messages (\\Noselect)", EPERM);
	if (!index_valid_component(name))
		return refuse_name(name, "not a usable file name", EINVAL);
	if (names_a_subfolder(a, dir_ino, name) || (dir.watched && strcmp(name, MARKER_NAME) == 0) ||
	    names_a_message(a, dir_ino, name))
		return EEXIST;
	return 0;
}

static bool nf_owns(fuse_ino_t ino) { return ino_is_newfile(ino); }

static int nf_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct account *a = req_acct(req);
	struct newfile_info info = { .mtime = -1 };
	int err;

	err = check_new(a, parent, name);
	if (!err)
		err = newfile_create(a->newfiles, parent, name, &info.ino);
	if (err == ENOSPC)
		log_warn(LOG_CAT_FS, "%s refused: %d hidden files (or %zu MB) already wait for a "
			 "rename; remove some", name, PARKED_MAX_FILES, PARKED_MAX_BYTES >> 20);
	if (err)
		return err;
	info.dir_ino = parent;
	info.open = true;
	entry_of(&info, e);
	fi->direct_io = 1; /* every write reaches us; nothing to cache */
	fi->fh = 0;
	log_debug(LOG_CAT_FS, "new file %s: %s", name, newfile_hidden(name) ?
		  "hidden, kept until it is renamed to a visible name" : "appended when closed");
	return 0;
}

/* The file held as parent/name, unless a real message takes the name. */
static bool held(struct account *a, uint64_t parent, const char *name,
		 struct newfile_info *info)
{
	return newfile_lookup(a->newfiles, parent, name, info) == 0 &&
	       !(info->ghost && names_a_message(a, parent, name));
}

static int nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct newfile_info info;

	if (!held(req_acct(req), parent, name, &info))
		return NODE_NOT_MINE;
	entry_of(&info, e);
	return 0;
}

static int nf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = req_acct(req);
	struct newfile_info info;

	if (!held(a, parent, name, &info) || newfile_unlink(a->newfiles, parent, name) != 0)
		return NODE_NOT_MINE;
	if (info.ghost)
		log_info(LOG_CAT_FS, "%s: name dropped; the message stays as %u.eml", name,
			 info.uid);
	else
		log_info(LOG_CAT_FS, "%s removed before it became a message: not appended", name);
	return 0;
}

static int nf_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct newfile_info info;

	if (newfile_stat(req_acct(req)->newfiles, ino, &info) != 0)
		return ENOENT;
	attr_of(&info, st);
	*timeout = 0;
	return 0;
}

/* truncate, and the mtime of cp -p / touch -d / rsync: it becomes
 * INTERNALDATE.  chmod and chown mean nothing here and are accepted. */
static void nf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct account *a = req_acct(req);
	int err = 0;

	(void)fi;
	if (to_set & FUSE_SET_ATTR_SIZE)
		err = newfile_truncate(a->newfiles, ino, (size_t)attr->st_size);
	if (!err && (to_set & FUSE_SET_ATTR_MTIME_NOW))
		err = newfile_set_mtime(a->newfiles, ino, time(NULL));
	else if (!err && (to_set & FUSE_SET_ATTR_MTIME))
		err = newfile_set_mtime(a->newfiles, ino, attr->st_mtime);
	if (err)
		fuse_reply_err(req, err);
	else
		node_reply_attr(req, ino);
}

/* The message a ghost stands for, when the index knows it. */
static bool ghost_message(struct account *a, fuse_ino_t ino, uint64_t *msg_ino)
{
	struct newfile_info info;
	struct folder_info dir;
	struct msg m;

	if (newfile_stat(a->newfiles, ino, &info) != 0 || !info.ghost || !info.uid ||
	    lookup_message_in(a, info.dir_ino, info.uid, &dir, &m) != 0)
		return false;
	*msg_ino = index_msg_ino(dir.f, info.uid);
	return true;
}

/* For writing: it is written again.  For reading: an appended file's
 * name reads its message; other reads are refused. */
static void nf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = req_acct(req);
	uint64_t msg_ino;
	int err;

	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		if (ghost_message(a, ino, &msg_ino))
			message_open(req, msg_ino, fi, true);
		else
			fuse_reply_err(req, EBUSY); /* its bytes are the writer's until appended */
		return;
	}
	err = newfile_reopen(a->newfiles, ino, (fi->flags & O_TRUNC) != 0);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->direct_io = 1;
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

static void nf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len;
	char *buf;
	int err;

	if (fi->fh) { /* an appended file's name opened for reading its message */
		handle_read(req, size, off, fi);
		return;
	}
	err = newfile_read(req_acct(req)->newfiles, ino, size, off, &buf, &len);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void nf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	int err = newfile_write(req_acct(req)->newfiles, ino, buf, size, off);

	(void)fi;
	if (err == EFBIG)
		log_warn(LOG_CAT_FS, "a new message grew past max_message: it will not be sent");
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

/* Store the bytes as a message of folder dir_ino (newfile_append_fn):
 * APPEND, unless append_dedupe finds them there already.  Always with a
 * date: the index then knows INTERNALDATE exactly. */
static int append(void *ctx, uint64_t dir_ino, const char *name, const char *data, size_t len,
		  int64_t mtime, struct newfile_sent *sent)
{
	struct account *a = ctx;
	long long deadline = account_deadline(a); /* the close() began just now */
	struct imap_status st;
	enum imap_result rr = IMAP_R_OK;
	struct folder_info info;
	struct folder *dir;
	char what[600];

	if (!lookup_folder(a, dir_ino, &info))
		return ENOENT;
	dir = info.f;
	snprintf(what, sizeof(what), "append %s/%s", dir->imap_name ? dir->imap_name : "", name);
	sent->date = mtime >= 0 ? mtime : time(NULL);
	sent->uid = 0;
	if (!account_lock_session(a, deadline, &st))
		return imap_errno(&st, what);
	/* Listed first (once, as ls would): the index then takes the new
	 * message at once (APPENDUID), so that the name written reads it. */
	rr = account_ensure_loaded(a, dir, &st);
	if (rr == IMAP_R_OK && a->opt->append_dedupe && mtime >= 0 &&
	    index_folder_selectable(dir))
		rr = dedupe_find(a, dir, data, len, mtime, &sent->uid, &st);
	if (rr == IMAP_R_OK && !sent->uid)
		rr = change_append(a, dir, data, len, sent->date, &sent->uid, &st);
	account_unlock_session(a);
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, what);
}

/* A close: the file is appended now, so that close() reports a refusal. */
static void nf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = req_acct(req);

	(void)fi;
	fuse_reply_err(req, newfile_flush(a->newfiles, ino, append, a));
}

static void nf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->fh) { /* an appended file's name opened for reading its message */
		handle_release(req, fi);
		return;
	}
	newfile_release(req_acct(req)->newfiles, ino);
	fuse_reply_err(req, 0);
}

/* Where a file held here may be renamed to: a folder that holds
 * messages, a usable name that is not a folder or the marker.  A
 * message's name is taken only with noreplace (EEXIST); otherwise the
 * file becomes a message beside it, as mv does. */
static int check_target(struct account *a, uint64_t dir_ino, const char *name, bool noreplace)
{
	int err = check_new(a, dir_ino, name);

	if (err == EEXIST && names_a_subfolder(a, dir_ino, name))
		return EISDIR;
	if (err == EEXIST && strcmp(name, MARKER_NAME) == 0)
		return refuse_name(name, "the new-mail marker is written by inboxfs only", EPERM);
	if (err == EEXIST && !noreplace)
		return 0;
	return err;
}

/* A parked temporary renamed to a visible name is appended now, into
 * newparent. */
static int nf_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned int flags)
{
	struct account *a = req_acct(req);
	bool noreplace = (flags & RENAME_NOREPLACE) != 0;
	struct newfile_info info;
	int err;

	if (!held(a, parent, name, &info))
		return NODE_NOT_MINE;
	err = check_target(a, newparent, newname, noreplace);
	if (!err)
		err = newfile_rename(a->newfiles, parent, name, newparent, newname, noreplace,
				     append, a);
	if (err == EXDEV)
		log_info(LOG_CAT_FS, "%s: already appended as %u.eml; mv that to move it", name,
			 info.uid);
	return err;
}

/* The files of dir being written or waiting for a rename (not ghosts). */
static int nf_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	struct newfile_entry *news;
	size_t n;
	int err = newfile_list(a->newfiles, dir, &news, &n);

	if (err)
		return err;
	part->data = news;
	part->n = n;
	return 0;
}

static void nf_list_entry(struct account *a, const struct node_part *part, size_t i,
			  char *name, size_t namelen, struct fuse_entry_param *e)
{
	const struct newfile_entry *news = part->data;

	(void)a;
	snprintf(name, namelen, "%s", news[i].name);
	entry_of(&news[i].info, e);
}

/* Listed: the names kept for appended files go (not at opendir: an
 * atomic writer opens the folder only to fsync it). */
static void nf_listed(struct account *a, fuse_ino_t dir)
{
	newfile_forget_ghosts(a->newfiles, dir);
}

const struct node_kind node_newfile = {
	.names_first = true,
	.owns = nf_owns,
	.lookup = nf_lookup,
	.create = nf_create,
	.unlink = nf_unlink,
	.rename = nf_rename,
	.list = nf_list,
	.list_entry = nf_list_entry,
	.listed = nf_listed,
	.getattr = nf_getattr,
	.setattr = nf_setattr,
	.open = nf_open,
	.read = nf_read,
	.write = nf_write,
	.flush = nf_flush,
	.release = nf_release,
};
