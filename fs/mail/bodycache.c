#include "fs/mail/bodycache.h"

#include <pthread.h>
#include <stdlib.h>

#define NBUCKETS 4096
#define NSTRIPES 16

/* Readers wait for a pending body on one of NSTRIPES condition variables
 * (by key), woken only when an awaited body comes in: a read-ahead stream
 * stores hundreds of bodies nobody waits for yet, and a reader waiting for
 * one of them should not wake for each. */
struct bodycache {
	pthread_mutex_t lock;
	pthread_cond_t arrived[NSTRIPES]; /* an awaited body came in or was given up */
	size_t limit, bytes;
	struct body *mru, *lru;      /* doubly linked, most recent first */
	struct body *buckets[NBUCKETS];
};

static size_t bucket(uint64_t key) { return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 52); }
static size_t stripe(uint64_t key) { return (size_t)(key % NSTRIPES); }

static void wake_waiters(struct bodycache *bc, struct body *b)
{
	if (b->awaited)
		pthread_cond_broadcast(&bc->arrived[stripe(b->key)]);
	b->awaited = false;
}

struct bodycache *bodycache_new(size_t limit_bytes)
{
	struct bodycache *bc = calloc(1, sizeof(*bc));

	if (!bc)
		return NULL;
	pthread_mutex_init(&bc->lock, NULL);
	for (size_t i = 0; i < NSTRIPES; i++)
		pthread_cond_init(&bc->arrived[i], NULL);
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
	for (size_t i = 0; i < NBUCKETS; i++)
		for (b = bc->buckets[i]; b; b = next) {
			next = b->hnext;
			free(b->data);
			free(b);
		}
	pthread_mutex_destroy(&bc->lock);
	for (size_t i = 0; i < NSTRIPES; i++)
		pthread_cond_destroy(&bc->arrived[i]);
	free(bc);
}

/* Hand out b (may be NULL): pinned, and now the most recently used. */
static void pin(struct bodycache *bc, struct body *b)
{
	if (!b)
		return;
	b->refs++;
	lru_unlink(bc, b);
	lru_push_front(bc, b);
}

struct body *bodycache_get(struct bodycache *bc, uint64_t key)
{
	struct body *b;

	pthread_mutex_lock(&bc->lock);
	b = lookup(bc, key);
	if (b && b->pending)
		b = NULL;
	pin(bc, b);
	pthread_mutex_unlock(&bc->lock);
	return b;
}

struct body *bodycache_wait(struct bodycache *bc, uint64_t key)
{
	struct body *b;

	pthread_mutex_lock(&bc->lock);
	while ((b = lookup(bc, key)) && b->pending) {
		b->awaited = true;
		pthread_cond_wait(&bc->arrived[stripe(key)], &bc->lock);
	}
	pin(bc, b);
	pthread_mutex_unlock(&bc->lock);
	return b;
}

static void insert(struct bodycache *bc, struct body *b)
{
	b->hnext = bc->buckets[bucket(b->key)];
	bc->buckets[bucket(b->key)] = b;
}

bool bodycache_mark_pending(struct bodycache *bc, uint64_t key)
{
	struct body *b;
	bool marked = false;

	pthread_mutex_lock(&bc->lock);
	if (!lookup(bc, key) && (b = calloc(1, sizeof(*b)))) {
		b->key = key;
		b->pending = true;
		insert(bc, b);
		marked = true;
	}
	pthread_mutex_unlock(&bc->lock);
	return marked;
}

bool bodycache_unmark_pending(struct bodycache *bc, uint64_t key)
{
	struct body *b;
	bool missing;

	pthread_mutex_lock(&bc->lock);
	b = lookup(bc, key);
	missing = b && b->pending;
	if (missing) {
		remove_from_hash(bc, b);
		wake_waiters(bc, b);
		free(b);
	}
	pthread_mutex_unlock(&bc->lock);
	return missing;
}

bool bodycache_has(struct bodycache *bc, uint64_t key)
{
	bool has;

	pthread_mutex_lock(&bc->lock);
	has = lookup(bc, key) != NULL; /* pending counts: it is on its way */
	pthread_mutex_unlock(&bc->lock);
	return has;
}

struct body *bodycache_put(struct bodycache *bc, uint64_t key, char *data, size_t len, bool pin)
{
	struct body *b;

	pthread_mutex_lock(&bc->lock);
	b = lookup(bc, key);
	if (b && b->pending) {
		/* The awaited body: readers blocked in bodycache_wait go on. */
		b->pending = false;
		b->data = data;
		b->len = len;
		lru_push_front(bc, b);
		bc->bytes += len;
		wake_waiters(bc, b);
	} else if (b) {
		free(data); /* the same immutable message: keep the copy we have */
	} else if ((b = calloc(1, sizeof(*b)))) {
		b->key = key;
		b->data = data;
		b->len = len;
		insert(bc, b);
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

void bodycache_pin(struct bodycache *bc, struct body *b)
{
	pthread_mutex_lock(&bc->lock);
	b->refs++;
	pthread_mutex_unlock(&bc->lock);
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
