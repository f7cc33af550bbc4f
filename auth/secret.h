/* Where passwords come from: a file, a command, or the environment.
 * Nothing here logs a secret; errors name the source, never the value. */
#ifndef INBOXFS_AUTH_SECRET_H
#define INBOXFS_AUTH_SECRET_H

#include <stddef.h>

struct secret_source {
	const char *file;   /* -o password_file: first line; must not be group/other readable */
	const char *cmd;    /* -o password_cmd: first line of stdout, via /bin/sh -c */
	const char *env;    /* name of an environment variable (INBOXFS_PASSWORD) */
};

/* Returns a malloc'd secret (free with sasl_wipe), or NULL with a reason
 * in err. */
char *secret_load(const struct secret_source *src, char *err, size_t errlen);
/* Read the first line of a file with the permission check. */
char *secret_from_file(const char *path, char *err, size_t errlen);
/* The first line of a secret file (what names it in errors). */
char *secret_first_line(const char *path, const char *what, char *err, size_t errlen);
/* A whole secret file (a private key), at most max-1 bytes, NUL-terminated;
 * *len gets its length.  Wipe with OPENSSL_cleanse before freeing. */
char *secret_whole_file(const char *path, const char *what, size_t max, size_t *len,
			char *err, size_t errlen);
/* Replace path's content by value + "\n" atomically (temporary file in the
 * same directory, mode 0600, fsync, rename, fsync of the directory). */
int secret_replace_file(const char *path, const char *what, const char *value,
			char *err, size_t errlen);
/* Run cmd and take the first line of its standard output. */
char *secret_from_cmd(const char *cmd, char *err, size_t errlen);

#endif
