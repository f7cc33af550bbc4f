/* The search language of FOLDER/.search/QUERY/ (README, "Searching"):
 * terms ANDed, each mapped to IMAP SEARCH keys.  A query is hostile input
 * like any name typed into the mount: bounded, checked, and its values
 * kept apart from the keys (imap/search.h). */
#ifndef INBOXFS_FS_MAIL_QUERY_H
#define INBOXFS_FS_MAIL_QUERY_H

#include <stddef.h>

#include "imap/search.h"

/* Bounds: a query's bytes, one value's bytes, its terms. */
#define QUERY_MAX_LEN 65536
#define QUERY_MAX_VALUE 16384
#define QUERY_MAX_TERMS 64

/* Parse text into *out (zeroed first; free with imap_search_free): 0,
 * EINVAL with the bad term and why in why (printable, at most whylen
 * bytes), or ENOMEM.  Nothing is left in *out on failure. */
int query_parse(const char *text, struct imap_search *out, char *why, size_t whylen);

#endif
