/* The queries the kernel knows (see queries.h). */
#include "fs/queries.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message a query found. */
struct hit {
	uint64_t folder;
	uint32_t uid;
};

struct query {
	uint32_t id;               /* 0: a free slot */
	uint64_t folder;
	char text[NAME_MAX + 1];
	bool ran;
	struct hit *hits;          /* by folder, then UID */
	size_t n;
	uint64_t used;             /* when last asked for (a counter) */
};

static struct query table[QUERIES_MAX];
static uint32_t next_id = 1;
static uint64_t clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot of id, or NULL (lock held). */
static struct query *find(uint32_t id)
{
	for (size_t i = 0; id && i < QUERIES_MAX; i++)
		if (table[i].id == id) {
			table[i].used = ++clock_now;
			return &table[i];
		}
	return NULL;
}

static void forget(struct query *q)
{
	free(q->hits);
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

uint32_t queries_add(uint64_t folder, const char *text)
{
	struct query *q = NULL;
	uint32_t id;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < QUERIES_MAX && !q; i++)
		if (table[i].id && table[i].folder == folder && strcmp(table[i].text, text) == 0)
			q = &table[i];
	if (!q) {
		q = take_slot();
		q->id = next_id;
		next_id = next_id == QUERY_ID_MAX ? 1 : next_id + 1;
		q->folder = folder;
		snprintf(q->text, sizeof(q->text), "%s", text);
	}
	q->used = ++clock_now;
	id = q->id;
	pthread_mutex_unlock(&lock);
	return id;
}

bool queries_get(uint32_t id, uint64_t *folder, char text[NAME_MAX + 1])
{
	struct query *q;

	pthread_mutex_lock(&lock);
	q = find(id);
	if (q) {
		*folder = q->folder;
		memcpy(text, q->text, sizeof(q->text));
	}
	pthread_mutex_unlock(&lock);
	return q != NULL;
}

/* ---- what they found ------------------------------------------------------------ */

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->folder != y->folder)
		return (x->folder > y->folder) - (x->folder < y->folder);
	return (x->uid > y->uid) - (x->uid < y->uid);
}

/* q's hits with those of folders outside keep (n) dropped (lock held). */
static void drop_folders(struct query *q, const uint64_t *keep, size_t n, bool inside)
{
	size_t k = 0;

	for (size_t i = 0; i < q->n; i++) {
		bool in = false;

		for (size_t j = 0; j < n && !in; j++)
			in = keep[j] == q->hits[i].folder;
		if (in == inside)
			q->hits[k++] = q->hits[i];
	}
	q->n = k;
}

void queries_set_results(uint32_t id, uint64_t folder, uint32_t *uids, size_t n)
{
	struct query *q;
	struct hit *nh;

	pthread_mutex_lock(&lock);
	q = find(id);
	if (q) {
		drop_folders(q, &folder, 1, false);
		nh = realloc(q->hits, (q->n + n + 1) * sizeof(*nh));
		if (nh) {
			for (size_t i = 0; i < n; i++)
				nh[q->n + i] = (struct hit){ folder, uids[i] };
			q->hits = nh;
			q->n += n;
			qsort(q->hits, q->n, sizeof(*q->hits), cmp_hit);
		}
		q->ran = q->ran || nh;
	}
	pthread_mutex_unlock(&lock);
	free(uids);
}

void queries_keep_only(uint32_t id, const uint64_t *keep, size_t n)
{
	struct query *q;

	pthread_mutex_lock(&lock);
	q = find(id);
	if (q)
		drop_folders(q, keep, n, true);
	pthread_mutex_unlock(&lock);
}

bool queries_results(uint32_t id, uint64_t folder, uint32_t **uids, size_t *n)
{
	struct query *q;
	size_t k = 0;
	bool ok;

	pthread_mutex_lock(&lock);
	q = find(id);
	ok = q && q->ran && (*uids = malloc((q->n + 1) * sizeof(**uids)));
	for (size_t i = 0; ok && i < q->n; i++)
		if (q->hits[i].folder == folder)
			(*uids)[k++] = q->hits[i].uid;
	pthread_mutex_unlock(&lock);
	if (!ok)
		*uids = NULL;
	*n = k;
	return ok;
}

bool queries_folders(uint32_t id, uint64_t **folders, size_t *n)
{
	struct query *q;
	size_t k = 0;
	bool ok;

	pthread_mutex_lock(&lock);
	q = find(id);
	ok = q && q->ran && (*folders = malloc((q->n + 1) * sizeof(**folders)));
	for (size_t i = 0; ok && i < q->n; i++)
		if (k == 0 || (*folders)[k - 1] != q->hits[i].folder)
			(*folders)[k++] = q->hits[i].folder;
	pthread_mutex_unlock(&lock);
	if (!ok)
		*folders = NULL;
	*n = k;
	return ok;
}

bool queries_has(uint32_t id, uint64_t folder, uint32_t uid, bool *ran)
{
	struct hit key = { folder, uid };
	struct query *q;
	bool has = false;

	pthread_mutex_lock(&lock);
	q = find(id);
	*ran = q && q->ran;
	if (*ran && q->n)
		has = bsearch(&key, q->hits, q->n, sizeof(key), cmp_hit) != NULL;
	pthread_mutex_unlock(&lock);
	return has;
}
