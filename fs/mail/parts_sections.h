/* The sections of messages read last through .parts, as the server sent
 * them, kept a short while: `text` and its own leaf file (`1.txt`) are
 * the same section, and a tool often opens a file twice (file, then cp).
 * Keyed by the message inode (which never names another message) and
 * the section.  Bounded in bytes and in time.  Thread-safe. */
#ifndef INBOXFS_FS_MAIL_PARTS_SECTIONS_H
#define INBOXFS_FS_MAIL_PARTS_SECTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept in all; a section larger than a quarter is not kept. */
#define PARTS_SECTIONS_BYTES (16u << 20)
/* How long a section is kept after it was fetched. */
#define PARTS_SECTIONS_MS 30000

/* A copy (malloc'd, NUL-terminated) of section of message key, with
 * whether the server decoded it (BINARY), or NULL. */
char *parts_sections_get(uint64_t key, const char *section, size_t *len, bool *binary);
/* Keep a copy of raw (len bytes) as section of message key. */
void parts_sections_put(uint64_t key, const char *section, const char *raw, size_t len,
			bool binary);

#endif
