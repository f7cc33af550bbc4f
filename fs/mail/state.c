#include "fs/mail/state.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/mail/paths.h"

struct entry {
	char *mailbox;
	uint32_t uidvalidity, uid;
};

struct state {
	pthread_mutex_t lock;
	char *path;
	struct entry *e;
	size_t n;
};

static void add(struct state *st, const char *mailbox, uint32_t uidvalidity, uint32_t uid)
{
	struct entry *n = realloc(st->e, (st->n + 1) * sizeof(*n));

	if (!n)
		return;
	st->e = n;
	st->e[st->n].mailbox = strdup(mailbox);
	if (!st->e[st->n].mailbox)
		return;
	st->e[st->n].uidvalidity = uidvalidity;
	st->e[st->n].uid = uid;
	st->n++;
}

/* Lines "UIDVALIDITY UID MAILBOX"; anything else is skipped. */
static void load(struct state *st)
{
	FILE *f = fopen(st->path, "re");
	char line[1200], name[1100];
	unsigned long v, u;

	if (!f) {
		if (errno != ENOENT)
			log_warn(LOG_CAT_FS, "cannot read %s: %s", st->path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lu %lu %1099[^\n]", &v, &u, name) == 3 && v && v <= UINT32_MAX &&
		    u <= UINT32_MAX)
			add(st, name, (uint32_t)v, (uint32_t)u);
	fclose(f);
}

struct state *state_open(const char *user, const char *host, unsigned port)
{
	struct state *st = calloc(1, sizeof(*st));
	char *dir = paths_xdg_dir("XDG_STATE_HOME", "/.local/state");
	char *name = paths_account_id(user, host, port);

	if (!st || !dir || !name || asprintf(&st->path, "%s/%s.state", dir, name) < 0) {
		free(st);
		free(dir);
		free(name);
		return NULL;
	}
	if (paths_mkdirs(dir) < 0)
		log_warn(LOG_CAT_FS, "cannot create %s: %s", dir, strerror(errno));
	free(dir);
	free(name);
	pthread_mutex_init(&st->lock, NULL);
	load(st);
	return st;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		free(st->e[i].mailbox);
	free(st->e);
	free(st->path);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

const char *state_path(const struct state *st) { return st->path; }

static struct entry *find(struct state *st, const char *mailbox)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->e[i].mailbox, mailbox) == 0)
			return &st->e[i];
	return NULL;
}

bool state_get(struct state *st, const char *mailbox, uint32_t uidvalidity, uint32_t *uid)
{
	struct entry *e;
	bool ok;

	pthread_mutex_lock(&st->lock);
	e = find(st, mailbox);
	ok = e && e->uidvalidity == uidvalidity;
	if (ok)
		*uid = e->uid;
	pthread_mutex_unlock(&st->lock);
	return ok;
}

static void save(struct state *st)
{
	char *tmp = NULL;
	FILE *f;
	int fd;

	if (asprintf(&tmp, "%s.tmp", st->path) < 0)
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		log_warn(LOG_CAT_FS, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tmp);
		return;
	}
	for (size_t i = 0; i < st->n; i++)
		fprintf(f, "%u %u %s\n", st->e[i].uidvalidity, st->e[i].uid, st->e[i].mailbox);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, st->path) != 0)
		log_warn(LOG_CAT_FS, "cannot update %s: %s", st->path, strerror(errno));
	free(tmp);
}

void state_set(struct state *st, const char *mailbox, uint32_t uidvalidity, uint32_t uid)
{
	struct entry *e;

	pthread_mutex_lock(&st->lock);
	e = find(st, mailbox);
	if (e) {
		e->uidvalidity = uidvalidity;
		e->uid = uid;
	} else {
		add(st, mailbox, uidvalidity, uid);
	}
	save(st);
	pthread_mutex_unlock(&st->lock);
}

bool state_knows(struct state *st, const char *mailbox)
{
	bool known;

	pthread_mutex_lock(&st->lock);
	known = find(st, mailbox) != NULL;
	pthread_mutex_unlock(&st->lock);
	return known;
}

size_t state_seed(struct state *st, const struct state_mark *marks, size_t n)
{
	size_t had, added;

	pthread_mutex_lock(&st->lock);
	had = st->n;
	for (size_t i = 0; i < n; i++)
		if (!find(st, marks[i].mailbox))
			add(st, marks[i].mailbox, marks[i].uidvalidity, marks[i].uid);
	added = st->n - had;
	if (added)
		save(st); /* nothing new: no disk write at start-up */
	pthread_mutex_unlock(&st->lock);
	return added;
}
