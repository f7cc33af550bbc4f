/* The server's search in one folder, on the worker's session, for
 * FOLDER/.search/QUERY/ (the query: query.h). */
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

#endif
