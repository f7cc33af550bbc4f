/* Password sources.  Same rules as mbsync's Pass/PassCmd: the first line
 * is the secret, trailing CR/LF removed. */
#include "auth/secret.h"

#include <errno.h>
#include <stdbool.h>
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

/* Open a file that holds a secret, refusing one that group or others may
 * read or write (as ssh does with private keys). */
static int open_private(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s %s is accessible by group or others "
			 "(mode %03o); run: chmod 600 %s", what, path,
			 (unsigned)(st.st_mode & 0777), path);
		close(fd);
		return -1;
	}
	return fd;
}

char *secret_from_file(const char *path, char *err, size_t errlen)
{
	return secret_first_line(path, "password file", err, errlen);
}

char *secret_first_line(const char *path, const char *what, char *err, size_t errlen)
{
	char buf[SECRET_MAX], *out;
	size_t len;
	int fd = open_private(path, what, err, errlen);

	if (fd < 0)
		return NULL;
	len = read_upto(fd, buf, sizeof(buf));
	close(fd);
	out = first_line(buf, len, what, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return out;
}

char *secret_whole_file(const char *path, const char *what, size_t max, size_t *lenp,
			char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t r;
	int fd = open_private(path, what, err, errlen);

	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (len < max && ((r = read(fd, buf + len, max - len)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			len += (size_t)r;
	close(fd);
	if (len == 0 || len == max) {
		snprintf(err, errlen, "%s %s is %s", what, path, len ? "too large" : "empty");
		OPENSSL_cleanse(buf, len);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int secret_replace_file(const char *path, const char *what, const char *value,
			char *err, size_t errlen)
{
	char *tmp = NULL, *dir = NULL, *slash;
	size_t len = strlen(value);
	int fd = -1, rc = -1;
	bool created = false;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s next to %s: %s", what, path, strerror(errno));
		goto out;
	}
	created = true;
	if (fchmod(fd, 0600) < 0 || write(fd, value, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s %s: %s", what, tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		fd = -1;
		snprintf(err, errlen, "cannot replace %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	fd = -1;
	/* The rename itself must reach the disk, or a crash brings back
	 * the refresh token the server no longer accepts. */
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (dir) {
		int dfd;

		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(tmp);
	free(dir);
	free(tmp);
	return rc;
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
