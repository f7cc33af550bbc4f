/* Ranked locks: taken in rank order they work as mutexes; out of order,
 * or dropped when not held, a checked build aborts with both names. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "common/clock.h"
#include "common/lockorder.h"

static struct ranked_lock session, index_lock;

/* Run fn in a child; its termination signal (0: exited normally). */
static int signal_of(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fclose(stderr); /* the abort message is expected */
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void in_order(void)
{
	rlock_take(&session);
	rlock_take(&index_lock);
	rlock_drop(&index_lock);
	rlock_drop(&session);
}

static void out_of_order(void)
{
	rlock_take(&index_lock);
	rlock_take(&session);
}

static void try_out_of_order(void)
{
	rlock_take(&index_lock);
	(void)rlock_try(&session);
}

static void same_twice(void)
{
	rlock_take(&session);
	rlock_take(&session);
}

static void drop_unheld(void) { rlock_drop(&session); }

static void *hold_session(void *arg)
{
	rlock_take(&session);
	*(volatile int *)arg = 1;
	while (*(volatile int *)arg == 1)
		sched_yield();
	rlock_drop(&session);
	return NULL;
}

int main(void)
{
	volatile int state = 0;
	pthread_t t;

	rlock_init(&session, 1, "session_lock");
	rlock_init(&index_lock, 2, "index_lock");
	CHECK(signal_of(in_order) == 0);
#ifndef NDEBUG
	CHECK(signal_of(out_of_order) == SIGABRT);
	CHECK(signal_of(try_out_of_order) == SIGABRT);
	CHECK(signal_of(same_twice) == SIGABRT);
	CHECK(signal_of(drop_unheld) == SIGABRT);
#endif
	/* Still a mutex: another thread's hold makes try and a timed take fail. */
	pthread_create(&t, NULL, hold_session, (void *)&state);
	while (state != 1)
		sched_yield();
	CHECK(!rlock_try(&session));
	CHECK(!rlock_take_until(&session, clock_ms() + 50));
	state = 2;
	pthread_join(t, NULL);
	CHECK(rlock_try(&session));
	rlock_drop(&session);
	return check_summary("lockorder");
}
