/* The reconnect policy: at once, then 1, 2, 4 ... s (+-20 %), a ceiling,
 * a minute after a login rejection, never at once after silence, giving
 * up only when told. */
#include "check.h"
#include "common/backoff.h"

static bool near(long got, long want)
{
	return got >= want * 8 / 10 && got <= want * 12 / 10;
}

int main(void)
{
	struct backoff b;
	long ms;

	backoff_init(&b, 300, 0);
	CHECK(backoff_next(&b, false) == 0);
	CHECK(near(backoff_next(&b, false), 1000));
	CHECK(near(backoff_next(&b, false), 2000));
	CHECK(near(backoff_next(&b, false), 4000));
	CHECK(near(backoff_next(&b, false), 8000));
	for (int i = 0; i < 100; i++)
		ms = backoff_next(&b, false);
	CHECK(near(ms, 300000) && ms > 0);        /* the ceiling, forever */
	backoff_reset(&b);
	CHECK(backoff_next(&b, false) == 0);      /* a success starts over */
	CHECK(backoff_next(&b, true) >= 60000);   /* login rejected: >= a minute */
	backoff_reset(&b);
	CHECK(backoff_next(&b, true) >= 60000);   /* even the first time */

	backoff_init(&b, 5, 3);                   /* reconnect_max=5, reconnect_tries=3 */
	CHECK(backoff_next(&b, false) == 0);
	CHECK(near(backoff_next(&b, false), 1000));
	CHECK(backoff_next(&b, false) == -1);     /* the third failure: given up */
	backoff_init(&b, 2, 0);
	for (int i = 0; i < 10; i++)
		ms = backoff_next(&b, false);
	CHECK(near(ms, 2000));

	backoff_init(&b, 300, 4);                 /* a silent server: never at once */
	CHECK(near(backoff_silent(&b), 1000));
	CHECK(near(backoff_silent(&b), 1000));
	CHECK(near(backoff_next(&b, false), 2000));
	CHECK(backoff_silent(&b) == -1);          /* it counts as a try */
	backoff_init(&b, 300, 0);
	CHECK(backoff_next(&b, false) == 0);      /* a drop, then silence */
	CHECK(near(backoff_silent(&b), 1000));
	return check_summary("backoff");
}
