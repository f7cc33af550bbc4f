/* Folders: directories of messages and subfolders.  Looked up and listed
 * from the index; an opendir brings the folder up to date first. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/alarm.h"
#include "fs/alias.h"
#include "fs/announce.h"
#include "fs/attr.h"
#include "fs/mail/errno_map.h"
#include "fs/inode.h"
#include "fs/listing.h"
#include "fs/mail/account.h"
#include "fs/node.h"
#include "fs/ops_change.h"

static bool folder_owns(fuse_ino_t ino) { return ino_is_folder(ino); }

static int folder_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			 struct fuse_entry_param *e)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info child;

	if (!lookup_subfolder(a, parent, name, &child))
		return NODE_NOT_MINE;
	attr_folder_entry(a, &child, e);
	return 0;
}

/* A subfolder as listed: its name and what its attributes need. */
struct sub {
	char name[NAME_MAX + 1];
	struct folder_info info;
};

/* The subfolders, copied (the index is held still). */
static int folder_list(struct account *a, fuse_ino_t dir, struct node_part *part)
{
	struct folder *f = index_folder_by_ino(a->index, dir);
	struct sub *subs;

	if (!f || !f->nchildren)
		return 0;
	subs = calloc(f->nchildren, sizeof(*subs));
	if (!subs)
		return ENOMEM;
	for (size_t i = 0; i < f->nchildren; i++) {
		snprintf(subs[i].name, sizeof(subs[i].name), "%s", f->children[i]->name);
		lookup_describe(f->children[i], &subs[i].info);
	}
	part->data = subs;
	part->n = f->nchildren;
	return 0;
}

static void folder_list_entry(struct account *a, const struct node_part *part, size_t i,
			      char *name, size_t namelen, struct fuse_entry_param *e)
{
	const struct sub *subs = part->data;

	snprintf(name, namelen, "%s", subs[i].name);
	attr_folder_entry(a, &subs[i].info, e);
}

static int folder_getattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct account *a = fuse_req_userdata(req);
	struct folder_info f;

	if (!lookup_folder(a, ino, &f))
		return ENOENT;
	attr_folder(a, &f, st);
	*timeout = ATTR_DIR_TIMEOUT;
	return 0;
}

/* ---- opendir: the folder as the server has it now, or as it was --------- */

/* The server is out of reach (not: it refused). */
static bool unreachable(const struct imap_status *st)
{
	return st->result == IMAP_R_LOST || st->result == IMAP_R_TIMEOUT ||
	       st->result == IMAP_R_CONNECT || st->result == IMAP_R_TLS;
}

/* While the server is out of reach, a folder listed before is listed from
 * the index as it was last known. */
static int stale_listing(const struct folder *f, const char *why)
{
	log_info(LOG_CAT_FS, "%s: listed from the cache: %s", f->imap_name ? f->imap_name : "/",
		 why);
	return 0;
}

/* A folder listed before whose refresh the server leaves without a word
 * this long is listed from memory (ms): a dead link must not freeze ls
 * for `timeout`.  The refresh goes on behind, with the call's deadline. */
#define LIST_WAIT_MS 600

static bool listed_before(struct account *a, struct folder *f)
{
	struct folder_info now;

	return lookup_folder(a, f->ino, &now) && (now.loaded || !now.selectable);
}

/* Bring f up to date for a listing.  A folder listed before waits for
 * the session only LIST_WAIT_MS (while the server is silent). */
static enum imap_result refresh_listing(struct account *a, struct folder *f, bool listed,
					long long deadline, struct imap_status *st)
{
	long long wait_until = listed ? clock_ms() + LIST_WAIT_MS : deadline;
	enum imap_result rr = IMAP_R_TIMEOUT;

	if (account_lock_session_within(a, wait_until, deadline, st)) {
		rr = account_refresh_folder(a, f, st);
		account_unlock_session(a);
	}
	return rr;
}

/* A refresh that failed: a folder listed before is listed from the cache
 * while the server is out of reach (0); otherwise an errno. */
static int listing_errno(struct account *a, struct folder *f, const struct imap_status *st)
{
	return unreachable(st) && listed_before(a, f) ? stale_listing(f, st->text) :
	       imap_errno(st, f->imap_name);
}

/* Answer an opendir with a snapshot of f as the index has it now. */
static void reply_listing(fuse_req_t req, struct fuse_file_info *fi, struct account *a,
			  struct folder *f)
{
	struct folder_info now;

	alias_flush(&a->hooks, f->ino);
	account_note_listing(a, f);
	if (lookup_folder(a, f->ino, &now))
		listing_open(req, fi, now.ino, now.parent);
	else
		fuse_reply_err(req, ENOENT);
}

/* An opendir that may be answered from memory by the alarm thread. */
struct early_listing {
	fuse_req_t req;
	struct fuse_file_info *fi;
	struct account *a;
	struct folder *f;
	struct alarm alarm;
};

/* The alarm of a listing: LIST_WAIT_MS since the call began, and the
 * server has said nothing for that long, so answer from memory; while it
 * talks, look again later. */
static long long list_from_memory(void *ctx)
{
	struct early_listing *el = ctx;
	long long spoke = account_last_word_ms(el->a);
	char why[64];

	if (spoke + LIST_WAIT_MS > clock_ms())
		return spoke + LIST_WAIT_MS;
	snprintf(why, sizeof(why), "no word from the server for %.1f s", LIST_WAIT_MS / 1000.0);
	stale_listing(el->f, why);
	reply_listing(el->req, el->fi, el->a, el->f);
	return 0;
}

/* -o list_from_watch: a folder listed before whose watcher is idling is
 * as the server last told, without a round trip (it lags another
 * client's change by the server's push delay). */
static bool known_by_push(struct account *a, const struct folder_info *f)
{
	return a->opt->list_from_watch && f->pushed && f->loaded;
}

static void folder_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct account *a = fuse_req_userdata(req);
	long long deadline = account_deadline(a);
	struct early_listing el = { req, fi, a, NULL, { 0 } };
	struct imap_status st;
	enum imap_result rr;
	struct folder_info info;
	bool listed;
	int err;

	if (!lookup_folder(a, ino, &info)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	el.f = info.f;
	if (known_by_push(a, &info)) {
		announce_wait_pending(a, el.f);
		reply_listing(req, fi, a, el.f);
		return;
	}
	listed = listed_before(a, el.f);
	if (listed)
		alarm_set(a->alarms, &el.alarm, clock_ms() + LIST_WAIT_MS, list_from_memory, &el);
	rr = refresh_listing(a, el.f, listed, deadline, &st);
	if (listed && alarm_cancel(a->alarms, &el.alarm))
		return; /* answered from memory already */
	err = rr == IMAP_R_OK ? 0 : listing_errno(a, el.f, &st);
	if (rr == IMAP_R_OK)
		announce_wait_pending(a, el.f); /* the mail it has shows in this listing */
	if (err)
		fuse_reply_err(req, err);
	else
		reply_listing(req, fi, a, el.f);
}

const struct node_kind node_folder = {
	.owns = folder_owns,
	.lookup = folder_lookup,
	.unlink = ops_unlink_folder,
	.rename = ops_rename_folder,
	.list = folder_list,
	.list_entry = folder_list_entry,
	.getattr = folder_getattr,
	.opendir = folder_opendir,
};
