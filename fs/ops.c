/* FUSE low-level handlers.  Each one is short: find the object, ask the
 * account, reply 0 or an errno.  Inodes are derived from the index (see
 * index.h), so lookups need no per-inode table and forget is a no-op. */
#define FUSE_USE_VERSION 314
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/account.h"
#include "fs/alarm.h"
#include "fs/announce.h"
#include "fs/changes.h"
#include "fs/errno_map.h"
#include "fs/inode.h"
#include "fs/newfile.h"
#include "fs/notify.h"
#include "fs/ops_append.h"
#include "fs/pool.h"
#include "fs/status.h"
#include "fs/xattr.h"

/* Messages never change under one UIDVALIDITY, so the kernel may keep
 * their attributes long; changes are pushed by invalidations. */
#define MSG_TIMEOUT 3600.0
#define DIR_ENTRY_TIMEOUT 60.0
#define DIR_ATTR_TIMEOUT 1.0

static time_t mount_time;
/* The owner of every file: asked once, not once per entry of a listing. */
static uid_t owner_uid;
static gid_t owner_gid;

static struct account *req_account(fuse_req_t req) { return fuse_req_userdata(req); }

/* The mounting user's permissions (owner bits).  With -o allow_other the
 * user asked to share the mount: others get the owner's read and search
 * bits, never write (default_permissions makes the kernel apply these). */
static mode_t perms(const struct account *a, mode_t owner)
{
	if (!a->opt->allow_other)
		return owner;
	return owner | ((owner & 0500) >> 3) | ((owner & 0500) >> 6);
}

static void dir_attr(const struct account *a, const struct folder *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = f->ino;
	st->st_mode = S_IFDIR | perms(a, a->opt->ro ? 0500 : 0700);
	st->st_nlink = 2 + f->nchildren;
	st->st_uid = owner_uid;
	st->st_gid = owner_gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = mount_time;
}

static void msg_attr(const struct account *a, const struct folder *f, const struct msg *m,
		     struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = index_msg_ino(f, m->uid);
	st->st_mode = S_IFREG | perms(a, a->opt->ro ? 0400 : 0600);
	st->st_nlink = 1;
	st->st_uid = owner_uid;
	st->st_gid = owner_gid;
	st->st_size = m->size;
	st->st_blocks = ((off_t)m->size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)m->date;
}

static void dir_entry(const struct account *a, const struct folder *f, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = f->ino;
	e->attr_timeout = DIR_ATTR_TIMEOUT;
	e->entry_timeout = DIR_ENTRY_TIMEOUT;
	dir_attr(a, f, &e->attr);
}

static void msg_entry(const struct account *a, const struct folder *f, const struct msg *m,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = index_msg_ino(f, m->uid);
	e->attr_timeout = MSG_TIMEOUT;
	e->entry_timeout = MSG_TIMEOUT;
	msg_attr(a, f, m, &e->attr);
}

static int refuse(const char *why, const char *name, int err)
{
	log_info(LOG_CAT_FS, "%s: %s (%s)", name, why, strerror(err));
	return err;
}

/* FOLDER/.newmail of a watched folder: the names of the last batch of
 * new messages.  Its attributes change with each batch: never cached. */
static void marker_attr(const struct account *a, const struct folder *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = MARKER_INO_BIT | f->ino;
	st->st_mode = S_IFREG | perms(a, a->opt->ro ? 0400 : 0600);
	st->st_nlink = 1;
	st->st_uid = owner_uid;
	st->st_gid = owner_gid;
	st->st_size = (off_t)f->marker_len;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = f->marker_mtime ? f->marker_mtime : mount_time;
}

static void marker_entry(const struct account *a, const struct folder *f,
			 struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = MARKER_INO_BIT | f->ino;
	e->entry_timeout = MSG_TIMEOUT;
	marker_attr(a, f, &e->attr);
}

static struct folder *marker_folder(struct account *a, fuse_ino_t ino)
{
	struct folder *f;

	if (!(ino & MARKER_INO_BIT) || (ino & MSG_INO_BIT))
		return NULL;
	f = index_folder_by_ino(a->index, ino & ~MARKER_INO_BIT);
	return f && f->watched ? f : NULL;
}

/* .inboxfs/ and its status file: generated, never cached. */
static void status_attr(uint64_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = owner_uid;
	st->st_gid = owner_gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = time(NULL);
	if (ino == STATUS_DIR_INO) {
		st->st_mode = S_IFDIR | 0500;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = 4096; /* read with direct I/O: the real length is what read gives */
	}
}

static void status_entry(uint64_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->entry_timeout = MSG_TIMEOUT;
	status_attr(ino, &e->attr);
}

/* Requests the announcer thread makes on its own mount. */
static bool from_announcer(fuse_req_t req)
{
	pid_t tid = announcer_tid(req_account(req));

	return tid && fuse_req_ctx(req)->pid == tid;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	mount_time = time(NULL);
	owner_uid = getuid();
	owner_gid = getgid();
	/* ls -l gets names and attributes in one go, always. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

/* Resolve name in dir from the index: 0 and e filled, ENOENT, or EAGAIN
 * when the folder's messages must be loaded first.  index_lock held. */
static int lookup_in_index(struct account *a, fuse_ino_t parent, const char *name,
			   bool announcer, struct folder **dirp, struct fuse_entry_param *e)
{
	struct folder *dir = index_folder_by_ino(a->index, parent), *child;
	const struct msg *m;
	uint32_t uid;

	*dirp = dir;
	if (parent == STATUS_DIR_INO && strcmp(name, STATUS_FILE_NAME) == 0) {
		status_entry(STATUS_FILE_INO, e);
		return 0;
	}
	if (!dir)
		return ENOENT;
	if (parent == ROOT_INO && strcmp(name, STATUS_DIR_NAME) == 0) {
		status_entry(STATUS_DIR_INO, e);
		return 0;
	}
	if ((child = index_child(dir, name))) {
		dir_entry(a, child, e);
		return 0;
	}
	if (dir->watched && strcmp(name, MARKER_NAME) == 0) {
		marker_entry(a, dir, e);
		return 0;
	}
	/* Only "<UID>.eml" can exist besides folders: no server round trip
	 * for the .Trash, autorun.inf and libc.so.6 probes of the world. */
	if (!index_parse_msg_name(name, &uid) || !index_folder_selectable(dir))
		return ENOENT;
	if (!dir->loaded)
		return EAGAIN;
	m = index_find_msg(dir, uid);
	/* The announcer unlinks what another client expunged: it needs the
	 * name once more. */
	if (!m && announcer)
		m = announce_departed(dir, uid);
	if (!m)
		return ENOENT;
	msg_entry(a, dir, m, e);
	return 0;
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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct fuse_entry_param e;
	struct folder *dir;
	int err;

	bool ann = from_announcer(req);

	if (newmsg_lookup(req, parent, name))
		return;
	pthread_mutex_lock(&a->index_lock);
	err = lookup_in_index(a, parent, name, ann, &dir, &e);
	pthread_mutex_unlock(&a->index_lock);
	if (err == EAGAIN && !(err = load_folder(a, dir, deadline))) {
		pthread_mutex_lock(&a->index_lock);
		err = lookup_in_index(a, parent, name, ann, &dir, &e);
		pthread_mutex_unlock(&a->index_lock);
		if (err == EAGAIN)
			err = EIO; /* loaded, yet not loaded: never loop */
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = req_account(req);
	struct folder *f;
	struct msg *m;
	struct stat st;
	double timeout = MSG_TIMEOUT;
	int err = 0;

	(void)fi;
	if (ino_is_newfile(ino)) {
		newmsg_getattr(req, ino);
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	if ((f = index_folder_by_ino(a->index, ino))) {
		dir_attr(a, f, &st);
		timeout = DIR_ATTR_TIMEOUT;
	} else if ((m = index_msg_by_ino(a->index, ino, &f))) {
		msg_attr(a, f, m, &st);
	} else if ((f = marker_folder(a, ino))) {
		marker_attr(a, f, &st);
		timeout = 0;
	} else if (ino == STATUS_DIR_INO || ino == STATUS_FILE_INO) {
		status_attr(ino, &st);
		timeout = 0;
	} else {
		err = ENOENT;
	}
	pthread_mutex_unlock(&a->index_lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* ---- directories: a snapshot taken at opendir --------------------------- */

struct dir_snapshot {
	struct folder *dir;       /* folders are never freed while mounted; NULL: .inboxfs */
	bool marker;              /* list .newmail (a watched folder) */
	bool status;              /* list .inboxfs (the root) */
	struct folder **subs;
	size_t nsubs;
	struct folder msgs_of;    /* copy of the message list (msgs, nmsgs, gen) */
	struct newfile_entry *news; /* files being written or waiting for a rename */
	size_t nnews;
};

static void free_snapshot(struct dir_snapshot *ds)
{
	if (!ds)
		return;
	free(ds->subs);
	free(ds->msgs_of.msgs);
	free(ds->news);
	free(ds);
}

static struct dir_snapshot *take_snapshot(struct account *a, struct folder *f)
{
	struct dir_snapshot *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return NULL;
	if (newfile_list(a->newfiles, f->ino, &ds->news, &ds->nnews) != 0) {
		free(ds);
		return NULL;
	}
	ds->dir = f;
	ds->marker = f->watched;
	ds->status = f->parent == NULL;
	ds->nsubs = f->nchildren;
	ds->subs = malloc((f->nchildren + 1) * sizeof(*ds->subs));
	ds->msgs_of.gen = f->gen;
	ds->msgs_of.nmsgs = f->loaded ? f->nmsgs : 0;
	ds->msgs_of.msgs = malloc((ds->msgs_of.nmsgs + 1) * sizeof(struct msg));
	if (!ds->subs || !ds->msgs_of.msgs) {
		free_snapshot(ds);
		return NULL;
	}
	if (f->nchildren)
		memcpy(ds->subs, f->children, f->nchildren * sizeof(*ds->subs));
	if (ds->msgs_of.nmsgs)
		memcpy(ds->msgs_of.msgs, f->msgs, ds->msgs_of.nmsgs * sizeof(struct msg));
	return ds;
}

/* The server is out of reach (not: it refused). */
static bool unreachable(const struct imap_status *st)
{
	return st->result == IMAP_R_LOST || st->result == IMAP_R_TIMEOUT ||
	       st->result == IMAP_R_CONNECT || st->result == IMAP_R_TLS;
}

/* While the server is out of reach, a folder listed before is listed from
 * the index as it was last known. */
static int stale_listing(const struct folder *f, const char *why)
{
	log_info(LOG_CAT_FS, "%s: listed from the cache: %s", f->imap_name ? f->imap_name : "/",
		 why);
	return 0;
}

/* A folder listed before whose refresh the server leaves without a word
 * this long is listed from memory (ms): a dead link must not freeze ls
 * for `timeout`.  The refresh goes on behind, with the call's deadline. */
#define LIST_WAIT_MS 600

static bool listed_before(struct account *a, struct folder *f)
{
	bool listed;

	pthread_mutex_lock(&a->index_lock);
	listed = f->loaded || !index_folder_selectable(f);
	pthread_mutex_unlock(&a->index_lock);
	return listed;
}

/* Bring f up to date for a listing.  A folder listed before waits for
 * the session only LIST_WAIT_MS (while the server is silent). */
static enum imap_result refresh_listing(struct account *a, struct folder *f, bool listed,
					long long deadline, struct imap_status *st)
{
	long long wait_until = listed ? clock_ms() + LIST_WAIT_MS : deadline;
	enum imap_result rr = IMAP_R_TIMEOUT;

	if (account_lock_session_within(a, wait_until, deadline, st)) {
		rr = account_refresh_folder(a, f, st);
		account_unlock_session(a);
	}
	return rr;
}

/* A refresh that failed: a folder listed before is listed from the cache
 * while the server is out of reach (0); otherwise an errno. */
static int listing_errno(struct account *a, struct folder *f, const struct imap_status *st)
{
	return unreachable(st) && listed_before(a, f) ? stale_listing(f, st->text) :
	       imap_errno(st, f->imap_name);
}

/* Answer an opendir with a snapshot of f as the index has it now. */
static void reply_listing(fuse_req_t req, struct fuse_file_info *fi, struct account *a,
			  struct folder *f)
{
	struct dir_snapshot *ds;

	account_flush_aliases(a, f->ino);
	pthread_mutex_lock(&a->index_lock);
	ds = take_snapshot(a, f);
	pthread_mutex_unlock(&a->index_lock);
	if (!ds) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)ds;
	fuse_reply_open(req, fi);
}

/* An opendir that may be answered from memory by the alarm thread. */
struct early_listing {
	fuse_req_t req;
	struct fuse_file_info *fi;
	struct account *a;
	struct folder *f;
	struct alarm alarm;
};

/* The alarm of a listing: LIST_WAIT_MS since the call began, and the
 * server has said nothing for that long, so answer from memory; while it
 * talks, look again later. */
static long long list_from_memory(void *ctx)
{
	struct early_listing *el = ctx;
	long long spoke = account_last_word_ms(el->a);
	char why[64];

	if (spoke + LIST_WAIT_MS > clock_ms())
		return spoke + LIST_WAIT_MS;
	snprintf(why, sizeof(why), "no word from the server for %.1f s", LIST_WAIT_MS / 1000.0);
	stale_listing(el->f, why);
	reply_listing(el->req, el->fi, el->a, el->f);
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct early_listing el = { req, fi, a, NULL, { 0 } };
	struct imap_status st;
	enum imap_result rr;
	bool listed;
	int err;

	if (ino == STATUS_DIR_INO) {
		struct dir_snapshot *ds = calloc(1, sizeof(*ds)); /* dir NULL: .inboxfs */

		fi->fh = (uintptr_t)ds;
		if (ds)
			fuse_reply_open(req, fi);
		else
			fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	el.f = index_folder_by_ino(a->index, ino);
	pthread_mutex_unlock(&a->index_lock);
	if (!el.f) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	listed = listed_before(a, el.f);
	if (listed)
		alarm_set(a->alarms, &el.alarm, clock_ms() + LIST_WAIT_MS, list_from_memory, &el);
	rr = refresh_listing(a, el.f, listed, deadline, &st);
	if (listed && alarm_cancel(a->alarms, &el.alarm))
		return; /* answered from memory already */
	err = rr == IMAP_R_OK ? 0 : listing_errno(a, el.f, &st);
	if (rr == IMAP_R_OK)
		announce_wait_pending(a, el.f); /* the mail it has shows in this listing */
	if (err)
		fuse_reply_err(req, err);
	else
		reply_listing(req, fi, a, el.f);
}

/* Entry i of the listing: ".", "..", subfolders, messages, then files
 * being written or waiting for a rename. */
static bool snapshot_entry(struct account *a, struct dir_snapshot *ds, size_t i, char *name,
			   size_t namelen, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (i < 2) {
		snprintf(name, namelen, i == 0 ? "." : "..");
		e->attr.st_mode = S_IFDIR;
		e->attr.st_ino = !ds->dir ? (i == 0 ? STATUS_DIR_INO : ROOT_INO) :
				 i == 0 || !ds->dir->parent ? ds->dir->ino : ds->dir->parent->ino;
		return true;
	}
	i -= 2;
	if (!ds->dir) {
		if (i > 0)
			return false;
		snprintf(name, namelen, STATUS_FILE_NAME);
		status_entry(STATUS_FILE_INO, e);
		return true;
	}
	if (ds->status && i == 0) {
		snprintf(name, namelen, STATUS_DIR_NAME);
		status_entry(STATUS_DIR_INO, e);
		return true;
	}
	i -= ds->status;
	if (ds->marker && i == 0) {
		snprintf(name, namelen, MARKER_NAME);
		marker_entry(a, ds->dir, e);
		return true;
	}
	i -= ds->marker;
	if (i < ds->nsubs) {
		snprintf(name, namelen, "%s", ds->subs[i]->name);
		dir_entry(a, ds->subs[i], e);
		return true;
	}
	i -= ds->nsubs;
	if (i < ds->msgs_of.nmsgs) {
		const struct msg *m = &ds->msgs_of.msgs[i];

		snprintf(name, namelen, "%u.eml", m->uid);
		msg_entry(a, &ds->msgs_of, m, e);
		return true;
	}
	i -= ds->msgs_of.nmsgs;
	if (i < ds->nnews) {
		snprintf(name, namelen, "%s", ds->news[i].name);
		newmsg_entry(&ds->news[i].info, e);
		return true;
	}
	return false;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
		       bool plus)
{
	struct account *a = req_account(req);
	struct dir_snapshot *ds = (struct dir_snapshot *)(uintptr_t)fi->fh;
	struct fuse_entry_param e;
	char *buf = malloc(size), name[300];
	size_t used = 0, n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Listed: the names kept for appended files go (not at opendir: an
	 * atomic writer opens the folder only to fsync it). */
	if (off == 0 && ds->dir)
		newfile_forget_ghosts(a->newfiles, ds->dir->ino);
	for (size_t i = (size_t)off; snapshot_entry(a, ds, i, name, sizeof(name), &e); i++) {
		if (plus)
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						   (off_t)i + 1);
		else
			n = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
					      (off_t)i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	free_snapshot((struct dir_snapshot *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- messages ------------------------------------------------------------- */

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
	struct folder *f;
	struct msg *m;

	pthread_mutex_lock(&o->a->index_lock);
	m = index_msg_by_ino(o->a->index, o->ino, &f);
	/* A corrected size may not have reached the kernel yet: bypass the
	 * page cache, which would cut the read at the old size. */
	o->fi->direct_io = !m || m->size_exact == 2 || o->ghost;
	pthread_mutex_unlock(&o->a->index_lock);
	o->fi->keep_cache = !o->fi->direct_io;
	o->fi->noflush = 1; /* only files being written need a FLUSH at close */
	o->fi->fh = (uintptr_t)b;
	if (fuse_reply_open(o->req, o->fi) != 0)
		bodycache_release(o->a->bodies, b); /* the opener is gone */
	o->req = NULL;
}

/* The marker's file handle: a private copy of its text for readers; the
 * announcer's writes only raise the event (the text is set already). */
#define MARKER_WRITER ((uint64_t)1)

/* Open generated text (takes text; NULL: out of memory): a private copy
 * per open, read with direct I/O since its length changes. */
static void open_copy(fuse_req_t req, struct fuse_file_info *fi, char *text, size_t len)
{
	struct body *copy = text ? calloc(1, sizeof(*copy)) : NULL;

	if (!copy) {
		free(text);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	copy->data = text;
	copy->len = len;
	copy->refs = 1;
	fi->fh = (uintptr_t)copy; /* key 0: not in the cache */
	fi->direct_io = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void open_marker(fuse_req_t req, struct folder *f, struct fuse_file_info *fi)
{
	struct account *a = req_account(req);
	char *text;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		if (!from_announcer(req)) {
			fuse_reply_err(req, refuse("the new-mail marker is written by inboxfs only",
						   MARKER_NAME, EPERM));
			return;
		}
		fi->fh = MARKER_WRITER;
		fi->direct_io = 1;
		fi->noflush = 1;
		fuse_reply_open(req, fi);
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	text = malloc(f->marker_len + 1);
	if (text)
		memcpy(text, f->marker ? f->marker : "", f->marker_len);
	pthread_mutex_unlock(&a->index_lock);
	open_copy(req, fi, text, f->marker_len);
}

static void open_status(fuse_req_t req, struct fuse_file_info *fi)
{
	size_t len = 0;
	char *text;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	text = status_text(req_account(req), &len);
	open_copy(req, fi, text, len);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	if (ino_is_newfile(ino)) {
		newmsg_write(req, ino, buf, size, off);
		return;
	}
	if (fi->fh != MARKER_WRITER) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fuse_reply_write(req, size);
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

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_req o = { req, fi, req_account(req), ino, false };
	struct account *a = o.a;
	long long deadline = account_deadline(a);
	struct imap_status st;
	struct folder *f = NULL;
	char what[300];
	struct msg *m;
	uint32_t uid = 0;
	struct body *b;
	int err = 0;

	if (ino & MARKER_INO_BIT) {
		pthread_mutex_lock(&a->index_lock);
		f = marker_folder(a, ino);
		pthread_mutex_unlock(&a->index_lock);
	}
	if (f) {
		open_marker(req, f, fi);
		return;
	}
	if (ino == STATUS_FILE_INO) {
		open_status(req, fi);
		return;
	}
	if (ino_is_newfile(ino)) {
		if (!newmsg_open(req, ino, fi, &o.ino))
			return;
		/* its size is the file's: the message is read past the page cache */
		o.ghost = true;
		ino = o.ino;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		log_info(LOG_CAT_FS, "refused to open message inode %llx for writing: messages "
			 "are immutable", (unsigned long long)ino);
		fuse_reply_err(req, a->opt->ro ? EROFS : EPERM);
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	m = index_msg_by_ino(a->index, ino, &f);
	if (m)
		uid = m->uid;
	pthread_mutex_unlock(&a->index_lock);
	if (!m) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Cached, or on its way in a read-ahead: no session lock needed. */
	b = bodycache_wait(a->bodies, ino);
	if (!b)
		b = account_body_from_disk(a, f, uid); /* also when the server is away */
	if (b) {
		account_note_cache_hit(a);
		open_ready(&o, b);
		return;
	}
	if (load_for_open(a, f, uid, &o, deadline, &st) != IMAP_R_OK && o.req) {
		snprintf(what, sizeof(what), "%s/%u.eml", f->imap_name, uid);
		err = imap_errno(&st, what);
	}
	if (o.req)
		fuse_reply_err(req, err ? err : EIO);
}

/* A file handle's bytes: a pinned cache body, or a private copy (key 0:
 * .newmail, status) counted by its refs.  A read holds its own reference
 * while its reply is written: the release may run on another thread as
 * soon as the kernel has the data. */
static void hold(struct account *a, struct body *b)
{
	if (b->key == 0)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
	else
		bodycache_pin(a->bodies, b);
}

static void put(struct account *a, struct body *b)
{
	if (b->key != 0) {
		bodycache_release(a->bodies, b);
	} else if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(b->data);
		free(b);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct account *a = req_account(req);
	struct body *b = (struct body *)(uintptr_t)fi->fh;

	(void)ino;
	if (off < 0 || (size_t)off >= b->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	hold(a, b);
	fuse_reply_buf(req, b->data + off, size);
	put(a, b);
}

/* A close: a new file is appended now, so that close() reports a refusal. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino_is_newfile(ino))
		newmsg_flush(req, ino);
	else
		fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino_is_newfile(ino) && !fi->fh) { /* not a ghost opened for reading */
		newmsg_release(req, ino);
		return;
	}
	if (fi->fh != MARKER_WRITER)
		put(req_account(req), (struct body *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
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

/* ---- changes -------------------------------------------------------------- */

/* Every change is refused on a read-only mount, with a log line. */
static bool refuse_if_ro(fuse_req_t req, const char *what, const char *name)
{
	if (!req_account(req)->opt->ro)
		return false;
	log_info(LOG_CAT_FS, "%s %s refused: mounted read-only", what, name);
	fuse_reply_err(req, EROFS);
	return true;
}


/* Run a change with the session, due at deadline: returns 0 or an errno
 * (logged). */
#define WITH_SESSION(a, deadline, expr) ({ \
	struct imap_status st_; \
	enum imap_result rr_ = IMAP_R_TIMEOUT; \
	if (account_lock_session(a, deadline, &st_)) { \
		rr_ = (expr); \
		account_unlock_session(a); \
	} \
	rr_ == IMAP_R_OK ? 0 : imap_errno(&st_, what); })

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct folder *dir;
	char what[300];
	uint32_t uid;
	int err;

	if (from_announcer(req)) {
		/* A message another client expunged: raise IN_DELETE, send nothing. */
		pthread_mutex_lock(&a->index_lock);
		dir = index_folder_by_ino(a->index, parent);
		if (dir && index_parse_msg_name(name, &uid))
			announce_forget_departed(dir, uid);
		pthread_mutex_unlock(&a->index_lock);
		fuse_reply_err(req, 0);
		return;
	}
	if (refuse_if_ro(req, "rm", name) || newmsg_unlink(req, parent, name))
		return;
	pthread_mutex_lock(&a->index_lock);
	dir = index_folder_by_ino(a->index, parent);
	err = !dir ? ENOENT : index_child(dir, name) ? EISDIR :
	      !index_parse_msg_name(name, &uid) ? ENOENT : 0;
	pthread_mutex_unlock(&a->index_lock);
	if (!err) {
		snprintf(what, sizeof(what), "rm %s/%s", dir->imap_name ? dir->imap_name : "", name);
		err = WITH_SESSION(a, deadline, change_delete_message(a, dir, uid, &st_));
	}
	fuse_reply_err(req, err);
}

/* mv of a message: only to another folder.  The message gets a new UID
 * there (COPYUID), so the typed target name means nothing to the server:
 * `mv INBOX/7.eml Archive/` moves message 7 even when Archive has a 7.eml
 * of its own, which stays untouched (a move never replaces a message).
 * Only with RENAME_NOREPLACE (mv -n) an existing name gives EEXIST.
 *
 * The kernel now holds the typed name (Archive/7.eml) for the moved
 * message, and coreutils mv stats it right after rename() succeeds.  So
 * that name stays, as an alias of the moved message, until the folder is
 * next listed; if the folder has a real message of that name, the alias
 * is dropped at once so that the real one shows. */
static int move_message(struct account *a, struct folder *from, const char *name,
			struct folder *to, const char *newname, bool noreplace, long long deadline)
{
	uint32_t uid, new_uid = 0, other;
	char what[600];
	bool shadows;
	int err;

	if (!index_parse_msg_name(name, &uid))
		return ENOENT;
	snprintf(what, sizeof(what), "mv %s/%s %s/%s", from->imap_name ? from->imap_name : "",
		 name, to->imap_name ? to->imap_name : to->name, newname);
	if (from == to)
		return strcmp(name, newname) == 0 ? 0 :
		       refuse("a message's name is its UID: it cannot be renamed within its folder",
			      what, EPERM);
	pthread_mutex_lock(&a->index_lock);
	err = index_child(to, newname) ? EISDIR : 0;
	pthread_mutex_unlock(&a->index_lock);
	if (!err && noreplace && index_folder_selectable(to) &&
	    (err = WITH_SESSION(a, deadline, account_ensure_loaded(a, to, &st_))) == 0 &&
	    index_parse_msg_name(newname, &other) && index_find_msg(to, other))
		err = EEXIST;
	if (err == EISDIR || err == EEXIST)
		return refuse("the target name exists", what, err);
	if (err)
		return err;
	err = WITH_SESSION(a, deadline, change_move_message(a, from, uid, to, &new_uid, &st_));
	if (err)
		return err;
	pthread_mutex_lock(&a->index_lock);
	shadows = index_parse_msg_name(newname, &other) && other != new_uid &&
		  index_find_msg(to, other);
	pthread_mutex_unlock(&a->index_lock);
	if (shadows || !new_uid) /* a real message to show, or nothing to alias */
		notifier_inval_entry(a->notifier, to->ino, newname);
	else
		account_add_alias(a, to->ino, newname);
	return 0;
}

static int rename_folder(struct account *a, struct folder *f, struct folder *newparent,
			 const char *newname, long long deadline)
{
	char what[600];

	snprintf(what, sizeof(what), "mv %s %s", f->imap_name ? f->imap_name : f->name, newname);
	return WITH_SESSION(a, deadline, change_rename_folder(a, f, newparent, newname, &st_));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct folder *from, *to, *child;
	int err;

	if (refuse_if_ro(req, "mv", name))
		return;
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, refuse("exchanging two names is not possible", name, EINVAL));
		return;
	}
	if (newmsg_rename(req, parent, name, newparent, newname, flags))
		return;
	pthread_mutex_lock(&a->index_lock);
	from = index_folder_by_ino(a->index, parent);
	to = index_folder_by_ino(a->index, newparent);
	child = from ? index_child(from, name) : NULL;
	pthread_mutex_unlock(&a->index_lock);
	if (!from || !to)
		err = ENOENT;
	else if (child)
		err = rename_folder(a, child, to, newname, deadline);
	else
		err = move_message(a, from, name, to, newname, flags & RENAME_NOREPLACE, deadline);
	fuse_reply_err(req, err);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct fuse_entry_param e;
	struct folder *dir, *f = NULL;
	char what[300];
	int err;

	(void)mode;
	if (refuse_if_ro(req, "mkdir", name))
		return;
	snprintf(what, sizeof(what), "mkdir %s", name);
	pthread_mutex_lock(&a->index_lock);
	dir = index_folder_by_ino(a->index, parent);
	pthread_mutex_unlock(&a->index_lock);
	err = dir ? WITH_SESSION(a, deadline, change_create_folder(a, dir, name, &f, &st_)) :
	      ENOENT;
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	dir_entry(a, f, &e);
	pthread_mutex_unlock(&a->index_lock);
	fuse_reply_entry(req, &e);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = req_account(req);
	long long deadline = account_deadline(a);
	struct folder *dir, *f = NULL;
	char what[300];
	uint32_t uid;
	int err;

	if (refuse_if_ro(req, "rmdir", name))
		return;
	snprintf(what, sizeof(what), "rmdir %s", name);
	pthread_mutex_lock(&a->index_lock);
	dir = index_folder_by_ino(a->index, parent);
	if (dir)
		f = index_child(dir, name);
	pthread_mutex_unlock(&a->index_lock);
	if (!dir)
		err = ENOENT;
	else if (!f)
		err = index_parse_msg_name(name, &uid) ? ENOTDIR : ENOENT;
	else
		err = WITH_SESSION(a, deadline, change_delete_folder(a, f, &st_));
	fuse_reply_err(req, err);
}

/* chmod, chown, touch: harmless no-ops on messages (the server has no
 * such thing); truncation would change a message and is refused. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct account *a = req_account(req);

	if (ino_is_newfile(ino)) {
		newmsg_setattr(req, ino, attr, to_set);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && (ino & MARKER_INO_BIT) && from_announcer(req)) {
		op_getattr(req, ino, fi);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		fuse_reply_err(req, a->opt->ro ? EROFS :
			       refuse("messages are immutable", "truncate", EPERM));
		return;
	}
	op_getattr(req, ino, fi);
}

/* Only the announcer makes nodes: a new message becomes visible, and the
 * kernel raises IN_CREATE for it. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct account *a = req_account(req);
	struct fuse_entry_param e;
	struct folder *dir;
	struct msg *m = NULL;
	uint32_t uid;

	(void)mode;
	(void)rdev;
	if (!from_announcer(req)) {
		fuse_reply_err(req, refuse("new files cannot be created in a mail folder", name, EPERM));
		return;
	}
	pthread_mutex_lock(&a->index_lock);
	dir = index_folder_by_ino(a->index, parent);
	if (dir && index_parse_msg_name(name, &uid) && (m = announce_publish(a, dir, uid)))
		msg_entry(a, dir, m, &e);
	pthread_mutex_unlock(&a->index_lock);
	if (m)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, EEXIST);
}

/* cp into a folder: the file is appended as a message when closed. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)mode;
	if (refuse_if_ro(req, "create", name))
		return;
	newmsg_create(req, parent, name, fi);
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
