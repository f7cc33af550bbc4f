/* One IMAP connection: its state, the commands in flight and the routing
 * of responses to whoever waits for them.  Not thread-safe: the owner of
 * a session (one worker at a time) serialises access. */
#ifndef INBOXFS_IMAP_SESSION_H
#define INBOXFS_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/net.h"
#include "imap/parser.h"

/* Outcome of an IMAP operation.  The one place that turns these into
 * errno values is fs/errno_map.c. */
enum imap_result {
	IMAP_R_OK = 0,
	IMAP_R_NO,          /* the server refused (see code/text) */
	IMAP_R_BAD,         /* the server did not understand us */
	IMAP_R_LOGIN,       /* authentication rejected */
	IMAP_R_UNSUPPORTED, /* a capability we need is missing */
	IMAP_R_CONNECT,     /* could not reach the server */
	IMAP_R_TLS,         /* TLS handshake or verification failed */
	IMAP_R_TIMEOUT,     /* the server stopped answering */
	IMAP_R_LOST,        /* connection closed, BYE, or I/O error */
	IMAP_R_PROTOCOL,    /* the server sent something we cannot trust */
	IMAP_R_NOMEM,
	IMAP_R_GONE,        /* the message or mailbox no longer exists */
	IMAP_R_CREDENTIALS, /* no usable password or token on our side */
	/* Refused by inboxfs itself, before anything is sent: */
	IMAP_R_INVALID,     /* a name that cannot become a mailbox name */
	IMAP_R_EXISTS,      /* the target exists already */
	IMAP_R_NOTEMPTY,    /* a folder that still holds something */
};

/* Response codes (RFC 5530 and friends) that change what we do. */
enum imap_code {
	IMAP_CODE_NONE, IMAP_CODE_TRYCREATE, IMAP_CODE_NONEXISTENT, IMAP_CODE_OVERQUOTA,
	IMAP_CODE_CANNOT, IMAP_CODE_NOPERM, IMAP_CODE_LIMIT, IMAP_CODE_INUSE,
	IMAP_CODE_AUTHENTICATIONFAILED, IMAP_CODE_AUTHORIZATIONFAILED, IMAP_CODE_UNAVAILABLE,
	IMAP_CODE_EXPIRED, IMAP_CODE_ALREADYEXISTS, IMAP_CODE_SERVERBUG, IMAP_CODE_COPYUID,
	IMAP_CODE_READONLY, IMAP_CODE_APPENDUID, IMAP_CODE_OTHER,
};

struct imap_status {
	enum imap_result result;
	enum imap_code code;
	char code_args[96]; /* the response code's arguments: "[COPYUID 7 3 15]" -> "7 3 15" */
	char text[256];     /* the server's text or our reason, for the log */
};

enum imap_state {
	IMAP_ST_DISCONNECTED,
	IMAP_ST_CONNECTING,
	IMAP_ST_NOT_AUTHENTICATED,
	IMAP_ST_AUTHENTICATED,
	IMAP_ST_SELECTED,
	IMAP_ST_LOGOUT,
};

/* Capabilities we act on. */
enum {
	CAP_IMAP4REV1 = 1u << 0, CAP_IMAP4REV2 = 1u << 1, CAP_STARTTLS = 1u << 2,
	CAP_LOGINDISABLED = 1u << 3, CAP_SASL_IR = 1u << 4, CAP_LITERALPLUS = 1u << 5,
	CAP_LITERALMINUS = 1u << 6, CAP_IDLE = 1u << 7, CAP_UIDPLUS = 1u << 8,
	CAP_MOVE = 1u << 9, CAP_CONDSTORE = 1u << 10, CAP_QRESYNC = 1u << 11,
	CAP_ENABLE = 1u << 12, CAP_SPECIAL_USE = 1u << 13, CAP_NAMESPACE = 1u << 14,
	CAP_AUTH_PLAIN = 1u << 16, CAP_AUTH_LOGIN = 1u << 17, CAP_AUTH_XOAUTH2 = 1u << 18,
	CAP_AUTH_OAUTHBEARER = 1u << 19, CAP_UNSELECT = 1u << 20, CAP_ESEARCH = 1u << 21,
	CAP_COMPRESS_DEFLATE = 1u << 22, CAP_BINARY = 1u << 24, CAP_NOTIFY = 1u << 23,
	CAP_LIST_STATUS = 1u << 26,
	/* Gmail's extensions (X-GM-RAW search). */
	CAP_XGM_EXT1 = 1u << 25,
};

struct imap_session;

/* Called for each untagged response.  Return true when consumed. */
typedef bool (*imap_untagged_fn)(struct imap_session *s, struct imap_response *r, void *ctx);

struct imap_session_config {
	const char *host;
	unsigned port;
	bool implicit_tls;          /* imaps:// */
	bool no_tls;                /* tls=none: plaintext, only when asked */
	struct net_tls_config tls;
	int timeout_ms;             /* per read/write/connect (but see imap_session_set_deadline) */
	size_t max_message;         /* largest literal accepted */
};

/* A bulk fetch has about `bytes` of responses still to come: wake for
 * them in batches rather than for each segment (net_batch_reads); 1 (the
 * default) turns batching off. */
void imap_session_batch_reads(struct imap_session *s, size_t bytes);

/* Connect, read the greeting, negotiate TLS (implicit or STARTTLS) and
 * learn the capabilities.  On failure returns NULL and fills st. */
struct imap_session *imap_session_open(const struct imap_session_config *cfg,
				       struct imap_status *st);
/* The same in two steps, so that another thread can abort the session
 * while it connects: a session with no I/O yet, then the connection. */
struct imap_session *imap_session_new(const struct imap_session_config *cfg);
enum imap_result imap_session_connect(struct imap_session *s, struct imap_status *st);
void imap_session_close(struct imap_session *s); /* LOGOUT when possible, then free */
void imap_session_abort(struct imap_session *s); /* thread-safe: wake and fail the owner */

enum imap_state imap_session_state(const struct imap_session *s);
void imap_session_set_state(struct imap_session *s, enum imap_state st);
unsigned imap_session_caps(const struct imap_session *s);
bool imap_session_usable(const struct imap_session *s);
/* Why a session that is no longer usable broke (IMAP_R_TIMEOUT: the server
 * went silent), with the reason in words; IMAP_R_OK while it is usable. */
enum imap_result imap_session_broken(const struct imap_session *s, const char **why);
/* Whether the connection runs TLS, and whether its peer address is
 * loopback (the address as text to addr): what decides whether
 * credentials may be sent in clear. */
bool imap_session_is_tls(const struct imap_session *s);
bool imap_session_peer_is_loopback(const struct imap_session *s, char *addr, size_t addrlen);
/* The text of the server's BYE ("" if it sent none), and the monotonic
 * time of the login (0 before): a session that ends with "BYE Session
 * invalidated - AccessTokenExpired" tells which token died. */
const char *imap_session_bye_text(const struct imap_session *s);
long long imap_session_auth_ms(const struct imap_session *s);
/* Milliseconds since the server last sent anything (-1: never).  Any
 * thread. */
long long imap_session_quiet_ms(const struct imap_session *s);
/* The answer is due at deadline_ms (monotonic): from now on every wait for
 * the server (connect, TLS handshake, each read and write) ends by then,
 * or `timeout` after the server last sent something if that is later (a
 * server that is sending is alive).  0: each wait may take `timeout`
 * (the IDLE watchers).  The owner's thread only. */
void imap_session_set_deadline(struct imap_session *s, long long deadline_ms);

/* The connection's round trip in microseconds, as its own commands have
 * measured it (the shortest from sending to the tagged answer); 0 before
 * any.  What a pipeline must keep in flight to fill the link follows. */
long long imap_session_rtt_us(const struct imap_session *s);

/* The handler for untagged data that no command claimed (EXISTS,
 * EXPUNGE, FETCH of flags...): the mailbox layer sets it. */
void imap_session_set_untagged(struct imap_session *s, imap_untagged_fn fn, void *ctx);

/* A command to send.  `line` is the command without tag and CRLF.
 * `secret` hides the arguments from the protocol trace. */
struct imap_cmd {
	const char *line;
	bool secret;
	struct imap_status st;  /* filled in on completion */
};

/* Send the commands with up to `window` in flight at once, and read until
 * all are answered.  Untagged responses go to fn first (may be NULL).
 * Returns IMAP_R_OK when the connection survived (each command has its
 * own status), or the reason it did not. */
enum imap_result imap_run(struct imap_session *s, struct imap_cmd *cmds, size_t n,
			  imap_untagged_fn fn, void *ctx);
/* Commands produced while earlier ones run (a read-ahead stream).
 * next() gives a command (the feeder's, untouched until done()), or NULL
 * when there is none to send now; it is asked again whenever half the
 * window has been answered (a feed of large commands asks for a smaller
 * window: what is in flight is what a yield must wait for), and the run
 * ends once nothing is in flight and next() has nothing.  done() gets
 * each command with its status set, in the order the server answers,
 * also when the connection broke. */
struct imap_feed {
	struct imap_cmd *(*next)(void *ctx);
	void (*done)(void *ctx, struct imap_cmd *cmd);
	void *ctx;
	size_t window;  /* commands in flight at most; 0 (or over 64): 64 */
};
enum imap_result imap_run_feed(struct imap_session *s, const struct imap_feed *feed,
			       imap_untagged_fn fn, void *ctx);
/* Convenience: one command, result in st. */
enum imap_result imap_simple(struct imap_session *s, struct imap_status *st, imap_untagged_fn fn,
			     void *ctx, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Send an arbitrary line (for SASL continuations).  Not traced when secret. */
enum imap_result imap_send_line(struct imap_session *s, const char *line, size_t len, bool secret);
/* Send a literal's bytes (after its {N} line) and the CRLF that ends the
 * command; traced as a byte count only. */
enum imap_result imap_send_literal(struct imap_session *s, const char *data, size_t len);
/* Send a literal's bytes alone: more of the command follows
 * (imap_send_line).  Traced as a byte count only. */
enum imap_result imap_send_bytes(struct imap_session *s, const char *data, size_t len);
/* Read one response (blocking up to the timeout, or the deadline). */
enum imap_result imap_read_response(struct imap_session *s, struct imap_response **out);
/* Bytes of a response are read and not parsed yet. */
bool imap_session_buffered(const struct imap_session *s);
/* The same with its own timeout (-1: the usual one); with quiet_ok, no
 * response at all within it gives IMAP_R_TIMEOUT and leaves the
 * connection usable (IDLE). */
enum imap_result imap_read_response_within(struct imap_session *s, struct imap_response **out,
					   int timeout_ms, bool quiet_ok);
/* Start a command and return its tag (for AUTHENTICATE, IDLE). */
enum imap_result imap_start_command(struct imap_session *s, const char *line, bool secret,
				    char *tag, size_t taglen);

/* The simple (atom, number) arguments of a response code, space-separated. */
void imap_code_args(const struct imap_value *code, char *out, size_t cap);
/* Fill st from a tagged response. */
void imap_status_from_response(struct imap_status *st, const struct imap_response *r);
void imap_status_set(struct imap_status *st, enum imap_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *imap_result_name(enum imap_result r);
/* The server turned the credentials down: a NO to the login, except one
 * that says the login service is down for now ([UNAVAILABLE], RFC 5530
 * section 3), which is a temporary failure like a lost connection.  A
 * rejection waits a minute before the next try (no hammering an account
 * into a lock-out); a temporary failure takes the usual backoff. */
bool imap_login_rejected(const struct imap_status *st);

/* Quote a string as an IMAP quoted string into out (cap bytes).  Returns
 * -1 when it cannot be quoted (CR, LF, NUL, 8-bit without UTF8 support,
 * or too long): such arguments must be refused or sent as literals. */
int imap_quote(char *out, size_t cap, const char *s);

#endif
