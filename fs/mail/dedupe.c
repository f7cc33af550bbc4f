/* -o append_dedupe: is a message about to be appended there already? */
#include "fs/mail/dedupe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "imap/commands.h"

/* Messages of f with that size and INTERNALDATE, newest first (a rerun of
 * a restore finds what the last run appended). */
static size_t candidates(struct account *a, struct folder *f, size_t len, int64_t date,
			 uint32_t *uids)
{
	size_t n = 0;

	rlock_take(&a->index_lock);
	for (size_t i = f->nmsgs; i-- > 0 && n < DEDUPE_CANDIDATES;) {
		const struct msg *m = &f->msgs[i];

		if (m->size == len && m->date == date)
			uids[n++] = m->uid;
	}
	rlock_drop(&a->index_lock);
	return n;
}

struct one_fetch {
	uint32_t uid;
	char set[12];
	bool asked;
	const char *data;
	size_t len;
	bool same;
};

static const char *one_next(void *ctx, void **id)
{
	struct one_fetch *o = ctx;

	*id = NULL;
	if (o->asked)
		return NULL;
	o->asked = true;
	return o->set;
}

static void one_done(void *ctx, void *id, const struct imap_status *st)
{
	(void)ctx;
	(void)id;
	(void)st;
}

static void one_body(void *ctx, uint32_t uid, char *data, size_t len)
{
	struct one_fetch *o = ctx;

	if (uid == o->uid)
		o->same = len == o->len && memcmp(data, o->data, len) == 0;
	free(data);
}

/* Does message uid of f (selected) hold exactly data?  From the body
 * cache, else fetched (BODY.PEEK: \Seen stays as it is). */
static enum imap_result same_bytes(struct account *a, struct folder *f, uint32_t uid,
				   const char *data, size_t len, bool *same,
				   struct imap_status *st)
{
	struct body *b = bodycache_get(a->bodies, index_msg_ino(f, uid));
	struct one_fetch o = { .uid = uid, .data = data, .len = len };
	struct imap_uidset_feed feed = { one_next, one_done, &o, 1 };
	enum imap_result rr;

	if (b) {
		*same = b->len == len && memcmp(b->data, data, len) == 0;
		bodycache_release(a->bodies, b);
		return IMAP_R_OK;
	}
	snprintf(o.set, sizeof(o.set), "%u", uid);
	rr = imap_fetch_bodies(a->session, &feed, one_body, &o, st);
	*same = o.same;
	return rr == IMAP_R_NO ? IMAP_R_OK : rr; /* gone meanwhile: not the same */
}

enum imap_result dedupe_find(struct account *a, struct folder *f, const char *data, size_t len,
			     int64_t date, uint32_t *uid, struct imap_status *st)
{
	uint32_t uids[DEDUPE_CANDIDATES];
	enum imap_result rr = account_ensure_loaded(a, f, st);
	bool same = false;
	size_t n = 0;

	*uid = 0;
	if (rr == IMAP_R_OK)
		n = candidates(a, f, len, date, uids);
	/* Only a likely duplicate costs a round trip: selecting the folder
	 * (for writing, as the APPEND that may follow wants it), a fetch. */
	if (n)
		rr = account_select_rw(a, f, st);
	for (size_t i = 0; i < n && !same && rr == IMAP_R_OK; i++)
		if ((rr = same_bytes(a, f, uids[i], data, len, &same, st)) == IMAP_R_OK && same)
			*uid = uids[i];
	if (*uid)
		log_info(LOG_CAT_FS, "%s already holds these %zu bytes as UID %u: not appended again",
			 f->imap_name, len, *uid);
	return rr;
}
