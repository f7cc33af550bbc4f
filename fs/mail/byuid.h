/* Commands by UID on a connection that may be behind.
 *
 * A server answers a UID command from what that session has been told of
 * the mailbox.  A message an IDLE watcher announced (or another
 * connection fetched) may be news to the connection serving the call:
 * Dovecot then answers UID FETCH, STORE, COPY, MOVE and EXPUNGE with the
 * EXISTS and no data, Courier with nothing until a NOOP; Cyrus looks
 * first.  So a command that had no effect on UIDs the index shows brings
 * that connection up to date (view_learn) and runs once more for them,
 * before anything is reported.  Every path that acts on UIDs goes
 * through here: reads and read-ahead, flags, rm and mv. */
#ifndef INBOXFS_FS_MAIL_BYUID_H
#define INBOXFS_FS_MAIL_BYUID_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mail/view.h"

/* UIDs a command had no effect on, in the order met (bounded: past
 * BYUID_MAX_MISSED they are left to be asked for again when wanted). */
struct uid_list {
	uint32_t *uids;
	size_t n, cap;
};
#define BYUID_MAX_MISSED 4096

void uid_list_add(struct uid_list *l, uint32_t uid);
void uid_list_free(struct uid_list *l);

/* Run the command for uids on v's connection.  It returns IMAP_R_OK when
 * it went through, with the UIDs it had no effect on in *missed; any
 * other result is a failure to report as it is. */
typedef enum imap_result (*byuid_fn)(void *ctx, const uint32_t *uids, size_t n,
				     struct uid_list *missed, struct imap_status *st);

/* fn for uids, then once more for those it missed that the index still
 * shows in v's folder, after v has learnt what its server had not told
 * it.  What a second miss means is the caller's to say (fn's ctx). */
enum imap_result byuid_run(struct view *v, const uint32_t *uids, size_t n, byuid_fn fn,
			   void *ctx, struct imap_status *st);

#endif
