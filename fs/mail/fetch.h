/* Message bodies from the server: the fetch of the one a reader opens,
 * the read-ahead that comes with it (a window after it, or for a scan a
 * stream of the folder in UID order) and the caches they fill.  Called
 * by the readers of fs/node_message.c and the reader connections (pool.c);
 * the names keep the account_ prefix those callers know. */
#ifndef INBOXFS_FS_MAIL_FETCH_H
#define INBOXFS_FS_MAIL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/session.h"

struct account;
struct body;
struct folder;
struct view;

/* Called once with the wanted body, pinned (release with
 * bodycache_release), as soon as it is in: read-ahead of the following
 * messages goes on afterwards, so the reader need not wait for it. */
typedef void (*body_ready_fn)(void *ctx, struct body *b);

/* Fetch the body of folder f's message uid (and maybe the next ones) on
 * the worker's connection; session_lock held.  When ready was not
 * called, the result says why the body is missing. */
enum imap_result account_load_body(struct account *a, struct folder *f, uint32_t uid,
				   body_ready_fn ready, void *ctx, struct imap_status *st);
/* Fetch uid (and a short read-ahead) on v's connection (a reader's, with
 * f selected); *delivered tells whether ready was called. */
enum imap_result account_fetch_body_on(struct account *a, struct view *v,
				       struct folder *f, uint32_t uid, body_ready_fn ready,
				       void *ctx, struct imap_status *st, bool *delivered);
/* A body from the disk cache, now in the memory cache too; NULL: not there. */
struct body *account_body_from_disk(struct account *a, struct folder *f, uint32_t uid);
/* A body that came before its message is in the index (news): into the
 * caches, data taken. */
void account_keep_body(struct account *a, struct folder *f, uint32_t uidvalidity, uint32_t uid,
		       char *data, size_t len);

/* The worker streams a scan of f now, and has for at least a window of
 * commands: a miss in f is better served by stopping it (it yields at
 * once, and starts again from the miss) than by a reader connection.
 * A younger scan goes on: misses that stop every scan at its first
 * command (four greps, each at its own stretch of names) leave one
 * round trip per miss and no stream at all. */
bool account_scanning(struct account *a, struct folder *f);
/* f is being listed: opens in it soon after are likely a bulk read. */
void account_note_listing(struct account *a, struct folder *f);
/* An open was served from the body cache (read-ahead paid off). */
void account_note_cache_hit(struct account *a);

#endif
