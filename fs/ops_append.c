/* cp into a folder: create, write, close -> APPEND (RFC 3501 §6.3.11). */
#include "fs/ops_append.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/account.h"
#include "fs/changes.h"
#include "fs/errno_map.h"
#include "fs/newfile.h"

static struct account *req_acct(fuse_req_t req) { return fuse_req_userdata(req); }

static void attr_of(const struct account *a, const struct newfile_info *info, struct stat *st)
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
	(void)a;
}

/* Never cached by the kernel: the name is gone once the file is closed. */
static void entry_of(const struct account *a, const struct newfile_info *info,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = info->ino;
	attr_of(a, info, &e->attr);
}

static int refuse_name(const char *name, const char *why, int err)
{
	log_info(LOG_CAT_FS, "create %s refused: %s", name, why);
	return err;
}

/* Which names may become a message: not hidden files (editor swap files,
 * rsync's temporaries would otherwise be appended as mail), nothing that
 * exists, only in a folder that holds messages.  index_lock held. */
static int check_new(struct account *a, struct folder *dir, const char *name)
{
	uint32_t uid;

	if (!dir)
		return ENOENT;
	if (!index_folder_selectable(dir))
		return refuse_name(name, "this folder holds no messages (\\Noselect)", EPERM);
	if (name[0] == '.')
		return refuse_name(name, "hidden files are not messages", EPERM);
	if (!index_valid_component(name))
		return refuse_name(name, "not a usable file name", EINVAL);
	if (index_child(dir, name) ||
	    (index_parse_msg_name(name, &uid) && index_find_msg(dir, uid)))
		return EEXIST;
	(void)a;
	return 0;
}

void newmsg_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   struct fuse_file_info *fi)
{
	struct account *a = req_acct(req);
	struct newfile_info info = { .mtime = -1 };
	struct fuse_entry_param e;
	int err;

	pthread_mutex_lock(&a->index_lock);
	err = check_new(a, index_folder_by_ino(a->index, parent), name);
	pthread_mutex_unlock(&a->index_lock);
	if (!err)
		err = newfile_create(a->newfiles, parent, name, &info.ino);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	info.dir_ino = parent;
	entry_of(a, &info, &e);
	fi->direct_io = 1; /* every write reaches us; nothing to cache */
	fi->fh = 0;
	log_debug(LOG_CAT_FS, "new file %s: appended when closed", name);
	fuse_reply_create(req, &e, fi);
}

bool newmsg_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = req_acct(req);
	struct newfile_info info;
	struct fuse_entry_param e;

	if (newfile_lookup(a->newfiles, parent, name, &info) != 0)
		return false;
	entry_of(a, &info, &e);
	fuse_reply_entry(req, &e);
	return true;
}

bool newmsg_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (newfile_unlink(req_acct(req)->newfiles, parent, name) != 0)
		return false;
	log_info(LOG_CAT_FS, "%s removed before it was closed: not appended", name);
	fuse_reply_err(req, 0);
	return true;
}

void newmsg_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct account *a = req_acct(req);
	struct newfile_info info;
	struct stat st;

	if (newfile_stat(a->newfiles, ino, &info) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	attr_of(a, &info, &st);
	fuse_reply_attr(req, &st, 0);
}

/* truncate, and the mtime of cp -p / touch -d: it becomes INTERNALDATE.
 * chmod and chown mean nothing here and are accepted. */
void newmsg_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set)
{
	struct account *a = req_acct(req);
	int err = 0;

	if (to_set & FUSE_SET_ATTR_SIZE)
		err = newfile_truncate(a->newfiles, ino, (size_t)attr->st_size);
	if (!err && (to_set & FUSE_SET_ATTR_MTIME_NOW))
		err = newfile_set_mtime(a->newfiles, ino, time(NULL));
	else if (!err && (to_set & FUSE_SET_ATTR_MTIME))
		err = newfile_set_mtime(a->newfiles, ino, attr->st_mtime);
	if (err)
		fuse_reply_err(req, err);
	else
		newmsg_getattr(req, ino);
}

void newmsg_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off)
{
	int err = newfile_write(req_acct(req)->newfiles, ino, buf, size, off);

	if (err == EFBIG)
		log_warn(LOG_CAT_FS, "a new message grew past max_message: it will not be sent");
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
}

static int append(void *ctx, uint64_t dir_ino, const char *name, const char *data, size_t len,
		  int64_t mtime)
{
	struct account *a = ctx;
	long long deadline = account_deadline(a); /* the close() began just now */
	struct imap_status st;
	enum imap_result rr;
	struct folder *dir;
	char what[600];
	uint32_t uid;

	pthread_mutex_lock(&a->index_lock);
	dir = index_folder_by_ino(a->index, dir_ino);
	pthread_mutex_unlock(&a->index_lock);
	if (!dir)
		return ENOENT;
	snprintf(what, sizeof(what), "cp %s/%s", dir->imap_name ? dir->imap_name : "", name);
	/* Always with a date: the index then knows INTERNALDATE exactly. */
	if (!account_lock_session(a, deadline, &st))
		return imap_errno(&st, what);
	rr = change_append(a, dir, data, len, mtime >= 0 ? mtime : time(NULL), &uid, &st);
	account_unlock_session(a);
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, what);
}

void newmsg_flush(fuse_req_t req, fuse_ino_t ino)
{
	struct account *a = req_acct(req);

	fuse_reply_err(req, newfile_flush(a->newfiles, ino, append, a));
}

void newmsg_release(fuse_req_t req, fuse_ino_t ino)
{
	newfile_release(req_acct(req)->newfiles, ino);
	fuse_reply_err(req, 0);
}
