/* Directory listings (see listing.h). */
#include "fs/listing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/account.h"
#include "fs/mail/lookup.h"
#include "fs/node.h"

struct listing {
	fuse_ino_t self, parent;
	size_t nparts;
	struct node_part parts[]; /* one per kind, in the table's order */
};

static void free_listing(struct listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nparts; i++)
		free(l->parts[i].data);
	free(l);
}

/* Every kind's entries of l->self, the index held still; l freed and
 * NULL when out of memory. */
static void take_listing(struct account *a, void *ctx)
{
	struct listing **lp = ctx, *l = *lp;

	for (l->nparts = 0; l->nparts < node_count(); l->nparts++) {
		struct node_part *p = &l->parts[l->nparts];
		const struct node_kind *k = node_by_listing(l->nparts);

		p->kind = k;
		p->dir = l->self;
		if (k->list && k->list(a, l->self, p) != 0) {
			free_listing(l);
			*lp = NULL;
			return;
		}
	}
}

void listing_open(fuse_req_t req, struct fuse_file_info *fi, fuse_ino_t dir, fuse_ino_t parent)
{
	struct account *a = fuse_req_userdata(req);
	struct listing *l = calloc(1, sizeof(*l) + node_count() * sizeof(l->parts[0]));

	if (l) {
		l->self = dir;
		l->parent = parent;
		account_with_index(a, take_listing, &l);
	}
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)l;
	fuse_reply_open(req, fi);
}

/* Entry i of the listing: false past the last. */
static bool listing_entry(struct account *a, const struct listing *l, size_t i, char *name,
			  size_t namelen, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (i < 2) {
		snprintf(name, namelen, i == 0 ? "." : "..");
		e->attr.st_mode = S_IFDIR;
		e->attr.st_ino = i == 0 ? l->self : l->parent;
		return true;
	}
	i -= 2;
	for (size_t p = 0; p < l->nparts; i -= l->parts[p++].n)
		if (i < l->parts[p].n) {
			l->parts[p].kind->list_entry(a, &l->parts[p], i, name, namelen, e);
			return true;
		}
	return false;
}

/* Every kind learns that dir is read from its start. */
static void note_listed(struct account *a, fuse_ino_t dir)
{
	const struct node_kind *k;

	for (size_t i = 0; (k = node_by_listing(i)); i++)
		if (k->listed)
			k->listed(a, dir);
}

void listing_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct account *a = fuse_req_userdata(req);
	const struct listing *l = (const struct listing *)(uintptr_t)fi->fh;
	struct fuse_entry_param e;
	char *buf = malloc(size), name[300];
	size_t used = 0, n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off == 0)
		note_listed(a, l->self);
	for (size_t i = (size_t)off; listing_entry(a, l, i, name, sizeof(name), &e); i++) {
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

void listing_release(fuse_req_t req, struct fuse_file_info *fi)
{
	free_listing((struct listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
