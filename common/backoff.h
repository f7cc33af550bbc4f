/* When to try again after a connection fails: at once the first time
 * (but after silence), then after waits that double (1 s, 2 s, 4 s ...)
 * with +-20 % jitter, up to a ceiling; never giving up unless a number of
 * tries is set.  After a login rejection at least a minute passes between
 * tries: servers lock accounts that hammer them. */
#ifndef INBOXFS_BACKOFF_H
#define INBOXFS_BACKOFF_H

#include <stdbool.h>

struct backoff {
	unsigned failures;     /* in a row */
	unsigned max_s;        /* ceiling of a wait, seconds (reconnect_max) */
	unsigned tries;        /* give up at this many failures in a row; 0: never */
	unsigned seed;         /* for the jitter */
};

void backoff_init(struct backoff *b, unsigned max_s, unsigned tries);
/* After a failure: milliseconds to wait before the next try, or -1 when
 * the tries are used up. */
long backoff_next(struct backoff *b, bool login_rejected);
/* After a server that went silent (a command or a connect timed out):
 * the same count and ceiling, but no retry at once, not even the first
 * time: over a dead link it would keep the next caller waiting a whole
 * timeout too. */
long backoff_silent(struct backoff *b);
/* After a success. */
void backoff_reset(struct backoff *b);

#endif
