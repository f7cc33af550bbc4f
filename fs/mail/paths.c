/* XDG base directories (XDG Base Directory Specification 0.8). */
#include "fs/mail/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *paths_xdg_dir(const char *var, const char *fallback)
{
	const char *xdg = getenv(var), *home = getenv("HOME");
	char *d = NULL;

	/* A relative value is invalid and must be ignored (the spec). */
	if (xdg && *xdg == '/') {
		if (asprintf(&d, "%s/inboxfs", xdg) < 0)
			d = NULL;
	} else if (asprintf(&d, "%s%s/inboxfs", home && *home ? home : "/tmp", fallback) < 0) {
		d = NULL;
	}
	return d;
}

char *paths_account_id(const char *user, const char *host, unsigned port)
{
	char raw[600], *out = malloc(3 * sizeof(raw) + 1), *o = out;

	if (!out)
		return NULL;
	snprintf(raw, sizeof(raw), "%s@%s:%u", user, host, port);
	for (const char *c = raw; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr(".@_-", *c))
			*o++ = *c;
		else
			o += sprintf(o, "%%%02X", (unsigned char)*c);
	}
	*o = '\0';
	return out;
}

int paths_mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}
