/* A background thread's stop flag and the sleep that stopping cuts
 * short (a watcher's wait before it reconnects, a poller's interval). */
#ifndef INBOXFS_COMMON_NAPPER_H
#define INBOXFS_COMMON_NAPPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct napper {
	pthread_mutex_t *lock;     /* the owner's, taken for the wait */
	pthread_cond_t cond;
	atomic_bool stop;
};

void napper_init(struct napper *n, pthread_mutex_t *lock);
void napper_destroy(struct napper *n);
/* Sleep up to ms, or until stopped.  False when stopped.  Called without
 * n->lock held. */
bool napper_nap(struct napper *n, long long ms);
/* Stop: a nap ends at once, and every later one fails.  Any thread,
 * without n->lock held. */
void napper_stop(struct napper *n);
bool napper_stopped(struct napper *n);

#endif
