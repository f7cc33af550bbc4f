/* The folder tree and message index (see index.h for the inode scheme). */
#include "fs/mail/index.h"

#include "imap/commands.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen_entry {
	struct folder *folder;
	uint32_t uidvalidity;
};

#define MOVED_MAX 4096

struct index {
	struct folder **by_ino;  /* by_ino[ino - 1] */
	/* Recent moves: the old inode of a moved message keeps answering for
	 * it (see index_note_moved).  A ring: the oldest are forgotten. */
	uint64_t moved_from[MOVED_MAX], moved_to[MOVED_MAX];
	size_t moved_next;
	size_t nfolders, cap_folders;
	struct gen_entry *gens;  /* gens[gen - 1] */
	size_t ngens, cap_gens;
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -1;
	*arr = n;
	*cap = ncap;
	return 0;
}

static struct folder *new_folder(struct index *ix, struct folder *parent, const char *name)
{
	struct folder *f = calloc(1, sizeof(*f));

	if (!f || !(f->name = strdup(name)) ||
	    grow((void **)&ix->by_ino, &ix->cap_folders, ix->nfolders + 1, sizeof(*ix->by_ino)) < 0) {
		if (f)
			free(f->name);
		free(f);
		return NULL;
	}
	if (parent) {
		struct folder **nc = realloc(parent->children,
					     (parent->nchildren + 1) * sizeof(*nc));
		if (!nc) {
			free(f->name);
			free(f);
			return NULL;
		}
		parent->children = nc;
		parent->children[parent->nchildren++] = f;
	}
	f->parent = parent;
	ix->by_ino[ix->nfolders++] = f;
	f->ino = ix->nfolders;
	return f;
}

int index_folder_path(const struct folder *f, char *buf, size_t len)
{
	const struct folder *chain[64];
	size_t depth = 0, o = 0;

	for (; f && f->parent && depth < 64; f = f->parent)
		chain[depth++] = f;
	buf[0] = '\0';
	while (depth--) {
		int w = snprintf(buf + o, len - o, "%s%s", o ? "/" : "", chain[depth]->name);

		if (w < 0 || (size_t)w >= len - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

uint64_t index_last_folder_ino(const struct index *ix)
{
	return ix->nfolders;
}

struct index *index_new(void)
{
	struct index *ix = calloc(1, sizeof(*ix));

	if (ix && !new_folder(ix, NULL, "")) {
		free(ix);
		return NULL;
	}
	return ix;
}

void index_free(struct index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->nfolders; i++) {
		struct folder *f = ix->by_ino[i];

		free(f->name);
		free(f->imap_name);
		free(f->children);
		free(f->msgs);
		free(f->pending);
		free(f->departed);
		free(f->marker);
		free(f);
	}
	free(ix->by_ino);
	free(ix->gens);
	free(ix);
}

struct folder *index_root(struct index *ix) { return ix->by_ino[0]; }

struct folder *index_folder_by_ino(struct index *ix, uint64_t ino)
{
	if (ino == 0 || (ino & MSG_INO_BIT) || ino > ix->nfolders || ix->by_ino[ino - 1]->gone)
		return NULL;
	return ix->by_ino[ino - 1];
}

struct folder *index_child(struct folder *dir, const char *name)
{
	for (size_t i = 0; i < dir->nchildren; i++)
		if (strcmp(dir->children[i]->name, name) == 0)
			return dir->children[i];
	return NULL;
}

bool index_valid_component(const char *name)
{
	size_t len = strlen(name);

	/* Never a path trick, never a name our message files could take. */
	if (len == 0 || len > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

struct folder *index_add_mailbox(struct index *ix, const char *const *path, size_t depth,
				 const char *imap_name, unsigned mbx_flags)
{
	struct folder *cur = index_root(ix), *next;
	uint32_t uid;

	if (depth == 0)
		return NULL;
	for (size_t i = 0; i < depth; i++)
		/* A folder called "7.eml" would hide (or be hidden by) message 7. */
		if (!index_valid_component(path[i]) || index_parse_msg_name(path[i], &uid))
			return NULL;
	for (size_t i = 0; i < depth; i++) {
		next = index_child(cur, path[i]);
		if (!next && !(next = new_folder(ix, cur, path[i])))
			return NULL;
		cur = next;
	}
	if (!cur->imap_name || strcmp(cur->imap_name, imap_name) != 0) {
		char *dup = strdup(imap_name);

		if (!dup)
			return NULL;
		free(cur->imap_name);
		cur->imap_name = dup;
	}
	cur->mbx_flags = mbx_flags;
	cur->seen_in_list = true;
	return cur;
}

struct folder *index_new_folder(struct index *ix, struct folder *parent, const char *name,
				const char *imap_name)
{
	struct folder *f = new_folder(ix, parent, name);

	if (f && imap_name && !(f->imap_name = strdup(imap_name))) {
		index_remove_folder(f);
		return NULL;
	}
	return f;
}

static struct folder *find_flag(struct folder *f, unsigned flag)
{
	struct folder *hit;

	if (f->imap_name && (f->mbx_flags & flag))
		return f;
	for (size_t i = 0; i < f->nchildren; i++)
		if ((hit = find_flag(f->children[i], flag)))
			return hit;
	return NULL;
}

struct folder *index_find_flag(struct index *ix, unsigned flag)
{
	return find_flag(index_root(ix), flag);
}

static void detach(struct folder *f)
{
	struct folder *p = f->parent;

	if (!p)
		return;
	for (size_t i = 0; i < p->nchildren; i++)
		if (p->children[i] == f) {
			memmove(&p->children[i], &p->children[i + 1],
				(p->nchildren - i - 1) * sizeof(*p->children));
			p->nchildren--;
			break;
		}
	f->parent = NULL;
}

void index_remove_folder(struct folder *f)
{
	detach(f);
	f->gone = true;
	f->loaded = false;
	f->nmsgs = 0;
	while (f->nchildren) /* each call detaches the child from f */
		index_remove_folder(f->children[0]);
}

/* Replace the leading old_prefix of f's server name (and its subtree's). */
static int rename_subtree(struct folder *f, const char *old_prefix, const char *new_prefix,
			  char delim)
{
	size_t ol = strlen(old_prefix);
	char *n;

	if (f->imap_name && strncmp(f->imap_name, old_prefix, ol) == 0 &&
	    (f->imap_name[ol] == '\0' || f->imap_name[ol] == delim)) {
		if (asprintf(&n, "%s%s", new_prefix, f->imap_name + ol) < 0)
			return -1;
		free(f->imap_name);
		f->imap_name = n;
	}
	for (size_t i = 0; i < f->nchildren; i++)
		if (rename_subtree(f->children[i], old_prefix, new_prefix, delim) < 0)
			return -1;
	return 0;
}

int index_move_folder(struct folder *f, struct folder *newparent, const char *newname,
		      const char *old_prefix, const char *new_prefix, char delim)
{
	char *name = strdup(newname);
	struct folder **nc = realloc(newparent->children,
				     (newparent->nchildren + 1) * sizeof(*nc));

	if (!name || !nc) {
		free(name);
		if (nc)
			newparent->children = nc;
		return -1;
	}
	newparent->children = nc;
	detach(f);
	newparent->children[newparent->nchildren++] = f;
	f->parent = newparent;
	free(f->name);
	f->name = name;
	return rename_subtree(f, old_prefix, new_prefix, delim);
}

bool index_folder_selectable(const struct folder *f)
{
	return f->imap_name && !(f->mbx_flags & (MBX_NOSELECT | MBX_NONEXISTENT));
}

void index_folder_reset(struct index *ix, struct folder *f, uint32_t uidvalidity)
{
	f->nmsgs = 0;
	f->uidnext = 0;
	f->highestmodseq = 0;
	f->loaded = false;
	if (f->gen && f->uidvalidity == uidvalidity)
		return;
	/* A new UIDVALIDITY (or the first): new inodes for every message. */
	if (grow((void **)&ix->gens, &ix->cap_gens, ix->ngens + 1, sizeof(*ix->gens)) < 0) {
		f->gen = 0;
		return;
	}
	ix->gens[ix->ngens].folder = f;
	ix->gens[ix->ngens].uidvalidity = uidvalidity;
	f->gen = (uint32_t)++ix->ngens;
	f->uidvalidity = uidvalidity;
}

int index_folder_insert(struct folder *f, const struct msg *m)
{
	size_t lo = 0, hi = f->nmsgs;

	if (!f->nmsgs || m->uid > f->msgs[f->nmsgs - 1].uid)
		return index_folder_append(f, m);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->msgs[mid].uid < m->uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (f->msgs[lo].uid == m->uid ||
	    grow((void **)&f->msgs, &f->cap, f->nmsgs + 1, sizeof(*f->msgs)) < 0)
		return -1;
	memmove(&f->msgs[lo + 1], &f->msgs[lo], (f->nmsgs - lo) * sizeof(*f->msgs));
	f->msgs[lo] = *m;
	f->nmsgs++;
	return 0;
}

int index_folder_append(struct folder *f, const struct msg *m)
{
	if (f->nmsgs && m->uid <= f->msgs[f->nmsgs - 1].uid)
		return -1;
	if (grow((void **)&f->msgs, &f->cap, f->nmsgs + 1, sizeof(*f->msgs)) < 0)
		return -1;
	f->msgs[f->nmsgs++] = *m;
	return 0;
}

long index_msg_pos(const struct folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->nmsgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nmsgs && f->msgs[lo].uid == uid ? (long)lo : -1;
}

struct msg *index_find_msg(struct folder *f, uint32_t uid)
{
	long pos = index_msg_pos(f, uid);

	return pos < 0 ? NULL : &f->msgs[pos];
}

void index_remove_at(struct folder *f, size_t pos)
{
	if (pos >= f->nmsgs)
		return;
	memmove(&f->msgs[pos], &f->msgs[pos + 1], (f->nmsgs - pos - 1) * sizeof(*f->msgs));
	f->nmsgs--;
}

uint64_t index_msg_ino(const struct folder *f, uint32_t uid)
{
	return MSG_INO_BIT | (uint64_t)f->gen << 32 | uid;
}

static struct msg *msg_by_ino(struct index *ix, uint64_t ino, struct folder **fp)
{
	uint32_t gen = (uint32_t)((ino & ~MSG_INO_BIT) >> 32), uid = (uint32_t)ino;
	struct gen_entry *g;

	if (!(ino & MSG_INO_BIT) || gen == 0 || gen > ix->ngens)
		return NULL;
	g = &ix->gens[gen - 1];
	if (g->folder->gen != gen || !g->folder->loaded)
		return NULL;
	*fp = g->folder;
	return index_find_msg(g->folder, uid);
}

struct msg *index_msg_by_ino(struct index *ix, uint64_t ino, struct folder **fp)
{
	struct msg *m = msg_by_ino(ix, ino, fp);

	for (size_t i = 0; !m && i < MOVED_MAX; i++)
		if (ix->moved_from[i] == ino)
			return msg_by_ino(ix, ix->moved_to[i], fp);
	return m;
}

void index_note_moved(struct index *ix, uint64_t old_ino, uint64_t new_ino)
{
	ix->moved_from[ix->moved_next] = old_ino;
	ix->moved_to[ix->moved_next] = new_ino;
	ix->moved_next = (ix->moved_next + 1) % MOVED_MAX;
}

bool index_parse_msg_name(const char *name, uint32_t *uid)
{
	uint64_t v = 0;
	const char *c = name;

	if (*c < '1' || *c > '9')
		return false; /* no leading zeros: one name per message */
	for (; isdigit((unsigned char)*c); c++) {
		v = v * 10 + (uint64_t)(*c - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (strcmp(c, ".eml") != 0)
		return false;
	*uid = (uint32_t)v;
	return true;
}
