/* Commands by UID on a connection that may be behind (see byuid.h). */
#include "fs/mail/byuid.h"

#include <stdlib.h>

#include "common/log.h"
#include "fs/mail/account.h"

void uid_list_add(struct uid_list *l, uint32_t uid)
{
	uint32_t *grown;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if (cap > BYUID_MAX_MISSED || !(grown = realloc(l->uids, cap * sizeof(*grown))))
			return;
		l->uids = grown;
		l->cap = cap;
	}
	l->uids[l->n++] = uid;
}

void uid_list_free(struct uid_list *l)
{
	free(l->uids);
	l->uids = NULL;
	l->n = l->cap = 0;
}

/* Keep the UIDs the index still shows in f: an expunge the update
 * brought takes its UID out, and what is gone is not asked for again. */
static void keep_shown(struct account *a, struct folder *f, struct uid_list *l)
{
	size_t k = 0;

	rlock_take(&a->index_lock);
	for (size_t i = 0; i < l->n; i++)
		if (f && index_find_msg(f, l->uids[i]))
			l->uids[k++] = l->uids[i];
	rlock_drop(&a->index_lock);
	l->n = k;
}

enum imap_result byuid_run(struct view *v, const uint32_t *uids, size_t n, byuid_fn fn,
			   void *ctx, struct imap_status *st)
{
	struct uid_list missed = { 0 }, again = { 0 };
	enum imap_result rr = fn(ctx, uids, n, &missed, st);

	if (rr == IMAP_R_OK && missed.n)
		rr = view_learn(v, missed.uids, missed.n, st);
	if (rr == IMAP_R_OK && missed.n) {
		keep_shown(v->a, v->f, &missed);
		if (missed.n) {
			log_debug(LOG_CAT_IMAP, "%s: nothing came for %zu messages the index shows "
				  "(first %u): the connection was behind; asking again", v->f->imap_name,
				  missed.n, missed.uids[0]);
			rr = fn(ctx, missed.uids, missed.n, &again, st);
		}
	}
	uid_list_free(&missed);
	uid_list_free(&again);
	return rr;
}
