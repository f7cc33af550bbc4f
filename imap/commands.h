/* The IMAP commands inboxfs sends, each a small function over the
 * session engine.  Mailbox names here are the raw (modified UTF-7) names
 * as the server spells them; callers validate and convert. */
#ifndef INBOXFS_IMAP_COMMANDS_H
#define INBOXFS_IMAP_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/search.h"
#include "imap/seqmap.h"
#include "imap/session.h"

/* SASL exchange (RFC 4422, RFC 3501 §6.2.2, RFC 4959 SASL-IR).
 * initial_b64 is the base64 initial response ("" for an empty one).
 * When the server answers it with a challenge (an error report in the
 * OAuth mechanisms), `failure_reply` is sent ("" or "AQ==") and the
 * decoded challenge is logged.  Login refusals give IMAP_R_LOGIN. */
enum imap_result imap_authenticate(struct imap_session *s, const char *mech,
				   const char *initial_b64, const char *failure_reply,
				   struct imap_status *st);
/* LOGIN (RFC 3501 §6.2.3): for servers without a SASL mechanism we know. */
enum imap_result imap_login(struct imap_session *s, const char *user, const char *password,
			    struct imap_status *st);
enum imap_result imap_capability(struct imap_session *s, struct imap_status *st);
enum imap_result imap_noop(struct imap_session *s, struct imap_status *st);
void imap_logout(struct imap_session *s);

/* LIST (RFC 3501 §6.3.8, RFC 6154 special-use attributes). */
enum {
	MBX_NOSELECT = 1u << 0, MBX_NOINFERIORS = 1u << 1, MBX_NONEXISTENT = 1u << 2,
	MBX_HASCHILDREN = 1u << 3, MBX_HASNOCHILDREN = 1u << 4, MBX_MARKED = 1u << 5,
	MBX_TRASH = 1u << 8, MBX_SENT = 1u << 9, MBX_DRAFTS = 1u << 10, MBX_JUNK = 1u << 11,
	MBX_ARCHIVE = 1u << 12, MBX_ALL = 1u << 13, MBX_FLAGGED = 1u << 14,
};
/* name is the raw name (NUL-free, validated as an astring), delim 0 for NIL. */
typedef void (*imap_list_fn)(void *ctx, const char *name, size_t len, char delim, unsigned flags);
enum imap_result imap_list(struct imap_session *s, imap_list_fn fn, void *ctx,
			   struct imap_status *st);
/* One LIST line: an answer to LIST, or NOTIFY's news of a folder
 * created, deleted (\NonExistent) or renamed (RFC 5465 §5.4, with RFC
 * 5258 §3.5's OLDNAME).  Names are raw, pointing into the response
 * (NUL-terminated; name may hold a NUL, oldname is NUL-free, non-empty). */
struct imap_list_line {
	const char *name;
	size_t len;
	const char *oldname;       /* the name before a rename, else NULL */
	size_t oldlen;
	char delim;                /* 0 for NIL */
	unsigned flags;            /* MBX_* */
};
/* False when r is not a well-formed LIST line. */
bool imap_list_parse(const struct imap_response *r, struct imap_list_line *out);

struct imap_select_info {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t exists;
	uint64_t highestmodseq;   /* 0: the server keeps none (no CONDSTORE) */
	bool readonly;
};
/* What the client knew of a mailbox, for a QRESYNC select (RFC 7162
 * §3.2.5): the server then reports what vanished since (VANISHED
 * (EARLIER)) and which flags changed, instead of the client asking. */
struct imap_qresync {
	uint32_t uidvalidity;
	uint64_t modseq;
};
/* SELECT/EXAMINE; qr (NULL: none) only once QRESYNC is enabled. */
enum imap_result imap_select(struct imap_session *s, const char *mailbox, bool readonly,
			     const struct imap_qresync *qr, struct imap_select_info *info,
			     struct imap_status *st);
/* ENABLE QRESYNC (RFC 7162 §3.2.3): from then on the server reports
 * expunges as VANISHED with UIDs.  Sent without waiting: the next command
 * follows in the same round trip, the answer is read with its answers.
 * IMAP_R_OK unless the connection broke; imap_session_qresync() tells
 * whether the server agreed (as far as it has said yet). */
enum imap_result imap_enable_qresync(struct imap_session *s, struct imap_status *st);
bool imap_session_qresync(const struct imap_session *s);

/* System flags as bits. */
enum {
	MSG_SEEN = 1u << 0, MSG_ANSWERED = 1u << 1, MSG_FLAGGED = 1u << 2, MSG_DELETED = 1u << 3,
	MSG_DRAFT = 1u << 4, MSG_RECENT = 1u << 5,
};

struct imap_msg_meta {
	uint32_t seq;
	uint32_t uid;
	uint64_t size;        /* RFC822.SIZE */
	int64_t internaldate; /* seconds since the epoch, UTC */
	unsigned flags;
	bool has_size, has_date, has_flags;
};

/* Parse the items of an untagged FETCH (shared with the mailbox layer's
 * handling of unsolicited FETCH).  False when it is not a FETCH. */
bool imap_parse_fetch(const struct imap_response *r, struct imap_msg_meta *m);

typedef void (*imap_meta_fn)(void *ctx, const struct imap_msg_meta *m);
/* UID FETCH <uidset> (UID RFC822.SIZE INTERNALDATE FLAGS) */
enum imap_result imap_fetch_meta(struct imap_session *s, const char *uidset, imap_meta_fn fn,
				 void *ctx, struct imap_status *st);

/* Body handler: takes ownership of data (malloc'd, len bytes). */
typedef void (*imap_body_fn)(void *ctx, uint32_t uid, char *data, size_t len);
/* The metadata of uidset, as imap_fetch_meta, and in the same command the
 * bodies of those no larger than limit bytes (BODY.PEEK[]<0.limit>: a
 * message the server sends whole in fewer bytes than asked for ends
 * there).  What came cut off at limit is dropped.  Both go to their fn;
 * body_fn takes the malloc'd data. */
enum imap_result imap_fetch_meta_small(struct imap_session *s, const char *uidset, size_t limit,
				       imap_meta_fn meta_fn, imap_body_fn body_fn, void *ctx,
				       struct imap_status *st);
/* UID sets to fetch, asked for while earlier ones arrive (imap_run_feed):
 * next() gives a set ("4,5,9") or NULL when there is none now, and an id
 * handed back to done() once that command has its answer (or failed). */
struct imap_uidset_feed {
	const char *(*next)(void *ctx, void **id);
	void (*done)(void *ctx, void *id, const struct imap_status *st);
	void *ctx;
	size_t window;  /* sets in flight at most (struct imap_feed) */
};
/* UID FETCH <set> (UID BODY.PEEK[]) for each set, pipelined.  BODY.PEEK
 * never sets \Seen (RFC 3501 §6.4.5).  st: the first failure, if any. */
enum imap_result imap_fetch_bodies(struct imap_session *s, const struct imap_uidset_feed *feed,
				   imap_body_fn fn, void *ctx, struct imap_status *st);

/* epoch seconds -> "05-Nov-2026 10:00:00 +0000" (RFC 3501 date-time, UTC,
 * English month names whatever the locale). */
void imap_format_date(int64_t date, char *out, size_t cap);
/* "17-Jul-1996 02:44:25 -0700" -> epoch seconds.  -1 on a bad date. */
int imap_parse_date_time(const char *s, size_t len, int64_t *out);

/* ---- changes (RFC 3501 §6.3-6.4, RFC 4315 UIDPLUS, RFC 6851 MOVE) ---- */

/* Where a copied or moved message went: COPYUID (RFC 4315 §3). */
struct imap_copyuid {
	bool valid;
	uint32_t uidvalidity;
	uint32_t dst_uid;
};

/* UID STORE <uid> <+|->FLAGS.SILENT (<flags>) */
enum imap_result imap_uid_store(struct imap_session *s, uint32_t uid, char op, const char *flags,
				struct imap_status *st);
/* UID EXPUNGE <uid> (needs UIDPLUS), or the whole-mailbox EXPUNGE. */
enum imap_result imap_uid_expunge(struct imap_session *s, uint32_t uid, struct imap_status *st);
enum imap_result imap_expunge_all(struct imap_session *s, struct imap_status *st);
/* UID MOVE / UID COPY <uid> <mailbox>; cu filled from COPYUID when sent. */
enum imap_result imap_uid_move(struct imap_session *s, uint32_t uid, const char *mailbox,
			       struct imap_copyuid *cu, struct imap_status *st);
enum imap_result imap_uid_copy(struct imap_session *s, uint32_t uid, const char *mailbox,
			       struct imap_copyuid *cu, struct imap_status *st);
enum imap_result imap_create(struct imap_session *s, const char *mailbox, struct imap_status *st);
enum imap_result imap_delete(struct imap_session *s, const char *mailbox, struct imap_status *st);
enum imap_result imap_rename(struct imap_session *s, const char *from, const char *to,
			     struct imap_status *st);
/* UID STORE <uid> FLAGS (<flags>): replace every flag.  *answered: the
 * server sent the message's flags back (it does not when they were
 * already so, nor for a message the session has not been told of). */
enum imap_result imap_uid_set_flags(struct imap_session *s, uint32_t uid, const char *flags,
				    bool *answered, struct imap_status *st);
/* UID FETCH <uid> (FLAGS [MODSEQ]): the flags as the server names them,
 * space-separated ("\Seen $Forwarded"), and the MODSEQ (RFC 7162) when
 * modseq is not NULL.  IMAP_R_GONE when the message is not there. */
enum imap_result imap_uid_get_flags(struct imap_session *s, uint32_t uid, char *flags,
				    size_t cap, uint64_t *modseq, struct imap_status *st);

/* COMPRESS DEFLATE (RFC 4978): from its OK on, both directions are
 * compressed. */
enum imap_result imap_compress(struct imap_session *s, struct imap_status *st);

/* Where an appended message went: APPENDUID (RFC 4315 §3). */
struct imap_appenduid {
	bool valid;
	uint32_t uidvalidity;
	uint32_t uid;
};
/* APPEND <mailbox> [(<flags>)] "<date>" {<len>} (RFC 3501 §6.3.11): the
 * bytes as given; date < 0: the server's clock.  A synchronising literal
 * unless the server has LITERAL+, so that a refusal (size, quota) comes
 * before the bytes are sent. */
enum imap_result imap_append(struct imap_session *s, const char *mailbox, const char *flags,
			     int64_t date, const char *data, size_t len,
			     struct imap_appenduid *au, struct imap_status *st);
/* Parse "uidvalidity src dst" (one UID each side) into cu. */
bool imap_parse_copyuid(const char *args, struct imap_copyuid *cu);

#endif
