/* Starting marks for folders watched for the first time (startmark.h). */
#include "fs/mail/startmark.h"

#include <stdlib.h>

#include "common/log.h"
#include "fs/mail/account.h"
#include "fs/mail/state.h"
#include "imap/status.h"

/* The watched folders the state file has no mark for, into names. */
static size_t unknown_folders(struct account *a, const char **names)
{
	size_t n = 0;

	for (size_t i = 0; i < a->nwatched; i++)
		if (a->watched[i]->imap_name && !state_knows(a->state, a->watched[i]->imap_name))
			names[n++] = a->watched[i]->imap_name;
	return n;
}

static enum imap_result ask(struct account *a, const char **names, size_t n,
			    struct imap_mbox_status *out, struct imap_status *st)
{
	enum imap_result rr;

	if (!account_lock_session(a, account_deadline(a), st))
		return st->result;
	rr = account_session(a, st);
	if (rr == IMAP_R_OK)
		rr = imap_status_many(a->session, names, n, out, st);
	account_unlock_session(a);
	return rr;
}

/* A mark for each folder the server answered for (UIDNEXT 0: it said
 * nothing usable, the first look decides). */
static size_t marks_of(const char **names, const struct imap_mbox_status *out, size_t n,
		       struct state_mark *marks)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (out[i].answered && out[i].uidvalidity && out[i].uidnext)
			marks[k++] = (struct state_mark){ names[i], out[i].uidvalidity,
							  out[i].uidnext - 1 };
	return k;
}

void startmark_take(struct account *a)
{
	const char **names = a->state ? calloc(a->nwatched, sizeof(*names)) : NULL;
	struct imap_mbox_status *out = names ? calloc(a->nwatched, sizeof(*out)) : NULL;
	struct state_mark *marks = out ? calloc(a->nwatched, sizeof(*marks)) : NULL;
	struct imap_status st = { 0 };
	size_t n = marks ? unknown_folders(a, names) : 0, set;

	if (n && ask(a, names, n, out, &st) == IMAP_R_OK) {
		set = state_seed(a->state, marks, marks_of(names, out, n, marks));
		log_debug(LOG_CAT_FS, "first mount: announcing from the server's UIDNEXT in %zu "
			  "of %zu folder(s)", set, n);
	} else if (n) {
		log_warn(LOG_CAT_FS, "cannot ask where new mail starts (%s): mail that arrives "
			 "before each watcher's first look counts as already there", st.text);
	}
	free(marks);
	free(out);
	free(names);
}
