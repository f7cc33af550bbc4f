/* Changes made from the shell.  RFC 4315 (UIDPLUS: UID EXPUNGE, COPYUID),
 * RFC 6851 (MOVE), RFC 3501 §6.3.3-6.3.5 (CREATE, DELETE, RENAME),
 * RFC 3691 (UNSELECT).
 *
 * Why UID EXPUNGE: a bare EXPUNGE removes every message flagged \Deleted,
 * including those another client flagged and has not expunged yet
 * (RFC 4315 §2.1).  So without UIDPLUS, rm and the COPY fallback of mv
 * are refused unless the user opted in with expunge=unsafe. */
#include "fs/mail/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/mail/byuid.h"
#include "fs/mail/events.h"
#include "imap/commands.h"
#include "imap/utf7.h"

static unsigned caps(const struct account *a) { return imap_session_caps(a->session); }

static bool may_expunge(struct account *a, struct imap_status *st)
{
	if ((caps(a) & CAP_UIDPLUS) || a->opt->expunge_unsafe)
		return true;
	imap_status_set(st, IMAP_R_UNSUPPORTED, "the server lacks UIDPLUS, so removing one "
		       "message would also expunge every message other clients flagged "
		       "\\Deleted; refused (mount with -o expunge=unsafe to allow it)");
	return false;
}

/* Expunge exactly uid: UID EXPUNGE, or (opted in) a bare EXPUNGE. */
static enum imap_result expunge_one(struct account *a, uint32_t uid, struct imap_status *st)
{
	if (caps(a) & CAP_UIDPLUS)
		return imap_uid_expunge(a->session, uid, st);
	log_warn(LOG_CAT_FS, "expunge=unsafe: sending a bare EXPUNGE (server lacks UIDPLUS)");
	return imap_expunge_all(a->session, st);
}

/* A change to one message of the selected folder, run by byuid_run. */
struct uid_change {
	struct account *a;
	struct folder *from, *to;
	struct imap_copyuid cu;
	const char *flags;
	char *out;            /* getfattr: the flags read */
	size_t cap;
	uint64_t *modseq;
	bool done;            /* the server showed the change (or the flags) */
};

/* Flag \Deleted and expunge; if the expunge fails, take back the flag we
 * set (not one another client had set), so nothing is left half done.
 * Done when the server reported the expunge (EXPUNGE, VANISHED). */
static enum imap_result expunge_uid(void *ctx, const uint32_t *uids, size_t n,
				    struct uid_list *missed, struct imap_status *st)
{
	struct uid_change *c = ctx;
	struct account *a = c->a;
	struct imap_status undo;
	struct msg *m = index_find_msg(c->from, uids[0]);
	bool was_deleted = m && (m->flags & MSG_DELETED);
	enum imap_result rr;

	(void)n;
	rr = imap_uid_store(a->session, uids[0], '+', "\\Deleted", st);
	if (rr != IMAP_R_OK)
		return rr;
	rr = expunge_one(a, uids[0], st);
	if (rr != IMAP_R_OK && !was_deleted && imap_session_usable(a->session))
		imap_uid_store(a->session, uids[0], '-', "\\Deleted", &undo);
	c->done = rr == IMAP_R_OK && !index_find_msg(c->from, uids[0]);
	if (rr == IMAP_R_OK && !c->done)
		uid_list_add(missed, uids[0]);
	return rr;
}

static enum imap_result flag_and_expunge(struct account *a, struct folder *f, uint32_t uid,
					 struct imap_status *st)
{
	struct uid_change c = { .a = a, .from = f };
	enum imap_result rr = byuid_run(&a->view, &uid, 1, expunge_uid, &c, st);

	if (rr == IMAP_R_OK && !c.done) {
		imap_status_set(st, IMAP_R_NO, "the server did not expunge message %u", uid);
		rr = IMAP_R_NO;
	}
	return rr;
}

/* The moved message appears in the target under the UID the server gave
 * it, with what we know of it already (the bytes are the same). */
static void add_moved(struct account *a, const struct msg *old, struct folder *to,
		      const struct imap_copyuid *cu)
{
	struct msg m = *old;

	if (!cu->valid || !to->loaded || cu->uidvalidity != to->uidvalidity)
		return; /* the next listing of the target fetches it */
	m.uid = cu->dst_uid;
	m.flags &= (uint8_t)~MSG_DELETED;
	rlock_take(&a->index_lock);
	if (!index_find_msg(to, m.uid))
		index_folder_insert(to, &m);
	rlock_drop(&a->index_lock);
}

/* COPY is not safe to repeat: it is asked again only when no COPYUID
 * came and the connection had not been told of the message, so cannot
 * have copied it. */
static enum imap_result copy_uid(void *ctx, const uint32_t *uids, size_t n,
				 struct uid_list *missed, struct imap_status *st)
{
	struct uid_change *c = ctx;
	bool known = view_has(&c->a->view, uids[0]);
	enum imap_result rr;

	(void)n;
	rr = imap_uid_copy(c->a->session, uids[0], c->to->imap_name, &c->cu, st);
	if (rr == IMAP_R_OK && !c->cu.valid && !known)
		uid_list_add(missed, uids[0]);
	return rr;
}

/* Nothing is flagged after a COPY the server cannot have done (no
 * COPYUID, a message it never told this session of): a server that
 * answered OK to it would otherwise have the message expunged and lost. */
static enum imap_result copy_then_expunge(struct account *a, struct folder *from, uint32_t uid,
					  struct folder *to, struct imap_copyuid *cu,
					  struct imap_status *st)
{
	struct uid_change c = { .a = a, .from = from, .to = to };
	enum imap_result rr;

	if (!may_expunge(a, st))
		return st->result;
	rr = byuid_run(&a->view, &uid, 1, copy_uid, &c, st);
	*cu = c.cu;
	if (rr == IMAP_R_OK && !c.cu.valid && !view_has(&a->view, uid)) {
		imap_status_set(st, IMAP_R_NO, "the server copied nothing for message %u; it is "
			       "left where it was", uid);
		rr = IMAP_R_NO;
	}
	if (rr != IMAP_R_OK)
		return rr; /* nothing flagged: the message is where it was */
	rr = flag_and_expunge(a, from, uid, st);
	if (rr != IMAP_R_OK)
		log_warn(LOG_CAT_FS, "%s/%u.eml was copied to %s but could not be removed from "
			 "%s: it is now in both", from->imap_name, uid, to->imap_name,
			 from->imap_name);
	return rr;
}

/* UID MOVE is safe to repeat (a message moved already is not there to
 * move again).  Done when COPYUID says where it went or the source
 * reported its expunge. */
static enum imap_result move_uid(void *ctx, const uint32_t *uids, size_t n,
				 struct uid_list *missed, struct imap_status *st)
{
	struct uid_change *c = ctx;
	enum imap_result rr;

	(void)n;
	rr = imap_uid_move(c->a->session, uids[0], c->to->imap_name, &c->cu, st);
	c->done = rr == IMAP_R_OK && (c->cu.valid || !index_find_msg(c->from, uids[0]));
	if (rr == IMAP_R_OK && !c->done)
		uid_list_add(missed, uids[0]);
	return rr;
}

static enum imap_result move_one(struct account *a, struct folder *from, uint32_t uid,
				 struct folder *to, struct imap_copyuid *cu, struct imap_status *st)
{
	struct uid_change c = { .a = a, .from = from, .to = to };
	enum imap_result rr = byuid_run(&a->view, &uid, 1, move_uid, &c, st);

	*cu = c.cu;
	if (rr == IMAP_R_OK && !c.done) {
		imap_status_set(st, IMAP_R_NO, "the server did not move message %u", uid);
		rr = IMAP_R_NO;
	}
	return rr;
}

static enum imap_result move_message(struct account *a, struct folder *from, uint32_t uid,
				     struct folder *to, uint32_t *new_uid, struct imap_status *st);

/* Our own changes: the kernel tells inotify watchers about the user's rm
 * and mv itself, so the expunges they cause while on is set are not
 * announced again.  The caller holds the session. */
static void set_quiet(struct account *a, bool on)
{
	a->view.quiet = on;
}

enum imap_result change_move_message(struct account *a, struct folder *from, uint32_t uid,
				     struct folder *to, uint32_t *new_uid, struct imap_status *st)
{
	enum imap_result rr;

	set_quiet(a, true);
	rr = move_message(a, from, uid, to, new_uid, st);
	set_quiet(a, false);
	return rr;
}

static enum imap_result move_message(struct account *a, struct folder *from, uint32_t uid,
				     struct folder *to, uint32_t *new_uid, struct imap_status *st)
{
	struct imap_copyuid cu = { 0 };
	enum imap_result rr;
	struct msg old;
	struct msg *m;

	if (!index_folder_selectable(to)) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "%s holds no messages (\\Noselect)",
			       to->imap_name ? to->imap_name : to->name);
		return st->result;
	}
	rr = account_select_rw(a, from, st);
	if (rr != IMAP_R_OK)
		return rr;
	m = index_find_msg(from, uid);
	if (!m) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		return IMAP_R_GONE;
	}
	old = *m;
	if (caps(a) & CAP_MOVE)
		rr = move_one(a, from, uid, to, &cu, st);
	else
		rr = copy_then_expunge(a, from, uid, to, &cu, st);
	if (rr != IMAP_R_OK)
		return rr;
	add_moved(a, &old, to, &cu);
	if (new_uid)
		*new_uid = cu.valid && cu.uidvalidity == to->uidvalidity ? cu.dst_uid : 0;
	if (new_uid && *new_uid) {
		rlock_take(&a->index_lock);
		index_note_moved(a->index, index_msg_ino(from, uid), index_msg_ino(to, *new_uid));
		rlock_drop(&a->index_lock);
	}
	log_debug(LOG_CAT_FS, "moved %s/%u.eml to %s%s%.0u%s", from->imap_name, uid, to->imap_name,
		 cu.valid ? " (now " : "", cu.valid ? cu.dst_uid : 0, cu.valid ? ".eml)" : "");
	return IMAP_R_OK;
}

enum imap_result change_delete_message(struct account *a, struct folder *f, uint32_t uid,
				       struct imap_status *st)
{
	struct folder *trash = a->opt->delete_to_trash ?
			       index_find_flag(a->index, MBX_TRASH) : NULL;
	enum imap_result rr;

	if (a->opt->delete_to_trash && !trash) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "delete=trash, but the server lists no "
			       "\\Trash folder; message kept");
		return st->result;
	}
	if (trash && trash != f)
		return change_move_message(a, f, uid, trash, NULL, st);
	rr = account_select_rw(a, f, st);
	if (rr != IMAP_R_OK)
		return rr;
	if (!index_find_msg(f, uid)) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		return IMAP_R_GONE;
	}
	if (!may_expunge(a, st))
		return st->result;
	set_quiet(a, true);
	rr = flag_and_expunge(a, f, uid, st);
	set_quiet(a, false);
	if (rr == IMAP_R_OK)
		log_debug(LOG_CAT_FS, "deleted %s/%u.eml", f->imap_name, uid);
	return rr;
}

/* ---- folders ------------------------------------------------------------- */

bool change_valid_folder_name(const struct account *a, const char *name)
{
	uint32_t uid;
	char *enc, *dec;
	bool ok;

	if (!index_valid_component(name) || (a->delim && strchr(name, a->delim)) ||
	    index_parse_msg_name(name, &uid))
		return false;
	/* Must survive the trip to modified UTF-7 and back unchanged. */
	enc = imap_utf7_encode(name, strlen(name));
	dec = enc ? imap_utf7_decode(enc, strlen(enc)) : NULL;
	ok = dec && strcmp(dec, name) == 0;
	free(enc);
	free(dec);
	return ok;
}

/* The server name of a folder, also for levels that exist only because
 * something below them does (no imap_name of their own). */
static char *server_name(const struct account *a, const struct folder *f)
{
	char *parent, *enc, *out = NULL;

	if (f->imap_name)
		return strdup(f->imap_name);
	if (!f->parent)
		return strdup("");
	enc = imap_utf7_encode(f->name, strlen(f->name));
	parent = server_name(a, f->parent);
	if (enc && parent && asprintf(&out, "%s%s%s", parent, *parent ? (char[]){ a->delim, 0 } : "",
				      enc) < 0)
		out = NULL;
	free(enc);
	free(parent);
	return out;
}

static char *child_server_name(const struct account *a, const struct folder *parent,
			       const char *name)
{
	char *p = server_name(a, parent), *enc = imap_utf7_encode(name, strlen(name)), *out = NULL;

	if (p && enc && asprintf(&out, "%s%s%s", p, *p ? (char[]){ a->delim, 0 } : "", enc) < 0)
		out = NULL;
	free(p);
	free(enc);
	return out;
}

static bool check_new_name(struct account *a, struct folder *parent, const char *name,
			   struct imap_status *st)
{
	if (!change_valid_folder_name(a, name)) {
		imap_status_set(st, IMAP_R_INVALID, "'%s' cannot be a folder name here", name);
		return false;
	}
	if (parent->parent && !a->delim) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "the server has no folder hierarchy");
		return false;
	}
	if (parent->mbx_flags & MBX_NOINFERIORS) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "%s cannot have subfolders (\\NoInferiors)",
			       parent->imap_name);
		return false;
	}
	if (index_child(parent, name)) {
		imap_status_set(st, IMAP_R_EXISTS, "%s exists already", name);
		return false;
	}
	return true;
}

enum imap_result change_create_folder(struct account *a, struct folder *parent, const char *name,
				      struct folder **out, struct imap_status *st)
{
	enum imap_result rr;
	char *full;

	if (!check_new_name(a, parent, name, st))
		return st->result;
	full = child_server_name(a, parent, name);
	if (!full) {
		imap_status_set(st, IMAP_R_NOMEM, "out of memory");
		return IMAP_R_NOMEM;
	}
	rr = account_session(a, st);
	if (rr == IMAP_R_OK)
		rr = imap_create(a->session, full, st);
	if (rr == IMAP_R_OK) {
		rlock_take(&a->index_lock);
		*out = index_new_folder(a->index, parent, name, full);
		rlock_drop(&a->index_lock);
		if (!*out)
			imap_status_set(st, rr = IMAP_R_NOMEM, "out of memory");
		else
			log_info(LOG_CAT_FS, "created folder %s", full);
	}
	free(full);
	return rr;
}

static bool is_inbox(const struct folder *f)
{
	return f->imap_name && strcmp(f->imap_name, "INBOX") == 0;
}

/* The session must not stay in a folder that is about to go away. */
static enum imap_result leave_if_inside(struct account *a, const struct folder *f,
					struct imap_status *st)
{
	for (const struct folder *s = a->view.f; s; s = s->parent)
		if (s == f)
			return account_leave_folder(a, st);
	return IMAP_R_OK;
}

enum imap_result change_delete_folder(struct account *a, struct folder *f, struct imap_status *st)
{
	enum imap_result rr;

	if (is_inbox(f)) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "INBOX cannot be deleted");
		return st->result;
	}
	if (f->nchildren) {
		imap_status_set(st, IMAP_R_NOTEMPTY, "%s has subfolders", f->name);
		return st->result;
	}
	rr = account_refresh_folder(a, f, st);
	if (rr != IMAP_R_OK)
		return rr;
	if (f->nmsgs) {
		imap_status_set(st, IMAP_R_NOTEMPTY, "%s holds %zu messages", f->name, f->nmsgs);
		return st->result;
	}
	if (f->imap_name) {
		rr = leave_if_inside(a, f, st);
		if (rr == IMAP_R_OK)
			rr = imap_delete(a->session, f->imap_name, st);
		if (rr != IMAP_R_OK)
			return rr;
		log_info(LOG_CAT_FS, "deleted folder %s", f->imap_name);
	}
	rlock_take(&a->index_lock);
	index_remove_folder(f);
	rlock_drop(&a->index_lock);
	return IMAP_R_OK;
}

enum imap_result change_rename_folder(struct account *a, struct folder *f,
				      struct folder *newparent, const char *newname,
				      struct imap_status *st)
{
	char *from = NULL, *to = NULL;
	enum imap_result rr;

	if (is_inbox(f)) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "INBOX cannot be renamed");
		return st->result;
	}
	for (const struct folder *p = newparent; p; p = p->parent)
		if (p == f) {
			imap_status_set(st, IMAP_R_INVALID, "a folder cannot move into itself");
			return st->result;
		}
	if (!check_new_name(a, newparent, newname, st))
		return st->result;
	from = server_name(a, f);
	to = child_server_name(a, newparent, newname);
	rr = from && to ? account_session(a, st) : IMAP_R_NOMEM;
	if (rr == IMAP_R_OK)
		rr = leave_if_inside(a, f, st);
	if (rr == IMAP_R_OK && f->imap_name)
		rr = imap_rename(a->session, from, to, st);
	else if (rr == IMAP_R_OK)
		/* A level that exists only through its subfolders: there is
		 * no mailbox of that name to rename on the server. */
		imap_status_set(st, rr = IMAP_R_UNSUPPORTED, "%s is not a mailbox on the server; "
			       "rename its subfolders instead", f->name);
	if (rr == IMAP_R_OK) {
		rlock_take(&a->index_lock);
		if (index_move_folder(f, newparent, newname, from, to, a->delim) < 0)
			imap_status_set(st, rr = IMAP_R_NOMEM, "out of memory");
		/* Still loaded: a server that gives the folder a new UIDVALIDITY
		 * is noticed at the next SELECT (view.c); mail that came since is
		 * news, not part of a reload. */
		rlock_drop(&a->index_lock);
		log_info(LOG_CAT_FS, "renamed folder %s to %s", from, to);
	} else if (rr == IMAP_R_NOMEM) {
		imap_status_set(st, rr, "out of memory");
	}
	free(from);
	free(to);
	return rr;
}

/* ---- flags and new messages ------------------------------------------------ */

static enum imap_result get_flags_uid(void *ctx, const uint32_t *uids, size_t n,
				      struct uid_list *missed, struct imap_status *st)
{
	struct uid_change *c = ctx;
	enum imap_result rr;

	(void)n;
	rr = imap_uid_get_flags(c->a->session, uids[0], c->out, c->cap, c->modseq, st);
	c->done = rr == IMAP_R_OK;
	if (rr != IMAP_R_GONE)
		return rr;
	uid_list_add(missed, uids[0]);
	return IMAP_R_OK;
}

enum imap_result change_get_flags(struct account *a, struct folder *f, uint32_t uid,
				  char *flags, size_t cap, uint64_t *modseq, struct imap_status *st)
{
	struct uid_change c = { .a = a, .from = f, .out = flags, .cap = cap, .modseq = modseq };
	enum imap_result rr = account_refresh_folder(a, f, st);

	if (rr != IMAP_R_OK)
		return rr;
	if (!(caps(a) & CAP_CONDSTORE))
		c.modseq = NULL;
	rr = byuid_run(&a->view, &uid, 1, get_flags_uid, &c, st);
	if (rr == IMAP_R_OK && !c.done) {
		imap_status_set(st, IMAP_R_GONE, "message %u is gone", uid);
		rr = IMAP_R_GONE;
	}
	return rr;
}

/* Flags that were already so bring no FETCH back (Dovecot, Cyrus): only a
 * connection that had not been told of the message may have missed it,
 * and storing the same flags again is harmless. */
static enum imap_result set_flags_uid(void *ctx, const uint32_t *uids, size_t n,
				      struct uid_list *missed, struct imap_status *st)
{
	struct uid_change *c = ctx;
	bool known = view_has(&c->a->view, uids[0]);
	enum imap_result rr;

	(void)n;
	rr = imap_uid_set_flags(c->a->session, uids[0], c->flags, &c->done, st);
	if (rr == IMAP_R_OK && !c->done && !known)
		uid_list_add(missed, uids[0]);
	return rr;
}

enum imap_result change_set_flags(struct account *a, struct folder *f, uint32_t uid,
				  const char *flags, struct imap_status *st)
{
	struct uid_change c = { .a = a, .from = f, .flags = flags };
	enum imap_result rr = account_select_rw(a, f, st);

	if (rr == IMAP_R_OK)
		rr = byuid_run(&a->view, &uid, 1, set_flags_uid, &c, st);
	if (rr == IMAP_R_OK)
		log_debug(LOG_CAT_FS, "%s/%u: flags (%s)", f->imap_name, uid, flags);
	return rr;
}

enum imap_result change_append(struct account *a, struct folder *f, const char *data, size_t len,
			       int64_t date, uint32_t *uid, struct imap_status *st)
{
	struct imap_appenduid au;
	struct imap_status noop_st;
	enum imap_result rr;
	uint32_t exists;
	struct msg m;

	*uid = 0;
	if (!index_folder_selectable(f)) {
		imap_status_set(st, IMAP_R_UNSUPPORTED, "%s holds no messages (\\Noselect)", f->name);
		return st->result;
	}
	rr = account_session(a, st);
	/* Courier refuses an APPEND to the folder the session has EXAMINEd
	 * ("NO Current box is selected READ-ONLY"): select it for writing. */
	if (rr == IMAP_R_OK && a->view.f == f && !a->view.rw)
		rr = account_select_rw(a, f, st);
	exists = a->view.exists;
	if (rr == IMAP_R_OK)
		rr = imap_append(a->session, f->imap_name, NULL, date, data, len, &au, st);
	if (rr != IMAP_R_OK)
		return rr;
	/* This connection must see the message it added to the folder it has
	 * selected, or its next look would take the index's entry for one
	 * that vanished.  Courier says EXISTS only at the next command. */
	if (a->view.f == f && a->view.exists == exists)
		imap_noop(a->session, &noop_st);
	log_info(LOG_CAT_FS, "appended %zu bytes to %s as UID %u", len, f->imap_name,
		 au.valid ? au.uid : 0);
	if (!au.valid || !f->loaded || au.uidvalidity != f->uidvalidity)
		return IMAP_R_OK; /* the next listing fetches it */
	memset(&m, 0, sizeof(m));
	m.uid = au.uid;
	m.size = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	m.size_exact = len <= UINT32_MAX;
	m.date = date;
	events_arrived(a, f, &m, 1);
	*uid = au.uid;
	return IMAP_R_OK;
}
