#include "backoff.h"

#include <stdlib.h>
#include <time.h>

#define LOGIN_REJECTED_MIN_MS 60000L

void backoff_init(struct backoff *b, unsigned max_s, unsigned tries)
{
	b->failures = 0;
	b->max_s = max_s ? max_s : 300;
	b->tries = tries;
	b->seed = (unsigned)time(NULL) ^ (unsigned)(size_t)b;
}

void backoff_reset(struct backoff *b) { b->failures = 0; }

/* The wait after n > 0 failures before this one: 1 s, 2 s, 4 s ... */
static long grown(struct backoff *b, unsigned n)
{
	long ms, cap = (long)b->max_s * 1000;

	ms = n > 20 ? cap : 1000L << (n - 1);
	if (ms > cap)
		ms = cap;
	/* +-20 % so that many clients do not come back in step. */
	return ms + ms * ((long)(rand_r(&b->seed) % 41) - 20) / 100;
}

long backoff_next(struct backoff *b, bool login_rejected)
{
	long ms;
	unsigned n;

	b->failures++;
	if (b->tries && b->failures >= b->tries)
		return -1;
	n = b->failures - 1; /* failures before this one */
	if (n == 0 && !login_rejected)
		return 0; /* the first retry at once: most drops are momentary */
	ms = n == 0 ? 0 : grown(b, n);
	if (login_rejected && ms < LOGIN_REJECTED_MIN_MS)
		ms = LOGIN_REJECTED_MIN_MS;
	return ms;
}

long backoff_silent(struct backoff *b)
{
	b->failures++;
	if (b->tries && b->failures >= b->tries)
		return -1;
	return grown(b, b->failures > 1 ? b->failures - 1 : 1);
}
