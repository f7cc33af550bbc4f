/* The in-memory index: the folder tree and, per folder, its messages in
 * mailbox (sequence) order.  Inode numbers are derived, not stored (see
 * inode.h): a folder gets a small number (1 is the root), a message its
 * generation and UID, so a message keeps its inode for as long as it
 * exists and an inode never comes back meaning another message. */
#ifndef INBOXFS_FS_MAIL_INDEX_H
#define INBOXFS_FS_MAIL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/inode.h"

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
	bool gone;               /* deleted: its inode answers ENOENT */

	bool loaded;             /* messages below are valid for uidvalidity */
	uint32_t uidvalidity;
	long long uidvalidity_ms; /* when the look that confirmed it began (monotonic) */
	uint32_t uidnext;
	uint32_t gen;            /* generation of this (folder, uidvalidity) */
	uint64_t highestmodseq;  /* as of the last look that made the list whole (QRESYNC) */
	struct msg *msgs;        /* ascending UID */
	size_t nmsgs, cap;

	/* Watched folders (IDLE): see events.h and fs/announce.h. */
	bool watched;
	bool pushed;             /* its watcher is idling: the server tells of changes */
	uint32_t announced;      /* highest UID announced (kept across mounts) */
	struct msg *pending;     /* arrived, shown once announced */
	size_t npending, pending_cap;
	struct msg *departed;    /* expunged elsewhere, IN_DELETE not yet sent */
	size_t ndeparted, departed_cap;
	char *marker;            /* .newmail: the names of the last batch */
	size_t marker_len;
	int64_t marker_mtime;
};

#define MARKER_NAME ".newmail"

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
/* f's path below the root ("Archive/2023"); -1 when it does not fit. */
int index_folder_path(const struct folder *f, char *buf, size_t len);
/* The highest folder inode handed out so far (folders get them in
 * order: those above an earlier figure are newer). */
uint64_t index_last_folder_ino(const struct index *ix);
struct folder *index_child(struct folder *dir, const char *name);
bool index_folder_selectable(const struct folder *f);
/* The first folder (depth first) with one of the MBX_* flags, e.g. \Trash. */
struct folder *index_find_flag(struct index *ix, unsigned flag);
/* Add a folder (created by us) under parent. */
struct folder *index_new_folder(struct index *ix, struct folder *parent, const char *name,
				const char *imap_name);
/* A deleted folder leaves the tree; its node stays so that its inode
 * keeps answering (ENOENT) instead of meaning something else. */
void index_remove_folder(struct folder *f);
/* A renamed folder: new place and name; the server names of it and of
 * everything below change from old_prefix to new_prefix. */
int index_move_folder(struct folder *f, struct folder *newparent, const char *newname,
		      const char *old_prefix, const char *new_prefix, char delim);

/* Messages. */
void index_folder_reset(struct index *ix, struct folder *f, uint32_t uidvalidity);
int index_folder_append(struct folder *f, const struct msg *m); /* must be > last UID */
int index_folder_insert(struct folder *f, const struct msg *m); /* anywhere, by UID */
struct msg *index_find_msg(struct folder *f, uint32_t uid);
long index_msg_pos(const struct folder *f, uint32_t uid);
void index_remove_at(struct folder *f, size_t pos);

uint64_t index_msg_ino(const struct folder *f, uint32_t uid);
/* Resolve a message inode: its folder and message, or NULL when the
 * message (or its UIDVALIDITY generation) is gone.  The inode of a message
 * moved away by us resolves to the message in its new folder. */
struct msg *index_msg_by_ino(struct index *ix, uint64_t ino, struct folder **fp);
/* A message we moved: the kernel keeps the old inode under the name the
 * mover typed (rename), and mv stats that name right after; so the old
 * inode answers for the moved message until the kernel lets go of it. */
void index_note_moved(struct index *ix, uint64_t old_ino, uint64_t new_ino);

/* A name is a message file name: "<UID>.eml" with a canonical UID. */
bool index_parse_msg_name(const char *name, uint32_t *uid);
/* A component taken from a server name may become a directory entry. */
bool index_valid_component(const char *name);

#endif
