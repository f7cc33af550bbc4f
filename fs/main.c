/* inboxfs: mount an IMAP account as a file system. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/thread.h"
#include "fs/alarm.h"
#include "fs/alias.h"
#include "fs/announce.h"
#include "fs/check.h"
#include "fs/mail/account.h"
#include "fs/mail/pool.h"
#include "fs/mail/startmark.h"
#include "fs/mail/state.h"
#include "fs/mail/watch.h"
#include "fs/notify.h"
#include "fs/ops.h"
#include "fs/options.h"
#include "fs/version.h"

static void setup_logging(const struct options *o)
{
	log_set_level(o->fuse_debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (!o->debug)
		return;
	log_set_categories(o->debug_cats);
	log_set_level(LOG_LVL_TRACE);
}

/* Mount options of our own: name the file system after the account. */
static int add_mount_options(struct fuse_args *args, const struct account *a, bool ro)
{
	struct buf b;
	int r;

	buf_init(&b);
	buf_printf(&b, "-osubtype=inboxfs,default_permissions,fsname=");
	for (const char *c = a->url.user; *c; c++)
		buf_printf(&b, "%s%c", *c == ',' || *c == '\\' ? "\\" : "", *c);
	buf_printf(&b, "@%s", a->url.host);
	if (ro)
		buf_printf(&b, ",ro");
	r = b.data ? fuse_opt_add_arg(args, b.data) : -1;
	buf_free(&b);
	return r;
}

/* ---- which folders to watch --------------------------------------------- */

static void watch_folder(struct account *a, struct folder *f)
{
	struct folder **n;

	if (f->watched || !index_folder_selectable(f))
		return;
	n = realloc(a->watched, (a->nwatched + 1) * sizeof(*n));
	if (!n)
		return;
	a->watched = n;
	a->watched[a->nwatched++] = f;
	f->watched = true;
}

static void watch_all(struct account *a, struct folder *f)
{
	watch_folder(a, f);
	for (size_t i = 0; i < f->nchildren; i++)
		watch_all(a, f->children[i]);
}

/* A folder by the path the user sees ("Archive/2023"). */
static struct folder *folder_by_path(struct account *a, const char *path)
{
	struct folder *f = index_root(a->index);
	char *copy = strdup(path), *tok, *save = NULL;

	for (tok = strtok_r(copy, "/", &save); tok && f; tok = strtok_r(NULL, "/", &save))
		f = index_child(f, tok);
	free(copy);
	return f == index_root(a->index) ? NULL : f;
}

static void choose_watched(struct account *a, const struct options *o)
{
	struct folder *f;

	if (o->nwatch == 0) {
		if ((f = folder_by_path(a, "INBOX")))
			watch_folder(a, f);
	}
	for (size_t i = 0; i < o->nwatch; i++) {
		if (!strcmp(o->watch[i], "none"))
			continue;
		if (!strcmp(o->watch[i], "all")) {
			if ((f = folder_by_path(a, "INBOX")))
				watch_folder(a, f); /* first: IDLE goes to the first ones */
			watch_all(a, index_root(a->index));
		} else if ((f = folder_by_path(a, o->watch[i])) && index_folder_selectable(f)) {
			watch_folder(a, f);
		} else {
			log_warn(LOG_CAT_CORE, "watch=%s: no such folder (or it holds no messages)",
				 o->watch[i]);
		}
	}
	if (a->nwatched)
		a->state = state_open(a->url.user, a->url.host, a->url.port);
}

/* The loop's end (unmount, SIGTERM) must not wait for a request stuck on a
 * silent server: once the session is over, fail such waits at once.  And
 * when reconnect_tries ran out, end the session. */
struct watchdog {
	struct fuse_session *se;
	struct account *a;
	pthread_t thread;
	pthread_t loop;            /* the thread running the session loop */
	atomic_bool done;
};

/* The loop looks at the exit flag only between requests: when nothing
 * comes, it would wait for the next one.  SIGTERM to the loop's thread
 * wakes it, and libfuse's handler for it ends the loop as for a user's. */
static void end_session(struct watchdog *wd)
{
	fuse_session_exit(wd->se);
	pthread_kill(wd->loop, SIGTERM);
}

static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	struct timespec tick = { 0, 50 * 1000 * 1000 };

	pthread_setname_np(pthread_self(), "ibx-watchdog"); /* named in top, gdb, perf */
	while (!atomic_load(&wd->done)) {
		if (conn_gave_up(&wd->a->conn) && !fuse_session_exited(wd->se))
			end_session(wd);
		if (fuse_session_exited(wd->se)) {
			atomic_store(&wd->a->shutting_down, true);
			/* Nothing may touch the mount once its loop is over; and
			 * a listing waiting for the announcer is let go. */
			announcer_request_stop(wd->a->announcer);
			/* Do not let the unmount wait with a call for the server. */
			account_abort_busy(wd->a);
			pool_abort_busy(wd->a->readers);
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static int run_loop(struct fuse_session *se, const struct options *o)
{
	struct fuse_loop_config *cfg;
	int r;

	if (o->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_idle_threads(cfg, 10);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

/* Start what serves the mount besides the loop: the kernel notifier (the
 * engine's hooks), alarms, token renewal, the announcer and the IDLE
 * watchers.  Returns the notifier. */
static struct notifier *start_workers(struct account *a, struct fuse_session *se,
				      const struct options *o, const char *root)
{
	struct notifier *notifier = notifier_start(se);

	notifier_hooks(notifier, &a->hooks);
	a->alarms = alarms_start();
	if (login_start(&a->login) < 0)
		log_err(LOG_CAT_AUTH, "cannot start renewing tokens in the background: each login "
			"will ask for a token itself");
	log_info(LOG_CAT_CORE, "mounted %s on %s", o->url, o->mountpoint);
	if (a->nwatched && o->singlethread)
		log_warn(LOG_CAT_CORE, "single-threaded (-s): new mail appears, but without inotify "
			 "events (announcing needs a second thread on the mount)");
	else if (a->nwatched)
		announcer_start(a, root);
	a->watchers = watchers_start(a);
	return notifier;
}

/* The loop is over.  Order matters: nothing may touch the mount once the
 * loop is gone, and the announcer may be waiting for it: closing the
 * session's device (fuse_session_destroy) fails such a request, then it
 * is joined (announcer_stop). */
static void stop_workers(struct account *a, struct notifier *notifier)
{
	alarms_stop(a->alarms); /* the loop is over: no listing is waiting */
	a->alarms = NULL;
	watchers_stop(a->watchers);
	a->watchers = NULL;
	announcer_request_stop(a->announcer);
	a->hooks = (struct mail_hooks){ 0 };
	notifier_stop(notifier);
	alias_free_all();
}

/* Without a watchdog (no thread), the loop still ends at unmount. */
static void watchdog_start(struct watchdog *wd, struct fuse_session *se, struct account *a)
{
	wd->se = se;
	wd->a = a;
	wd->loop = pthread_self();
	if (thread_start(&wd->thread, watchdog_main, wd) != 0)
		wd->se = NULL;
}

static void watchdog_stop(struct watchdog *wd)
{
	if (!wd->se)
		return;
	atomic_store(&wd->done, true);
	pthread_join(wd->thread, NULL);
}

/* Serve the mounted session until it ends; 0 for a clean exit. */
static int serve_mounted(struct account *a, struct fuse_session *se, const struct options *o,
			 const char *root)
{
	struct watchdog wd = { 0 };
	struct notifier *notifier;
	int r;

	fuse_daemonize(o->foreground);
	if (!o->foreground)
		log_use_syslog(true);
	notifier = start_workers(a, se, o, root);
	watchdog_start(&wd, se, a);
	/* The loop returns the signal that ended it (SIGTERM, SIGINT: a
	 * clean exit) or -errno. */
	r = run_loop(se, o) < 0 || conn_gave_up(&a->conn);
	atomic_store(&a->shutting_down, true);
	watchdog_stop(&wd);
	stop_workers(a, notifier);
	fuse_session_unmount(se);
	log_info(LOG_CAT_CORE, "unmounted %s", o->mountpoint);
	return r;
}

static int serve(struct account *a, struct fuse_args *args, const struct options *o)
{
	struct fuse_session *se;
	char root[PATH_MAX];
	int r = 1;

	/* The announcer reaches the mount by its absolute path (the daemon
	 * changes to / when it detaches). */
	if (!realpath(o->mountpoint, root)) {
		fprintf(stderr, "inboxfs: %s: %s\n", o->mountpoint, strerror(errno));
		return 1;
	}
	if (add_mount_options(args, a, o->ro) != 0)
		return 1;
	se = fuse_session_new(args, &inboxfs_ops, sizeof(inboxfs_ops), a);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, o->mountpoint) != 0)
		fprintf(stderr, "inboxfs: cannot mount on %s\n", o->mountpoint);
	else
		r = serve_mounted(a, se, o, root);
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	announcer_stop(a->announcer);
	return r;
}

static int run(int argc, char **argv, struct options *o, struct fuse_args *args)
{
	struct account a;
	char err[512];
	int r;

	if (options_parse(argc, argv, o, args) < 0)
		return 1;
	if (o->show_version) {
		version_print(stdout);
		return 0;
	}
	if (o->show_help) {
		options_usage(argv[0]);
		return 0;
	}
	if (!o->url || (!o->mountpoint && !o->check)) {
		fprintf(stderr, "usage: %s [options] imaps://USER@HOST[:PORT] MOUNTPOINT, or "
			"%s --check [options] imaps://USER@HOST[:PORT] (see --help)\n",
			argv[0], argv[0]);
		return 1;
	}
	/* Until the mount exists, a failure is one line on stderr and
	 * nothing else: state changes would only add noise.  Unless a trace
	 * was asked for: then the login is traced too. */
	if (o->debug)
		setup_logging(o);
	else
		log_set_level(LOG_LVL_WARN);
	if (o->check)
		return check_account(o);
	if (account_open(&a, o, err, sizeof(err)) < 0) {
		fprintf(stderr, "inboxfs: %s\n", err);
		r = 1;
	} else {
		setup_logging(o);
		choose_watched(&a, o);
		startmark_take(&a);
		r = account_plan_connections(&a) < 0 ? 1 : serve(&a, args, o);
	}
	account_close(&a);
	return r;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct options o;
	int r;

	/* A peer that went away must be an error from write(), never a
	 * signal that kills the daemon (OpenSSL writes with plain write()). */
	signal(SIGPIPE, SIG_IGN);
	/* A bulk read fills the body cache a few KB at a time: in glibc's
	 * per-thread arenas each growth is an mprotect() of its own, while the
	 * main arena grows by M_TOP_PAD at once; our few threads rarely
	 * allocate together.  A fixed trim threshold keeps large arrays
	 * (listings) in mmap, given back when freed. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TOP_PAD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	r = run(argc, argv, &o, &args);

	fuse_opt_free_args(&args);
	options_free(&o);
	return r;
}
