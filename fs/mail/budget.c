/* Sharing the connections (see budget.h). */
#include "fs/mail/budget.h"

static size_t least(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The first watched folder: IDLE when it is the only one or when the
 * budget also has room to poll the rest; else one poller for them all. */
static void first_watch(struct budget *b, size_t watched, unsigned idle_max, unsigned *rest)
{
	if (!watched || !*rest)
		return;
	if (idle_max && (watched == 1 || *rest >= 2)) {
		b->idle = 1;
		(*rest)--;
	}
	if (watched > b->idle && *rest) {
		b->poller = true;
		(*rest)--;
	}
}

void budget_plan(struct budget *b, unsigned max, unsigned connections, size_t watched,
		 unsigned idle_max)
{
	unsigned rest = max > 1 ? max - 1 : 0; /* the worker's is taken */
	unsigned wanted = connections > 1 ? connections - 1 : 0;
	size_t more;

	*b = (struct budget){ .max = max ? max : 1 };
	first_watch(b, watched, idle_max, &rest);
	b->readers = (unsigned)least(wanted, rest);
	rest -= b->readers;
	more = least(rest, least(watched - b->idle, idle_max > b->idle ? idle_max - b->idle : 0));
	b->idle += more;
	rest -= (unsigned)more;
	/* The poller's own connection may be all the rest need for IDLE. */
	if (b->poller && watched - b->idle <= rest + 1 && watched <= idle_max) {
		rest = rest + 1 - (unsigned)(watched - b->idle);
		b->idle = watched;
		b->poller = false;
		b->readers += (unsigned)least(rest, wanted - b->readers);
	}
}

unsigned budget_used(const struct budget *b)
{
	return 1 + b->readers + (unsigned)b->idle + (b->poller ? 1 : 0);
}
