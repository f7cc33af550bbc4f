/* Monotonic time in milliseconds: for timeouts, deadlines and "last
 * contact" figures, never affected by changes of the wall clock. */
#ifndef INBOXFS_CLOCK_H
#define INBOXFS_CLOCK_H

#include <time.h>

static inline long long clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same in microseconds: for round-trip times on a fast link. */
static inline long long clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
