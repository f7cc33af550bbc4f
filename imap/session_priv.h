/* The session's insides, shared by session.c (the engine) and
 * commands.c (the individual commands).  Nothing else includes this. */
#ifndef INBOXFS_IMAP_SESSION_PRIV_H
#define INBOXFS_IMAP_SESSION_PRIV_H

#include <stdatomic.h>

#include "imap/session.h"

enum imap_aside { ASIDE_NONE, ASIDE_IDLE, ASIDE_ENABLE };

struct imap_session {
	char name[32];              /* for log lines: "imap-1" */
	struct imap_session_config cfg;
	struct net_conn *net;
	struct imap_parser *parser;
	enum imap_state state;
	unsigned caps;
	bool have_caps;
	bool qresync;               /* ENABLEd: expunges come as VANISHED */
	bool broken;
	atomic_bool aborted;        /* imap_session_abort: going away on purpose */
	enum imap_result broken_result;
	char broken_text[200];
	char bye_text[200];         /* what the server said with BYE, if it did */
	long long auth_ms;          /* monotonic time of the login (0: not yet) */
	long long deadline_ms;      /* imap_session_set_deadline (0: none) */
	unsigned tag_counter;
	long long rtt_us;           /* the shortest command round trip seen (0: none yet) */
	/* Commands whose answer nobody waits for (imap_session_set_aside):
	 * their tagged response is read and put aside by the session. */
	struct { char tag[16]; enum imap_aside kind; } aside[2];
	_Atomic long long last_rx_ms;  /* monotonic time of the last bytes read */
	imap_untagged_fn untagged_fn;
	void *untagged_ctx;
	size_t rlen, roff;
	char rbuf[64 * 1024];
};

/* How long the next wait for the server may take, in ms (0: no time
 * left): timeout_ms, or what the deadline leaves. */
int imap_session_wait_ms(const struct imap_session *s);
/* The tagged answer to the command just sent under `tag` is read and
 * dealt with by the session (an IDLE ended by DONE, ENABLE QRESYNC): the
 * next command goes out without waiting for it.  False when two are
 * pending already (the caller then waits as usual). */
bool imap_session_set_aside(struct imap_session *s, const char *tag, enum imap_aside kind);
void imap_session_dispatch(struct imap_session *s, struct imap_response *r, imap_untagged_fn fn,
			   void *ctx);
/* A response that puts the stream out of step (a tag never sent, a
 * continuation nobody asked for): logged, freed, and the connection
 * broken.  IMAP_R_PROTOCOL. */
enum imap_result imap_session_refuse(struct imap_session *s, struct imap_response *r,
				     const char *why);

#endif
