/* Every inode number of the mount.  The top bits say what a number is and
 * the ranges never overlap, so a number alone tells its kind (node.c),
 * without a table or a lock.  Numbers are derived, never stored. */
#ifndef INBOXFS_FS_INODE_H
#define INBOXFS_FS_INODE_H

#include <stdbool.h>
#include <stdint.h>

/* The mount's root folder; other folders get the next small numbers (index.c). */
#define ROOT_INO UINT64_C(1)
/* A message: MSG_INO_BIT | generation << 32 | UID, where a generation names
 * one (folder, UIDVALIDITY) pair for the life of the process (index.c). */
#define MSG_INO_BIT (UINT64_C(1) << 63)
/* FOLDER/.newmail of a watched folder: MARKER_INO_BIT | the folder's inode. */
#define MARKER_INO_BIT (UINT64_C(1) << 62)
/* .inboxfs/ and the files in it: STATUS_INO_BIT | a fixed small number. */
#define STATUS_INO_BIT (UINT64_C(1) << 61)
/* The .inboxfs directory at the root. */
#define STATUS_DIR_INO (STATUS_INO_BIT | 1)
/* .inboxfs/status. */
#define STATUS_FILE_INO (STATUS_INO_BIT | 2)
/* A file being written into a folder: NEWFILE_INO_BIT | a counter (newfile.c). */
#define NEWFILE_INO_BIT (UINT64_C(1) << 60)

/* FOLDER/.parts and below it (node_parts.c), PARTS_INO_BIT with:
 * FOLDER/.parts:          the folder's inode << 32 (and UID 0, no message's);
 * FOLDER/.parts/UID/:     gen << 46 | UID, gen the message's (index.c);
 * its file i (from 0):    gen << 46 | (i + 1) << 32 | UID. */
#define PARTS_INO_BIT (UINT64_C(1) << 59)
/* Generations and files per message that have numbers; beyond, ENOENT. */
#define PARTS_GEN_MAX ((UINT32_C(1) << 13) - 1)
#define PARTS_FILES_MAX ((UINT32_C(1) << 14) - 2)
/* Folders that have a .parts: their inode fits in 27 bits. */
#define PARTS_FOLDER_MAX ((UINT64_C(1) << 27) - 1)

/* .parts, a message's directory in it, or one of its files. */
static inline bool ino_is_parts(uint64_t ino) { return (ino >> 59) == 1; }

/* FOLDER/.parts of the folder with inode folder (<= PARTS_FOLDER_MAX). */
static inline uint64_t parts_dir_ino(uint64_t folder) { return PARTS_INO_BIT | folder << 32; }

/* .parts/UID/ (file 0) or its file i (file i + 1) of message gen/uid. */
static inline uint64_t parts_ino(uint32_t gen, uint32_t uid, uint32_t file)
{
	return PARTS_INO_BIT | (uint64_t)gen << 46 | (uint64_t)file << 32 | uid;
}

/* .search and the queries in it, SEARCH_INO_BIT with:
 * FOLDER/.search:          the folder's inode (node_search.c);
 * FOLDER/.search/QUERY/:   SEARCH_QUERY_BIT | the query's number << 32 | the folder's inode;
 * and with SEARCH_ALL_BIT too, the root's (node_search_all.c):
 * .search:                 nothing more;
 * .search/QUERY/:          SEARCH_QUERY_BIT | the query's number << 32;
 * .search/QUERY/F/:        SEARCH_QUERY_BIT | the query's number << 32 | F's inode.
 * A query's number is below 2^24 (queries.h), a folder's inode below 2^32. */
#define SEARCH_INO_BIT (UINT64_C(1) << 58)
#define SEARCH_QUERY_BIT (UINT64_C(1) << 57)
#define SEARCH_ALL_BIT (UINT64_C(1) << 56)

/* A folder's number: below every bit above (0 is no inode). */
static inline bool ino_is_folder(uint64_t ino) { return ino != 0 && ino < SEARCH_INO_BIT; }

/* A message's number (it may name a message that is gone). */
static inline bool ino_is_message(uint64_t ino) { return (ino & MSG_INO_BIT) != 0; }

/* A .newmail marker's number (its folder may not be watched). */
static inline bool ino_is_marker(uint64_t ino) { return (ino >> 62) == 1; }

/* .inboxfs/ or one of its files. */
static inline bool ino_is_status(uint64_t ino) { return (ino >> 61) == 1; }

/* A file being written (it may be gone). */
static inline bool ino_is_newfile(uint64_t ino) { return (ino >> 60) == 1; }

/* A .search directory or a query in one (it may be forgotten). */
static inline bool ino_is_search(uint64_t ino) { return (ino >> 58) == 1; }

/* The same at the mount root (a search of every folder). */
static inline bool ino_is_search_all(uint64_t ino)
{
	return ino_is_search(ino) && (ino & SEARCH_ALL_BIT);
}

/* A query's directory, or a folder's in a root query: base is
 * SEARCH_INO_BIT, with SEARCH_ALL_BIT for the root's. */
static inline uint64_t search_query_ino(uint64_t base, uint32_t id, uint64_t folder)
{
	return base | SEARCH_QUERY_BIT | (uint64_t)id << 32 | folder;
}

/* The query's number and the folder of such a number. */
static inline uint32_t search_query_id(uint64_t ino) { return (ino >> 32) & 0xffffff; }
static inline uint64_t search_folder(uint64_t ino) { return ino & 0xffffffff; }

#endif
