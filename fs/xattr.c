/* Extended attributes of messages (see xattr.h). */
#include "fs/xattr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/xattr.h>

#include "common/log.h"
#include "fs/mail/errno_map.h"
#include "fs/mail/account.h"
#include "fs/mail/changes.h"
#include "fs/mail/lookup.h"
#include "imap/commands.h"

#define X_FLAGS "user.imap.flags"
#define X_UID "user.imap.uid"
#define X_DATE "user.imap.internaldate"
#define X_MODSEQ "user.imap.modseq"
#define FLAGS_MAX 4096

struct target {
	struct folder *f;
	uint32_t uid;
	int64_t date;
};

static struct account *req_acct(fuse_req_t req) { return fuse_req_userdata(req); }

/* The message behind ino, or false (a folder, .newmail, .inboxfs ...). */
static bool message_of(struct account *a, fuse_ino_t ino, struct target *t)
{
	struct folder_info dir;
	uint64_t now;
	struct msg m;

	if (!lookup_message(a, ino, &dir, &m, &now))
		return false;
	t->f = dir.f;
	t->uid = m.uid;
	t->date = m.date;
	return true;
}

static void reply_value(fuse_req_t req, const char *val, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

/* \Recent is the server's to set: leaving it out lets a value read be
 * written back as it is. */
static void drop_recent(char *flags)
{
	char *p = flags;

	while ((p = strcasestr(p, "\\Recent"))) {
		size_t n = strlen("\\Recent");

		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
			if (p[n] == ' ')
				n++;
			else if (p > flags)
				p--, n++; /* the space before */
			memmove(p, p + n, strlen(p + n) + 1);
		} else {
			p += n;
		}
	}
}

static int read_flags(struct account *a, const struct target *t, char *out, size_t cap,
		      uint64_t *modseq)
{
	long long deadline = account_deadline(a);
	struct imap_status st;
	enum imap_result rr;
	char what[300];

	snprintf(what, sizeof(what), "getfattr %s/%u.eml", t->f->imap_name, t->uid);
	if (!account_lock_session(a, deadline, &st))
		return imap_errno(&st, what);
	rr = change_get_flags(a, t->f, t->uid, out, cap, modseq, &st);
	account_unlock_session(a);
	if (rr != IMAP_R_OK)
		return imap_errno(&st, what);
	drop_recent(out);
	return 0;
}

/* Only user.* attributes exist here.  ls -l asks every file for
 * security.selinux (and capabilities): ENOTSUP makes it stop asking for
 * the whole mount (coreutils caches "unsupported" per device), where
 * ENODATA would cost a request per file. */
static bool foreign_namespace(const char *name)
{
	return strncmp(name, "user.", 5) != 0;
}

void xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct account *a = req_acct(req);
	char val[FLAGS_MAX];
	uint64_t modseq = 0;
	struct target t;
	int err = 0;

	if (foreign_namespace(name)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (!message_of(a, ino, &t)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (strcmp(name, X_FLAGS) == 0) {
		err = read_flags(a, &t, val, sizeof(val), NULL);
	} else if (strcmp(name, X_UID) == 0) {
		snprintf(val, sizeof(val), "%u", t.uid);
	} else if (strcmp(name, X_DATE) == 0) {
		imap_format_date(t.date, val, sizeof(val));
	} else if (strcmp(name, X_MODSEQ) == 0) {
		err = read_flags(a, &t, val, sizeof(val), &modseq);
		if (!err && modseq == 0)
			err = ENODATA; /* no CONDSTORE: no such attribute */
		snprintf(val, sizeof(val), "%" PRIu64, modseq);
	} else {
		err = ENODATA;
	}
	if (err)
		fuse_reply_err(req, err);
	else
		reply_value(req, val, strlen(val), size);
}

/* A system flag in its canonical spelling, or NULL. */
static const char *system_flag(const char *tok, size_t len)
{
	static const char *const sys[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
					   "\\Draft" };

	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (strlen(sys[i]) == len && strncasecmp(tok, sys[i], len) == 0)
			return sys[i];
	return NULL;
}

/* A keyword is an atom (RFC 3501 flag-keyword): no specials, no controls. */
static bool keyword(const char *tok, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return len > 0 && len <= 200;
}

int xattr_normalise_flags(const char *value, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	out[0] = '\0';
	while (i < len) {
		size_t start, n;
		const char *sys;

		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n'))
			i++;
		start = i;
		while (i < len && value[i] != ' ' && value[i] != '\t' && value[i] != '\n')
			i++;
		if ((n = i - start) == 0)
			break;
		sys = system_flag(value + start, n);
		if (!sys && !keyword(value + start, n))
			return -1;
		if (o + n + 2 > cap)
			return -1;
		o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? " " : "", (int)n,
				      sys ? sys : value + start);
	}
	return 0;
}

static int write_flags(struct account *a, const struct target *t, const char *flags)
{
	long long deadline = account_deadline(a);
	struct imap_status st;
	enum imap_result rr;
	char what[300];

	snprintf(what, sizeof(what), "setfattr %s/%u.eml", t->f->imap_name, t->uid);
	if (!account_lock_session(a, deadline, &st))
		return imap_errno(&st, what);
	rr = change_set_flags(a, t->f, t->uid, flags, &st);
	account_unlock_session(a);
	return rr == IMAP_R_OK ? 0 : imap_errno(&st, what);
}

static bool read_only_name(const char *name)
{
	return !strcmp(name, X_UID) || !strcmp(name, X_DATE) || !strcmp(name, X_MODSEQ);
}

void xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	       int flags)
{
	struct account *a = req_acct(req);
	char norm[FLAGS_MAX];
	struct target t;
	int err;

	if (!message_of(a, ino, &t))
		err = ENOTSUP;
	else if (read_only_name(name))
		err = EPERM;
	else if (strcmp(name, X_FLAGS) != 0)
		err = ENOTSUP;
	else if (a->opt->ro)
		err = EROFS;
	else if (flags & XATTR_CREATE)
		err = EEXIST; /* a message always has flags, if only none */
	else if (xattr_normalise_flags(value, size, norm, sizeof(norm)) < 0)
		err = EINVAL;
	else
		err = write_flags(a, &t, norm);
	if (err == EINVAL || err == EPERM)
		log_info(LOG_CAT_FS, "setfattr %s refused: %s", name, err == EPERM ?
			 "read-only attribute" : "not a list of IMAP flags");
	fuse_reply_err(req, err);
}

void xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct account *a = req_acct(req);
	static const char names[] = X_FLAGS "\0" X_UID "\0" X_DATE "\0" X_MODSEQ "\0";
	size_t len = sizeof(names) - 1;
	struct target t;

	if (!message_of(a, ino, &t))
		len = 0;
	else if (!(atomic_load(&a->server_caps) & CAP_CONDSTORE))
		len -= sizeof(X_MODSEQ);
	reply_value(req, names, len, size);
}

void xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct account *a = req_acct(req);
	struct target t;
	int err;

	if (!message_of(a, ino, &t))
		err = ENODATA;
	else if (read_only_name(name))
		err = EPERM;
	else if (strcmp(name, X_FLAGS) != 0)
		err = ENODATA;
	else if (a->opt->ro)
		err = EROFS;
	else
		err = write_flags(a, &t, ""); /* no flags at all */
	fuse_reply_err(req, err);
}
