/* Files being written into a mail folder, until they are appended. */
#include "fs/newfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>

struct newfile {
	uint64_t ino, dir_ino;
	char *name;
	char *data;
	size_t len, cap;
	int64_t mtime;
	int err;               /* a write failed: never appended */
	bool dirty;            /* bytes not yet appended */
	bool unlinked;
	bool busy;             /* being appended: the buffer is in use */
	struct newfile *next;
};

struct newfiles {
	pthread_mutex_t lock;
	struct newfile *head;
	uint64_t next_ino;
	size_t max;
};

struct newfiles *newfiles_new(size_t max_size)
{
	struct newfiles *nf = calloc(1, sizeof(*nf));

	if (!nf)
		return NULL;
	pthread_mutex_init(&nf->lock, NULL);
	nf->max = max_size;
	return nf;
}

static void free_file(struct newfile *f)
{
	if (f->data)
		OPENSSL_cleanse(f->data, f->len); /* someone's mail */
	free(f->data);
	free(f->name);
	free(f);
}

void newfiles_free(struct newfiles *nf)
{
	struct newfile *f, *next;

	if (!nf)
		return;
	for (f = nf->head; f; f = next) {
		next = f->next;
		free_file(f);
	}
	pthread_mutex_destroy(&nf->lock);
	free(nf);
}

/* Under lock. */
static struct newfile *by_ino(struct newfiles *nf, uint64_t ino)
{
	for (struct newfile *f = nf->head; f; f = f->next)
		if (f->ino == ino)
			return f;
	return NULL;
}

static struct newfile *by_name(struct newfiles *nf, uint64_t dir_ino, const char *name)
{
	for (struct newfile *f = nf->head; f; f = f->next)
		if (f->dir_ino == dir_ino && !f->unlinked && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void info_of(const struct newfile *f, struct newfile_info *info)
{
	info->ino = f->ino;
	info->dir_ino = f->dir_ino;
	info->size = f->len;
	info->mtime = f->mtime;
}

int newfile_create(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t *ino)
{
	struct newfile *f;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	if (by_name(nf, dir_ino, name)) {
		err = EEXIST;
	} else if (!(f = calloc(1, sizeof(*f))) || !(f->name = strdup(name))) {
		free(f);
		err = ENOMEM;
	} else {
		f->ino = NEWFILE_INO_BIT | ++nf->next_ino;
		f->dir_ino = dir_ino;
		f->mtime = -1;
		/* not dirty: a file closed without a byte written (touch) is
		 * not a message, and nothing is sent */
		f->next = nf->head;
		nf->head = f;
		*ino = f->ino;
	}
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_lookup(struct newfiles *nf, uint64_t dir_ino, const char *name,
		   struct newfile_info *info)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_name(nf, dir_ino, name);
	if (f)
		info_of(f, info);
	pthread_mutex_unlock(&nf->lock);
	return f ? 0 : ENOENT;
}

int newfile_stat(struct newfiles *nf, uint64_t ino, struct newfile_info *info)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (f)
		info_of(f, info);
	pthread_mutex_unlock(&nf->lock);
	return f ? 0 : ENOENT;
}

/* Under lock: room for size bytes, zero-filled (holes read as zeros). */
static int resize(struct newfiles *nf, struct newfile *f, size_t size)
{
	size_t cap = f->cap ? f->cap : 64 * 1024;
	char *nd;

	if (size > nf->max)
		return EFBIG;
	while (cap < size)
		cap = cap > nf->max / 2 ? nf->max : cap * 2;
	if (cap > f->cap) {
		if (!(nd = realloc(f->data, cap)))
			return ENOMEM;
		f->data = nd;
		f->cap = cap;
	}
	if (size > f->len)
		memset(f->data + f->len, 0, size - f->len);
	f->len = size;
	return 0;
}

/* Under lock: the file ino when its bytes may change now (0), else an
 * errno (gone; being appended). */
static int changeable(struct newfiles *nf, uint64_t ino, struct newfile **fp)
{
	*fp = by_ino(nf, ino);
	return !*fp ? ENOENT : (*fp)->busy ? EBUSY : 0;
}

int newfile_write(struct newfiles *nf, uint64_t ino, const char *buf, size_t size, off_t off)
{
	struct newfile *f;
	size_t end = (size_t)off + size;
	int err;

	pthread_mutex_lock(&nf->lock);
	err = changeable(nf, ino, &f);
	if (!err && (off < 0 || end < size))
		err = EINVAL;
	if (!err && end > f->len && (err = resize(nf, f, end)) != 0)
		f->err = err; /* a message missing its end is never sent */
	if (!err) {
		memcpy(f->data + off, buf, size);
		f->dirty = true;
	}
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_truncate(struct newfiles *nf, uint64_t ino, size_t size)
{
	struct newfile *f;
	int err;

	pthread_mutex_lock(&nf->lock);
	err = changeable(nf, ino, &f);
	if (!err && size <= f->len)
		f->len = size;
	else if (!err)
		err = resize(nf, f, size);
	if (!err)
		f->dirty = true;
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_set_mtime(struct newfiles *nf, uint64_t ino, int64_t mtime)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (f)
		f->mtime = mtime;
	pthread_mutex_unlock(&nf->lock);
	return f ? 0 : ENOENT;
}

int newfile_unlink(struct newfiles *nf, uint64_t dir_ino, const char *name)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_name(nf, dir_ino, name);
	if (f)
		f->unlinked = true;
	pthread_mutex_unlock(&nf->lock);
	return f ? 0 : ENOENT;
}

int newfile_flush(struct newfiles *nf, uint64_t ino, newfile_append_fn fn, void *ctx)
{
	struct newfile *f;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (!f || f->busy || f->unlinked || !f->dirty) {
		pthread_mutex_unlock(&nf->lock);
		return 0;
	}
	if (f->err) {
		err = f->err;
		f->dirty = false; /* reported once */
		pthread_mutex_unlock(&nf->lock);
		return err;
	}
	f->busy = true;
	pthread_mutex_unlock(&nf->lock);
	/* The buffer is stable while busy: writes wait (EBUSY), release
	 * comes only after this flush returns. */
	err = fn(ctx, f->dir_ino, f->name, f->data, f->len, f->mtime);
	pthread_mutex_lock(&nf->lock);
	f->busy = false;
	f->dirty = false;
	pthread_mutex_unlock(&nf->lock);
	return err;
}

void newfile_release(struct newfiles *nf, uint64_t ino)
{
	struct newfile **pp, *f = NULL;

	pthread_mutex_lock(&nf->lock);
	for (pp = &nf->head; *pp; pp = &(*pp)->next)
		if ((*pp)->ino == ino) {
			f = *pp;
			*pp = f->next;
			break;
		}
	pthread_mutex_unlock(&nf->lock);
	if (f)
		free_file(f);
}
