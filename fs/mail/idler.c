/* One IDLE round (see idler.h). */
#include "fs/mail/idler.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/napper.h"
#include "fs/mail/account.h"
#include "imap/idle.h"

/* Wait for data until changed(), a stop or the re-issue time. */
static enum imap_result wait_in_idle(const struct idler *i, long long reissue)
{
	const struct options *o = i->a->opt;
	long long left;
	enum imap_result rr;

	while (!napper_stopped(i->stop) && !i->changed(i->ctx)) {
		left = reissue - clock_ms();
		if (left <= 0)
			break;
		rr = imap_idle_wait(i->s, (int)(left < o->idle_timeout * 1000LL ? left :
						o->idle_timeout * 1000LL));
		if (rr == IMAP_R_TIMEOUT && clock_ms() < reissue) {
			log_info(LOG_CAT_IMAP, "%s: no word from the server for %u s: the connection "
				 "is dead", i->what, o->idle_timeout);
			/* Not even a LOGOUT: it would wait for an answer that never comes. */
			imap_session_abort(i->s);
			return IMAP_R_TIMEOUT;
		}
		if (rr != IMAP_R_OK && rr != IMAP_R_TIMEOUT)
			return rr;
	}
	return IMAP_R_OK;
}

enum imap_result idle_round(const struct idler *i)
{
	long long reissue = clock_ms() + (long long)i->a->opt->idle_interval * 1000;
	enum imap_result rr;
	struct imap_status st;
	char tag[16];

	if (i->until_ms && i->until_ms < reissue)
		reissue = i->until_ms;

	rr = imap_idle_begin(i->s, tag, sizeof(tag), &st);
	if (rr != IMAP_R_OK)
		return rr;
	if (i->idling)
		i->idling(i->ctx);
	rr = wait_in_idle(i, reissue);
	/* The catch-up goes out right behind DONE: one round trip. */
	return rr == IMAP_R_OK ? imap_idle_done(i->s, tag) : rr;
}
