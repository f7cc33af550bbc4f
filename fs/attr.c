/* Attributes of the mount's nodes (see attr.h). */
#include "fs/attr.h"

#include <string.h>
#include <unistd.h>

#include "fs/mail/account.h"

static time_t mount_time;
/* The owner of every file: asked once, not once per entry of a listing. */
static uid_t owner_uid;
static gid_t owner_gid;

void attr_init(void)
{
	mount_time = time(NULL);
	owner_uid = getuid();
	owner_gid = getgid();
}

time_t attr_mount_time(void) { return mount_time; }

/* default_permissions makes the kernel apply these; others never write. */
mode_t attr_perms(const struct account *a, mode_t owner)
{
	if (!a->opt->allow_other)
		return owner;
	return owner | ((owner & 0500) >> 3) | ((owner & 0500) >> 6);
}

void attr_fill(struct stat *st, fuse_ino_t ino, mode_t mode, nlink_t nlink, time_t t)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = nlink;
	st->st_uid = owner_uid;
	st->st_gid = owner_gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = t;
}

void attr_folder(const struct account *a, const struct folder_info *f, struct stat *st)
{
	attr_fill(st, f->ino, S_IFDIR | attr_perms(a, a->opt->ro ? 0500 : 0700),
		  2 + f->nchildren, mount_time);
}

void attr_folder_entry(const struct account *a, const struct folder_info *f,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = f->ino;
	e->attr_timeout = ATTR_DIR_TIMEOUT;
	e->entry_timeout = ATTR_DIR_ENTRY_TIMEOUT;
	attr_folder(a, f, &e->attr);
}

void attr_message(const struct account *a, uint64_t ino, const struct msg *m, struct stat *st)
{
	attr_fill(st, ino,
		  S_IFREG | attr_perms(a, a->opt->ro ? 0400 : 0600), 1, (time_t)m->date);
	st->st_size = m->size;
	st->st_blocks = ((off_t)m->size + 511) / 512;
}

void attr_message_entry(const struct account *a, uint64_t ino, const struct msg *m,
			struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->attr_timeout = ATTR_MSG_TIMEOUT;
	e->entry_timeout = ATTR_MSG_TIMEOUT;
	attr_message(a, ino, m, &e->attr);
}
