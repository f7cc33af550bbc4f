/* IDLE (RFC 2177, RFC 9051 §6.3.13): the server pushes changes to the
 * selected mailbox.  Untagged data goes to the session's handler. */
#ifndef INBOXFS_IMAP_IDLE_H
#define INBOXFS_IMAP_IDLE_H

#include "imap/session.h"

/* Send IDLE and wait for the server's "+". */
enum imap_result imap_idle_begin(struct imap_session *s, char *tag, size_t taglen,
				 struct imap_status *st);
/* Wait up to timeout_ms for something from the server and dispatch it,
 * with every response that came in the same read: IMAP_R_OK (something
 * came), IMAP_R_TIMEOUT (nothing; still idling), or the reason the
 * connection is gone. */
enum imap_result imap_idle_wait(struct imap_session *s, int timeout_ms);
/* Send DONE and read up to IDLE's tagged completion. */
enum imap_result imap_idle_end(struct imap_session *s, const char *tag, struct imap_status *st);

/* Send DONE and go on at once: the next command follows DONE in the same
 * round trip (Dovecot, Cyrus and Courier all answer it), and IDLE's tagged
 * completion is read and set aside whenever it comes. */
enum imap_result imap_idle_done(struct imap_session *s, const char *tag);

#endif
