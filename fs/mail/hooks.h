/* What the mailbox engine tells the kernel's side: stale names and
 * attributes, bodies worth putting in the page cache, news for the
 * announcer.  fs/ fills the table in once mounted; until then, and in unit
 * tests, the members are NULL and there is nothing to tell. */
#ifndef INBOXFS_FS_MAIL_HOOKS_H
#define INBOXFS_FS_MAIL_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

struct body;
struct bodycache;

struct mail_hooks {
	void *ctx;
	/* The kernel's attributes and pages of ino are stale. */
	void (*inval_inode)(void *ctx, uint64_t ino);
	/* The kernel's entry for name in folder dir is stale. */
	void (*inval_entry)(void *ctx, uint64_t dir, const char *name);
	/* Put b (one pin of it, taken over) into ino's page cache. */
	void (*store)(void *ctx, uint64_t ino, struct bodycache *bc, struct body *b);
	/* Send what was queued now rather than with the next batch. */
	void (*flush)(void *ctx);
	/* Arrivals or departures wait to be announced (NULL: no announcer
	 * runs, so nothing is held back for one). */
	void (*news)(void *ctx);
	void *news_ctx;
};

static inline void hooks_inval_inode(const struct mail_hooks *h, uint64_t ino)
{
	if (h->inval_inode)
		h->inval_inode(h->ctx, ino);
}

static inline void hooks_inval_entry(const struct mail_hooks *h, uint64_t dir, const char *name)
{
	if (h->inval_entry)
		h->inval_entry(h->ctx, dir, name);
}

/* Whether a store would reach the kernel (else the pin is not worth it). */
static inline bool hooks_can_store(const struct mail_hooks *h) { return h->store != NULL; }

static inline void hooks_store(const struct mail_hooks *h, uint64_t ino, struct bodycache *bc,
			       struct body *b)
{
	h->store(h->ctx, ino, bc, b);
}

static inline void hooks_flush(const struct mail_hooks *h)
{
	if (h->flush)
		h->flush(h->ctx);
}

/* Whether an announcer shows news (else it is shown at once). */
static inline bool hooks_announcing(const struct mail_hooks *h) { return h->news != NULL; }

static inline void hooks_news(const struct mail_hooks *h)
{
	if (h->news)
		h->news(h->news_ctx);
}

#endif
