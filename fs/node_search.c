/* FOLDER/.search/QUERY/: the server's search as a directory.  .search is
 * in every folder that holds messages and in no listing (a grep -r, find
 * or backup never runs a search); each name looked up in it is a query
 * (fs/mail/query.h), whose opendir runs the search again.  Its entries
 * are the folder's messages themselves: the same inodes, and rm and mv
 * act on them as in the folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/announce.h"
#include "fs/attr.h"
#include "fs/errno_map.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/mail/account.h"
#include "fs/mail/lookup.h"
#include "fs/mail/query.h"
#include "fs/mail/search.h"
#include "fs/node.h"
#include "fs/ops_change.h"
#include "fs/queries.h"

#define SEARCH_DIR_NAME ".search"

static bool search_owns(fuse_ino_t ino) { return ino_is_search(ino); }

static bool is_query(fuse_ino_t ino) { return ino_is_search(ino) && (ino & SEARCH_QUERY_BIT); }

/* The .search of folder ino, and back. */
static fuse_ino_t search_dir_of(fuse_ino_t folder) { return SEARCH_INO_BIT | folder; }
static fuse_ino_t folder_of_dir(fuse_ino_t dir) { return dir & ~SEARCH_INO_BIT; }

/* A folder that holds messages: it has a .search. */
static bool searchable(struct account *a, fuse_ino_t folder, struct folder_info *f)
{
	return ino_is_folder(folder) && lookup_folder(a, folder, f) && f->selectable;
}

/* The folder a .search directory or a query is in; false when gone. */
static bool folder_of_node(struct account *a, fuse_ino_t ino, struct folder_info *f,
			   char query[NAME_MAX + 1])
{
	uint64_t folder = folder_of_dir(ino);

	query[0] = '\0';
	if (is_query(ino) && !queries_get(ino, &folder, query))
		return false;
	return searchable(a, folder, f);
}

static void dir_attr(struct account *a, fuse_ino_t ino, struct stat *st)
{
	/* A query's directory lets rm act on its entries; .search holds only
	 * names that are queries. */
	attr_fill(st, ino, S_IFDIR | attr_perms(a, is_query(ino) && !a->opt->ro ? 0700 : 0500), 2,
		  attr_mount_time());
}

static void dir_entry(struct account *a, fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->attr_timeout = ATTR_DIR_TIMEOUT;
	e->entry_timeout = ATTR_DIR_TIMEOUT;
	dir_attr(a, ino, &e->attr);
}

static int search_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!folder_of_node(a, ino, &f, query))
		return ENOENT;
	dir_attr(a, ino, st);
	*timeout = ATTR_DIR_TIMEOUT;
	return 0;
}

/* ---- running a query ---------------------------------------------------------- */

/* Parse query for folder f: 0, or EINVAL with its one log line. */
static int parse(const struct folder_info *f, const char *query, struct imap_search *q)
{
	char why[200];
	int err = query_parse(query, q, why, sizeof(why));

	if (err == EINVAL)
		log_info(LOG_CAT_FS, "%s/%s: not a query: %s", f->f->imap_name, SEARCH_DIR_NAME,
			 why);
	return err;
}

/* Run query ino (in folder f) on the server and keep what it found. */
static int run_query(struct account *a, fuse_ino_t ino, const struct folder_info *f,
		     const char *query)
{
	long long deadline = account_deadline(a);
	enum imap_result rr = IMAP_R_TIMEOUT;
	struct imap_search q;
	struct imap_status st;
	uint32_t *uids = NULL;
	size_t n = 0;
	char what[300];
	int err = parse(f, query, &q);

	if (err)
		return err;
	if (account_lock_session(a, deadline, &st)) {
		rr = account_search(a, f->f, &q, &uids, &n, &st);
		account_unlock_session(a);
	}
	imap_search_free(&q);
	if (rr == IMAP_R_OK) {
		queries_set_results(ino, uids, n);
		announce_wait_pending(a, f->f); /* new mail it found shows, as in the folder */
		return 0;
	}
	free(uids);
	snprintf(what, sizeof(what), "search in %s", f->f->imap_name);
	return imap_errno(&st, what);
}

/* ---- names ---------------------------------------------------------------------- */

/* A query's name in .search: checked, then remembered (no search yet). */
static int lookup_query(struct account *a, const struct folder_info *f, const char *name,
			struct fuse_entry_param *e)
{
	struct imap_search q;
	int err = parse(f, name, &q);

	if (err)
		return err;
	imap_search_free(&q);
	dir_entry(a, queries_add(f->ino, name), e);
	return 0;
}

/* A message's name in query ino: there when the last run found it (a
 * lookup before any listing runs the query first). */
static int lookup_found(struct account *a, fuse_ino_t ino, const struct folder_info *f,
			const char *query, const char *name, struct fuse_entry_param *e)
{
	struct folder_info dir;
	struct msg m;
	uint32_t uid;
	bool ran, has;
	int err;

	if (!index_parse_msg_name(name, &uid))
		return ENOENT;
	has = queries_has(ino, uid, &ran);
	if (!ran && (err = run_query(a, ino, f, query)) != 0)
		return err;
	if (!ran)
		has = queries_has(ino, uid, &ran);
	if (!has || lookup_message_in(a, f->ino, uid, &dir, &m) != 0)
		return ENOENT;
	attr_message_entry(a, index_msg_ino(dir.f, m.uid), &m, e);
	e->entry_timeout = 0; /* whether it matches may change at any time */
	return 0;
}

static int search_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!ino_is_search(parent)) {
		if (strcmp(name, SEARCH_DIR_NAME) != 0 || !searchable(a, parent, &f))
			return NODE_NOT_MINE;
		dir_entry(a, search_dir_of(parent), e);
		return 0;
	}
	if (!folder_of_node(a, parent, &f, query))
		return ENOENT;
	return is_query(parent) ? lookup_found(a, parent, &f, query, name, e) :
	       lookup_query(a, &f, name, e);
}

/* rm of an entry is rm of the message. */
static int search_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;
	int err;

	if (!ino_is_search(parent))
		return NODE_NOT_MINE;
	if (!is_query(parent))
		return node_refuse("a query is no file", name, EPERM);
	if (!folder_of_node(a, parent, &f, query))
		return ENOENT;
	err = ops_unlink_message(req, f.ino, name);
	return err == NODE_NOT_MINE ? ENOENT : err;
}

/* mv of an entry to a folder is mv of the message; nothing moves into a
 * search, nor is a query renamed. */
static int search_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!ino_is_search(parent) && !ino_is_search(newparent))
		return NODE_NOT_MINE;
	if (!is_query(parent) || ino_is_search(newparent))
		return node_refuse("a search's entries can only be moved to a folder", name, EPERM);
	if (!folder_of_node(a, parent, &f, query))
		return ENOENT;
	return ops_move_message(req, f.ino, name, newparent, newname, flags);
}

static int refuse_new(fuse_ino_t parent, const char *name)
{
	return ino_is_search(parent) ?
	       node_refuse("a search lists the folder's messages: nothing is made in it", name,
			   EPERM) :
	       NODE_NOT_MINE;
}

static int search_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	(void)req;
	(void)fi;
	(void)e;
	return refuse_new(parent, name);
}

static int search_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e)
{
	(void)req;
	(void)e;
	return refuse_new(parent, name);
}

/* ---- listings --------------------------------------------------------------------- */

/* What a query found, as the index has it: a copy of the messages and of
 * the folder's generation (which their inodes carry). */
struct found {
	struct folder of;
	struct msg msgs[];
};

/* The index is held still: the last results that are messages of the
 * folder now. */
static int search_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	char query[NAME_MAX + 1];
	struct folder *f;
	struct found *c;
	uint64_t folder;
	uint32_t *uids;
	size_t n, k = 0;

	if (!is_query(dir) || !queries_get(dir, &folder, query) ||
	    !(f = index_folder_by_ino(a->index, folder)) || !f->loaded)
		return 0;
	if (!queries_results(dir, &uids, &n) || !n)
		return 0;
	c = calloc(1, sizeof(*c) + n * sizeof(c->msgs[0]));
	for (size_t i = 0; c && i < n; i++) {
		const struct msg *m = index_find_msg(f, uids[i]);

		if (m)
			c->msgs[k++] = *m;
	}
	free(uids);
	if (!c)
		return ENOMEM;
	c->of.gen = f->gen;
	c->of.msgs = c->msgs;
	c->of.nmsgs = k;
	part->data = c;
	part->n = k;
	return 0;
}

static void search_list_entry(struct account *a, const struct node_part *part, size_t i,
			      char *name, size_t namelen, struct fuse_entry_param *e)
{
	const struct found *c = part->data;

	snprintf(name, namelen, "%u.eml", c->msgs[i].uid);
	attr_message_entry(a, index_msg_ino(&c->of, c->msgs[i].uid), &c->msgs[i], e);
	e->entry_timeout = 0;
}

/* Each opendir of a query runs it again: a listing is never older than
 * the call. */
static void search_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;
	int err = 0;

	if (!folder_of_node(a, ino, &f, query))
		err = ENOENT;
	else if (is_query(ino))
		err = run_query(a, ino, &f, query);
	if (err)
		fuse_reply_err(req, err);
	else
		listing_open(req, fi, ino, is_query(ino) ? search_dir_of(f.ino) : f.ino);
}

const struct node_kind node_search = {
	.names_first = true, /* before files being written: nothing is created here */
	.owns = search_owns,
	.lookup = search_lookup,
	.create = search_create,
	.mknod = search_mknod,
	.unlink = search_unlink,
	.rename = search_rename,
	.list = search_list,
	.list_entry = search_list_entry,
	.getattr = search_getattr,
	.opendir = search_opendir,
};
