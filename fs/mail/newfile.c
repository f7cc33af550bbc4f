/* Files being written into a mail folder, until they are appended. */
#include "fs/mail/newfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>

#include "fs/inode.h"

struct newfile {
	uint64_t ino, dir_ino;
	char *name;
	char *data;
	size_t len, cap;
	int64_t mtime;
	int err;               /* a write failed: never appended */
	bool dirty;            /* bytes not yet appended */
	bool unlinked;         /* removed while in use: goes when it is not */
	bool busy;             /* being appended: the buffer is in use */
	unsigned opens;        /* open handles (their RELEASE comes after close() returns) */
	bool flushed;          /* closed since the last write: no writer is busy with it */
	bool appended;         /* sent: a ghost once released */
	bool ghost;            /* only the name, uid and date are left */
	uint32_t uid;
	uint64_t ghost_seq;    /* age, to let the oldest ghost go first */
	struct newfile *next;
};

struct newfiles {
	pthread_mutex_t lock;
	struct newfile *head;
	uint64_t next_ino, ghost_seq;
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

static void free_data(struct newfile *f)
{
	if (f->data)
		OPENSSL_cleanse(f->data, f->len); /* someone's mail */
	free(f->data);
	f->data = NULL;
	f->len = f->cap = 0;
}

static void free_file(struct newfile *f)
{
	free_data(f);
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

/* Under lock: forget f now, or once its writer or its append is done. */
static void drop(struct newfiles *nf, struct newfile *f)
{
	struct newfile **pp;

	f->unlinked = true;
	if (f->opens || f->busy)
		return;
	for (pp = &nf->head; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			free_file(f);
			return;
		}
}

static bool parked(const struct newfile *f)
{
	return !f->opens && !f->ghost && !f->unlinked;
}

/* A writer is at it: open, written to since its last close. */
static bool writing(const struct newfile *f) { return f->opens && !f->flushed; }

/* Under lock: room for one more parked file? */
static bool room_to_park(struct newfiles *nf)
{
	size_t files = 0, bytes = 0;

	for (struct newfile *f = nf->head; f; f = f->next)
		if (parked(f)) {
			files++;
			bytes += f->len;
		}
	return files < PARKED_MAX_FILES && bytes < PARKED_MAX_BYTES;
}

/* Under lock: f keeps only its name, uid and date; the oldest ghost goes
 * when there are too many. */
static void make_ghost(struct newfiles *nf, struct newfile *f)
{
	struct newfile *oldest = NULL;
	size_t n = 0, len = f->len;

	free_data(f);
	f->len = len; /* the size the message has */
	f->ghost = true;
	f->dirty = false;
	f->ghost_seq = ++nf->ghost_seq;
	for (struct newfile *g = nf->head; g; g = g->next) {
		if (!g->ghost || g->unlinked)
			continue;
		n++;
		if (!oldest || g->ghost_seq < oldest->ghost_seq)
			oldest = g;
	}
	if (n > GHOSTS_MAX)
		drop(nf, oldest);
}

static void info_of(const struct newfile *f, struct newfile_info *info)
{
	info->ino = f->ino;
	info->dir_ino = f->dir_ino;
	info->size = f->len;
	info->mtime = f->mtime;
	info->open = f->opens > 0;
	info->ghost = f->ghost;
	info->uid = f->uid;
}

/* Under lock: the name is free for a new file (a ghost of it goes), or
 * an errno. */
static int claim_name(struct newfiles *nf, uint64_t dir_ino, const char *name)
{
	struct newfile *old = by_name(nf, dir_ino, name);

	if (old && !old->appended)
		return EEXIST;
	if (newfile_hidden(name) && !room_to_park(nf))
		return ENOSPC;
	if (old)
		drop(nf, old);
	return 0;
}

int newfile_create(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t *ino)
{
	struct newfile *f = NULL;
	int err;

	pthread_mutex_lock(&nf->lock);
	err = claim_name(nf, dir_ino, name);
	if (!err && (!(f = calloc(1, sizeof(*f))) || !(f->name = strdup(name)))) {
		free(f);
		err = ENOMEM;
	}
	if (!err) {
		f->ino = NEWFILE_INO_BIT | ++nf->next_ino;
		f->dir_ino = dir_ino;
		f->mtime = -1;
		f->opens = 1;
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

int newfile_reopen(struct newfiles *nf, uint64_t ino, bool trunc)
{
	struct newfile *f;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (!f || f->unlinked)
		err = ENOENT;
	else if (writing(f) || f->busy)
		err = EBUSY;
	if (!err && (f->appended || trunc)) {
		free_data(f);
		f->dirty = !f->appended;
		if (f->appended)
			f->mtime = -1;
		f->ghost = f->appended = false;
		f->uid = 0;
		f->err = 0;
	}
	if (!err) {
		f->opens++;
		f->flushed = false;
	}
	pthread_mutex_unlock(&nf->lock);
	return err;
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
 * errno (gone; being appended; a ghost, which has no bytes). */
static int changeable(struct newfiles *nf, uint64_t ino, struct newfile **fp)
{
	*fp = by_ino(nf, ino);
	return !*fp ? ENOENT : (*fp)->busy || (*fp)->ghost ? EBUSY : 0;
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
		f->flushed = false;
	}
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_read(struct newfiles *nf, uint64_t ino, size_t size, off_t off, char **out,
		 size_t *len)
{
	struct newfile *f;
	int err = 0;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (!f)
		err = ENOENT;
	else if (off >= 0 && (size_t)off < f->len)
		*len = size < f->len - (size_t)off ? size : f->len - (size_t)off;
	if (*len && !(*out = malloc(*len)))
		err = ENOMEM;
	if (*out)
		memcpy(*out, f->data + off, *len);
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_truncate(struct newfiles *nf, uint64_t ino, size_t size)
{
	struct newfile *f;
	int err;

	pthread_mutex_lock(&nf->lock);
	err = changeable(nf, ino, &f);
	/* open(O_TRUNC) of an appended file without atomic_o_trunc: the open
	 * that follows starts it over; nothing to do now */
	if (f && f->appended && !f->busy && size == 0)
		err = EALREADY;
	else if (!err && size > f->len)
		err = resize(nf, f, size);
	else if (!err)
		f->len = size;
	if (!err) {
		f->dirty = true;
		f->flushed = false;
	}
	pthread_mutex_unlock(&nf->lock);
	return err == EALREADY ? 0 : err;
}

int newfile_set_mtime(struct newfiles *nf, uint64_t ino, int64_t mtime)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (f && !f->ghost) /* a ghost shows its message's INTERNALDATE */
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
		drop(nf, f);
	pthread_mutex_unlock(&nf->lock);
	return f ? 0 : ENOENT;
}

/* Under lock: bytes that would make a message. */
static bool has_bytes(const struct newfile *f) { return f->dirty && f->len > 0; }

/* Hand f's bytes to fn, the lock let go meanwhile: the buffer is stable
 * while busy (writes wait with EBUSY, a removal waits for the end). */
static int send_file(struct newfiles *nf, struct newfile *f, uint64_t dir_ino, const char *name,
		     newfile_append_fn fn, void *ctx, struct newfile_sent *sent)
{
	int err;

	f->busy = true;
	pthread_mutex_unlock(&nf->lock);
	err = fn(ctx, dir_ino, name, f->data, f->len, f->mtime, sent);
	pthread_mutex_lock(&nf->lock);
	f->busy = false;
	if (!err) {
		f->dirty = false;
		f->appended = true;
		f->uid = sent->uid;
		f->mtime = sent->date;
	}
	return err;
}

int newfile_flush(struct newfiles *nf, uint64_t ino, newfile_append_fn fn, void *ctx)
{
	struct newfile_sent sent = { 0, -1 };
	struct newfile *f;
	int err = 0;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (f && !f->busy)
		f->flushed = true;
	if (!f || f->busy || f->unlinked || f->ghost || newfile_hidden(f->name) || !has_bytes(f))
		err = 0;
	else if (f->err)
		err = f->err; /* reported at each close; never sent */
	else
		err = send_file(nf, f, f->dir_ino, f->name, fn, ctx, &sent);
	pthread_mutex_unlock(&nf->lock);
	return err;
}

void newfile_release(struct newfiles *nf, uint64_t ino)
{
	struct newfile *f;

	pthread_mutex_lock(&nf->lock);
	f = by_ino(nf, ino);
	if (f && f->opens && --f->opens == 0) {
		if (f->appended && !f->unlinked)
			make_ghost(nf, f);
		else if (f->unlinked || !newfile_hidden(f->name))
			drop(nf, f);
		/* else parked: a hidden file waits for its rename */
	}
	pthread_mutex_unlock(&nf->lock);
}

/* Under lock: the rename of f to newdir/newname allowed now?  0 or an errno. */
static int may_rename(struct newfiles *nf, struct newfile *f, uint64_t newdir,
		      const char *newname, bool noreplace)
{
	struct newfile *g = by_name(nf, newdir, newname);

	if (f->busy)
		return EBUSY;
	if (f->appended && newdir != f->dir_ino)
		return EXDEV; /* the message is in its folder; mv moves it by its UID */
	if (g && g != f && (writing(g) || g->busy))
		return EBUSY;
	if (g && g != f && noreplace)
		return EEXIST;
	return 0;
}

/* Under lock: f is now newdir/nm (taken), replacing what held that name. */
static void take_name(struct newfiles *nf, struct newfile *f, uint64_t newdir, char *nm)
{
	struct newfile *g = by_name(nf, newdir, nm);

	if (g && g != f)
		drop(nf, g);
	free(f->name);
	f->name = nm;
	f->dir_ino = newdir;
}

/* Under lock: append parked f as newdir/nm; it becomes that name's ghost. */
static int commit(struct newfiles *nf, struct newfile *f, uint64_t newdir, char *nm,
		  newfile_append_fn fn, void *ctx)
{
	struct newfile_sent sent = { 0, -1 };
	int err = f->err ? f->err : send_file(nf, f, newdir, nm, fn, ctx, &sent);

	if (err) {
		free(nm);
		if (f->unlinked) /* removed while it was being sent */
			drop(nf, f);
		return err;
	}
	take_name(nf, f, newdir, nm);
	if (f->unlinked)
		drop(nf, f);
	else
		make_ghost(nf, f);
	return 0;
}

int newfile_rename(struct newfiles *nf, uint64_t dir_ino, const char *name, uint64_t newdir,
		   const char *newname, bool noreplace, newfile_append_fn fn, void *ctx)
{
	struct newfile *f;
	char *nm = NULL;
	int err;

	pthread_mutex_lock(&nf->lock);
	f = by_name(nf, dir_ino, name);
	err = !f ? ENOENT : may_rename(nf, f, newdir, newname, noreplace);
	if (!err && !(nm = strdup(newname)))
		err = ENOMEM;
	if (err) {
		pthread_mutex_unlock(&nf->lock);
		return err;
	}
	/* Closed, even if its RELEASE is still on its way: what it holds is
	 * final, and a rename to a visible name appends it now. */
	if (writing(f) || f->appended || newfile_hidden(newname)) {
		take_name(nf, f, newdir, nm);
	} else if (!has_bytes(f) && !f->err) {
		free(nm); /* an empty file is no message: nothing to keep */
		drop(nf, f);
	} else {
		err = commit(nf, f, newdir, nm, fn, ctx);
	}
	pthread_mutex_unlock(&nf->lock);
	return err;
}

int newfile_list(struct newfiles *nf, uint64_t dir_ino, struct newfile_entry **out, size_t *n)
{
	struct newfile_entry *e;
	size_t count = 0, i = 0;

	pthread_mutex_lock(&nf->lock);
	for (struct newfile *f = nf->head; f; f = f->next)
		count += f->dir_ino == dir_ino && !f->unlinked && !f->ghost;
	e = calloc(count + 1, sizeof(*e));
	for (struct newfile *f = nf->head; e && f; f = f->next)
		if (f->dir_ino == dir_ino && !f->unlinked && !f->ghost) {
			info_of(f, &e[i].info);
			snprintf(e[i++].name, sizeof(e->name), "%s", f->name);
		}
	pthread_mutex_unlock(&nf->lock);
	*out = e;
	*n = e ? count : 0;
	return e ? 0 : ENOMEM;
}

void newfile_forget_ghosts(struct newfiles *nf, uint64_t dir_ino)
{
	struct newfile *f, *next;

	pthread_mutex_lock(&nf->lock);
	for (f = nf->head; f; f = next) {
		next = f->next; /* drop may free f */
		if (f->ghost && f->dir_ino == dir_ino)
			drop(nf, f);
	}
	pthread_mutex_unlock(&nf->lock);
}
