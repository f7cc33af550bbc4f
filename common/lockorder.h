/* Mutexes with a rank: a thread takes them in increasing rank only, which
 * rules out lock-order deadlocks.  Builds without NDEBUG check it on every
 * take and abort with both locks' names; release builds only lock. */
#ifndef INBOXFS_LOCKORDER_H
#define INBOXFS_LOCKORDER_H

#include <pthread.h>
#include <stdbool.h>

struct ranked_lock {
	pthread_mutex_t m;
	unsigned rank;      /* taken after any lock of a lower rank only */
	const char *name;   /* for the abort message */
};

void rlock_init(struct ranked_lock *l, unsigned rank, const char *name);
void rlock_destroy(struct ranked_lock *l);
/* Take l; aborts (checked builds) when this thread holds a lock of the
 * same or a higher rank. */
void rlock_take(struct ranked_lock *l);
/* Take l if free; false otherwise.  Order checked as for rlock_take:
 * a try that could not deadlock today would, the day it becomes a take. */
bool rlock_try(struct ranked_lock *l);
/* Take l before `until` (CLOCK_MONOTONIC ms); false when it did not come. */
bool rlock_take_until(struct ranked_lock *l, long long until);
void rlock_drop(struct ranked_lock *l);

#endif
