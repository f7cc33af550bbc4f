/* Logging for every layer: one line per event, to stderr in the foreground
 * and to syslog once daemonised.  Callers never pass secrets; protocol
 * traces go through imap_trace redaction before reaching here. */
#ifndef INBOXFS_LOG_H
#define INBOXFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

/* Categories can be enabled separately for debug/trace output. */
enum log_cat { LOG_CAT_CORE = 1, LOG_CAT_IMAP = 2, LOG_CAT_FS = 4, LOG_CAT_AUTH = 8 };

void log_set_level(enum log_level lvl);
void log_set_categories(unsigned mask);
void log_use_syslog(bool on);
bool log_enabled(enum log_level lvl, enum log_cat cat);

/* Secrets the process holds (password, client secret, tokens): any log
 * line that would contain one shows <redacted> instead.  A second line of
 * defence: callers never log secrets on purpose.  The newest LOG_SECRETS_MAX
 * are kept; strings shorter than 6 bytes are not registered. */
#define LOG_SECRETS_MAX 16
void log_add_secret(const char *secret);
void log_forget_secret(const char *secret);
/* Replace every registered secret in line (in place; the line can only
 * get shorter or stay within cap).  Exposed for the unit test. */
void log_redact(char *line, size_t cap, bool truncated);

void log_msg(enum log_level lvl, enum log_cat cat, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(cat, ...) log_msg(LOG_LVL_ERR, cat, __VA_ARGS__)
#define log_warn(cat, ...) log_msg(LOG_LVL_WARN, cat, __VA_ARGS__)
#define log_info(cat, ...) log_msg(LOG_LVL_INFO, cat, __VA_ARGS__)
#define log_debug(cat, ...) do { if (log_enabled(LOG_LVL_DEBUG, cat)) log_msg(LOG_LVL_DEBUG, cat, __VA_ARGS__); } while (0)
#define log_trace(cat, ...) do { if (log_enabled(LOG_LVL_TRACE, cat)) log_msg(LOG_LVL_TRACE, cat, __VA_ARGS__); } while (0)

#endif
