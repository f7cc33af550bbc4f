/* The folder tree in step with the server's LIST (see tree.h). */
#include "fs/mail/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "fs/mail/account.h"
#include "imap/commands.h"

/* The changes waiting for the announcer (under index_lock). */
struct tree {
	struct tree_change *c;
	size_t n, cap;
};

/* ---- one LIST, kept until the tree is locked ----------------------------------- */

struct listed {
	char *name;
	size_t len;
	char delim;
	unsigned flags;
};

struct listing {
	struct listed *l;
	size_t n, cap;
	bool nomem;
};

static void keep(void *ctx, const char *name, size_t len, char delim, unsigned flags)
{
	struct listing *ls = ctx;
	struct listed *nl;

	if (ls->n == ls->cap) {
		nl = realloc(ls->l, (ls->cap * 2 + 16) * sizeof(*nl));
		if (!nl) {
			ls->nomem = true;
			return;
		}
		ls->l = nl;
		ls->cap = ls->cap * 2 + 16;
	}
	if (!(ls->l[ls->n].name = malloc(len + 1))) {
		ls->nomem = true;
		return;
	}
	memcpy(ls->l[ls->n].name, name, len);
	ls->l[ls->n].name[len] = '\0';
	ls->l[ls->n].len = len;
	ls->l[ls->n].delim = delim;
	ls->l[ls->n++].flags = flags;
}

static void listing_free(struct listing *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i].name);
	free(ls->l);
}

/* ---- the changes ------------------------------------------------------------------ */

/* f where it is now, queued (index_lock held); NULL when it cannot be. */
static struct tree_change *queue(struct account *a, struct folder *f, bool born)
{
	struct tree_change *c;
	struct tree *t;

	if (!a->tree)
		a->tree = calloc(1, sizeof(*a->tree));
	t = a->tree;
	if (!t || !f->parent)
		return NULL;
	if (t->n == t->cap) {
		c = realloc(t->c, (t->cap * 2 + 8) * sizeof(*c));
		if (!c)
			return NULL;
		t->c = c;
		t->cap = t->cap * 2 + 8;
	}
	c = &t->c[t->n];
	memset(c, 0, sizeof(*c));
	if (index_folder_path(f, c->path, sizeof(c->path)) < 0)
		return NULL;
	c->parent = f->parent->ino;
	c->ino = f->ino;
	c->born = born;
	snprintf(c->name, sizeof(c->name), "%s", f->name);
	t->n++;
	return c;
}

static bool inside(const struct folder *f, const struct folder *top)
{
	for (; f; f = f->parent)
		if (f == top)
			return true;
	return false;
}

/* f (and what is below it) leaves the tree, queued as gone (both locks
 * held: the worker's view is ours to reset when it is in there). */
static void drop(struct account *a, struct folder *f)
{
	if (a->view.f && inside(a->view.f, f))
		view_reset(&a->view);
	queue(a, f, false);
	index_remove_folder(f);
}

static void unsee(struct folder *f)
{
	f->seen_in_list = false;
	for (size_t i = 0; i < f->nchildren; i++)
		unsee(f->children[i]);
}

/* Mailboxes the LIST no longer names leave the tree (index_lock held);
 * levels only implied by others stay while they have children. */
static size_t sweep(struct account *a, struct folder *f)
{
	size_t gone = 0;

	for (size_t i = f->nchildren; i-- > 0;)
		gone += sweep(a, f->children[i]);
	if (!f->parent || f->seen_in_list || (!f->imap_name && f->nchildren))
		return gone;
	drop(a, f);
	return gone + 1;
}

/* Folders added to the index since before queued as born (index_lock
 * held): how many. */
static size_t queue_born(struct account *a, uint64_t before)
{
	uint64_t after = index_last_folder_ino(a->index);

	for (uint64_t ino = before + 1; ino <= after; ino++)
		queue(a, index_folder_by_ino(a->index, ino), true);
	return (size_t)(after - before);
}

/* The LIST's mailboxes into the tree; the new ones queued as born. */
static size_t apply(struct account *a, const struct listing *ls)
{
	uint64_t before;
	size_t n;

	rlock_take(&a->index_lock);
	unsee(index_root(a->index));
	before = index_last_folder_ino(a->index);
	rlock_drop(&a->index_lock);
	for (size_t i = 0; i < ls->n; i++)
		account_add_listed(a, ls->l[i].name, ls->l[i].len, ls->l[i].delim, ls->l[i].flags);
	rlock_take(&a->index_lock);
	n = queue_born(a, before);
	n += sweep(a, index_root(a->index));
	rlock_drop(&a->index_lock);
	return n;
}

/* Without an announcer the kernel only learns that its entries are stale. */
static void tell_kernel(struct account *a)
{
	struct tree_change c;

	if (hooks_announcing(&a->hooks)) {
		hooks_news(&a->hooks);
		return;
	}
	while (tree_next(a, &c)) {
		hooks_inval_entry(&a->hooks, c.parent, c.name);
		if (c.moved)
			hooks_inval_entry(&a->hooks, c.from_parent, c.from_name);
		tree_done(a, c.parent, c.name);
	}
}

/* n changes made to the tree: said, and told to the kernel. */
static void changed_by(struct account *a, size_t n)
{
	if (!n)
		return;
	log_info(LOG_CAT_FS, "the server's folders changed: %zu created or deleted", n);
	tell_kernel(a);
}

/* One LIST on s, all of it kept in *ls. */
static enum imap_result list_all(struct imap_session *s, struct listing *ls,
				 struct imap_status *st)
{
	enum imap_result rr = imap_list(s, keep, ls, st);

	if (rr == IMAP_R_OK && ls->nomem)
		imap_status_set(st, rr = IMAP_R_NOMEM, "out of memory");
	return rr;
}

enum imap_result tree_relist(struct account *a, struct imap_session *s, long long deadline,
			     bool *changed, struct imap_status *st)
{
	struct listing ls = { 0 };
	enum imap_result rr = list_all(s, &ls, st);
	size_t n = 0;

	if (rr == IMAP_R_OK && account_lock_session(a, deadline, st)) {
		n = apply(a, &ls);
		account_unlock_session(a);
	} else if (rr == IMAP_R_OK) {
		/* s is fine; the worker was busy all along: the next LIST will do. */
		log_debug(LOG_CAT_FS, "folder list not applied: %s", st->text);
	}
	listing_free(&ls);
	*changed = n != 0;
	changed_by(a, n);
	return rr;
}

enum imap_result tree_relist_held(struct account *a, struct imap_status *st)
{
	struct listing ls = { 0 };
	enum imap_result rr = list_all(a->session, &ls, st);
	size_t n = rr == IMAP_R_OK ? apply(a, &ls) : 0;

	listing_free(&ls);
	changed_by(a, n);
	return rr;
}

/* ---- a rename NOTIFY told of ------------------------------------------------------- */

/* The folder at parts[0..n) below f, or NULL. */
static struct folder *walk(struct folder *f, char *const *parts, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		f = index_child(f, parts[i]);
	return f;
}

/* f to newname in to, queued as a move (both locks held). */
static bool move(struct account *a, struct folder *f, struct folder *to, const char *newname,
		 const char *from_raw, const char *to_raw)
{
	struct tree_change was = { .from_parent = f->parent->ino };
	struct tree_change *c;

	if (index_folder_path(f, was.from_path, sizeof(was.from_path)) < 0)
		return false;
	snprintf(was.from_name, sizeof(was.from_name), "%s", f->name);
	if (a->view.f && inside(a->view.f, f))
		view_reset(&a->view); /* it selected the old name */
	if (index_move_folder(f, to, newname, from_raw, to_raw, a->delim) < 0)
		log_warn(LOG_CAT_FS, "renaming %s in the index: out of memory", was.from_path);
	if ((c = queue(a, f, true))) {
		c->moved = true;
		memcpy(c->from_path, was.from_path, sizeof(c->from_path));
		c->from_parent = was.from_parent;
		memcpy(c->from_name, was.from_name, sizeof(c->from_name));
	}
	return true;
}

/* The rename from the path fp[0..fn) to tp[0..tn), when it can be a move. */
static bool place(struct account *a, char **fp, size_t fn, char **tp, size_t tn,
		  const char *from_raw, const char *to_raw)
{
	struct folder *root = index_root(a->index);
	struct folder *f = walk(root, fp, fn), *to = walk(root, tp, tn - 1);
	const char *newname = tp[tn - 1];

	if (!f || !to || f == root || !f->imap_name || strcmp(f->imap_name, from_raw) != 0 ||
	    strcasecmp(from_raw, "INBOX") == 0 || inside(to, f) || index_child(to, newname) ||
	    !index_valid_component(newname))
		return false;
	return move(a, f, to, newname, from_raw, to_raw);
}

static bool tree_rename(struct account *a, const char *from, size_t from_len, const char *to,
			size_t to_len, long long deadline)
{
	char *fp[ACCOUNT_MAX_DEPTH], *tp[ACCOUNT_MAX_DEPTH];
	char *from_raw = strndup(from, from_len), *to_raw = strndup(to, to_len);
	char *fd = NULL, *td = NULL;
	size_t fn = 0, tn = 0;
	struct imap_status st;
	bool moved = false;

	if (from_raw && to_raw &&
	    (fd = account_name_path(from, from_len, a->delim, LOG_LVL_DEBUG, fp, &fn)))
		td = account_name_path(to, to_len, a->delim, LOG_LVL_DEBUG, tp, &tn);
	if (fn && tn && account_lock_session(a, deadline, &st)) {
		rlock_take(&a->index_lock);
		moved = place(a, fp, fn, tp, tn, from_raw, to_raw);
		rlock_drop(&a->index_lock);
		account_unlock_session(a);
	}
	if (moved) {
		log_info(LOG_CAT_FS, "folder %.200s renamed elsewhere to %.200s", fd, td);
		tell_kernel(a);
	}
	free(fd);
	free(td);
	free(from_raw);
	free(to_raw);
	return moved;
}

/* The folder the server calls name (raw, len bytes), or NULL (index_lock held). */
static struct folder *named(struct account *a, const char *name, size_t len)
{
	char *parts[ACCOUNT_MAX_DEPTH];
	size_t n;
	char *d = account_name_path(name, len, a->delim, LOG_LVL_DEBUG, parts, &n);
	struct folder *f = n ? walk(index_root(a->index), parts, n) : NULL;

	free(d);
	if (!f || !f->parent || !f->imap_name || strlen(f->imap_name) != len ||
	    memcmp(f->imap_name, name, len) != 0)
		return NULL;
	return f;
}

/* A folder gone: 1, or 0 when unknown or when it still holds others
 * (then *level: it stays, a level without messages). */
static size_t forget(struct account *a, const char *name, size_t len, bool *level)
{
	struct folder *f;
	size_t n = 0;

	rlock_take(&a->index_lock);
	f = named(a, name, len);
	*level = f && f->nchildren;
	if (f && !f->nchildren) {
		drop(a, f);
		n = 1;
	}
	rlock_drop(&a->index_lock);
	return n;
}

/* A folder new (or its attributes changed). */
static size_t add(struct account *a, const struct imap_list_line *l)
{
	uint64_t before;
	size_t n;

	rlock_take(&a->index_lock);
	before = index_last_folder_ino(a->index);
	rlock_drop(&a->index_lock);
	account_add_listed(a, l->name, l->len, l->delim, l->flags);
	rlock_take(&a->index_lock);
	n = queue_born(a, before);
	rlock_drop(&a->index_lock);
	return n;
}

void tree_news(struct account *a, const struct imap_list_line *l, long long deadline)
{
	struct imap_status st;
	bool level = false;
	size_t n = 0;

	if (l->oldname && tree_rename(a, l->oldname, l->oldlen, l->name, l->len, deadline))
		return;
	if (!account_lock_session(a, deadline, &st)) {
		log_info(LOG_CAT_FS, "a folder change not applied: %s; the next LIST will", st.text);
		return;
	}
	if (l->oldname) /* not a move here: a deletion and a creation */
		n = forget(a, l->oldname, l->oldlen, &level);
	if (l->flags & MBX_NONEXISTENT)
		n += forget(a, l->name, l->len, &level);
	if (!(l->flags & MBX_NONEXISTENT) || level)
		n += add(a, l);
	account_unlock_session(a);
	changed_by(a, n);
}

/* ---- the announcer's side ----------------------------------------------------------- */

/* A change of name in parent: where it is now, else (with from) where a
 * moved folder was. */
static long find(struct tree *t, uint64_t parent, const char *name, bool *from)
{
	for (size_t i = 0; t && i < t->n; i++) {
		*from = false;
		if (t->c[i].parent == parent && strcmp(t->c[i].name, name) == 0)
			return (long)i;
		*from = true;
		if (t->c[i].moved && t->c[i].from_parent == parent &&
		    strcmp(t->c[i].from_name, name) == 0)
			return (long)i;
	}
	return -1;
}

bool tree_next(struct account *a, struct tree_change *c)
{
	bool any;

	rlock_take(&a->index_lock);
	any = a->tree && a->tree->n;
	if (any)
		*c = a->tree->c[0];
	rlock_drop(&a->index_lock);
	return any;
}

void tree_done(struct account *a, uint64_t parent, const char *name)
{
	struct tree *t;
	bool from;
	long i;

	rlock_take(&a->index_lock);
	t = a->tree;
	if ((i = find(t, parent, name, &from)) >= 0 && !from) {
		memmove(&t->c[i], &t->c[i + 1], (t->n - (size_t)i - 1) * sizeof(*t->c));
		t->n--;
	}
	rlock_drop(&a->index_lock);
}

bool tree_pending(struct account *a, uint64_t parent, const char *name, bool *born,
		  uint64_t *ino)
{
	bool from;
	long i;

	rlock_take(&a->index_lock);
	i = find(a->tree, parent, name, &from);
	if (i >= 0) {
		*born = a->tree->c[i].born && !from;
		*ino = a->tree->c[i].ino;
	}
	rlock_drop(&a->index_lock);
	return i >= 0;
}

bool tree_move_pending(struct account *a, uint64_t parent, const char *name, uint64_t newparent,
		       const char *newname)
{
	bool from, yes;
	long i;

	rlock_take(&a->index_lock);
	i = find(a->tree, newparent, newname, &from);
	yes = i >= 0 && !from && a->tree->c[i].moved && a->tree->c[i].from_parent == parent &&
	      strcmp(a->tree->c[i].from_name, name) == 0;
	rlock_drop(&a->index_lock);
	return yes;
}

void tree_free(struct account *a)
{
	if (!a->tree)
		return;
	free(a->tree->c);
	free(a->tree);
	a->tree = NULL;
}
