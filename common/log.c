#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum log_level cur_level = LOG_LVL_INFO;
static unsigned cur_cats = ~0u;
static bool to_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static char *secrets[LOG_SECRETS_MAX];
static size_t next_secret;
static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;

#define SECRET_MIN 6
#define REDACTED "<redacted>"

static void wipe_free(char *s)
{
	if (!s)
		return;
	/* volatile: the compiler may not drop stores to memory about to be freed */
	for (volatile char *p = s; *p; p++)
		*p = 0;
	free(s);
}

void log_add_secret(const char *secret)
{
	char *copy;

	if (!secret || strlen(secret) < SECRET_MIN || !(copy = strdup(secret)))
		return;
	pthread_mutex_lock(&secret_lock);
	for (size_t i = 0; i < LOG_SECRETS_MAX; i++)
		if (secrets[i] && strcmp(secrets[i], copy) == 0) {
			pthread_mutex_unlock(&secret_lock);
			wipe_free(copy);
			return;
		}
	wipe_free(secrets[next_secret]);
	secrets[next_secret] = copy;
	next_secret = (next_secret + 1) % LOG_SECRETS_MAX;
	pthread_mutex_unlock(&secret_lock);
}

void log_forget_secret(const char *secret)
{
	if (!secret)
		return;
	pthread_mutex_lock(&secret_lock);
	for (size_t i = 0; i < LOG_SECRETS_MAX; i++)
		if (secrets[i] && strcmp(secrets[i], secret) == 0) {
			wipe_free(secrets[i]);
			secrets[i] = NULL;
		}
	pthread_mutex_unlock(&secret_lock);
}

/* A line cut short may end in the first part of a secret. */
static void cut_partial(char *line, const char *secret)
{
	size_t len = strlen(line), sl = strlen(secret);

	for (size_t k = sl - 1; k >= SECRET_MIN; k--)
		if (k <= len && memcmp(line + len - k, secret, k) == 0) {
			line[len - k] = '\0';
			return;
		}
}

static void redact_one(char *line, size_t cap, const char *secret, bool truncated)
{
	size_t sl = strlen(secret), rl = strlen(REDACTED);
	char *from = line, *hit;

	while ((hit = strstr(from, secret))) {
		size_t tail = strlen(hit + sl);

		if (rl <= sl || (size_t)(hit - line) + rl + tail < cap) {
			memmove(hit + rl, hit + sl, tail + 1);
			memcpy(hit, REDACTED, rl);
			from = hit + rl; /* the marker itself is never searched */
		} else {
			*hit = '\0'; /* no room for the marker: cut the line */
			break;
		}
	}
	if (truncated)
		cut_partial(line, secret);
}

void log_redact(char *line, size_t cap, bool truncated)
{
	pthread_mutex_lock(&secret_lock);
	for (size_t i = 0; i < LOG_SECRETS_MAX; i++)
		if (secrets[i])
			redact_one(line, cap, secrets[i], truncated);
	pthread_mutex_unlock(&secret_lock);
}

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

/* Length of the well-formed UTF-8 sequence at s (1 for ASCII), 0 if none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		   s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Log lines quote names and text a server or a user chose (mailbox names
 * may come as literals holding CR, LF or ESC; file names may be any
 * bytes): control bytes and bytes that are not UTF-8 are shown as \xNN so
 * that one event stays one line of text and cannot forge another or drive
 * a terminal.  Cut short, never split, when the escapes need more room. */
static void escape_controls(const char *in, char *out, size_t cap)
{
	size_t o = 0, n;

	while (*in && o + 1 < cap) {
		unsigned char c = (unsigned char)*in;

		n = utf8_len((const unsigned char *)in);
		if (n && c != 0x7f && (c >= 0x20 || n > 1)) {
			if (o + n + 1 > cap)
				break;
			memcpy(out + o, in, n);
			o += n;
			in += n;
			continue;
		}
		in++;
		if (o + 5 > cap)
			break;
		o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

void log_msg(enum log_level lvl, enum log_cat cat, const char *fmt, ...)
{
	char line[2048], safe[2048];
	va_list ap;
	int n;

	if (!log_enabled(lvl, cat))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_redact(line, sizeof(line), n >= (int)sizeof(line));
	escape_controls(line, safe, sizeof(safe));
	if (to_syslog) {
		syslog(syslog_prio(lvl), "%s", safe);
		return;
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "inboxfs: %s: %s\n", level_name(lvl), safe);
	pthread_mutex_unlock(&log_lock);
}
