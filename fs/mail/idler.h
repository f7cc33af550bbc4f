/* One IDLE round (RFC 2177), shared by the watchers and the NOTIFY
 * connection (RFC 5465 events arrive during IDLE too): re-issued well
 * within the 29-minute autologout, and a link silent for idle_timeout is
 * dead although it looks open. */
#ifndef INBOXFS_FS_MAIL_IDLER_H
#define INBOXFS_FS_MAIL_IDLER_H

#include <stdbool.h>

#include "imap/session.h"

struct account;
struct napper;

struct idler {
	struct account *a;
	struct imap_session *s;
	struct napper *stop;       /* a stop ends the round */
	const char *what;          /* for the log: the folder, or "NOTIFY" */
	bool (*changed)(void *ctx); /* something came that the caller acts on */
	void (*idling)(void *ctx);  /* the server said it idles (each round) */
	void *ctx;
	long long until_ms;        /* end the round by then too (monotonic; 0: no) */
};

/* IDLE until changed(), the re-issue time (idle_interval) or until_ms, a
 * stop, or the link dies (silent for idle_timeout: aborted, IMAP_R_TIMEOUT).
 * IMAP_R_OK: DONE is sent, and the caller's next command follows it in
 * the same round trip. */
enum imap_result idle_round(const struct idler *i);

#endif
