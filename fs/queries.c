/* The queries the kernel knows (see queries.h). */
#include "fs/queries.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inode.h"

struct query {
	uint64_t id;               /* 0: a free slot */
	uint64_t folder;
	char text[NAME_MAX + 1];
	bool ran;
	uint32_t *uids;
	size_t n;
	uint64_t used;             /* when last asked for (a counter) */
};

static struct query table[QUERIES_MAX];
static uint64_t next_id = 1, clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t ino_of(uint64_t id) { return SEARCH_INO_BIT | SEARCH_QUERY_BIT | id; }

/* The slot of ino, or NULL (lock held). */
static struct query *find(uint64_t ino)
{
	uint64_t id = ino & (SEARCH_QUERY_BIT - 1);

	if ((ino & ~(SEARCH_QUERY_BIT - 1)) != (SEARCH_INO_BIT | SEARCH_QUERY_BIT) || !id)
		return NULL;
	for (size_t i = 0; i < QUERIES_MAX; i++)
		if (table[i].id == id) {
			table[i].used = ++clock_now;
			return &table[i];
		}
	return NULL;
}

static void forget(struct query *q)
{
	free(q->uids);
	memset(q, 0, sizeof(*q));
}

/* A free slot, or the one used least recently, emptied (lock held). */
static struct query *take_slot(void)
{
	struct query *old = &table[0];

	for (size_t i = 0; i < QUERIES_MAX; i++) {
		if (!table[i].id)
			return &table[i];
		if (table[i].used < old->used)
			old = &table[i];
	}
	forget(old);
	return old;
}

uint64_t queries_add(uint64_t folder, const char *text)
{
	struct query *q = NULL;
	uint64_t ino;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < QUERIES_MAX && !q; i++)
		if (table[i].id && table[i].folder == folder && strcmp(table[i].text, text) == 0)
			q = &table[i];
	if (!q) {
		q = take_slot();
		q->id = next_id++;
		q->folder = folder;
		snprintf(q->text, sizeof(q->text), "%s", text);
	}
	q->used = ++clock_now;
	ino = ino_of(q->id);
	pthread_mutex_unlock(&lock);
	return ino;
}

bool queries_get(uint64_t ino, uint64_t *folder, char text[NAME_MAX + 1])
{
	struct query *q;

	pthread_mutex_lock(&lock);
	q = find(ino);
	if (q) {
		*folder = q->folder;
		memcpy(text, q->text, sizeof(q->text));
	}
	pthread_mutex_unlock(&lock);
	return q != NULL;
}

void queries_set_results(uint64_t ino, uint32_t *uids, size_t n)
{
	struct query *q;

	pthread_mutex_lock(&lock);
	q = find(ino);
	if (q) {
		free(q->uids);
		q->uids = uids;
		q->n = n;
		q->ran = true;
		uids = NULL;
	}
	pthread_mutex_unlock(&lock);
	free(uids);
}

bool queries_results(uint64_t ino, uint32_t **uids, size_t *n)
{
	struct query *q;
	bool ok = false;

	*uids = NULL;
	*n = 0;
	pthread_mutex_lock(&lock);
	q = find(ino);
	if (q && q->ran && (!q->n || (*uids = malloc(q->n * sizeof(**uids))))) {
		if (q->n)
			memcpy(*uids, q->uids, q->n * sizeof(**uids));
		*n = q->n;
		ok = true;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

bool queries_has(uint64_t ino, uint32_t uid, bool *ran)
{
	struct query *q;
	bool has = false;

	pthread_mutex_lock(&lock);
	q = find(ino);
	*ran = q && q->ran;
	if (*ran && q->n)
		has = bsearch(&uid, q->uids, q->n, sizeof(uid), cmp_u32) != NULL;
	pthread_mutex_unlock(&lock);
	return has;
}
