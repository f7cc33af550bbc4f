#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static enum log_level cur_level = LOG_LVL_INFO;
static unsigned cur_cats = ~0u;
static bool to_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level lvl) { cur_level = lvl; }
void log_set_categories(unsigned mask) { cur_cats = mask; }

void log_use_syslog(bool on)
{
	to_syslog = on;
	if (on)
		openlog("inboxfs", LOG_PID, LOG_DAEMON);
}

bool log_enabled(enum log_level lvl, enum log_cat cat)
{
	if (lvl > cur_level)
		return false;
	/* Errors, warnings and state changes are always shown; categories
	 * only filter the chatty levels. */
	return lvl <= LOG_LVL_INFO || (cur_cats & (unsigned)cat);
}

static const char *level_name(enum log_level lvl)
{
	static const char *const names[] = { "error", "warning", "info", "debug", "trace" };
	return names[lvl];
}

static int syslog_prio(enum log_level lvl)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };
	return prio[lvl];
}

void log_msg(enum log_level lvl, enum log_cat cat, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (!log_enabled(lvl, cat))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(syslog_prio(lvl), "%s", line);
		return;
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "inboxfs: %s: %s\n", level_name(lvl), line);
	pthread_mutex_unlock(&log_lock);
}
