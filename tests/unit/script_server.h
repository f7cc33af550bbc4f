/* A scripted IMAP server for unit tests: a thread on 127.0.0.1 (plain
 * IMAP) that plays a list of steps in order and records every command it
 * reads.  Anything the script did not foresee (a command other than the
 * one expected, a connection or a command after the last step) is a
 * problem, reported by ss_finish.  The test and the thread meet on real
 * events (a connection accepted, a line read), never on sleeps. */
#ifndef INBOXFS_TEST_SCRIPT_SERVER_H
#define INBOXFS_TEST_SCRIPT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

enum ss_op {
	SS_ACCEPT,  /* wait for the next connection */
	SS_SEND,    /* send text: lines separated by \n (CRLF added) */
	SS_EXPECT,  /* read a command whose text after the tag starts with arg (case
		     * ignored), then send text; its lines not starting with '*' or
		     * '+' get the command's tag */
	SS_CLOSE,   /* close the connection */
	SS_SILENT,  /* read and record, answer nothing, until the client closes */
	SS_REFUSE,  /* stop listening: connecting is refused until SS_LISTEN */
	SS_LISTEN,  /* listen again, on the same port */
};

struct ss_step {
	enum ss_op op;
	const char *arg;   /* SS_EXPECT: the command; SS_SEND: the text */
	const char *text;  /* SS_EXPECT: the answer (NULL: none) */
};

/* Steps, for a script written as a list of calls. */
static inline struct ss_step ss_accept(void) { return (struct ss_step){ SS_ACCEPT, 0, 0 }; }
static inline struct ss_step ss_send(const char *t) { return (struct ss_step){ SS_SEND, t, 0 }; }
static inline struct ss_step ss_expect(const char *cmd, const char *answer)
{
	return (struct ss_step){ SS_EXPECT, cmd, answer };
}
static inline struct ss_step ss_close(void) { return (struct ss_step){ SS_CLOSE, 0, 0 }; }
static inline struct ss_step ss_silent(void) { return (struct ss_step){ SS_SILENT, 0, 0 }; }
static inline struct ss_step ss_refuse(void) { return (struct ss_step){ SS_REFUSE, 0, 0 }; }
static inline struct ss_step ss_listen(void) { return (struct ss_step){ SS_LISTEN, 0, 0 }; }

struct script_server;

/* Listen on 127.0.0.1 (a free port) and play steps[0..n) in a thread; the
 * steps must outlive the server.  NULL (after a message) on failure. */
struct script_server *ss_start(const struct ss_step *steps, size_t n);
unsigned ss_port(const struct script_server *ss);
/* Wait until the first `steps` steps are done: true, or false after a
 * bound (10 s times INBOXFS_TIMEOUT_SCALE) or when the script failed. */
bool ss_wait(struct script_server *ss, size_t steps);
/* How many commands read so far begin (after the tag) with prefix. */
size_t ss_count(struct script_server *ss, const char *prefix);
/* How many connections were accepted so far. */
size_t ss_accepts(struct script_server *ss);
/* Stop the thread and free ss.  Returns the number of problems: steps not
 * done, a command other than the one expected, a connection or a command
 * nobody expected; each printed on stderr with the commands read. */
int ss_finish(struct script_server *ss);

#endif
