/* The view of a selected folder (fs/mail/view.c) against a scripted server:
 * what SELECT/EXAMINE, EXPUNGE, VANISHED, EXISTS and a new UIDVALIDITY
 * do to the folder the index shows. */
#include <stdio.h>

#include "check.h"
#include "account_fixture.h"
#include "common/clock.h"
#include "fs/mail/lookup.h"
#include "imap/commands.h"
#include "script_server.h"

#define N(steps) (sizeof(steps) / sizeof((steps)[0]))
#define LIST_INBOX "* LIST () \"/\" INBOX\nOK done"
#define BYE "* BYE bye\nOK done"
#define DATE "INTERNALDATE \"01-Jan-2024 10:00:00 +0000\""
/* INBOX with UIDs 10, 20, 30 (UIDVALIDITY 7); 20 is \Seen. */
#define EXAMINE_3 "* 3 EXISTS\n* 0 RECENT\n* OK [UIDVALIDITY 7] UIDs valid\n" \
	"* OK [UIDNEXT 31] next\n* FLAGS (\\Seen)\nOK [READ-ONLY] done"
#define FETCH_3 "* 1 FETCH (UID 10 FLAGS () RFC822.SIZE 100 " DATE ")\n" \
	"* 2 FETCH (UID 20 FLAGS (\\Seen) RFC822.SIZE 200 " DATE ")\n" \
	"* 3 FETCH (UID 30 FLAGS () RFC822.SIZE 300 " DATE ")\nOK done"
#define FETCH_ALL "UID FETCH 1:*"

struct uids {
	struct folder *f;
	char out[256];
};

static void take_uids(struct account *a, void *ctx)
{
	struct uids *u = ctx;
	size_t len = 0;

	(void)a;
	u->out[0] = '\0';
	for (size_t i = 0; i < u->f->nmsgs && len < sizeof(u->out) - 12; i++)
		len += (size_t)snprintf(u->out + len, sizeof(u->out) - len, "%s%u", i ? " " : "",
					u->f->msgs[i].uid);
}

/* The UIDs the index shows in f, as "10 20 30". */
static const char *uids_of(struct account *a, struct folder *f)
{
	static struct uids u;

	u.f = f;
	account_with_index(a, take_uids, &u);
	return u.out;
}

static struct folder *open_inbox(struct account *a, struct options *o, struct script_server *ss)
{
	char err[256];

	if (fx_open(a, o, ss_port(ss), NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "account_open: %s\n", err);
		return NULL;
	}
	return fx_folder(a, "INBOX");
}

/* The first steps of every script here: login, LIST, and the EXAMINE of
 * INBOX (UIDs 10 20 30) on its first open; login answered login_ok. */
static size_t opening(struct ss_step *steps, const char *login_ok)
{
	size_t n = 0;

	steps[n++] = ss_accept();
	steps[n++] = ss_send(FX_GREETING);
	steps[n++] = ss_expect(FX_LOGIN, login_ok);
	steps[n++] = ss_expect("LIST", LIST_INBOX);
	steps[n++] = ss_expect("EXAMINE \"INBOX\"", EXAMINE_3);
	steps[n++] = ss_expect(FETCH_ALL, FETCH_3);
	return n;
}

/* Open the account and INBOX, as the script's opening says. */
static struct folder *open_and_examine(struct account *a, struct options *o,
				       struct script_server *ss)
{
	struct folder *f = open_inbox(a, o, ss);
	struct imap_status st;

	if (!f || view_open(&a->view, f, false, false, &st) != IMAP_R_OK)
		return NULL;
	return f;
}

/* What the user sees at the next listing: a NOOP (view_open with noop)
 * and what its answer says. */
static const char *relist(struct account *a, struct folder *f)
{
	struct imap_status st;

	if (view_open(&a->view, f, false, true, &st) != IMAP_R_OK) {
		fprintf(stderr, "view_open: %s\n", st.text);
		return "(failed)";
	}
	return uids_of(a, f);
}

/* EXAMINE fills the folder with the messages the server reports, with
 * their sizes, flags and UIDVALIDITY. */
static void select_fills_folder(void)
{
	struct ss_step steps[16];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct account a;
	struct options o;
	struct folder *f;

	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL);
	CHECK_STR(uids_of(&a, f), "10 20 30");
	CHECK(f && f->loaded && f->uidvalidity == 7 && f->uidnext == 31);
	CHECK(f && f->nmsgs == 3 && f->msgs[1].size == 200 && (f->msgs[1].flags & MSG_SEEN) &&
	      !f->msgs[0].flags);
	CHECK(a.view.f == f && a.view.exists == 3 && view_has(&a.view, 30));
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* An untagged EXPUNGE names a sequence number: the second "* 2 EXPUNGE"
 * is UID 30 once 20 is gone. */
static void expunge_removes_uid(void)
{
	struct ss_step steps[16];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct account a;
	struct options o;
	struct folder *f;

	steps[n++] = ss_expect("NOOP", "* 2 EXPUNGE\nOK done");
	steps[n++] = ss_expect("NOOP", "* 2 EXPUNGE\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL);
	CHECK_STR(relist(&a, f), "10 30");
	CHECK(!view_has(&a.view, 20) && a.view.exists == 2);
	CHECK_STR(relist(&a, f), "10");
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* With QRESYNC enabled the server names expunged messages by UID. */
static void vanished_removes_uid(void)
{
	struct ss_step steps[16];
	size_t n = opening(steps, "OK [CAPABILITY IMAP4rev1 UIDPLUS ENABLE QRESYNC] logged in");
	struct script_server *ss;
	struct account a;
	struct options o;
	struct folder *f;

	/* ENABLE goes out right after the login, its answer read later. */
	memmove(&steps[4], &steps[3], 3 * sizeof(steps[0]));
	steps[3] = ss_expect("ENABLE QRESYNC", "* ENABLED QRESYNC\nOK enabled");
	n++;
	steps[n++] = ss_expect("NOOP", "* VANISHED 20\nOK done");
	steps[n++] = ss_expect("NOOP", "* VANISHED 10,30\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL && imap_session_qresync(a.session));
	CHECK_STR(relist(&a, f), "10 30");
	CHECK(a.view.exists == 2);
	CHECK_STR(relist(&a, f), "");
	CHECK(a.view.exists == 0);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* EXISTS says there is more: the catch-up fetches from the last UID the
 * view knows on, and the folder shows the new messages. */
static void exists_then_catch_up(void)
{
	struct ss_step steps[16];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct account a;
	struct options o;
	struct folder *f;

	steps[n++] = ss_expect("NOOP", "* 5 EXISTS\nOK done");
	steps[n++] = ss_expect("UID FETCH 31:*",
			       "* 4 FETCH (UID 40 FLAGS () RFC822.SIZE 400 " DATE ")\n"
			       "* 5 FETCH (UID 41 FLAGS () RFC822.SIZE 410 " DATE ")\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL);
	CHECK_STR(relist(&a, f), "10 20 30 40 41");
	CHECK(view_has(&a.view, 41) && a.view.exists == 5);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* Break the worker's session (the server closed it) and open f again on
 * a new one. */
static enum imap_result reopen(struct account *a, struct folder *f, struct imap_status *st)
{
	if (imap_noop(a->session, st) != IMAP_R_LOST ||
	    conn_ensure(&a->conn, clock_ms() + 5000, st) != IMAP_R_OK)
		return IMAP_R_PROTOCOL;
	return view_open(&a->view, f, false, false, st);
}

/* The mailbox was re-created while the connection was away: a new
 * UIDVALIDITY, and the folder holds only what the server has now. */
static void uidvalidity_change_reloads(void)
{
	struct ss_step steps[24];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct imap_status st;
	struct account a;
	struct options o;
	struct folder *f;

	steps[n++] = ss_close();
	steps[n++] = ss_accept();
	steps[n++] = ss_send(FX_GREETING);
	steps[n++] = ss_expect(FX_LOGIN, FX_LOGGED_IN);
	steps[n++] = ss_expect("EXAMINE \"INBOX\"", "* 2 EXISTS\n* OK [UIDVALIDITY 8] new\n"
			       "* OK [UIDNEXT 3] next\nOK [READ-ONLY] done");
	steps[n++] = ss_expect(FETCH_ALL, "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 " DATE ")\n"
			       "* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 20 " DATE ")\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL && ss_wait(ss, 7));
	CHECK(f && reopen(&a, f, &st) == IMAP_R_OK);
	CHECK_STR(uids_of(&a, f), "1 2");
	CHECK(f && f->uidvalidity == 8 && f->uidnext == 3 && a.view.uidvalidity == 8);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* Same UIDVALIDITY, one message fewer than the index holds (expunged
 * while away): the catch-up asks for the UIDs, not for every message,
 * and the folder loses just that one. */
static void expunged_while_away(void)
{
	struct ss_step steps[24];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct imap_status st;
	struct account a;
	struct options o;
	struct folder *f;

	steps[n++] = ss_close();
	steps[n++] = ss_accept();
	steps[n++] = ss_send(FX_GREETING);
	steps[n++] = ss_expect(FX_LOGIN, FX_LOGGED_IN);
	steps[n++] = ss_expect("EXAMINE \"INBOX\"", "* 2 EXISTS\n* OK [UIDVALIDITY 7] same\n"
			       "* OK [UIDNEXT 31] next\nOK [READ-ONLY] done");
	steps[n++] = ss_expect("UID SEARCH ALL", "* SEARCH 10 30\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL && ss_wait(ss, 7));
	CHECK(f && reopen(&a, f, &st) == IMAP_R_OK);
	CHECK_STR(uids_of(&a, f), "10 30");
	CHECK(f && f->nmsgs == 2 && f->msgs[1].size == 300); /* known, not fetched again */
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* A UID command found nothing for 40: the session had not been told of
 * it.  view_learn asks (a NOOP) and takes the news in. */
static void learn_asks_for_news(void)
{
	struct ss_step steps[16];
	size_t n = opening(steps, FX_LOGGED_IN);
	struct script_server *ss;
	struct imap_status st;
	struct account a;
	struct options o;
	struct folder *f;
	uint32_t want = 40;

	steps[n++] = ss_expect("NOOP", "* 4 EXISTS\nOK done");
	steps[n++] = ss_expect("UID FETCH 31:*",
			       "* 4 FETCH (UID 40 FLAGS () RFC822.SIZE 400 " DATE ")\nOK done");
	steps[n++] = ss_expect("LOGOUT", BYE);
	steps[n++] = ss_close();
	ss = ss_start(steps, n);
	f = open_and_examine(&a, &o, ss);
	CHECK(f != NULL);
	CHECK(f && view_learn(&a.view, &want, 1, &st) == IMAP_R_OK);
	CHECK(view_has(&a.view, 40));
	CHECK_STR(uids_of(&a, f), "10 20 30 40");
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

static const struct fx_test tests[] = {
	{ "select_fills_folder", select_fills_folder },
	{ "expunge_removes_uid", expunge_removes_uid },
	{ "vanished_removes_uid", vanished_removes_uid },
	{ "exists_then_catch_up", exists_then_catch_up },
	{ "uidvalidity_change_reloads", uidvalidity_change_reloads },
	{ "expunged_while_away", expunged_while_away },
	{ "learn_asks_for_news", learn_asks_for_news },
};

/* All the tests, or those named on the command line. */
int main(int argc, char **argv)
{
	fx_run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	return check_summary("view");
}
