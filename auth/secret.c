/* Password sources.  Same rules as mbsync's Pass/PassCmd: the first line
 * is the secret, trailing CR/LF removed. */
#include "auth/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define SECRET_MAX 8192

/* Cut at the first line end; refuse empty secrets and embedded NULs. */
static char *first_line(char *buf, size_t len, const char *what, char *err, size_t errlen)
{
	char *nl = memchr(buf, '\n', len), *out;
	size_t n = nl ? (size_t)(nl - buf) : len;

	if (n && buf[n - 1] == '\r')
		n--;
	if (n == 0 || memchr(buf, '\0', n)) {
		snprintf(err, errlen, "%s gave no usable password (empty first line)", what);
		return NULL;
	}
	out = malloc(n + 1);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	return out;
}

static size_t read_upto(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;

	while (len < cap) {
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r))
			break;
	}
	return len;
}

char *secret_from_file(const char *path, char *err, size_t errlen)
{
	char buf[SECRET_MAX], *out;
	struct stat st;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open password file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "password file %s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "password file %s is accessible by group or others "
			 "(mode %03o); run: chmod 600 %s", path, (unsigned)(st.st_mode & 0777), path);
		close(fd);
		return NULL;
	}
	len = read_upto(fd, buf, sizeof(buf));
	close(fd);
	out = first_line(buf, len, "password file", err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

char *secret_from_cmd(const char *cmd, char *err, size_t errlen)
{
	char buf[SECRET_MAX], *out = NULL;
	FILE *f;
	size_t len;
	int status;

	fflush(NULL);
	f = popen(cmd, "re");
	if (!f) {
		snprintf(err, errlen, "cannot run password_cmd: %s", strerror(errno));
		return NULL;
	}
	len = read_upto(fileno(f), buf, sizeof(buf));
	/* Drain the rest so the command does not die of SIGPIPE. */
	while (fgetc(f) != EOF)
		;
	status = pclose(f);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		snprintf(err, errlen, "password_cmd failed (exit status %d)",
			 status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else
		out = first_line(buf, len, "password_cmd", err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

char *secret_load(const struct secret_source *src, char *err, size_t errlen)
{
	const char *v;

	if (src->cmd)
		return secret_from_cmd(src->cmd, err, errlen);
	if (src->file)
		return secret_from_file(src->file, err, errlen);
	v = src->env ? getenv(src->env) : NULL;
	if (v && *v)
		return strdup(v);
	snprintf(err, errlen, "no password given: use -o password_file=PATH, -o password_cmd=CMD "
		 "or the INBOXFS_PASSWORD environment variable");
	return NULL;
}
