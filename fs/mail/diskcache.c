/* The disk cache (see diskcache.h).  Files:
 *   DIR/<folder hash>/index               "IFSI2\n", uidvalidity, uidnext, modseq, n,
 *                                          n msgs, SHA-256
 *   DIR/<folder hash>/<uidvalidity>/<uid>  "IFSB1\n", length, SHA-256, the bytes
 *   DIR/<folder hash>/<uidvalidity>/<uid>.parts  the same, holding a part list */
#include "fs/mail/diskcache.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "fs/mail/paths.h"

#define BODY_MAGIC "IFSB1\n"
#define INDEX_MAGIC "IFSI2\n"
#define MAGIC_LEN 6
#define HASH_LEN 32
#define BODY_HEAD (MAGIC_LEN + 8 + HASH_LEN)
#define MAX_INDEX_MSGS (64u << 20)

struct diskcache {
	char *dir;
	size_t cap;
	pthread_mutex_t lock;  /* used, evicting */
	size_t used;
	bool evicting;
};

static void sha256(const void *data, size_t len, unsigned char out[HASH_LEN])
{
	unsigned int n = HASH_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static char *folder_dir(struct diskcache *dc, const char *mailbox)
{
	unsigned char h[HASH_LEN];
	char hex[33], *p = NULL;

	sha256(mailbox, strlen(mailbox), h);
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", h[i]);
	if (asprintf(&p, "%s/%s", dc->dir, hex) < 0)
		return NULL;
	return p;
}

/* ---- files: written whole under a temporary name, then renamed ------------ */

static int write_file(const char *path, const void *head, size_t hlen, const void *data,
		      size_t len)
{
	char *tmp = NULL;
	int fd, rc = -1;

	if (asprintf(&tmp, "%s.tmp%ld.%lx", path, (long)getpid(), (unsigned long)pthread_self()) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		rc = write(fd, head, hlen) == (ssize_t)hlen &&
		     (len == 0 || write(fd, data, len) == (ssize_t)len) ? 0 : -1;
		if (close(fd) < 0)
			rc = -1;
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -1;
		if (rc < 0)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* The whole file, at most max bytes; NULL when missing or larger. */
static char *read_file(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max &&
	    (buf = malloc((size_t)st.st_size + 1))) {
		if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
			free(buf);
			buf = NULL;
		} else {
			*len = (size_t)st.st_size;
		}
	}
	close(fd);
	return buf;
}

/* ---- size accounting and eviction --------------------------------------------- */

/* nftw has no context argument: the walk's results, under scan_lock. */
static size_t scan_total;
static struct victim { char *path; time_t when; off_t size; } *victims;
static size_t nvictims, victims_cap;
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;

static bool is_body(const char *path)
{
	const char *base = strrchr(path, '/');

	return base && strcmp(base + 1, "index") != 0 && !strstr(base, ".tmp");
}

static int scan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F)
		return 0;
	if (strstr(path, ".tmp")) { /* left by a crash */
		unlink(path);
		return 0;
	}
	scan_total += (size_t)st->st_size;
	if (victims_cap && is_body(path)) {
		if (nvictims == victims_cap) {
			struct victim *n = realloc(victims, 2 * victims_cap * sizeof(*n));

			if (!n)
				return 0;
			victims = n;
			victims_cap *= 2;
		}
		victims[nvictims].path = strdup(path);
		victims[nvictims].when = st->st_atime > st->st_mtime ? st->st_atime : st->st_mtime;
		victims[nvictims++].size = st->st_size;
	}
	return 0;
}

static int older(const void *x, const void *y)
{
	const struct victim *a = x, *b = y;

	return (a->when > b->when) - (a->when < b->when);
}

/* Walk the cache: the total size, and with collect the bodies to evict
 * from (oldest read first).  Under scan_lock. */
static size_t scan(struct diskcache *dc, bool collect)
{
	scan_total = 0;
	nvictims = 0;
	victims_cap = collect ? 1024 : 0;
	victims = collect ? malloc(victims_cap * sizeof(*victims)) : NULL;
	if (collect && !victims)
		victims_cap = 0;
	nftw(dc->dir, scan_one, 16, FTW_PHYS);
	if (victims)
		qsort(victims, nvictims, sizeof(*victims), older);
	return scan_total;
}

/* Down to 90 % of the cap, oldest first. */
static void evict(struct diskcache *dc)
{
	size_t total, goal = dc->cap / 10 * 9, removed = 0;

	pthread_mutex_lock(&scan_lock);
	total = scan(dc, true);
	for (size_t i = 0; i < nvictims; i++) {
		if (total > goal && unlink(victims[i].path) == 0) {
			total -= (size_t)victims[i].size;
			removed++;
		}
		free(victims[i].path);
	}
	free(victims);
	victims = NULL;
	pthread_mutex_unlock(&scan_lock);
	pthread_mutex_lock(&dc->lock);
	dc->used = total;
	dc->evicting = false;
	pthread_mutex_unlock(&dc->lock);
	log_debug(LOG_CAT_FS, "disk cache: evicted %zu messages, %zu bytes used", removed, total);
}

static void account_bytes(struct diskcache *dc, size_t n)
{
	bool run;

	pthread_mutex_lock(&dc->lock);
	dc->used += n;
	run = dc->used > dc->cap && !dc->evicting;
	if (run)
		dc->evicting = true;
	pthread_mutex_unlock(&dc->lock);
	if (run)
		evict(dc);
}

size_t diskcache_used(struct diskcache *dc)
{
	size_t u;

	pthread_mutex_lock(&dc->lock);
	u = dc->used;
	pthread_mutex_unlock(&dc->lock);
	return u;
}

/* ---- opening --------------------------------------------------------------------- */

struct diskcache *diskcache_open(const char *account_id, size_t cap, char *err, size_t errlen)
{
	struct diskcache *dc;
	char *base;

	*err = '\0';
	if (cap == 0)
		return NULL;
	dc = calloc(1, sizeof(*dc));
	base = paths_xdg_dir("XDG_CACHE_HOME", "/.cache");
	if (!dc || !base || asprintf(&dc->dir, "%s/%s", base, account_id) < 0) {
		snprintf(err, errlen, "out of memory");
		free(base);
		free(dc);
		return NULL;
	}
	free(base);
	if (paths_mkdirs(dc->dir) < 0) {
		snprintf(err, errlen, "cannot create the disk cache %s: %s", dc->dir, strerror(errno));
		free(dc->dir);
		free(dc);
		return NULL;
	}
	dc->cap = cap;
	pthread_mutex_init(&dc->lock, NULL);
	pthread_mutex_lock(&scan_lock);
	dc->used = scan(dc, false);
	pthread_mutex_unlock(&scan_lock);
	log_debug(LOG_CAT_FS, "disk cache %s: %zu bytes of %zu", dc->dir, dc->used, cap);
	return dc;
}

void diskcache_close(struct diskcache *dc)
{
	if (!dc)
		return;
	pthread_mutex_destroy(&dc->lock);
	free(dc->dir);
	free(dc);
}

/* ---- bodies --------------------------------------------------------------------- */

static char *body_path(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
		       uint32_t uid, const char *suffix, bool make_dirs)
{
	char *fd = folder_dir(dc, mailbox), *p = NULL;

	if (!fd)
		return NULL;
	if (asprintf(&p, "%s/%u/%u%s", fd, uidvalidity, uid, suffix) < 0)
		p = NULL;
	if (p && make_dirs) {
		char *slash = strrchr(p, '/');

		*slash = '\0';
		paths_mkdirs(p);
		*slash = '/';
	}
	free(fd);
	return p;
}

/* The bytes of a file written by put_file, or NULL (a bad one removed). */
static char *get_file(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
		      uint32_t uid, const char *suffix, size_t *lenp)
{
	unsigned char h[HASH_LEN];
	char *path, *buf, *out = NULL;
	size_t len = 0;
	uint64_t want;

	if (!dc || !mailbox || !(path = body_path(dc, mailbox, uidvalidity, uid, suffix, false)))
		return NULL;
	buf = read_file(path, (size_t)1 << 31, &len);
	if (buf && len >= BODY_HEAD && memcmp(buf, BODY_MAGIC, MAGIC_LEN) == 0) {
		memcpy(&want, buf + MAGIC_LEN, 8);
		sha256(buf + BODY_HEAD, len - BODY_HEAD, h);
		if (want == len - BODY_HEAD && memcmp(h, buf + MAGIC_LEN + 8, HASH_LEN) == 0 &&
		    (out = malloc(want + 1))) {
			memcpy(out, buf + BODY_HEAD, want);
			*lenp = want;
			utimensat(AT_FDCWD, path, NULL, 0); /* recently read: evicted last */
		}
	}
	if (buf && !out) {
		log_warn(LOG_CAT_FS, "disk cache: %s is damaged; removed", path);
		unlink(path);
	}
	free(buf);
	free(path);
	return out;
}

static void put_file(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
		     uint32_t uid, const char *suffix, const char *data, size_t len)
{
	unsigned char head[BODY_HEAD];
	uint64_t n = len;
	char *path;

	if (!dc || !mailbox || len > dc->cap / 4)
		return; /* a message that would push out a quarter of the cache is not kept */
	if (!(path = body_path(dc, mailbox, uidvalidity, uid, suffix, true)))
		return;
	memcpy(head, BODY_MAGIC, MAGIC_LEN);
	memcpy(head + MAGIC_LEN, &n, 8);
	sha256(data, len, head + MAGIC_LEN + 8);
	if (write_file(path, head, sizeof(head), data, len) == 0)
		account_bytes(dc, len + sizeof(head));
	free(path);
}

char *diskcache_get_body(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			 uint32_t uid, size_t *len)
{
	return get_file(dc, mailbox, uidvalidity, uid, "", len);
}

void diskcache_put_body(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			uint32_t uid, const char *data, size_t len)
{
	put_file(dc, mailbox, uidvalidity, uid, "", data, len);
}

char *diskcache_get_parts(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			  uint32_t uid, size_t *len)
{
	return get_file(dc, mailbox, uidvalidity, uid, ".parts", len);
}

void diskcache_put_parts(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			 uint32_t uid, const char *data, size_t len)
{
	put_file(dc, mailbox, uidvalidity, uid, ".parts", data, len);
}

/* ---- folder indexes ------------------------------------------------------------- */

struct index_head {
	char magic[MAGIC_LEN];
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	uint64_t n;
};

int diskcache_save_folder(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			  uint32_t uidnext, uint64_t modseq, const struct msg *msgs, size_t n)
{
	struct index_head h = { .uidvalidity = uidvalidity, .uidnext = uidnext, .modseq = modseq,
				.n = n };
	size_t len = n * sizeof(*msgs);
	char *fd, *path = NULL, *body;
	int rc = -1;

	if (!dc || !mailbox || !(fd = folder_dir(dc, mailbox)))
		return -1;
	paths_mkdirs(fd);
	memcpy(h.magic, INDEX_MAGIC, MAGIC_LEN);
	body = malloc(len + HASH_LEN);
	if (body && asprintf(&path, "%s/index", fd) >= 0) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int hl = HASH_LEN;

		if (len)
			memcpy(body, msgs, len);
		if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(md, &h, sizeof(h)) == 1 &&
		    EVP_DigestUpdate(md, body, len) == 1 &&
		    EVP_DigestFinal_ex(md, (unsigned char *)body + len, &hl) == 1)
			rc = write_file(path, &h, sizeof(h), body, len + HASH_LEN);
		EVP_MD_CTX_free(md);
	}
	free(body);
	free(path);
	free(fd);
	return rc;
}

struct msg *diskcache_load_folder(struct diskcache *dc, const char *mailbox,
				  uint32_t *uidvalidity, uint32_t *uidnext, uint64_t *modseq,
				  size_t *n)
{
	unsigned char hash[HASH_LEN];
	struct index_head h;
	struct msg *out = NULL;
	char *fd, *path = NULL, *buf = NULL;
	size_t len = 0;

	if (!dc || !mailbox || !(fd = folder_dir(dc, mailbox)))
		return NULL;
	if (asprintf(&path, "%s/index", fd) >= 0)
		buf = read_file(path, sizeof(h) + (size_t)MAX_INDEX_MSGS * sizeof(struct msg) +
				HASH_LEN, &len);
	if (buf && len >= sizeof(h) + HASH_LEN) {
		memcpy(&h, buf, sizeof(h));
		sha256(buf, len - HASH_LEN, hash);
		if (memcmp(h.magic, INDEX_MAGIC, MAGIC_LEN) == 0 &&
		    h.n == (len - sizeof(h) - HASH_LEN) / sizeof(struct msg) &&
		    (len - sizeof(h) - HASH_LEN) % sizeof(struct msg) == 0 &&
		    memcmp(hash, buf + len - HASH_LEN, HASH_LEN) == 0 &&
		    (out = malloc(h.n ? h.n * sizeof(*out) : 1))) {
			memcpy(out, buf + sizeof(h), h.n * sizeof(*out));
			*uidvalidity = h.uidvalidity;
			*uidnext = h.uidnext;
			*modseq = h.modseq;
			*n = h.n;
			/* The index relies on ascending UIDs: check, not trust. */
			for (size_t i = 0; out && i < h.n; i++)
				if (out[i].uid == 0 || (i && out[i].uid <= out[i - 1].uid)) {
					free(out);
					out = NULL;
				}
		}
	}
	if (buf && !out)
		log_warn(LOG_CAT_FS, "disk cache: the index of %s is damaged; ignored", mailbox);
	free(buf);
	free(path);
	free(fd);
	return out;
}
