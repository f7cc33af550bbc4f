/* File handles of open files (see handle.h). */
#include "fs/handle.h"

#include <errno.h>
#include <stdlib.h>

#include "fs/mail/account.h"
#include "fs/mail/bodycache.h"

static struct body *body_of(const struct fuse_file_info *fi)
{
	return (struct body *)(uintptr_t)fi->fh;
}

void handle_open_text(fuse_req_t req, struct fuse_file_info *fi, char *text, size_t len)
{
	struct body *copy = text ? calloc(1, sizeof(*copy)) : NULL;

	if (!copy) {
		free(text);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	copy->data = text;
	copy->len = len;
	copy->refs = 1;
	fi->fh = (uintptr_t)copy; /* key 0: not in the cache */
	fi->direct_io = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* A private copy (key 0) is counted by its refs.  A read holds its own
 * reference while its reply is written: the release may run on another
 * thread as soon as the kernel has the data. */
static void hold(struct account *a, struct body *b)
{
	if (b->key == 0)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
	else
		bodycache_pin(a->bodies, b);
}

static void put(struct account *a, struct body *b)
{
	if (b->key != 0) {
		bodycache_release(a->bodies, b);
	} else if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(b->data);
		free(b);
	}
}

void handle_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	struct body *b = body_of(fi);

	if (off < 0 || (size_t)off >= b->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	hold(a, b);
	fuse_reply_buf(req, b->data + off, size);
	put(a, b);
}

void handle_release(fuse_req_t req, struct fuse_file_info *fi)
{
	put(fuse_req_userdata(req), body_of(fi));
	fuse_reply_err(req, 0);
}
