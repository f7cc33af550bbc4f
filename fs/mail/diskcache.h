/* Message bodies and folder indexes on disk, under
 * $XDG_CACHE_HOME/inboxfs/USER@HOST:PORT/ (-o cache_disk=SIZE; off by
 * default: see the README for why).
 *
 * A folder's directory is named by a hash of its server name (names
 * never become paths); bodies are keyed by (mailbox, UIDVALIDITY, UID),
 * which names the same bytes forever.  Every file is written to a
 * temporary name and renamed, and carries its length and SHA-256: a torn
 * or altered file is a miss, deleted, never served.  Bodies are evicted
 * oldest-read first when the total passes the size.  Thread-safe. */
#ifndef INBOXFS_FS_MAIL_DISKCACHE_H
#define INBOXFS_FS_MAIL_DISKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/index.h"

struct diskcache;

/* NULL with err empty when cap is 0 (off); NULL with err set on failure. */
struct diskcache *diskcache_open(const char *account_id, size_t cap, char *err, size_t errlen);
void diskcache_close(struct diskcache *dc);

/* A cached body (malloc'd) or NULL. */
char *diskcache_get_body(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			 uint32_t uid, size_t *len);
void diskcache_put_body(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			uint32_t uid, const char *data, size_t len);

/* A message's part list as parts_store.h packs it, kept beside its body
 * under the same key and integrity rules (evicted with the bodies). */
char *diskcache_get_parts(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			  uint32_t uid, size_t *len);
void diskcache_put_parts(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			 uint32_t uid, const char *data, size_t len);

/* A folder's message list as last known. */
int diskcache_save_folder(struct diskcache *dc, const char *mailbox, uint32_t uidvalidity,
			  uint32_t uidnext, uint64_t modseq, const struct msg *msgs, size_t n);
/* malloc'd array (n may be 0: then a non-NULL empty array) or NULL. */
struct msg *diskcache_load_folder(struct diskcache *dc, const char *mailbox,
				  uint32_t *uidvalidity, uint32_t *uidnext, uint64_t *modseq,
				  size_t *n);
/* For .inboxfs/status. */
size_t diskcache_used(struct diskcache *dc);

#endif
