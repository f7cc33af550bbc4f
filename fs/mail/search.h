/* The server's search: in one folder on the worker's session, for
 * FOLDER/.search/QUERY/ (the query: query.h), or in many at once over
 * the worker and the reader connections, for the root's .search. */
#ifndef INBOXFS_FS_MAIL_SEARCH_H
#define INBOXFS_FS_MAIL_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/index.h"
#include "imap/search.h"

struct account;

/* Bring f up to date, then run q in it: the matching UIDs, ascending,
 * malloc'd into *uids (NULL when none).  Messages that came since are in
 * the index before the search runs, so what it finds is there too.  A
 * folder that holds no messages (not selectable) matches nothing, and no
 * command is sent.  Called with session_lock held (account_lock_session),
 * as account_refresh_folder. */
enum imap_result account_search(struct account *a, struct folder *f, const struct imap_search *q,
				uint32_t **uids, size_t *n, struct imap_status *st);

/* What the search of folder i (of account_search_many's) found: as
 * account_search's, uids taken.  From any of the searching threads, one
 * call at a time. */
typedef void (*search_found_fn)(void *ctx, size_t i, enum imap_result rr, uint32_t *uids,
				size_t n, const struct imap_status *st);

/* Run q in each of folders (n of them) as account_search does, in
 * parallel on the worker's session and the reader connections (one
 * search at a time on each), each due by the account's timeout from
 * when it starts; found() is told of each.  Called with no lock held;
 * returns when every search is done. */
void account_search_many(struct account *a, struct folder *const *folders, size_t n,
			 const struct imap_search *q, search_found_fn found, void *ctx);

#endif
