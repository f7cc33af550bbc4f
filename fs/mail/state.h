/* What was announced, per watched folder, kept across mounts in
 * $XDG_STATE_HOME/inboxfs/ (default ~/.local/state/inboxfs/): so mail that
 * arrived while unmounted is announced at the next mount, and nothing is
 * announced twice.  One file per account, rewritten atomically. */
#ifndef INBOXFS_FS_MAIL_STATE_H
#define INBOXFS_FS_MAIL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state;

/* Load (or start) the state of the account user@host:port.  NULL only
 * when memory runs out; an unreadable file is logged and treated as empty. */
struct state *state_open(const char *user, const char *host, unsigned port);
void state_close(struct state *st);
/* The highest announced UID of mailbox under uidvalidity, if known. */
bool state_get(struct state *st, const char *mailbox, uint32_t uidvalidity, uint32_t *uid);
/* Record and write to disk (tmp file + rename). */
void state_set(struct state *st, const char *mailbox, uint32_t uidvalidity, uint32_t uid);
/* Whether mailbox has a mark, under any UIDVALIDITY. */
bool state_knows(struct state *st, const char *mailbox);
/* A starting mark for each of marks (n) that has none yet, written to
 * disk once if any was added; returns how many were. */
struct state_mark {
	const char *mailbox;
	uint32_t uidvalidity, uid;
};
size_t state_seed(struct state *st, const struct state_mark *marks, size_t n);
const char *state_path(const struct state *st);

#endif
