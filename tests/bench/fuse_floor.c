/* The FUSE floor of the benches: N files 1.eml .. N.eml of SIZE bytes
 * each, served from memory by the low-level API on a multithreaded loop,
 * as inboxfs serves a folder, with no network and no IMAP.  What `cat` or
 * `grep` of them costs is what the kernel and libfuse cost on this
 * machine: no FUSE filesystem reads faster (bench_far.py's anchor).
 *
 *   fuse_floor MOUNTPOINT N SIZE     (foreground; fusermount3 -u ends it) */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long nfiles;
static size_t size;
static char *body;   /* the same bytes for every file: headers, then 'x's */

#define ROOT 1
#define TTL 3600.0

/* Inode of file i (1-based) is i + 1. */
static void fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = ino == ROOT ? 2 : 1;
	st->st_mode = ino == ROOT ? S_IFDIR | 0555 : S_IFREG | 0444;
	st->st_size = ino == ROOT ? 0 : (off_t)size;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { 0 };
	long i;
	char end;

	if (parent != ROOT || sscanf(name, "%ld.em%c", &i, &end) != 2 || end != 'l' ||
	    i < 1 || i > nfiles) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = (fuse_ino_t)i + 1;
	e.attr_timeout = e.entry_timeout = TTL;
	fill(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill(ino, &st);
	fuse_reply_attr(req, &st, TTL);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t cap, off_t off,
			  struct fuse_file_info *fi)
{
	char *buf = malloc(cap), name[32];
	size_t used = 0, n;
	struct stat st;

	(void)fi;
	if (!buf || ino != ROOT) {
		free(buf);
		fuse_reply_err(req, buf ? ENOTDIR : ENOMEM);
		return;
	}
	for (long i = off; i < nfiles; i++, used += n) {
		snprintf(name, sizeof(name), "%ld.eml", i + 1);
		fill((fuse_ino_t)i + 2, &st);
		n = fuse_add_direntry(req, buf + used, cap - used, name, &st, i + 1);
		if (n > cap - used)
			break;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t want, off_t off,
		       struct fuse_file_info *fi)
{
	size_t at = (size_t)off;

	(void)ino;
	(void)fi;
	if (at >= size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, body + at, want < size - at ? want : size - at);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.readdir = floor_readdir,
	.read = floor_read,
};

/* A message's first line, so that `grep -l Subject` stops where it would
 * on a mail file. */
static char *make_body(size_t len)
{
	static const char head[] = "Subject: floor\r\n\r\n";
	char *b = malloc(len ? len : 1);

	if (b) {
		memset(b, 'x', len);
		memcpy(b, head, len < sizeof(head) - 1 ? len : sizeof(head) - 1);
	}
	return b;
}

static int serve(const char *mountpoint)
{
	char *argv[] = { "fuse_floor", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 10 };
	struct fuse_session *se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	int rc = 1;

	if (se && fuse_session_mount(se, mountpoint) == 0) {
		rc = fuse_session_loop_mt(se, &cfg) ? 1 : 0;
		fuse_session_unmount(se);
	}
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (nfiles = atol(argv[2])) < 1 || atol(argv[3]) < 0) {
		fprintf(stderr, "usage: fuse_floor MOUNTPOINT N SIZE\n");
		return 2;
	}
	size = (size_t)atol(argv[3]);
	if (!(body = make_body(size)))
		return 1;
	return serve(argv[1]);
}
