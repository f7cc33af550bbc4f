/* How the mount's connections are shared (-o max_connections): servers
 * cap connections per user (Dovecot 10, Gmail 15), and a mount that asks
 * for more is refused from the cap on.  The worker comes first, then
 * new mail in the first watched folder (INBOX), then one connection that
 * polls the watched folders left without IDLE, then the readers, then
 * IDLE for more watched folders. */
#ifndef INBOXFS_FS_MAIL_BUDGET_H
#define INBOXFS_FS_MAIL_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

struct budget {
	unsigned max;      /* connections at once, all kinds together */
	unsigned readers;  /* reader connections beside the worker */
	size_t idle;       /* the first `idle` watched folders have IDLE each */
	bool poller;       /* one connection polls the other watched folders */
};

/* The plan for max connections (at least 1), connections wanted for
 * reading (-o connections, the worker included), watched folders, and
 * at most idle_max IDLE connections (-o watch_max). */
void budget_plan(struct budget *b, unsigned max, unsigned connections, size_t watched,
		 unsigned idle_max);
/* Connections the plan uses at most. */
unsigned budget_used(const struct budget *b);

#endif
