/* The in-memory index: the folder tree and, per folder, its messages in
 * mailbox (sequence) order.  Inode numbers are derived, not stored:
 *   directory: a small number given to the folder (1 is the root);
 *   message:   MSG_INO_BIT | generation << 32 | UID,
 * where a generation names one (folder, UIDVALIDITY) pair for the life of
 * the process.  So a message keeps its inode for as long as it exists and
 * an inode never comes back meaning another message. */
#ifndef INBOXFS_FS_INDEX_H
#define INBOXFS_FS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_INO_BIT (UINT64_C(1) << 63)
#define ROOT_INO UINT64_C(1)

/* 24 bytes per message: the whole per-message cost of the index. */
struct msg {
	uint32_t uid;
	uint32_t size;       /* RFC822.SIZE, then the real size once read */
	int64_t date;        /* INTERNALDATE, seconds since the epoch */
	uint8_t flags;       /* MSG_SEEN ... from imap/commands.h */
	uint8_t size_exact;  /* size is the real byte count */
};

struct folder {
	uint64_t ino;
	char *name;              /* this level's name as shown (UTF-8) */
	char *imap_name;         /* full name on the server; NULL: implied by the hierarchy */
	struct folder *parent;
	struct folder **children;
	size_t nchildren;
	unsigned mbx_flags;      /* MBX_* from imap/commands.h */
	bool seen_in_list;       /* refreshed by each LIST */

	bool loaded;             /* messages below are valid for uidvalidity */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t gen;            /* generation of this (folder, uidvalidity) */
	struct msg *msgs;        /* ascending UID == sequence order */
	size_t nmsgs, cap;
};

struct index;

struct index *index_new(void);
void index_free(struct index *ix);
struct folder *index_root(struct index *ix);

/* Add (or refresh) a mailbox from LIST.  `path` is its UTF-8 name split
 * at the hierarchy delimiter; intermediate levels are created as
 * directories without a mailbox.  Returns NULL when a component is not
 * acceptable as a file name. */
struct folder *index_add_mailbox(struct index *ix, const char *const *path, size_t depth,
				 const char *imap_name, unsigned mbx_flags);
struct folder *index_folder_by_ino(struct index *ix, uint64_t ino);
struct folder *index_child(struct folder *dir, const char *name);
bool index_folder_selectable(const struct folder *f);

/* Messages. */
void index_folder_reset(struct index *ix, struct folder *f, uint32_t uidvalidity);
int index_folder_append(struct folder *f, const struct msg *m); /* must be > last UID */
struct msg *index_find_msg(struct folder *f, uint32_t uid);
long index_msg_pos(const struct folder *f, uint32_t uid);
void index_remove_at(struct folder *f, size_t pos);

uint64_t index_msg_ino(const struct folder *f, uint32_t uid);
/* Resolve a message inode: its folder and message, or NULL when the
 * message (or its UIDVALIDITY generation) is gone. */
struct msg *index_msg_by_ino(struct index *ix, uint64_t ino, struct folder **fp);

/* A name is a message file name: "<UID>.eml" with a canonical UID. */
bool index_parse_msg_name(const char *name, uint32_t *uid);
/* A component taken from a server name may become a directory entry. */
bool index_valid_component(const char *name);

#endif
