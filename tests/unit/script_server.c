/* The scripted IMAP server (see script_server.h). */
#include "script_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 8192
#define MAX_RECORDED 512
#define STEP_WAIT_MS 10000

struct script_server {
	const struct ss_step *steps;
	size_t nsteps;
	pthread_t thread;
	int listen_fd, conn_fd;
	int wake[2];              /* written by ss_finish: stop */
	unsigned port;
	char rbuf[MAX_LINE];
	size_t rlen;
	char tag[64];             /* of the last command read */

	pthread_mutex_t lock;     /* guards what follows */
	pthread_cond_t cond;      /* a step done, or the script failed */
	size_t done;
	bool failed;
	char *recorded[MAX_RECORDED];
	size_t nrecorded, accepts;
	int problems;
};

static long scaled_ms(long ms)
{
	const char *s = getenv("INBOXFS_TIMEOUT_SCALE");
	double scale = s ? atof(s) : 1.0;

	return scale > 1.0 ? (long)(ms * scale) : ms;
}

static void problem(struct script_server *ss, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&ss->lock);
	ss->problems++;
	pthread_mutex_unlock(&ss->lock);
	fprintf(stderr, "script server: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int listen_on(unsigned port, unsigned *bound)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sin.sin_port);
	return fd;
}

/* Until fd is readable: 1; the stop signal or the bound: 0. */
static int wait_readable(struct script_server *ss, int fd, long ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = ss->wake[0], .events = POLLIN } };
	int rc;

	do
		rc = poll(p, 2, (int)ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 && p[0].revents; /* what came before a stop is still read */
}

static void close_conn(struct script_server *ss)
{
	if (ss->conn_fd >= 0)
		close(ss->conn_fd);
	ss->conn_fd = -1;
	ss->rlen = 0;
}

static bool do_accept(struct script_server *ss, long ms)
{
	int fd;

	if (ss->listen_fd < 0 || !wait_readable(ss, ss->listen_fd, ms))
		return false;
	fd = accept4(ss->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return false;
	close_conn(ss);
	ss->conn_fd = fd;
	pthread_mutex_lock(&ss->lock);
	ss->accepts++;
	pthread_mutex_unlock(&ss->lock);
	return true;
}

static void record(struct script_server *ss, const char *text)
{
	pthread_mutex_lock(&ss->lock);
	if (ss->nrecorded < MAX_RECORDED)
		ss->recorded[ss->nrecorded++] = strdup(text);
	pthread_mutex_unlock(&ss->lock);
}

/* One line of the client's, CRLF taken off, into line: 1; the client
 * closed: 0; the bound, the stop signal or a line too long: -1. */
static int read_line(struct script_server *ss, char *line, long ms)
{
	for (;;) {
		char *nl = memchr(ss->rbuf, '\n', ss->rlen);
		ssize_t got;

		if (nl) {
			size_t len = (size_t)(nl - ss->rbuf);

			memcpy(line, ss->rbuf, len);
			line[len && line[len - 1] == '\r' ? len - 1 : len] = '\0';
			ss->rlen -= len + 1;
			memmove(ss->rbuf, nl + 1, ss->rlen);
			return 1;
		}
		if (ss->rlen == sizeof(ss->rbuf) || !wait_readable(ss, ss->conn_fd, ms))
			return -1;
		got = read(ss->conn_fd, ss->rbuf + ss->rlen, sizeof(ss->rbuf) - ss->rlen);
		if (got <= 0)
			return got == 0 || errno == ECONNRESET ? 0 : -1;
		ss->rlen += (size_t)got;
	}
}

/* Read a command: its tag into ss->tag, the rest recorded and returned. */
static int read_command(struct script_server *ss, char *line, const char **text, long ms)
{
	int rc = read_line(ss, line, ms);
	char *sp;

	if (rc <= 0)
		return rc;
	sp = strchr(line, ' ');
	snprintf(ss->tag, sizeof(ss->tag), "%.*s", sp ? (int)(sp - line) : 0, line);
	*text = sp ? sp + 1 : line;
	record(ss, *text);
	return 1;
}

static void send_all(struct script_server *ss, const char *data, size_t len)
{
	while (len && ss->conn_fd >= 0) {
		ssize_t put = send(ss->conn_fd, data, len, MSG_NOSIGNAL);

		if (put <= 0)
			return; /* the client went away: it will see that itself */
		data += put;
		len -= (size_t)put;
	}
}

/* text's lines with CRLF, in one send (small writes in a row would wait
 * for delayed ACKs); tagged: lines not starting with '*' or '+' get the
 * last command's tag. */
static void send_lines(struct script_server *ss, const char *text, bool tagged)
{
	char out[4 * MAX_LINE];
	size_t len = 0;

	while (text && *text) {
		const char *end = strchrnul(text, '\n');
		bool tag = tagged && *text != '*' && *text != '+';
		int put = snprintf(out + len, sizeof(out) - len, "%s%s%.*s\r\n", tag ? ss->tag : "",
				   tag ? " " : "", (int)(end - text), text);

		if (put < 0 || (size_t)put >= sizeof(out) - len) {
			problem(ss, "an answer too long for the script server");
			return;
		}
		len += (size_t)put;
		text = *end ? end + 1 : end;
	}
	send_all(ss, out, len);
}

static bool expect(struct script_server *ss, const struct ss_step *st)
{
	char line[MAX_LINE];
	const char *text;
	int rc = ss->conn_fd < 0 ? -1 : read_command(ss, line, &text, scaled_ms(STEP_WAIT_MS));

	if (rc <= 0) {
		problem(ss, "expected \"%s\", got %s", st->arg,
			rc == 0 ? "the connection closed" : "nothing");
		return false;
	}
	if (strncasecmp(text, st->arg, strlen(st->arg)) != 0) {
		problem(ss, "expected \"%s\", got \"%s\"", st->arg, text);
		return false;
	}
	send_lines(ss, st->text, true);
	return true;
}

/* Until the client closes; what it sends is recorded. */
static bool silent(struct script_server *ss)
{
	char line[MAX_LINE];
	const char *text;
	int rc;

	while (ss->conn_fd >= 0 && (rc = read_command(ss, line, &text, scaled_ms(STEP_WAIT_MS))) > 0)
		;
	if (ss->conn_fd >= 0 && rc < 0) {
		problem(ss, "silent: the client did not close");
		return false;
	}
	close_conn(ss);
	return true;
}

static bool relisten(struct script_server *ss)
{
	unsigned port;

	ss->listen_fd = listen_on(ss->port, &port);
	if (ss->listen_fd < 0)
		problem(ss, "cannot listen on port %u again: %s", ss->port, strerror(errno));
	return ss->listen_fd >= 0;
}

static bool play(struct script_server *ss, const struct ss_step *st)
{
	switch (st->op) {
	case SS_ACCEPT:
		if (do_accept(ss, scaled_ms(STEP_WAIT_MS)))
			return true;
		problem(ss, "no connection came");
		return false;
	case SS_SEND:
		send_lines(ss, st->arg, false);
		return true;
	case SS_EXPECT:
		return expect(ss, st);
	case SS_CLOSE:
		close_conn(ss);
		return true;
	case SS_SILENT:
		return silent(ss);
	case SS_REFUSE:
		close(ss->listen_fd);
		ss->listen_fd = -1;
		return true;
	case SS_LISTEN:
		return relisten(ss);
	}
	return false;
}

/* Which of the connection and the listener is readable; -1 once neither
 * is and ss_finish asked to stop (what came before the stop is seen). */
static int wait_either(struct script_server *ss)
{
	struct pollfd p[3] = { { .fd = ss->conn_fd, .events = POLLIN },
			       { .fd = ss->listen_fd, .events = POLLIN },
			       { .fd = ss->wake[0], .events = POLLIN } };
	int rc;

	do
		rc = poll(p, 3, -1);
	while (rc < 0 && errno == EINTR);
	if (rc > 0 && p[0].revents)
		return ss->conn_fd;
	if (rc > 0 && p[1].revents)
		return ss->listen_fd;
	return -1;
}

/* After the script (or its failure): anything more is a problem. */
static void watch_rest(struct script_server *ss)
{
	char line[MAX_LINE];
	const char *text;
	int fd, rc;

	while ((fd = wait_either(ss)) >= 0) {
		if (fd == ss->listen_fd) {
			if (do_accept(ss, 0))
				problem(ss, "a connection the script did not expect");
			continue;
		}
		rc = read_command(ss, line, &text, 0);
		if (rc == 0)
			close_conn(ss);
		else if (rc > 0)
			problem(ss, "a command the script did not expect: \"%s\"", text);
	}
}

static void *run(void *arg)
{
	struct script_server *ss = arg;

	for (size_t i = 0; i < ss->nsteps; i++) {
		bool ok = play(ss, &ss->steps[i]);

		pthread_mutex_lock(&ss->lock);
		if (ok)
			ss->done = i + 1;
		else
			ss->failed = true;
		pthread_cond_broadcast(&ss->cond);
		pthread_mutex_unlock(&ss->lock);
		if (!ok) {
			close_conn(ss); /* the client fails now, not at its timeout */
			break;
		}
	}
	watch_rest(ss);
	return NULL;
}

struct script_server *ss_start(const struct ss_step *steps, size_t n)
{
	struct script_server *ss = calloc(1, sizeof(*ss));
	pthread_condattr_t ca;

	if (!ss)
		return NULL;
	ss->steps = steps;
	ss->nsteps = n;
	ss->conn_fd = -1;
	ss->listen_fd = listen_on(0, &ss->port);
	if (ss->listen_fd < 0 || pipe2(ss->wake, O_CLOEXEC) < 0) {
		perror("script server");
		free(ss);
		return NULL;
	}
	pthread_mutex_init(&ss->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ss->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_create(&ss->thread, NULL, run, ss);
	return ss;
}

unsigned ss_port(const struct script_server *ss) { return ss->port; }

bool ss_wait(struct script_server *ss, size_t steps)
{
	struct timespec until;
	long ms = scaled_ms(STEP_WAIT_MS);
	int rc = 0;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000 + 1;
	pthread_mutex_lock(&ss->lock);
	while (ss->done < steps && !ss->failed && rc == 0)
		rc = pthread_cond_timedwait(&ss->cond, &ss->lock, &until);
	ok = ss->done >= steps;
	pthread_mutex_unlock(&ss->lock);
	return ok;
}

size_t ss_count(struct script_server *ss, const char *prefix)
{
	size_t n = 0;

	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->nrecorded; i++)
		n += ss->recorded[i] && strncasecmp(ss->recorded[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&ss->lock);
	return n;
}

size_t ss_accepts(struct script_server *ss)
{
	size_t n;

	pthread_mutex_lock(&ss->lock);
	n = ss->accepts;
	pthread_mutex_unlock(&ss->lock);
	return n;
}

int ss_finish(struct script_server *ss)
{
	int problems;

	if (write(ss->wake[1], "x", 1) != 1)
		perror("script server");
	pthread_join(ss->thread, NULL);
	if (ss->done < ss->nsteps)
		problem(ss, "stopped at step %zu of %zu", ss->done + 1, ss->nsteps);
	problems = ss->problems;
	for (size_t i = 0; i < ss->nrecorded; i++) {
		if (problems)
			fprintf(stderr, "  read: %s\n", ss->recorded[i] ? ss->recorded[i] : "?");
		free(ss->recorded[i]);
	}
	close_conn(ss);
	if (ss->listen_fd >= 0)
		close(ss->listen_fd);
	close(ss->wake[0]);
	close(ss->wake[1]);
	pthread_cond_destroy(&ss->cond);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
	return problems;
}
