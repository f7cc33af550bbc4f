/* The folder tree in step with the server's LIST (see tree.h). */
#include "fs/mail/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* index_lock held. */
static void queue(struct account *a, struct folder *f, bool born)
{
	struct tree *t = a->tree;
	struct tree_change *c;

	if (!t || !f->parent)
		return;
	if (t->n == t->cap) {
		c = realloc(t->c, (t->cap * 2 + 8) * sizeof(*c));
		if (!c)
			return;
		t->c = c;
		t->cap = t->cap * 2 + 8;
	}
	c = &t->c[t->n];
	if (index_folder_path(f, c->path, sizeof(c->path)) < 0)
		return;
	c->parent = f->parent->ino;
	c->ino = f->ino;
	c->born = born;
	snprintf(c->name, sizeof(c->name), "%s", f->name);
	t->n++;
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
	if (f == a->view.f)
		view_reset(&a->view); /* session_lock held: the worker's view is ours */
	queue(a, f, false);
	index_remove_folder(f);
	return gone + 1;
}

/* The LIST's mailboxes into the tree; the new ones queued as born. */
static size_t apply(struct account *a, const struct listing *ls)
{
	uint64_t before, after;
	size_t gone;

	rlock_take(&a->index_lock);
	unsee(index_root(a->index));
	before = index_last_folder_ino(a->index);
	rlock_drop(&a->index_lock);
	for (size_t i = 0; i < ls->n; i++)
		account_add_listed(a, ls->l[i].name, ls->l[i].len, ls->l[i].delim, ls->l[i].flags);
	rlock_take(&a->index_lock);
	if (!a->tree)
		a->tree = calloc(1, sizeof(*a->tree));
	after = index_last_folder_ino(a->index);
	for (uint64_t ino = before + 1; ino <= after; ino++)
		queue(a, index_folder_by_ino(a->index, ino), true);
	gone = sweep(a, index_root(a->index));
	rlock_drop(&a->index_lock);
	return (size_t)(after - before) + gone;
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
		tree_done(a, c.parent, c.name);
	}
}

enum imap_result tree_relist(struct account *a, struct imap_session *s, long long deadline,
			     bool *changed, struct imap_status *st)
{
	struct listing ls = { 0 };
	enum imap_result rr = imap_list(s, keep, &ls, st);
	size_t n = 0;

	*changed = false;
	if (rr == IMAP_R_OK && ls.nomem) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		rr = IMAP_R_NOMEM;
	}
	if (rr == IMAP_R_OK && account_lock_session(a, deadline, st)) {
		n = apply(a, &ls);
		account_unlock_session(a);
	} else if (rr == IMAP_R_OK) {
		/* s is fine; the worker was busy all along: the next LIST will do. */
		log_debug(LOG_CAT_FS, "folder list not applied: %s", st->text);
	}
	listing_free(&ls);
	if (n) {
		log_info(LOG_CAT_FS, "the server's folders changed: %zu created or deleted", n);
		*changed = true;
		tell_kernel(a);
	}
	return rr;
}

/* ---- the announcer's side ----------------------------------------------------------- */

static long find(struct tree *t, uint64_t parent, const char *name)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->c[i].parent == parent && strcmp(t->c[i].name, name) == 0)
			return (long)i;
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
	long i;

	rlock_take(&a->index_lock);
	t = a->tree;
	if ((i = find(t, parent, name)) >= 0) {
		memmove(&t->c[i], &t->c[i + 1], (t->n - (size_t)i - 1) * sizeof(*t->c));
		t->n--;
	}
	rlock_drop(&a->index_lock);
}

bool tree_pending(struct account *a, uint64_t parent, const char *name, bool *born,
		  uint64_t *ino)
{
	long i;

	rlock_take(&a->index_lock);
	i = find(a->tree, parent, name);
	if (i >= 0) {
		*born = a->tree->c[i].born;
		*ino = a->tree->c[i].ino;
	}
	rlock_drop(&a->index_lock);
	return i >= 0;
}

void tree_free(struct account *a)
{
	if (!a->tree)
		return;
	free(a->tree->c);
	free(a->tree);
	a->tree = NULL;
}
