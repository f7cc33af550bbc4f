/* The part lists of the messages looked at (parts.h), kept so that
 * BODYSTRUCTURE is fetched once per message.  Keyed by the message inode,
 * which never names another message.  Bounded in bytes, the least
 * recently used dropped first; a list handed out is pinned until
 * released.  Thread-safe. */
#ifndef INBOXFS_FS_MAIL_PARTS_CACHE_H
#define INBOXFS_FS_MAIL_PARTS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/parts.h"

/* Bytes of lists kept (a list of a few parts and its header block take
 * 2-4 KB: some thousands of messages). */
#define PARTS_CACHE_BYTES (8u << 20)

/* The list of message key, pinned, or NULL. */
struct parts_msg *parts_cache_get(uint64_t key);
/* Keep pm (malloc'd, taken) for key and return it pinned; when another
 * thread kept one first, pm is freed and that one is returned.  NULL
 * (pm freed) when out of memory. */
struct parts_msg *parts_cache_put(uint64_t key, struct parts_msg *pm);
void parts_cache_release(struct parts_msg *pm);
/* Entry i of pm has size bytes: exact when learned by reading it, else
 * what the server says (BINARY.SIZE, which Dovecot 2.3 miscounts for
 * some binary contents: only a read settles it). */
void parts_cache_set_size(struct parts_msg *pm, size_t i, uint64_t size, bool exact);
/* Entry i's size and whether it is exact, read under the cache's lock. */
uint64_t parts_cache_size(const struct parts_msg *pm, size_t i, bool *exact);
/* Entry i's size is exact or already the server's word: asking again
 * would tell nothing new. */
bool parts_cache_size_settled(const struct parts_msg *pm, size_t i);

#endif
