/* Timed calls from one thread (see alarm.h). */
#include "fs/alarm.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"

struct alarms {
	pthread_mutex_t lock;   /* held while a call runs: alarm_cancel waits for it */
	pthread_cond_t cond;    /* on CLOCK_MONOTONIC, like clock_ms() */
	pthread_t thread;
	struct alarm *set;      /* unordered: there are a few at a time */
	bool stop;
};

static struct alarm *earliest(struct alarms *al)
{
	struct alarm *best = NULL;

	for (struct alarm *t = al->set; t; t = t->next)
		if (!best || t->at < best->at)
			best = t;
	return best;
}

static void take_out(struct alarms *al, struct alarm *t)
{
	for (struct alarm **pp = &al->set; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			return;
		}
}

static void ring(struct alarms *al, struct alarm *t)
{
	long long again = t->fn(t->ctx);

	if (again) {
		t->at = again;
		return;
	}
	take_out(al, t);
	t->rang = true;
}

static void *alarms_main(void *arg)
{
	struct alarms *al = arg;
	struct alarm *t;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "ibx-alarms");
	pthread_mutex_lock(&al->lock);
	while (!al->stop) {
		t = earliest(al);
		if (!t) {
			pthread_cond_wait(&al->cond, &al->lock);
		} else if (t->at > clock_ms()) {
			ts.tv_sec = t->at / 1000;
			ts.tv_nsec = t->at % 1000 * 1000000L;
			pthread_cond_timedwait(&al->cond, &al->lock, &ts);
		} else {
			ring(al, t);
		}
	}
	pthread_mutex_unlock(&al->lock);
	return NULL;
}

struct alarms *alarms_start(void)
{
	struct alarms *al = calloc(1, sizeof(*al));
	pthread_condattr_t ca;

	if (!al)
		return NULL;
	pthread_mutex_init(&al->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&al->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (thread_start(&al->thread, alarms_main, al) != 0) {
		log_warn(LOG_CAT_CORE, "cannot start the alarm thread: listings wait for a "
			 "silent server");
		pthread_cond_destroy(&al->cond);
		pthread_mutex_destroy(&al->lock);
		free(al);
		return NULL;
	}
	return al;
}

void alarms_stop(struct alarms *al)
{
	if (!al)
		return;
	pthread_mutex_lock(&al->lock);
	al->stop = true;
	pthread_cond_signal(&al->cond);
	pthread_mutex_unlock(&al->lock);
	pthread_join(al->thread, NULL);
	pthread_cond_destroy(&al->cond);
	pthread_mutex_destroy(&al->lock);
	free(al);
}

void alarm_set(struct alarms *al, struct alarm *t, long long at, alarm_fn fn, void *ctx)
{
	t->at = at;
	t->fn = fn;
	t->ctx = ctx;
	t->rang = false;
	if (!al)
		return;
	pthread_mutex_lock(&al->lock);
	t->next = al->set;
	al->set = t;
	pthread_cond_signal(&al->cond);
	pthread_mutex_unlock(&al->lock);
}

bool alarm_cancel(struct alarms *al, struct alarm *t)
{
	bool rang;

	if (!al)
		return false;
	pthread_mutex_lock(&al->lock);
	take_out(al, t);
	rang = t->rang;
	pthread_mutex_unlock(&al->lock);
	return rang;
}
