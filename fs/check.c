/* inboxfs --check: connect and log in as a mount would, then report what
 * the server offers and what inboxfs makes of it. */
#include "fs/check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/login.h"
#include "imap/commands.h"
#include "imap/session.h"
#include "imap/url.h"
#include "imap/utf7.h"

/* A name from the server is printed with at most this many bytes. */
#define NAME_SHOWN_MAX 120

/* One capability: what inboxfs does with it and without it. */
struct cap_row {
	const char *name;
	unsigned bit;
	const char *with, *without;
};

static const struct cap_row cap_rows[] = {
	{ "IDLE", CAP_IDLE, "new mail shows within moments (IDLE on each watched folder)",
	  NULL /* poll_interval: see row_note */ },
	{ "MOVE", CAP_MOVE, "mv: UID MOVE",
	  "mv: UID COPY, UID STORE +\\Deleted, UID EXPUNGE (needs UIDPLUS)" },
	{ "UIDPLUS", CAP_UIDPLUS, "rm: UID EXPUNGE of that message only; new names at once",
	  "rm and mv without MOVE refused (EPERM; -o expunge=unsafe allows a bare EXPUNGE); "
	  "cp/mv results show at the next listing" },
	{ "CONDSTORE", CAP_CONDSTORE, "user.imap.modseq", "no user.imap.modseq" },
	{ "QRESYNC", CAP_QRESYNC, "a folder opened again: the server says what vanished",
	  "a folder opened again: counts compared, UID SEARCH when they differ" },
	{ "NOTIFY", CAP_NOTIFY, "several watched folders: all on one connection; folders made, "
	  "deleted or renamed elsewhere show at once", "watched folders past the IDLE budget are "
	  "polled (STATUS every poll_interval)" },
	{ "LIST-STATUS", CAP_LIST_STATUS, "polling: one command for every folder's STATUS",
	  "polling: one STATUS per folder, pipelined" },
	{ "BINARY", CAP_BINARY, ".parts: the server decodes parts (BINARY.PEEK), sizes from "
	  "BINARY.SIZE", ".parts: parts fetched as sent and decoded here" },
	{ "SPECIAL-USE", CAP_SPECIAL_USE, "folders' roles from LIST (below)",
	  "folders' roles from LIST if the server sends them (below)" },
	{ "UNSELECT", CAP_UNSELECT, "leaving a folder: UNSELECT", "leaving a folder: EXAMINE INBOX" },
	{ "ESEARCH", CAP_ESEARCH, "UID SEARCH answers a compact set",
	  "UID SEARCH answers every UID" },
	{ "COMPRESS=DEFLATE", CAP_COMPRESS_DEFLATE, NULL /* the option: see row_note */,
	  "-o compress=yes does nothing" },
};

static const struct { unsigned flag; const char *name; } special_uses[] = {
	{ MBX_TRASH, "\\Trash" }, { MBX_SENT, "\\Sent" }, { MBX_DRAFTS, "\\Drafts" },
	{ MBX_JUNK, "\\Junk" }, { MBX_ARCHIVE, "\\Archive" }, { MBX_ALL, "\\All" },
	{ MBX_FLAGGED, "\\Flagged" },
};
#define NSPECIAL (sizeof(special_uses) / sizeof(special_uses[0]))

/* What LIST said. */
struct folders {
	unsigned n, noselect;
	char *special[NSPECIAL]; /* the first folder with each role, UTF-8 */
};

/* Bytes a terminal would act on are shown as \xNN; long names are cut. */
static void print_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < NAME_SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			printf("\\\\");
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	if (s[i])
		printf("...");
}

/* The folder's path as the mount shows it ("INBOX/Trash" for Courier's
 * "INBOX.Trash"); a name it cannot decode as the server sent it. */
static char *mount_path(const char *name, size_t len, char delim)
{
	char *p = imap_utf7_decode(name, len);

	if (!p)
		return strndup(name, len);
	for (char *c = p; delim && delim != '/' && (c = strchr(c, delim)); c++)
		*c = '/';
	return p;
}

static void on_list(void *ctx, const char *name, size_t len, char delim, unsigned flags)
{
	struct folders *f = ctx;

	f->n++;
	if (flags & MBX_NOSELECT)
		f->noselect++;
	for (size_t i = 0; i < NSPECIAL; i++)
		if ((flags & special_uses[i].flag) && !f->special[i])
			f->special[i] = mount_path(name, len, delim);
}

/* The note for one row, from the server's capabilities and the options. */
static void row_note(const struct cap_row *r, unsigned caps, bool qresync,
		     const struct options *o, char *out, size_t cap)
{
	bool have = caps & r->bit;

	if (r->bit == CAP_IDLE && !have)
		snprintf(out, cap, "new mail: NOOP every %u s (poll_interval)", o->poll_interval);
	else if (r->bit == CAP_QRESYNC && have && !qresync)
		snprintf(out, cap, "not enabled (ENABLE QRESYNC not offered or refused): %s",
			 r->without);
	else if (r->bit == CAP_UIDPLUS && !have && o->expunge_unsafe)
		snprintf(out, cap, "rm: a bare EXPUNGE (-o expunge=unsafe): it also removes what "
			 "other clients flagged \\Deleted");
	else if (r->bit == CAP_COMPRESS_DEFLATE && have)
		snprintf(out, cap, "%s", o->compress ? "on (-o compress=yes)"
						      : "off (-o compress=yes turns it on)");
	else
		snprintf(out, cap, "%s", have ? r->with : r->without);
}

static void print_capabilities(unsigned caps, bool qresync, const struct options *o)
{
	char note[256];

	printf("\n%-17s %-6s %s\n", "capability", "server", "inboxfs");
	for (size_t i = 0; i < sizeof(cap_rows) / sizeof(cap_rows[0]); i++) {
		row_note(&cap_rows[i], caps, qresync, o, note, sizeof(note));
		printf("%-17s %-6s %s\n", cap_rows[i].name, caps & cap_rows[i].bit ? "yes" : "no",
		       note);
	}
}

static void print_folders(const struct folders *f, const struct options *o)
{
	bool any = false;

	printf("\nspecial-use folders:\n");
	for (size_t i = 0; i < NSPECIAL; i++) {
		if (!f->special[i])
			continue;
		printf("%-17s ", special_uses[i].name);
		print_name(f->special[i]);
		putchar('\n');
		any = true;
	}
	if (!any)
		printf("(none)\n");
	if (o->delete_to_trash && !f->special[0])
		printf("-o delete=trash: no \\Trash folder, so rm will be refused\n");
}

static void print_connection(const struct options *o, const struct imap_url *u,
			     struct imap_session *s)
{
	printf("server:           ");
	print_name(o->url);
	if (!imap_session_is_tls(s))
		printf(" (plaintext: tls=none)\n");
	else
		printf(" (%s, certificate verified)\n", u->implicit_tls ? "TLS" : "STARTTLS");
}

/* Connected and logged in, QRESYNC enabled where offered (as a mount's
 * connection is), or NULL with the mount's one line on stderr. */
static struct imap_session *connect_and_login(const struct options *o, const struct imap_url *u,
					      struct login *l)
{
	struct imap_session_config cfg = {
		.host = u->host, .port = u->port, .implicit_tls = u->implicit_tls,
		.no_tls = o->tls && strcmp(o->tls, "none") == 0,
		.tls = { .cafile = o->cafile }, .timeout_ms = (int)o->timeout * 1000,
		.max_message = o->max_message_bytes,
	};
	struct imap_session *s = imap_session_new(&cfg);
	struct imap_status st;

	if (!s) {
		fprintf(stderr, "inboxfs: out of memory\n");
		return NULL;
	}
	if (imap_session_connect(s, &st) == IMAP_R_OK) {
		print_connection(o, u, s);
		if (login_run(l, s, &st) == IMAP_R_OK && imap_enable_qresync(s, &st) == IMAP_R_OK)
			return s;
	}
	if (st.result == IMAP_R_LOGIN && !imap_login_rejected(&st))
		fprintf(stderr, "inboxfs: the server cannot log anyone in now (a mount tries "
			"three more times): %s\n", st.text);
	else
		fprintf(stderr, "inboxfs: %s%s\n", st.result == IMAP_R_LOGIN ? "login rejected: " : "",
			st.text);
	imap_session_close(s);
	return NULL;
}

static int report(struct imap_session *s, const struct options *o, const struct imap_url *u)
{
	struct folders f = { 0 };
	struct imap_status st;
	int r = 1;

	printf("logged in as:     ");
	print_name(u->user);
	putchar('\n');
	if (imap_list(s, on_list, &f, &st) != IMAP_R_OK) {
		fprintf(stderr, "inboxfs: listing the folders failed: %s\n", st.text);
	} else {
		printf("folders:          %u", f.n);
		if (f.noselect)
			printf(" (%u of them \\Noselect: directories without messages)", f.noselect);
		putchar('\n');
		print_capabilities(imap_session_caps(s), imap_session_qresync(s), o);
		print_folders(&f, o);
		printf("\nresult:           a mount would work\n");
		r = 0;
	}
	for (size_t i = 0; i < NSPECIAL; i++)
		free(f.special[i]);
	return r;
}

int check_account(const struct options *o)
{
	struct imap_url u = { 0 };
	struct imap_session *s;
	struct login l;
	char err[512];
	int r = 1;

	if (o->mountpoint) {
		fprintf(stderr, "inboxfs: --check takes no mount point (it mounts nothing)\n");
		return 1;
	}
	if (imap_url_parse(o->url, &u, err, sizeof(err)) < 0 ||
	    login_init(&l, o, &u, err, sizeof(err)) < 0) {
		fprintf(stderr, "inboxfs: %s\n", err);
		imap_url_free(&u);
		return 1;
	}
	s = connect_and_login(o, &u, &l);
	if (s) {
		r = report(s, o, &u);
		imap_session_close(s); /* logs out */
	}
	login_free(&l);
	imap_url_free(&u);
	return r;
}
