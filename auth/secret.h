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
/* Run cmd and take the first line of its standard output. */
char *secret_from_cmd(const char *cmd, char *err, size_t errlen);

#endif
