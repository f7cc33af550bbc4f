#include "fs/bodycache.h"

#include <pthread.h>
#include <stdlib.h>

#define NBUCKETS 4096

struct bodycache {
	pthread_mutex_t lock;
	size_t limit, bytes;
	struct body *mru, *lru;      /* doubly linked, most recent first */
	struct body *buckets[NBUCKETS];
};

static size_t bucket(uint64_t key) { return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 52); }

struct bodycache *bodycache_new(size_t limit_bytes)
{
	struct bodycache *bc = calloc(1, sizeof(*bc));

	if (!bc)
		return NULL;
	pthread_mutex_init(&bc->lock, NULL);
	bc->limit = limit_bytes;
	return bc;
}

static void lru_unlink(struct bodycache *bc, struct body *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		bc->mru = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		bc->lru = b->prev;
	b->prev = b->next = NULL;
}

static void lru_push_front(struct bodycache *bc, struct body *b)
{
	b->prev = NULL;
	b->next = bc->mru;
	if (bc->mru)
		bc->mru->prev = b;
	bc->mru = b;
	if (!bc->lru)
		bc->lru = b;
}

static struct body *lookup(struct bodycache *bc, uint64_t key)
{
	struct body *b;

	for (b = bc->buckets[bucket(key)]; b; b = b->hnext)
		if (b->key == key)
			return b;
	return NULL;
}

static void remove_from_hash(struct bodycache *bc, struct body *b)
{
	struct body **pp = &bc->buckets[bucket(b->key)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
}

/* Drop unpinned bodies from the cold end until under the limit. */
static void evict(struct bodycache *bc)
{
	struct body *b = bc->lru, *prev;

	while (b && bc->bytes > bc->limit) {
		prev = b->prev;
		if (b->refs == 0) {
			lru_unlink(bc, b);
			remove_from_hash(bc, b);
			bc->bytes -= b->len;
			free(b->data);
			free(b);
		}
		b = prev;
	}
}

void bodycache_free(struct bodycache *bc)
{
	struct body *b, *next;

	if (!bc)
		return;
	for (b = bc->mru; b; b = next) {
		next = b->next;
		free(b->data);
		free(b);
	}
	pthread_mutex_destroy(&bc->lock);
	free(bc);
}

struct body *bodycache_get(struct bodycache *bc, uint64_t key)
{
	struct body *b;

	pthread_mutex_lock(&bc->lock);
	b = lookup(bc, key);
	if (b) {
		b->refs++;
		lru_unlink(bc, b);
		lru_push_front(bc, b);
	}
	pthread_mutex_unlock(&bc->lock);
	return b;
}

bool bodycache_has(struct bodycache *bc, uint64_t key)
{
	bool has;

	pthread_mutex_lock(&bc->lock);
	has = lookup(bc, key) != NULL;
	pthread_mutex_unlock(&bc->lock);
	return has;
}

struct body *bodycache_put(struct bodycache *bc, uint64_t key, char *data, size_t len, bool pin)
{
	struct body *b;

	pthread_mutex_lock(&bc->lock);
	b = lookup(bc, key);
	if (b) {
		free(data); /* the same immutable message: keep the copy we have */
	} else if ((b = calloc(1, sizeof(*b)))) {
		b->key = key;
		b->data = data;
		b->len = len;
		b->hnext = bc->buckets[bucket(key)];
		bc->buckets[bucket(key)] = b;
		lru_push_front(bc, b);
		bc->bytes += len;
	} else {
		free(data);
	}
	if (b && pin)
		b->refs++;
	evict(bc);
	pthread_mutex_unlock(&bc->lock);
	return pin ? b : NULL;
}

void bodycache_release(struct bodycache *bc, struct body *b)
{
	pthread_mutex_lock(&bc->lock);
	b->refs--;
	evict(bc);
	pthread_mutex_unlock(&bc->lock);
}

size_t bodycache_bytes(struct bodycache *bc)
{
	size_t n;

	pthread_mutex_lock(&bc->lock);
	n = bc->bytes;
	pthread_mutex_unlock(&bc->lock);
	return n;
}
