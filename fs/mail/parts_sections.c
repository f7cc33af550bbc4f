#include "fs/mail/parts_sections.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "imap/bodystructure.h"

/* Few: a handful of files read in a row. */
#define SLOTS 16

struct slot {
	uint64_t key;                  /* 0: free */
	char section[IMAP_SECTION_MAX];
	char *raw;
	size_t len;
	bool binary;
	long long until;               /* clock_ms: dropped after */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];
static size_t total;

/* Lock held. */
static void drop(struct slot *s)
{
	total -= s->len;
	free(s->raw);
	*s = (struct slot){ .key = 0 };
}

/* Lock held: let go of what has had its time. */
static void expire(long long now)
{
	for (size_t i = 0; i < SLOTS; i++)
		if (slots[i].key && slots[i].until <= now)
			drop(&slots[i]);
}

char *parts_sections_get(uint64_t key, const char *section, size_t *len, bool *binary)
{
	char *out = NULL;

	pthread_mutex_lock(&lock);
	expire(clock_ms());
	for (size_t i = 0; i < SLOTS && !out; i++) {
		struct slot *s = &slots[i];

		if (!s->key || s->key != key || strcmp(s->section, section) != 0)
			continue;
		if ((out = malloc(s->len + 1))) {
			memcpy(out, s->raw, s->len);
			out[s->len] = '\0';
			*len = s->len;
			*binary = s->binary;
		}
		break;
	}
	pthread_mutex_unlock(&lock);
	return out;
}

/* Lock held: a free slot with room for want more bytes, made by letting
 * go of the slots that expire first (want is at most a quarter of all). */
static struct slot *make_room(size_t want)
{
	for (;;) {
		struct slot *free_one = NULL, *first = NULL;

		for (size_t i = 0; i < SLOTS; i++) {
			struct slot *s = &slots[i];

			if (!s->key)
				free_one = free_one ? free_one : s;
			else if (!first || s->until < first->until)
				first = s;
		}
		if (free_one && total + want <= PARTS_SECTIONS_BYTES)
			return free_one;
		drop(first);
	}
}

/* Lock held: the same section kept already (fetched twice at once). */
static void forget(uint64_t key, const char *section)
{
	for (size_t i = 0; i < SLOTS; i++)
		if (slots[i].key == key && strcmp(slots[i].section, section) == 0)
			drop(&slots[i]);
}

void parts_sections_put(uint64_t key, const char *section, const char *raw, size_t len,
			bool binary)
{
	char *copy;
	struct slot *s;

	if (!key || len > PARTS_SECTIONS_BYTES / 4 || strlen(section) >= IMAP_SECTION_MAX ||
	    !(copy = malloc(len ? len : 1)))
		return;
	memcpy(copy, raw, len);
	pthread_mutex_lock(&lock);
	expire(clock_ms());
	forget(key, section);
	s = make_room(len);
	*s = (struct slot){ .key = key, .raw = copy, .len = len, .binary = binary,
			    .until = clock_ms() + PARTS_SECTIONS_MS };
	strcpy(s->section, section);
	total += len;
	pthread_mutex_unlock(&lock);
}
