#include "lockorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_HELD 8

#ifndef NDEBUG
/* The ranked locks this thread holds, in the order taken. */
static _Thread_local const struct ranked_lock *held[MAX_HELD];
static _Thread_local unsigned nheld;

static void check_order(const struct ranked_lock *l)
{
	for (unsigned i = 0; i < nheld; i++) {
		if (held[i]->rank >= l->rank) {
			fprintf(stderr, "inboxfs: lock order broken: %s taken while holding %s\n",
				l->name, held[i]->name);
			abort();
		}
	}
	if (nheld == MAX_HELD) {
		fprintf(stderr, "inboxfs: more than %d ranked locks held\n", MAX_HELD);
		abort();
	}
}

static void note_taken(const struct ranked_lock *l) { held[nheld++] = l; }

static void note_dropped(const struct ranked_lock *l)
{
	for (unsigned i = nheld; i-- > 0;) {
		if (held[i] == l) {
			held[i] = held[--nheld];
			return;
		}
	}
	fprintf(stderr, "inboxfs: %s dropped but not held\n", l->name);
	abort();
}
#else
static void check_order(const struct ranked_lock *l) { (void)l; }
static void note_taken(const struct ranked_lock *l) { (void)l; }
static void note_dropped(const struct ranked_lock *l) { (void)l; }
#endif

void rlock_init(struct ranked_lock *l, unsigned rank, const char *name)
{
	pthread_mutex_init(&l->m, NULL);
	l->rank = rank;
	l->name = name;
}

void rlock_destroy(struct ranked_lock *l) { pthread_mutex_destroy(&l->m); }

void rlock_take(struct ranked_lock *l)
{
	check_order(l);
	pthread_mutex_lock(&l->m);
	note_taken(l);
}

bool rlock_try(struct ranked_lock *l)
{
	check_order(l);
	if (pthread_mutex_trylock(&l->m) != 0)
		return false;
	note_taken(l);
	return true;
}

bool rlock_take_until(struct ranked_lock *l, long long until)
{
	struct timespec ts = { until / 1000, until % 1000 * 1000000L };

	check_order(l);
	if (pthread_mutex_clocklock(&l->m, CLOCK_MONOTONIC, &ts) != 0)
		return false;
	note_taken(l);
	return true;
}

void rlock_drop(struct ranked_lock *l)
{
	note_dropped(l);
	pthread_mutex_unlock(&l->m);
}
