/* The table of node kinds (see node.h). */
#include "fs/node.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common/log.h"
#include "fs/announce.h"
#include "fs/handle.h"
#include "fs/mail/account.h"

/* Each kind is defined in its own file. */
extern const struct node_kind node_announce, node_status, node_marker, node_folder,
	node_message, node_newfile, node_parts;
extern const struct node_kind node_search, node_search_all;

/* In listing order: a folder lists .inboxfs (the root), .newmail,
 * subfolders, messages, then files being written.  Of the kinds whose
 * names come first, the parts' come before the files being written: a
 * file created under .parts is refused as read-only. */
static const struct node_kind *const kinds[] = {
	&node_announce, /* the announcer's own calls: no inodes, no entries */
	&node_status,   /* .inboxfs/ and .inboxfs/status */
	&node_marker,   /* FOLDER/.newmail */
	&node_folder,
	&node_message,
	&node_search,   /* FOLDER/.search/ and below (never in a folder's listing) */
	&node_search_all, /* .search/ at the root and below (never listed either) */
	&node_parts,    /* FOLDER/.parts/ and below (never in a folder's listing) */
	&node_newfile,  /* files being written */
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static int default_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	(void)req;
	(void)ino;
	(void)st;
	(void)timeout;
	return ENOENT;
}

static void default_enoent(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOENT);
}

static void default_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	(void)ino;
	handle_read(req, size, off, fi);
}

static void default_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	fuse_reply_err(req, EPERM);
}

static void default_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void default_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_release(req, fi);
}

/* The kinds with the defaults in place of their NULL inode handlers; the
 * last, for numbers no kind has, has only the defaults. */
static struct node_kind resolved[NKINDS + 1];
static pthread_once_t resolved_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	for (size_t i = 0; i <= NKINDS; i++) {
		struct node_kind *r = &resolved[i];

		if (i < NKINDS)
			*r = *kinds[i];
		r->getattr = r->getattr ? r->getattr : default_getattr;
		r->setattr = r->setattr ? r->setattr : node_setattr_default;
		r->opendir = r->opendir ? r->opendir : default_enoent;
		r->open = r->open ? r->open : default_enoent;
		r->read = r->read ? r->read : default_read;
		r->write = r->write ? r->write : default_write;
		r->flush = r->flush ? r->flush : default_flush;
		r->release = r->release ? r->release : default_release;
	}
}

const struct node_kind *node_of(fuse_ino_t ino)
{
	size_t i = 0;

	pthread_once(&resolved_once, resolve);
	while (i < NKINDS && !(kinds[i]->owns && kinds[i]->owns(ino)))
		i++;
	return &resolved[i];
}

const struct node_kind *node_by_name(size_t i)
{
	for (int first = 1; first >= 0; first--)
		for (size_t k = 0; k < NKINDS; k++)
			if (kinds[k]->names_first == first && i-- == 0)
				return kinds[k];
	return NULL;
}

const struct node_kind *node_by_listing(size_t i)
{
	return i < NKINDS ? kinds[i] : NULL;
}

size_t node_count(void) { return NKINDS; }

void node_reply_attr(fuse_req_t req, fuse_ino_t ino)
{
	double timeout = 0;
	struct stat st;
	int err = node_of(ino)->getattr(req, ino, &st, &timeout);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

void node_setattr_default(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	const struct account *a = fuse_req_userdata(req);

	(void)attr;
	(void)fi;
	if (to_set & FUSE_SET_ATTR_SIZE)
		fuse_reply_err(req, a->opt->ro ? EROFS :
			       node_refuse("messages are immutable", "truncate", EPERM));
	else
		node_reply_attr(req, ino);
}

bool node_from_announcer(fuse_req_t req)
{
	pid_t tid = announcer_tid(fuse_req_userdata(req));

	return tid && fuse_req_ctx(req)->pid == tid;
}

bool node_refuse_if_ro(fuse_req_t req, const char *what, const char *name)
{
	const struct account *a = fuse_req_userdata(req);

	if (!a->opt->ro)
		return false;
	log_info(LOG_CAT_FS, "%s %s refused: mounted read-only", what, name);
	fuse_reply_err(req, EROFS);
	return true;
}

int node_refuse(const char *why, const char *name, int err)
{
	log_info(LOG_CAT_FS, "%s: %s (%s)", name, why, strerror(err));
	return err;
}
