/* .search/QUERY/ at the mount root: the query run in every folder that
 * holds messages, listed as the folder tree cut down to the folders where
 * it found something (.search/QUERY/Archive/2023/7.eml).  In a folder's
 * directory, its messages are listed and act as in a folder's own query
 * (node_search.c lists them and shares the rest, node_search.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/announce.h"
#include "fs/attr.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/mail/account.h"
#include "fs/mail/errno_map.h"
#include "fs/mail/search.h"
#include "fs/node_search.h"
#include "fs/queries.h"

#define ALL_DIR_INO (SEARCH_INO_BIT | SEARCH_ALL_BIT)

static bool all_owns(fuse_ino_t ino) { return ino_is_search_all(ino); }

static bool is_query(fuse_ino_t ino) { return (ino & SEARCH_QUERY_BIT) != 0; }

static fuse_ino_t node_ino(uint32_t id, uint64_t folder)
{
	return search_query_ino(ALL_DIR_INO, id, folder);
}

/* Query ino's text and the folder of its directory (0: the query's own);
 * false when the query or the folder is gone. */
static bool node_of_ino(struct account *a, fuse_ino_t ino, char query[NAME_MAX + 1],
			struct folder_info *f)
{
	uint64_t of;

	if (!is_query(ino) || !queries_get(search_query_id(ino), &of, query) || of != ROOT_INO)
		return false;
	memset(f, 0, sizeof(*f));
	return !search_folder(ino) || lookup_folder(a, search_folder(ino), f);
}

static int all_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info f = { 0 };
	char query[NAME_MAX + 1];

	if (ino != ALL_DIR_INO && !node_of_ino(a, ino, query, &f))
		return ENOENT;
	search_dir_attr(a, ino, f.selectable, st);
	*timeout = ATTR_DIR_TIMEOUT;
	return 0;
}

/* ---- running: every folder that holds messages, in parallel ---------------------- */

/* The folders a search of everything runs in. */
struct targets {
	struct folder_info *f;
	uint64_t *ino;
	size_t n, cap;
};

static void collect(struct folder *f, struct targets *t)
{
	if (index_folder_selectable(f) && f->ino <= UINT32_MAX && t->n < t->cap) {
		lookup_describe(f, &t->f[t->n]);
		t->ino[t->n++] = f->ino;
	}
	for (size_t i = 0; i < f->nchildren; i++)
		collect(f->children[i], t);
}

static size_t count(const struct folder *f)
{
	size_t n = 1;

	for (size_t i = 0; i < f->nchildren; i++)
		n += count(f->children[i]);
	return n;
}

/* Within account_with_index: the selectable folders, in tree order. */
static void take_targets(struct account *a, void *ctx)
{
	struct targets *t = ctx;
	struct folder *root = index_root(a->index);

	t->cap = count(root);
	t->f = calloc(t->cap, sizeof(*t->f));
	t->ino = calloc(t->cap, sizeof(*t->ino));
	if (t->f && t->ino)
		collect(root, t);
}

/* What the searches found, kept as they come. */
struct gather {
	struct account *a;
	uint32_t id;
	struct targets *t;
	int err;                   /* the first failure's errno */
};

static void found(void *ctx, size_t i, enum imap_result rr, uint32_t *uids, size_t n,
		  const struct imap_status *st)
{
	struct gather *g = ctx;
	struct imap_status copy = *st;
	char what[300];

	if (rr == IMAP_R_OK) {
		queries_set_results(g->id, g->t->ino[i], uids, n);
		announce_wait_pending(g->a, g->t->f[i].f); /* new mail it found shows */
		return;
	}
	free(uids);
	snprintf(what, sizeof(what), "search in %s", g->t->f[i].f->imap_name);
	copy.result = rr;
	if (!g->err)
		g->err = imap_errno(&copy, what);
}

static int run_all(struct account *a, uint32_t id, const char *query)
{
	struct targets t = { 0 };
	struct gather g = { a, id, &t, 0 };
	struct folder **folders = NULL;
	struct imap_search q;
	int err = search_parse("", query, &q);

	if (!err)
		account_with_index(a, take_targets, &t);
	if (!err && (!t.f || !t.ino || !(folders = calloc(t.n + 1, sizeof(*folders)))))
		err = ENOMEM;
	for (size_t i = 0; !err && i < t.n; i++)
		folders[i] = t.f[i].f;
	if (!err)
		account_search_many(a, folders, t.n, &q, found, &g);
	if (!err && !(err = g.err))
		queries_keep_only(id, t.ino, t.n); /* folders gone since */
	imap_search_free(&q);
	free(folders);
	free(t.f);
	free(t.ino);
	return err;
}

/* ---- the tree of folders where it found something --------------------------------- */

/* Whether f or a folder below it is among hits (n). */
static bool subtree_has(struct account *a, const struct folder *f, const uint64_t *hits,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (struct folder *h = index_folder_by_ino(a->index, hits[i]); h; h = h->parent)
			if (h == f)
				return true;
	return false;
}

/* A question about query id's tree, answered within account_with_index. */
struct ask {
	uint32_t id;
	uint64_t folder;       /* in: the folder asked about */
	bool yes;
};

static void ask_subtree(struct account *a, void *ctx)
{
	struct ask *q = ctx;
	struct folder *f = index_folder_by_ino(a->index, q->folder);
	uint64_t *hits = NULL;
	size_t n = 0;

	q->yes = f && queries_folders(q->id, &hits, &n) && subtree_has(a, f, hits, n);
	free(hits);
}

/* A subfolder as listed: its name, its number, whether it holds messages. */
struct sub {
	char name[NAME_MAX + 1];
	uint64_t ino;
	bool selectable;
};

/* The index is held still: the subfolders of dir's folder (the root for
 * the query's own) where the query found something, at any depth. */
static int all_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	uint64_t *hits = NULL, folder = search_folder(dir);
	struct folder *f;
	struct sub *subs;
	size_t n = 0, k = 0;

	if (!all_owns(dir) || !is_query(dir))
		return 0;
	f = folder ? index_folder_by_ino(a->index, folder) : index_root(a->index);
	if (!f || !f->nchildren || !queries_folders(search_query_id(dir), &hits, &n))
		return 0;
	subs = calloc(f->nchildren, sizeof(*subs));
	for (size_t i = 0; subs && i < f->nchildren; i++)
		if (subtree_has(a, f->children[i], hits, n)) {
			snprintf(subs[k].name, sizeof(subs[k].name), "%s", f->children[i]->name);
			subs[k].ino = node_ino(search_query_id(dir), f->children[i]->ino);
			subs[k++].selectable = index_folder_selectable(f->children[i]);
		}
	free(hits);
	if (!subs)
		return ENOMEM;
	part->data = subs;
	part->n = k;
	return 0;
}

static void all_list_entry(struct account *a, const struct node_part *part, size_t i,
			   char *name, size_t namelen, struct fuse_entry_param *e)
{
	const struct sub *subs = part->data;

	snprintf(name, namelen, "%s", subs[i].name);
	search_dir_entry(a, subs[i].ino, subs[i].selectable, e);
	e->entry_timeout = 0; /* where it finds something may change at any time */
}

/* ---- names -------------------------------------------------------------------------- */

/* A query's name in the root's .search: checked, then remembered. */
static int lookup_query(struct account *a, const char *name, struct fuse_entry_param *e)
{
	struct imap_search q;
	int err = search_parse("", name, &q);

	imap_search_free(&q);
	if (!err)
		search_dir_entry(a, node_ino(queries_add(ROOT_INO, name), 0), false, e);
	return err;
}

/* name in the directory of folder f (f->ino 0: the query's own) of query
 * id: a subfolder where it found something, or a message it found. */
static int lookup_in_node(struct account *a, uint32_t id, const struct folder_info *f,
			  const char *query, const char *name, struct fuse_entry_param *e)
{
	struct ask q = { id, 0, false };
	struct folder_info sub;
	uint64_t *hits = NULL;
	size_t n;

	if (!queries_folders(id, &hits, &n) && !f->ino) {
		int err = run_all(a, id, query);

		if (err)
			return err;
	}
	free(hits);
	if (lookup_subfolder(a, f->ino ? f->ino : ROOT_INO, name, &sub)) {
		q.folder = sub.ino;
		account_with_index(a, ask_subtree, &q);
		if (!q.yes)
			return ENOENT;
		search_dir_entry(a, node_ino(id, sub.ino), sub.selectable, e);
		e->entry_timeout = 0;
		return 0;
	}
	return f->ino && f->selectable ? search_lookup_found(a, id, f, query, name, e) : ENOENT;
}

static int all_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		      struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;

	if (parent == ROOT_INO && strcmp(name, SEARCH_DIR_NAME) == 0) {
		if (lookup_subfolder(a, ROOT_INO, name, &f))
			return NODE_NOT_MINE; /* the server's folder of that name wins */
		search_dir_entry(a, ALL_DIR_INO, false, e);
		return 0;
	}
	if (parent == ALL_DIR_INO)
		return lookup_query(a, name, e);
	if (!all_owns(parent))
		return NODE_NOT_MINE;
	if (!node_of_ino(a, parent, query, &f))
		return ENOENT;
	return lookup_in_node(a, search_query_id(parent), &f, query, name, e);
}

/* The folder of a folder's directory parent: 0 and *f, NODE_NOT_MINE
 * (not ours) or ENOENT (gone, or the query's own, which has no messages). */
static int folder_dir(struct account *a, fuse_ino_t parent, struct folder_info *f)
{
	char query[NAME_MAX + 1];

	if (!all_owns(parent))
		return NODE_NOT_MINE;
	return node_of_ino(a, parent, query, f) && f->ino ? 0 : ENOENT;
}

/* rm and mv of a message in a folder's directory: those of the message. */
static int all_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct folder_info f;
	int err = folder_dir(fuse_req_userdata(req), parent, &f);

	return err ? err : search_unlink_found(req, &f, name);
}

static int all_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct folder_info f;
	int err = folder_dir(fuse_req_userdata(req), parent, &f);

	return err ? err : search_rename_found(req, &f, name, newparent, newname, flags);
}

/* The query's own directory runs it in every folder; a folder's runs it
 * again there (its messages are then as fresh as in FOLDER/.search/). */
static void all_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	char query[NAME_MAX + 1];
	struct folder_info f;
	uint32_t id = search_query_id(ino);
	int err = 0;

	if (ino == ALL_DIR_INO) {
		listing_open(req, fi, ino, ROOT_INO);
		return;
	}
	if (!node_of_ino(a, ino, query, &f))
		err = ENOENT;
	else if (!f.ino)
		err = run_all(a, id, query);
	else if (f.selectable)
		err = search_rerun(a, id, &f, query);
	if (err)
		fuse_reply_err(req, err);
	else
		listing_open(req, fi, ino, !f.ino ? ALL_DIR_INO :
				  node_ino(id, f.parent == ROOT_INO ? 0 : f.parent));
}

const struct node_kind node_search_all = {
	.names_first = true, /* before files being written: nothing is created here */
	.owns = all_owns,
	.lookup = all_lookup,
	.unlink = all_unlink,
	.rename = all_rename,
	.list = all_list,
	.list_entry = all_list_entry,
	.getattr = all_getattr,
	.opendir = all_opendir,
};
