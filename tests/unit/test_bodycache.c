/* A reader that waits for a body on its way (bodycache_wait) goes on when
 * the body comes in, or when the fetch gives it up; a body that came in
 * without anyone waiting wakes nobody and is simply there. */
#include "check.h"
#include "fs/mail/bodycache.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct waiter {
	struct bodycache *bc;
	uint64_t key;
	pid_t tid;
	struct body *got;
};

static void *wait_for_body(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	w->got = bodycache_wait(w->bc, w->key);
	return NULL;
}

/* Until the waiter sleeps (in the condition variable, or for the lock
 * just before it): then what follows really has to wake it. */
static void until_asleep(struct waiter *w)
{
	char path[64], stat[256];
	pid_t tid;

	while (!(tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)))
		sched_yield();
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		FILE *f = fopen(path, "r");
		char *close_paren;

		if (!f)
			return;
		stat[0] = '\0';
		if (!fgets(stat, sizeof(stat), f))
			stat[0] = '\0';
		fclose(f);
		close_paren = strrchr(stat, ')');
		if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'S')
			return;
		sched_yield();
	}
}

/* Joined within 5 s, or the waiter was never woken. */
static bool joined(pthread_t t)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	return pthread_timedjoin_np(t, NULL, &until) == 0;
}

static void start(pthread_t *t, struct waiter *w, struct bodycache *bc, uint64_t key)
{
	*w = (struct waiter){ .bc = bc, .key = key };
	pthread_create(t, NULL, wait_for_body, w);
	until_asleep(w);
}

int main(void)
{
	struct bodycache *bc = bodycache_new(1 << 20);
	struct waiter w, w2;
	pthread_t t, t2;
	struct body *b;

	/* arrives while awaited */
	CHECK(bodycache_mark_pending(bc, 7));
	start(&t, &w, bc, 7);
	bodycache_put(bc, 7, strdup("seven"), 5, false);
	CHECK(joined(t));
	CHECK(w.got && w.got->len == 5 && memcmp(w.got->data, "seven", 5) == 0);
	bodycache_release(bc, w.got);

	/* given up (the fetch failed): the waiter goes on with nothing */
	CHECK(bodycache_mark_pending(bc, 8));
	start(&t, &w, bc, 8);
	CHECK(bodycache_unmark_pending(bc, 8)); /* it never came: missing */
	CHECK(joined(t));
	CHECK(w.got == NULL);
	/* the fetch ended after the body came: nothing is missing */
	CHECK(bodycache_mark_pending(bc, 10));
	bodycache_put(bc, 10, strdup("ten"), 3, false);
	CHECK(!bodycache_unmark_pending(bc, 10) && !bodycache_unmark_pending(bc, 11));

	/* two waiters on keys of one stripe (8 and 24): each goes on when its
	 * own body comes, whatever the order */
	CHECK(bodycache_mark_pending(bc, 24) && bodycache_mark_pending(bc, 40));
	start(&t, &w, bc, 24);
	start(&t2, &w2, bc, 40);
	bodycache_put(bc, 40, strdup("forty"), 5, false);
	CHECK(joined(t2));
	CHECK(w2.got && memcmp(w2.got->data, "forty", 5) == 0);
	bodycache_put(bc, 24, strdup("twenty-four"), 11, false);
	CHECK(joined(t));
	CHECK(w.got && w.got->len == 11);
	bodycache_release(bc, w.got);
	bodycache_release(bc, w2.got);

	/* came in with nobody waiting: there for the next reader at once */
	CHECK(bodycache_mark_pending(bc, 9));
	bodycache_put(bc, 9, strdup("nine"), 4, false);
	b = bodycache_wait(bc, 9);
	CHECK(b && b->len == 4);
	bodycache_release(bc, b);

	bodycache_free(bc);
	return check_summary("bodycache");
}
