/* The queries the kernel knows (FOLDER/.search/QUERY/ and .search/QUERY/
 * at the root): the folder and text of each, by a number its inodes
 * carry, and what its last runs found in each folder.  A fixed number are
 * kept; the one used least recently is forgotten (its inodes then answer
 * ENOENT, and a new lookup of its name gives it a new number).  Any
 * thread: the table has its own lock, taken by nobody else. */
#ifndef INBOXFS_FS_QUERIES_H
#define INBOXFS_FS_QUERIES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERIES_MAX 256
/* Numbers are 1 .. QUERY_ID_MAX (they wrap: by then the old ones are gone). */
#define QUERY_ID_MAX ((UINT32_C(1) << 24) - 1)

/* The number of query text in folder (the root: every folder),
 * remembered if new (the one it had when it was known already). */
uint32_t queries_add(uint64_t folder, const char *text);
/* Query id: its folder and its text (NUL-terminated, at most NAME_MAX
 * bytes: a name).  False when there is none (or it was forgotten). */
bool queries_get(uint32_t id, uint64_t *folder, char text[NAME_MAX + 1]);
/* What a run found in folder: uids (ascending, n of them, taken:
 * malloc'd) replace what id had there.  Freed when id was forgotten. */
void queries_set_results(uint32_t id, uint64_t folder, uint32_t *uids, size_t n);
/* Forget what id found in every folder but those in keep (n of them):
 * folders a new run did not search. */
void queries_keep_only(uint32_t id, const uint64_t *keep, size_t n);
/* A copy of what id found in folder (malloc'd, NULL when none): false
 * when it never ran, was forgotten, or out of memory. */
bool queries_results(uint32_t id, uint64_t folder, uint32_t **uids, size_t *n);
/* The folders where id found something (malloc'd, ascending, NULL when
 * none): false when it never ran, was forgotten, or out of memory. */
bool queries_folders(uint32_t id, uint64_t **folders, size_t *n);
/* Whether uid of folder is among what id found; *ran: it ran at all. */
bool queries_has(uint32_t id, uint64_t folder, uint32_t uid, bool *ran);

#endif
