/* The FUSE side's questions to the index (see lookup.h). */
#include "fs/mail/lookup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/account.h"

void lookup_describe(struct folder *f, struct folder_info *out)
{
	out->f = f;
	out->ino = f->ino;
	out->parent = f->parent ? f->parent->ino : f->ino;
	out->nchildren = f->nchildren;
	out->gen = f->gen;
	out->selectable = index_folder_selectable(f);
	out->loaded = f->loaded;
	out->watched = f->watched;
	out->pushed = f->pushed;
}

bool lookup_folder(struct account *a, uint64_t ino, struct folder_info *out)
{
	struct folder *f;

	rlock_take(&a->index_lock);
	if ((f = index_folder_by_ino(a->index, ino)))
		lookup_describe(f, out);
	rlock_drop(&a->index_lock);
	return f != NULL;
}

bool lookup_subfolder(struct account *a, uint64_t parent, const char *name,
		      struct folder_info *out)
{
	struct folder *dir, *f = NULL;

	rlock_take(&a->index_lock);
	dir = index_folder_by_ino(a->index, parent);
	if (dir && (f = index_child(dir, name)))
		lookup_describe(f, out);
	rlock_drop(&a->index_lock);
	return f != NULL;
}

int lookup_message_in(struct account *a, uint64_t dir, uint32_t uid, struct folder_info *dirp,
		      struct msg *m)
{
	const struct msg *found = NULL;
	struct folder *f;
	int err = ENOENT;

	rlock_take(&a->index_lock);
	f = index_folder_by_ino(a->index, dir);
	if (f && index_folder_selectable(f)) {
		lookup_describe(f, dirp);
		if (!f->loaded)
			err = EAGAIN;
		else if ((found = index_find_msg(f, uid)))
			err = 0;
	}
	if (found)
		*m = *found;
	rlock_drop(&a->index_lock);
	return err;
}

bool lookup_message(struct account *a, uint64_t ino, struct folder_info *dir, struct msg *m,
		    uint64_t *ino_now)
{
	struct folder *f;
	const struct msg *found;

	rlock_take(&a->index_lock);
	found = index_msg_by_ino(a->index, ino, &f);
	if (found) {
		lookup_describe(f, dir);
		*m = *found;
		*ino_now = index_msg_ino(f, found->uid);
	}
	rlock_drop(&a->index_lock);
	return found != NULL;
}

bool lookup_marker(struct account *a, uint64_t dir, struct marker_info *out, char **text)
{
	struct folder *f;
	bool watched;

	rlock_take(&a->index_lock);
	f = index_folder_by_ino(a->index, dir);
	watched = f && f->watched;
	if (watched) {
		*out = (struct marker_info){ f->ino, f->marker_len, f->marker_mtime };
		if (text && (*text = malloc(f->marker_len + 1)))
			memcpy(*text, f->marker ? f->marker : "", f->marker_len);
	}
	rlock_drop(&a->index_lock);
	return watched;
}

void account_with_index(struct account *a, void (*fn)(struct account *a, void *ctx), void *ctx)
{
	rlock_take(&a->index_lock);
	fn(a, ctx);
	rlock_drop(&a->index_lock);
}
