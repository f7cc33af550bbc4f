/* Extra connections for reading (-o connections=N: the worker plus N-1
 * readers), so that parallel readers (xargs -P, grep -r in several
 * folders) are served in parallel.  A reader is used only when the
 * worker's connection is busy; it fetches the one message asked for
 * (read-ahead stays on the worker, where the scan is), or runs one
 * folder's part of a search of every folder.  Readers connect when first
 * needed and reconnect with the account's backoff rules. */
#ifndef INBOXFS_FS_MAIL_POOL_H
#define INBOXFS_FS_MAIL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/mail/account.h"

struct pool;
struct view;

/* Work for a reader: v is its view, with the folder asked for selected
 * and the index up to date with it. */
typedef enum imap_result (*reader_job_fn)(struct view *v, void *ctx, struct imap_status *st);

struct pool *pool_new(struct account *a, size_t readers);
/* How many readers there are (connected or not). */
size_t pool_size(const struct pool *p);
/* Run job on a free reader with f selected (after a NOOP when noop: the
 * job must see what the server has now), for a call due at deadline.
 * False when every reader is busy or cannot connect now (or there are
 * none); true with *rr set otherwise. */
bool pool_run(struct pool *p, struct folder *f, bool noop, reader_job_fn job, void *ctx,
	      long long deadline, struct imap_status *st, enum imap_result *rr);
/* Fetch uid of f on a free reader, for a call due at `deadline` (see
 * imap_session_set_deadline).  False when every reader is busy (or there
 * are none): the caller waits for the worker.  True with *rr set
 * otherwise (ready() called on success). */
bool pool_load_body(struct pool *p, struct folder *f, uint32_t uid, body_ready_fn ready,
		    void *ctx, long long deadline, struct imap_status *st, enum imap_result *rr);
/* Unmounting: fail what waits on a reader now.  Any thread. */
void pool_abort(struct pool *p);
/* The same for the readers in the middle of a fetch only (the idle ones
 * still log out politely). */
void pool_abort_busy(struct pool *p);
void pool_free(struct pool *p);

#endif
