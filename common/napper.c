/* Interruptible sleeps (see napper.h). */
#include "common/napper.h"

#include <time.h>

void napper_init(struct napper *n, pthread_mutex_t *lock)
{
	n->lock = lock;
	pthread_cond_init(&n->cond, NULL);
	atomic_init(&n->stop, false);
}

void napper_destroy(struct napper *n)
{
	pthread_cond_destroy(&n->cond);
}

bool napper_nap(struct napper *n, long long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(n->lock);
	while (!atomic_load(&n->stop) && pthread_cond_timedwait(&n->cond, n->lock, &until) == 0)
		;
	pthread_mutex_unlock(n->lock);
	return !atomic_load(&n->stop);
}

void napper_stop(struct napper *n)
{
	pthread_mutex_lock(n->lock);
	atomic_store(&n->stop, true);
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(n->lock);
}

bool napper_stopped(struct napper *n)
{
	return atomic_load(&n->stop);
}
