/* Keeping the index in step with the server, one connection at a time.
 *
 * Each connection (the worker that serves the file system, each IDLE
 * watcher) has a view of the folder it has selected: its own sequence
 * numbers (EXPUNGE names messages by them) and its last EXISTS.  What a
 * view learns goes to the shared index through the account's events:
 * messages arrived, a message departed, the folder reloaded. */
#ifndef INBOXFS_FS_MAIL_VIEW_H
#define INBOXFS_FS_MAIL_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/seqmap.h"
#include "imap/session.h"

struct account;
struct folder;

struct view {
	struct account *a;
	struct imap_session *s;
	struct folder *f;          /* selected folder, NULL when none */
	struct imap_seqmap seq;    /* this connection's sequence numbers */
	uint32_t exists;           /* the last EXISTS */
	uint32_t uidvalidity;      /* as SELECT said */
	long long selected_ms;     /* when that SELECT was sent (monotonic) */
	bool dirty;                /* an EXPUNGE we could not place: reload */
	bool stale;                /* the server complained about the mailbox: select again */
	bool rw;                   /* SELECT rather than EXAMINE */
	bool quiet;                /* departures are our own doing: no announcement */
	bool news_bodies;          /* news comes with the bodies of small messages */
};

void view_init(struct view *v, struct account *a, struct imap_session *s);
void view_free(struct view *v);
/* The untagged handler to install on v->s (ctx = v). */
bool view_on_untagged(struct imap_session *s, struct imap_response *r, void *ctx);

/* Select f (EXAMINE, or SELECT when rw) and bring the index up to date:
 * a full load the first time or after a UIDVALIDITY change, else the new
 * messages and a check that nothing else changed.  If f is already
 * selected, only the catch-up (after a NOOP when noop is set). */
enum imap_result view_open(struct view *v, struct folder *f, bool rw, bool noop,
			   struct imap_status *st);
/* After untagged EXISTS/EXPUNGE: fetch what is new, reload if needed. */
enum imap_result view_catch_up(struct view *v, uint32_t uidnext, struct imap_status *st);
/* The server told v of a change to its folder that the index does not
 * have yet (view_catch_up brings it in). */
bool view_behind(const struct view *v);
/* Has this connection been told of uid (is it in its numbering)? */
bool view_has(const struct view *v, uint32_t uid);
/* A command by UID found nothing for some of uids: servers answer a UID
 * command from what the session has been told, and a message delivered
 * since may be news to it.  Take in the news the answer carried (Dovecot,
 * Cyrus send EXISTS with it), and if some of uids are still unknown ask
 * for more (a NOOP: Courier tells only then). */
enum imap_result view_learn(struct view *v, const uint32_t *uids, size_t n,
			    struct imap_status *st);
/* Forget the selection (the connection left the folder or broke). */
void view_reset(struct view *v);
/* Leave the selected folder, if any, without expunging: UNSELECT (RFC
 * 3691), else EXAMINE INBOX (CLOSE would expunge).  The view is reset. */
enum imap_result view_leave(struct view *v, struct imap_status *st);

#endif
