/* The queries the kernel knows by inode (FOLDER/.search/QUERY/): the
 * folder and text of each, and what its last run found.  A fixed number
 * are kept; the one used least recently is forgotten (its inode then
 * answers ENOENT, and a new lookup of its name gives it a new one).
 * Any thread: the table has its own lock, taken by nobody else. */
#ifndef INBOXFS_FS_QUERIES_H
#define INBOXFS_FS_QUERIES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERIES_MAX 256

/* The inode of query text in folder, remembered if new (the one it had
 * when it was known already). */
uint64_t queries_add(uint64_t folder, const char *text);
/* Query ino: its folder and its text (NUL-terminated, at most NAME_MAX
 * bytes: a name).  False when there is none (or it was forgotten). */
bool queries_get(uint64_t ino, uint64_t *folder, char text[NAME_MAX + 1]);
/* Keep uids (ascending, n of them, taken: malloc'd) as ino's last
 * results; freed when ino was forgotten meanwhile. */
void queries_set_results(uint64_t ino, uint32_t *uids, size_t n);
/* A copy of ino's last results (malloc'd, NULL when none): false when it
 * never ran, was forgotten, or out of memory. */
bool queries_results(uint64_t ino, uint32_t **uids, size_t *n);
/* Whether uid is among ino's last results; *ran: it ran at all. */
bool queries_has(uint64_t ino, uint32_t uid, bool *ran);

#endif
