/* The connection routine (fs/mail/conn.c) against a scripted server: the first
 * login and its retries, reconnecting after a drop, the waits after
 * failures, the probe after silence, giving up, aborting. */
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "account_fixture.h"
#include "common/clock.h"
#include "imap/commands.h"
#include "script_server.h"

#define N(steps) (sizeof(steps) / sizeof((steps)[0]))
#define LIST_INBOX "* LIST () \"/\" INBOX\nOK done"
#define BYE "* BYE bye\nOK done"
#define UNAVAILABLE "NO [UNAVAILABLE] the user database is down"

static void sleep_ms(long long ms)
{
	nanosleep(&(struct timespec){ ms / 1000, ms % 1000 * 1000000L }, NULL);
}

/* The mount's first connection logs in once and lists the folders. */
static void first_connect(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LIST", LIST_INBOX), ss_expect("LOGOUT", BYE), ss_close(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct account a;
	struct options o;
	char err[256];

	CHECK(fx_open(&a, &o, ss_port(ss), NULL, err, sizeof(err)) == 0);
	CHECK(fx_folder(&a, "INBOX") != NULL);
	CHECK(a.conn.connects == 1);
	fx_close(&a, &o);
	CHECK(ss_count(ss, "LOGIN") == 1 && ss_accepts(ss) == 1);
	CHECK(ss_finish(ss) == 0);
}

/* A login the server calls unavailable for now: three more tries, 0.5, 1
 * and 2 s apart, then the mount fails with the server's words. */
static void unavailable_retried(void)
{
	struct ss_step steps[16];
	size_t n = 0;
	struct script_server *ss;
	struct account a;
	struct options o;
	char err[256];
	long long t0;

	for (int i = 0; i < 4; i++) {
		steps[n++] = ss_accept();
		steps[n++] = ss_send(FX_GREETING);
		steps[n++] = ss_expect(FX_LOGIN, UNAVAILABLE);
		steps[n++] = ss_close();
	}
	ss = ss_start(steps, n);
	t0 = clock_ms();
	CHECK(fx_open(&a, &o, ss_port(ss), NULL, err, sizeof(err)) < 0);
	CHECK(clock_ms() - t0 >= 3500);
	CHECK(strstr(err, "the user database is down") != NULL);
	fx_close(&a, &o);
	CHECK(ss_count(ss, "LOGIN") == 4);
	CHECK(ss_finish(ss) == 0); /* no fifth connection */
}

/* A rejected password is final at once: one try, no wait. */
static void rejected_not_retried(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING),
		ss_expect(FX_LOGIN, "NO [AUTHENTICATIONFAILED] invalid credentials"), ss_close(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct account a;
	struct options o;
	char err[256];
	long long t0 = clock_ms();

	CHECK(fx_open(&a, &o, ss_port(ss), NULL, err, sizeof(err)) < 0);
	CHECK(clock_ms() - t0 < 490); /* the first retry would come after 500 ms */
	CHECK(strstr(err, "login rejected") != NULL);
	fx_close(&a, &o);
	CHECK(ss_count(ss, "LOGIN") == 1);
	CHECK(ss_finish(ss) == 0); /* no second connection */
}

/* Open a's first session; ss plays the first steps of its script. */
static bool open_ok(struct account *a, struct options *o, struct script_server *ss,
		    const char *extra)
{
	char err[256];
	bool ok = fx_open(a, o, ss_port(ss), extra, err, sizeof(err)) == 0;

	if (!ok)
		fprintf(stderr, "account_open: %s\n", err);
	return ok;
}

/* A NOOP on the worker's session, due in ms. */
static enum imap_result noop(struct account *a, long long ms, struct imap_status *st)
{
	if (!a->session) {
		imap_status_set(st, IMAP_R_LOST, "no session");
		return IMAP_R_LOST;
	}
	imap_session_set_deadline(a->session, clock_ms() + ms);
	return imap_noop(a->session, st);
}

/* The server closed the connection: the next call reconnects at once
 * (a drop is not a failed try). */
static void reconnect_after_drop(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LIST", LIST_INBOX), ss_close(),
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("NOOP", "OK still here"), ss_expect("LOGOUT", BYE), ss_close(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct imap_status st;
	struct account a;
	struct options o;
	long long t0;

	CHECK(open_ok(&a, &o, ss, NULL) && ss_wait(ss, 5));
	CHECK(noop(&a, 5000, &st) == IMAP_R_LOST);
	t0 = clock_ms();
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_OK);
	CHECK(clock_ms() - t0 < 750 && a.conn.connects == 2); /* a wait is >= 800 ms */
	CHECK(noop(&a, 5000, &st) == IMAP_R_OK);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* After a drop the server is down: the first try is at once, and after
 * the second failure calls fail at once with IMAP_R_LOST, without a try,
 * until the wait (about 1 s) is over; then the next call connects. */
static void fail_fast_while_waiting(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LIST", LIST_INBOX), ss_close(),
		ss_accept(), ss_close(), ss_accept(), ss_close(),
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LOGOUT", BYE), ss_close(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct imap_status st;
	struct account a;
	struct options o;
	long long wait;

	CHECK(open_ok(&a, &o, ss, NULL) && ss_wait(ss, 5));
	CHECK(noop(&a, 5000, &st) == IMAP_R_LOST);
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) != IMAP_R_OK);
	CHECK(conn_wait_ms(&a.conn) == 0);
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) != IMAP_R_OK);
	wait = conn_wait_ms(&a.conn);
	CHECK(wait >= 500 && wait <= 1200);
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_LOST);
	CHECK(strstr(st.text, "next try in") != NULL);
	CHECK(ss_accepts(ss) == 3);
	sleep_ms(conn_wait_ms(&a.conn)); /* the policy's own wait */
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_OK);
	CHECK(ss_accepts(ss) == 4 && a.conn.connects == 2);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* A session went silent (timeout=1: a NOOP unanswered for a second): the
 * next try is a probe that gives up after about a second, not at the
 * caller's whole deadline (6 s). */
static void silent_server_probe(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LIST", LIST_INBOX), ss_expect("NOOP", NULL), ss_silent(),
		ss_accept(), ss_silent(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct imap_status st;
	struct account a;
	struct options o;
	long long t0, took;

	CHECK(open_ok(&a, &o, ss, "timeout=1"));
	CHECK(noop(&a, 300, &st) == IMAP_R_TIMEOUT);
	t0 = clock_ms();
	CHECK(conn_ensure(&a.conn, t0 + 6000, &st) == IMAP_R_TIMEOUT);
	took = clock_ms() - t0;
	CHECK(took >= 900 && took < 3000);
	CHECK(ss_wait(ss, 7)); /* the probe did connect */
	CHECK(conn_wait_ms(&a.conn) > 0); /* silence is never retried at once */
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

/* reconnect_tries=2: the first try after the drop at once, and its
 * failure is the first of two; the second gives up; no try after that. */
static void gives_up(void)
{
	const struct ss_step steps[] = {
		ss_accept(), ss_send(FX_GREETING), ss_expect(FX_LOGIN, FX_LOGGED_IN),
		ss_expect("LIST", LIST_INBOX), ss_close(), ss_refuse(),
	};
	struct script_server *ss = ss_start(steps, N(steps));
	struct imap_status st;
	struct account a;
	struct options o;

	CHECK(open_ok(&a, &o, ss, "reconnect_tries=2") && ss_wait(ss, N(steps)));
	CHECK(noop(&a, 5000, &st) == IMAP_R_LOST);
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_CONNECT);
	CHECK(!conn_gave_up(&a.conn));
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_CONNECT);
	CHECK(conn_gave_up(&a.conn));
	CHECK(conn_ensure(&a.conn, clock_ms() + 5000, &st) == IMAP_R_LOST);
	CHECK(conn_wait_ms(&a.conn) > 3600 * 1000);
	fx_close(&a, &o);
	CHECK(ss_finish(ss) == 0);
}

struct opener {
	struct account a;
	struct options o;
	int rc;
	char err[256];
	long long took;
	struct script_server *ss;
};

static void *open_thread(void *arg)
{
	struct opener *op = arg;
	long long t0 = clock_ms();

	op->rc = fx_open(&op->a, &op->o, ss_port(op->ss), NULL, op->err, sizeof(op->err));
	op->took = clock_ms() - t0;
	return NULL;
}

/* A connect the server never answers (no greeting) ends as soon as
 * another thread calls conn_abort, not at the timeout (30 s). */
static void abort_ends_hung_connect(void)
{
	const struct ss_step steps[] = { ss_accept(), ss_silent() };
	struct opener op = { .ss = ss_start(steps, N(steps)) };
	pthread_t t;

	pthread_create(&t, NULL, open_thread, &op);
	CHECK(ss_wait(op.ss, 1)); /* connected: the session is published */
	conn_abort(&op.a.conn);
	pthread_join(t, NULL);
	CHECK(op.rc < 0 && op.took < 2000);
	fx_close(&op.a, &op.o);
	CHECK(ss_finish(op.ss) == 0);
}

static const struct fx_test tests[] = {
	{ "first_connect", first_connect },
	{ "unavailable_retried", unavailable_retried },
	{ "rejected_not_retried", rejected_not_retried },
	{ "reconnect_after_drop", reconnect_after_drop },
	{ "fail_fast_while_waiting", fail_fast_while_waiting },
	{ "silent_server_probe", silent_server_probe },
	{ "gives_up", gives_up },
	{ "abort_ends_hung_connect", abort_ends_hung_connect },
};

/* All the tests, or those named on the command line. */
int main(int argc, char **argv)
{
	fx_run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	return check_summary("conn");
}
