/* Names the kernel keeps for messages we moved (see alias.h).  One mount
 * per process: the list is the module's own, under its own lock. */
#include "fs/alias.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/hooks.h"

struct alias {
	uint64_t dir_ino;
	char *name;
	struct alias *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct alias *aliases;
void alias_add(const struct mail_hooks *h, uint64_t dir_ino, const char *name)
{
	struct alias *al = calloc(1, sizeof(*al));

	pthread_mutex_lock(&lock);
	if (!al || !(al->name = strdup(name))) {
		free(al);
		hooks_inval_entry(h, dir_ino, name); /* drop it now rather */
	} else {
		al->dir_ino = dir_ino;
		al->next = aliases;
		aliases = al;
	}
	pthread_mutex_unlock(&lock);
}

void alias_flush(const struct mail_hooks *h, uint64_t dir_ino)
{
	struct alias **pp, *al;

	pthread_mutex_lock(&lock);
	for (pp = &aliases; (al = *pp);) {
		if (al->dir_ino != dir_ino) {
			pp = &al->next;
			continue;
		}
		*pp = al->next;
		hooks_inval_entry(h, al->dir_ino, al->name);
		free(al->name);
		free(al);
	}
	pthread_mutex_unlock(&lock);
}

void alias_free_all(void)
{
	struct alias *al, *next;

	pthread_mutex_lock(&lock);
	for (al = aliases; al; al = next) {
		next = al->next;
		free(al->name);
		free(al);
	}
	aliases = NULL;
	pthread_mutex_unlock(&lock);
}
