/* The server's search in one folder (see search.h). */
#include "fs/mail/search.h"

#include "common/log.h"
#include "fs/mail/account.h"

/* Refresh f and search it once. */
static enum imap_result search_once(struct account *a, struct folder *f,
				    const struct imap_search *q, uint32_t **uids, size_t *n,
				    struct imap_status *st)
{
	enum imap_result rr = account_refresh_folder(a, f, st);

	if (rr == IMAP_R_OK && a->view.f != f) {
		imap_status_set(st, IMAP_R_GONE, "%s is not selected", f->imap_name);
		rr = IMAP_R_GONE;
	}
	return rr == IMAP_R_OK ? imap_uid_search(a->session, q, uids, n, st) : rr;
}

enum imap_result account_search(struct account *a, struct folder *f, const struct imap_search *q,
				uint32_t **uids, size_t *n, struct imap_status *st)
{
	enum imap_result rr;
	char shown[200];

	*uids = NULL;
	*n = 0;
	if (!index_folder_selectable(f))
		return IMAP_R_OK;
	rr = search_once(a, f, q, uids, n, st);
	if (rr == IMAP_R_LOST) /* a search is safe to repeat on a new connection */
		rr = search_once(a, f, q, uids, n, st);
	imap_search_describe(q, shown, sizeof(shown));
	log_debug(LOG_CAT_FS, "search %s for %s: %s, %zu found", f->imap_name, shown,
		  imap_result_name(rr), *n);
	return rr;
}
