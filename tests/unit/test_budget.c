/* The connection budget: never more than max in all, the worker first,
 * then IDLE for the first watched folder, one poller for the rest, the
 * readers, and IDLE for more folders last. */
#include "check.h"
#include "fs/mail/budget.h"

struct row {
	unsigned max, connections;
	size_t watched;
	unsigned idle_max;
	unsigned readers;
	size_t idle;
	bool poller;
};

static const struct row rows[] = {
	/* max conn watched idle_max -> readers idle poller */
	{ 8, 3, 1, 20, 2, 1, false },   /* the default mount: INBOX */
	{ 8, 3, 0, 20, 2, 0, false },   /* watch=none */
	{ 8, 3, 60, 20, 2, 4, true },   /* watch=all, 60 folders */
	{ 8, 3, 3, 20, 2, 3, false },   /* all fit: no poller */
	{ 8, 3, 5, 20, 2, 5, false },   /* exactly fits */
	{ 8, 3, 6, 20, 2, 4, true },    /* one too many: poller */
	{ 8, 3, 60, 2, 2, 2, true },    /* watch_max caps IDLE */
	{ 8, 3, 60, 0, 2, 0, true },    /* watch_max 0: all polled */
	{ 4, 3, 60, 20, 1, 1, true },   /* a server allowing 4 */
	{ 2, 3, 60, 20, 0, 0, true },   /* worker + one: poll everything */
	{ 2, 3, 1, 20, 0, 1, false },   /* worker + IDLE on INBOX */
	{ 1, 3, 5, 20, 0, 0, false },   /* only the worker: nothing watched */
	{ 8, 16, 1, 20, 6, 1, false },  /* readers capped by the budget */
	{ 64, 16, 100, 20, 15, 20, true },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct budget b;

		budget_plan(&b, r->max, r->connections, r->watched, r->idle_max);
		CHECK(b.readers == r->readers);
		CHECK(b.idle == r->idle);
		CHECK(b.poller == r->poller);
		CHECK(budget_used(&b) <= r->max);
		if (b.readers != r->readers || b.idle != r->idle || b.poller != r->poller)
			fprintf(stderr, "row %zu: readers %u idle %zu poller %d\n", i, b.readers,
				b.idle, b.poller);
	}
	return check_summary("budget");
}
