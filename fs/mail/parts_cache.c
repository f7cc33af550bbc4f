#include "fs/mail/parts_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct item {
	uint64_t key;
	struct parts_msg *pm;
	size_t bytes;
	struct item *next;            /* in its bucket */
	struct item *older, *newer;   /* in the use order */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct item *buckets[BUCKETS];
static struct item *newest, *oldest;
static size_t total;

/* Lock held: drop one reference, freeing pm with the last. */
static void unref(struct parts_msg *pm)
{
	if (--pm->refs == 0) {
		parts_msg_free(pm);
		free(pm);
	}
}

/* What pm takes in memory, near enough to bound the cache by. */
static size_t msg_bytes(const struct parts_msg *pm)
{
	size_t n = sizeof(struct item) + sizeof(*pm) + pm->hlen + pm->n * sizeof(*pm->e);

	for (size_t i = 0; i < pm->n; i++) {
		const struct parts_entry *e = &pm->e[i];

		n += strlen(e->name) + 1 + (e->section ? strlen(e->section) + 1 : 0) +
		     (e->value ? strlen(e->value) + 1 : 0);
	}
	return n;
}

static struct item **bucket(uint64_t key)
{
	return &buckets[(key ^ key >> 29) % BUCKETS];
}

/* Lock held: take it out of the use order. */
static void unlink_use(struct item *it)
{
	*(it->older ? &it->older->newer : &oldest) = it->newer;
	*(it->newer ? &it->newer->older : &newest) = it->older;
	it->older = it->newer = NULL;
}

/* Lock held: the most recently used from now. */
static void push_newest(struct item *it)
{
	it->older = newest;
	it->newer = NULL;
	*(newest ? &newest->newer : &oldest) = it;
	newest = it;
}

/* Lock held: it out of the cache, its list let go. */
static void drop(struct item *it)
{
	struct item **p = bucket(it->key);

	while (*p != it)
		p = &(*p)->next;
	*p = it->next;
	unlink_use(it);
	total -= it->bytes;
	unref(it->pm);
	free(it);
}

/* Lock held: key's list, pinned and made the most recently used, or NULL. */
static struct parts_msg *find(uint64_t key)
{
	for (struct item *it = *bucket(key); it; it = it->next)
		if (it->key == key) {
			it->pm->refs++;
			unlink_use(it);
			push_newest(it);
			return it->pm;
		}
	return NULL;
}

struct parts_msg *parts_cache_get(uint64_t key)
{
	struct parts_msg *pm;

	pthread_mutex_lock(&lock);
	pm = find(key);
	pthread_mutex_unlock(&lock);
	return pm;
}

struct parts_msg *parts_cache_put(uint64_t key, struct parts_msg *pm)
{
	struct item *it = calloc(1, sizeof(*it));
	struct parts_msg *had;

	pthread_mutex_lock(&lock);
	had = find(key);
	if (had || !it) {
		pthread_mutex_unlock(&lock);
		free(it);
		parts_msg_free(pm);
		free(pm);
		return had; /* NULL only when out of memory */
	}
	*it = (struct item){ .key = key, .pm = pm, .bytes = msg_bytes(pm) };
	pm->refs = 2; /* the cache's and the caller's */
	it->next = *bucket(key);
	*bucket(key) = it;
	push_newest(it);
	total += it->bytes;
	while (total > PARTS_CACHE_BYTES && oldest != it)
		drop(oldest);
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
		pm->e[i].size_told = !exact;
	}
	pthread_mutex_unlock(&lock);
}

bool parts_cache_size_settled(const struct parts_msg *pm, size_t i)
{
	bool settled;

	pthread_mutex_lock(&lock);
	settled = i >= pm->n || pm->e[i].size_exact || pm->e[i].size_told;
	pthread_mutex_unlock(&lock);
	return settled;
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
