/* Calls made at a set time from a thread of their own: a request that
 * waits for a silent server can be answered from memory meanwhile (a
 * listing), while its own thread goes on waiting. */
#ifndef INBOXFS_FS_ALARM_H
#define INBOXFS_FS_ALARM_H

#include <stdbool.h>

struct alarms;

/* Called at the time set, on the alarms' thread, with nothing of the
 * caller's locked: return 0 when done, or a later monotonic time (ms) to
 * be called again then.  Keep it short: other alarms wait meanwhile. */
typedef long long (*alarm_fn)(void *ctx);

/* One pending call; the caller's memory, untouched between alarm_set
 * and alarm_cancel. */
struct alarm {
	long long at;
	alarm_fn fn;
	void *ctx;
	bool rang;     /* fn returned 0 */
	struct alarm *next;
};

/* NULL when the thread cannot start: alarm_set is then a no-op. */
struct alarms *alarms_start(void);
void alarms_stop(struct alarms *al); /* pending alarms never ring */
/* Call fn(ctx) at `at` (monotonic ms), unless cancelled first. */
void alarm_set(struct alarms *al, struct alarm *t, long long at, alarm_fn fn, void *ctx);
/* Afterwards fn is not running and never will: true when it did its job
 * (returned 0) before. */
bool alarm_cancel(struct alarms *al, struct alarm *t);

#endif
