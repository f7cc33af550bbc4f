/* FOLDER/.search/QUERY/: the server's search as a directory.  .search is
 * in every folder that holds messages and in no listing (a grep -r, find
 * or backup never runs a search); each name looked up in it is a query
 * (fs/mail/query.h), whose opendir runs the search again.  Its entries
 * are the folder's messages themselves: the same inodes, and rm and mv
 * act on them as in the folder.  The root's .search: node_search_all.c. */
#include "fs/node_search.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/announce.h"
#include "fs/attr.h"
#include "fs/mail/errno_map.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/mail/account.h"
#include "fs/mail/query.h"
#include "fs/mail/search.h"
#include "fs/ops_change.h"
#include "fs/queries.h"

/* ---- shared with node_search_all.c (node_search.h) ------------------------------- */

int search_parse(const char *where, const char *query, struct imap_search *q)
{
	char why[200];
	int err = query_parse(query, q, why, sizeof(why));

	if (err == EINVAL)
		log_info(LOG_CAT_FS, "%s%s%s: not a query: %s", where, *where ? "/" : "",
			 SEARCH_DIR_NAME, why);
	return err;
}

int search_run(struct account *a, uint32_t id, const struct folder_info *f,
	       const struct imap_search *q)
{
	long long deadline = account_deadline(a);
	enum imap_result rr = IMAP_R_TIMEOUT;
	struct imap_status st;
	uint32_t *uids = NULL;
	size_t n = 0;
	char what[300];

	if (account_lock_session(a, deadline, &st)) {
		rr = account_search(a, f->f, q, &uids, &n, &st);
		account_unlock_session(a);
	}
	if (rr == IMAP_R_OK) {
		queries_set_results(id, f->ino, uids, n);
		announce_wait_pending(a, f->f); /* new mail it found shows, as in the folder */
		return 0;
	}
	free(uids);
	snprintf(what, sizeof(what), "search in %s", f->f->imap_name);
	return imap_errno(&st, what);
}

int search_rerun(struct account *a, uint32_t id, const struct folder_info *f, const char *query)
{
	struct imap_search q;
	int err = search_parse(f->f->imap_name, query, &q);

	if (!err)
		err = search_run(a, id, f, &q);
	imap_search_free(&q);
	return err;
}

void search_dir_attr(struct account *a, fuse_ino_t ino, bool writable, struct stat *st)
{
	attr_fill(st, ino, S_IFDIR | attr_perms(a, writable && !a->opt->ro ? 0700 : 0500), 2,
		  attr_mount_time());
}

void search_dir_entry(struct account *a, fuse_ino_t ino, bool writable,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->attr_timeout = ATTR_DIR_TIMEOUT;
	e->entry_timeout = ATTR_DIR_TIMEOUT;
	search_dir_attr(a, ino, writable, &e->attr);
}

int search_lookup_found(struct account *a, uint32_t id, const struct folder_info *f,
			const char *query, const char *name, struct fuse_entry_param *e)
{
	struct folder_info dir;
	struct msg m;
	uint32_t uid;
	bool ran, has;
	int err;

	if (!index_parse_msg_name(name, &uid))
		return ENOENT;
	has = queries_has(id, f->ino, uid, &ran);
	if (!ran && (err = search_rerun(a, id, f, query)) != 0)
		return err;
	if (!ran)
		has = queries_has(id, f->ino, uid, &ran);
	if (!has || lookup_message_in(a, f->ino, uid, &dir, &m) != 0)
		return ENOENT;
	attr_message_entry(a, index_msg_ino(dir.f, m.uid), &m, e);
	e->entry_timeout = 0; /* whether it matches may change at any time */
	return 0;
}

/* What a query found, as the index has it: a copy of the messages and of
 * the folder's generation (which their inodes carry). */
struct found {
	struct folder of;
	struct msg msgs[];
};

int search_list_found(struct account *a, uint32_t id, uint64_t folder, struct node_part *part)
{
	struct folder *f = index_folder_by_ino(a->index, folder);
	struct found *c;
	uint32_t *uids;
	size_t n, k = 0;

	if (!f || !f->loaded || !queries_results(id, folder, &uids, &n))
		return 0;
	c = n ? calloc(1, sizeof(*c) + n * sizeof(c->msgs[0])) : NULL;
	for (size_t i = 0; c && i < n; i++) {
		const struct msg *m = index_find_msg(f, uids[i]);

		if (m)
			c->msgs[k++] = *m;
	}
	free(uids);
	if (!c)
		return n ? ENOMEM : 0;
	c->of.gen = f->gen;
	c->of.msgs = c->msgs;
	c->of.nmsgs = k;
	part->data = c;
	part->n = k;
	return 0;
}

void search_found_entry(struct account *a, const struct node_part *part, size_t i, char *name,
			size_t namelen, struct fuse_entry_param *e)
{
	const struct found *c = part->data;

	snprintf(name, namelen, "%u.eml", c->msgs[i].uid);
	attr_message_entry(a, index_msg_ino(&c->of, c->msgs[i].uid), &c->msgs[i], e);
	e->entry_timeout = 0;
}

int search_unlink_found(fuse_req_t req, const struct folder_info *f, const char *name)
{
	int err = ops_unlink_message(req, f->ino, name);

	return err == NODE_NOT_MINE ? ENOENT : err;
}

int search_rename_found(fuse_req_t req, const struct folder_info *f, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	if (ino_is_search(newparent))
		return node_refuse("a search's entries can only be moved to a folder", name, EPERM);
	return ops_move_message(req, f->ino, name, newparent, newname, flags);
}

int search_refuse_new(fuse_ino_t parent, const char *name)
{
	return ino_is_search(parent) ?
	       node_refuse("a search lists the folder's messages: nothing is made in it", name,
			   EPERM) :
	       NODE_NOT_MINE;
}

/* ---- the kind: FOLDER/.search and its queries -------------------------------------- */

static bool search_owns(fuse_ino_t ino) { return ino_is_search(ino) && !ino_is_search_all(ino); }

static bool is_query(fuse_ino_t ino) { return (ino & SEARCH_QUERY_BIT) != 0; }

/* Folder ino has a .search: it holds messages, and the server has no
 * subfolder of that name (which wins, as over .parts and .newmail). */
static bool searchable(struct account *a, fuse_ino_t folder, struct folder_info *f)
{
	struct folder_info sub;

	return ino_is_folder(folder) && folder <= UINT32_MAX && lookup_folder(a, folder, f) &&
	       f->selectable && !lookup_subfolder(a, folder, SEARCH_DIR_NAME, &sub);
}

/* The folder of FOLDER/.search or of a query in it, and the query's text
 * ("" for .search); false when either is gone. */
static bool folder_of_node(struct account *a, fuse_ino_t ino, struct folder_info *f,
			   char query[NAME_MAX + 1])
{
	uint64_t folder = ino & ~SEARCH_INO_BIT, of;

	query[0] = '\0';
	if (is_query(ino)) {
		folder = search_folder(ino);
		if (!queries_get(search_query_id(ino), &of, query) || of != folder)
			return false;
	}
	return searchable(a, folder, f);
}

static int search_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!folder_of_node(a, ino, &f, query))
		return ENOENT;
	search_dir_attr(a, ino, is_query(ino), st);
	*timeout = ATTR_DIR_TIMEOUT;
	return 0;
}

/* A query's name in .search: checked, then remembered (no search yet). */
static int lookup_query(struct account *a, const struct folder_info *f, const char *name,
			struct fuse_entry_param *e)
{
	struct imap_search q;
	int err = search_parse(f->f->imap_name, name, &q);

	imap_search_free(&q);
	if (!err)
		search_dir_entry(a, search_query_ino(SEARCH_INO_BIT, queries_add(f->ino, name), f->ino),
				 true, e);
	return err;
}

static int search_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!search_owns(parent)) {
		if (strcmp(name, SEARCH_DIR_NAME) != 0 || !searchable(a, parent, &f))
			return NODE_NOT_MINE;
		search_dir_entry(a, SEARCH_INO_BIT | parent, false, e);
		return 0;
	}
	if (!folder_of_node(a, parent, &f, query))
		return ENOENT;
	return is_query(parent) ?
	       search_lookup_found(a, search_query_id(parent), &f, query, name, e) :
	       lookup_query(a, &f, name, e);
}

static int search_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!search_owns(parent))
		return NODE_NOT_MINE;
	if (!is_query(parent))
		return node_refuse("a query is no file", name, EPERM);
	return folder_of_node(a, parent, &f, query) ? search_unlink_found(req, &f, name) : ENOENT;
}

/* Also asked first for a move into any search directory: refused. */
static int search_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (!search_owns(parent) && !ino_is_search(newparent))
		return NODE_NOT_MINE;
	if (!search_owns(parent) || !is_query(parent))
		return node_refuse("a query is renamed by no one, and nothing moves into a search",
				   name, EPERM);
	if (!folder_of_node(a, parent, &f, query))
		return ENOENT;
	return search_rename_found(req, &f, name, newparent, newname, flags);
}

static int search_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	(void)req;
	(void)fi;
	(void)e;
	return search_refuse_new(parent, name);
}

static int search_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e)
{
	(void)req;
	(void)e;
	return search_refuse_new(parent, name);
}

/* The index is held still: the messages of the last run that are the
 * folder's now; also those of a folder's directory in a root query. */
static int search_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	if (!ino_is_search(dir) || !is_query(dir) || !search_folder(dir))
		return 0;
	return search_list_found(a, search_query_id(dir), search_folder(dir), part);
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
		err = search_rerun(a, search_query_id(ino), &f, query);
	if (err)
		fuse_reply_err(req, err);
	else
		listing_open(req, fi, ino, is_query(ino) ? SEARCH_INO_BIT | f.ino : f.ino);
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
	.list_entry = search_found_entry,
	.getattr = search_getattr,
	.opendir = search_opendir,
};
