/* Message bodies in memory, least recently used evicted first, bounded in
 * bytes.  Keyed by the message inode, which names (mailbox, UIDVALIDITY,
 * UID): a body can never be served for another message.  Thread-safe;
 * a body handed out is pinned until released, so eviction never frees
 * bytes a reader is copying from. */
#ifndef INBOXFS_FS_MAIL_BODYCACHE_H
#define INBOXFS_FS_MAIL_BODYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct body {
	uint64_t key;
	char *data;
	size_t len;
	/* private */
	int refs;
	bool pending;   /* being fetched: no data yet, not in the LRU */
	bool awaited;   /* pending, and a reader waits for it */
	struct body *prev, *next, *hnext;
};

struct bodycache;

struct bodycache *bodycache_new(size_t limit_bytes);
void bodycache_free(struct bodycache *bc);
/* Pinned body or NULL. */
struct body *bodycache_get(struct bodycache *bc, uint64_t key);
/* Present or on its way. */
bool bodycache_has(struct bodycache *bc, uint64_t key);
/* Announce that a body is being fetched, so that readers wait for it
 * (bodycache_wait) instead of fetching it again.  False if present. */
bool bodycache_mark_pending(struct bodycache *bc, uint64_t key);
/* The fetch ended: if the body did not come, wake its waiters
 * empty-handed and return true (it is still missing). */
bool bodycache_unmark_pending(struct bodycache *bc, uint64_t key);
/* Like bodycache_get, but if the body is pending, wait for it. */
struct body *bodycache_wait(struct bodycache *bc, uint64_t key);
/* Takes ownership of data (a body already present is kept instead).
 * With pin, returns the pinned body, which eviction leaves alone even
 * when it alone is larger than the limit. */
struct body *bodycache_put(struct bodycache *bc, uint64_t key, char *data, size_t len, bool pin);
/* One more pin on a body the caller holds pinned already. */
void bodycache_pin(struct bodycache *bc, struct body *b);
void bodycache_release(struct bodycache *bc, struct body *b);
size_t bodycache_bytes(struct bodycache *bc);

#endif
