#include "fs/mail/parts_cache.h"

#include <pthread.h>
#include <stdlib.h>

struct slot {
	uint64_t key;          /* 0: free */
	struct parts_msg *pm;
	unsigned long long used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[PARTS_CACHE_MSGS];
static unsigned long long clock_tick;

/* Lock held: drop one reference, freeing pm with the last. */
static void unref(struct parts_msg *pm)
{
	if (--pm->refs == 0) {
		parts_msg_free(pm);
		free(pm);
	}
}

struct parts_msg *parts_cache_get(uint64_t key)
{
	struct parts_msg *pm = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < PARTS_CACHE_MSGS && !pm; i++)
		if (slots[i].key == key && key) {
			pm = slots[i].pm;
			pm->refs++;
			slots[i].used = ++clock_tick;
		}
	pthread_mutex_unlock(&lock);
	return pm;
}

/* Lock held: the slot to fill, the least recently used one's list let go. */
static struct slot *victim(void)
{
	struct slot *v = &slots[0];

	for (size_t i = 1; i < PARTS_CACHE_MSGS; i++)
		if (slots[i].used < v->used)
			v = &slots[i];
	if (v->key)
		unref(v->pm);
	v->key = 0;
	return v;
}

struct parts_msg *parts_cache_put(uint64_t key, struct parts_msg *pm)
{
	struct parts_msg *had = parts_cache_get(key);
	struct slot *s;

	if (had) {
		parts_msg_free(pm);
		free(pm);
		return had;
	}
	pthread_mutex_lock(&lock);
	s = victim();
	*s = (struct slot){ key, pm, ++clock_tick };
	pm->refs = 2; /* the cache's and the caller's */
	pthread_mutex_unlock(&lock);
	return pm;
}

void parts_cache_release(struct parts_msg *pm)
{
	pthread_mutex_lock(&lock);
	unref(pm);
	pthread_mutex_unlock(&lock);
}

void parts_cache_set_size(struct parts_msg *pm, size_t i, uint64_t size, bool exact)
{
	pthread_mutex_lock(&lock);
	if (i < pm->n && !pm->e[i].size_exact) {
		pm->e[i].size = size;
		pm->e[i].size_exact = exact;
	}
	pthread_mutex_unlock(&lock);
}

uint64_t parts_cache_size(const struct parts_msg *pm, size_t i, bool *exact)
{
	uint64_t size = 0;

	pthread_mutex_lock(&lock);
	*exact = i < pm->n && pm->e[i].size_exact;
	if (i < pm->n)
		size = pm->e[i].size;
	pthread_mutex_unlock(&lock);
	return size;
}
