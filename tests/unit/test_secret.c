/* Password sources: file permissions, first line only, commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "auth/secret.h"
#include "check.h"

static char dir[] = "/tmp/inboxfs-secret-XXXXXX";

static char *write_file(const char *name, const char *content, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

int main(void)
{
	char err[256], *s;
	struct secret_source src = { 0 };

	if (!mkdtemp(dir))
		return 1;
	s = secret_from_file(write_file("ok", "s3cret\r\nsecond line\n", 0600), err, sizeof(err));
	CHECK_STR(s, "s3cret");
	sasl_wipe(s);

	s = secret_from_file(write_file("open", "leaked\n", 0644), err, sizeof(err));
	CHECK(s == NULL);
	CHECK(strstr(err, "chmod 600") != NULL);
	CHECK(strstr(err, "leaked") == NULL);

	s = secret_from_file(write_file("empty", "\n", 0600), err, sizeof(err));
	CHECK(s == NULL);

	s = secret_from_file("/nonexistent/pw", err, sizeof(err));
	CHECK(s == NULL && strstr(err, "/nonexistent/pw") != NULL);

	s = secret_from_cmd("printf 'from-cmd\\nmore\\n'", err, sizeof(err));
	CHECK_STR(s, "from-cmd");
	sasl_wipe(s);

	s = secret_from_cmd("echo nope; exit 3", err, sizeof(err));
	CHECK(s == NULL && strstr(err, "3") != NULL && strstr(err, "nope") == NULL);

	setenv("INBOXFS_TEST_PW", "env-pw", 1);
	src.env = "INBOXFS_TEST_PW";
	s = secret_load(&src, err, sizeof(err));
	CHECK_STR(s, "env-pw");
	sasl_wipe(s);
	/* An explicit source wins over the environment. */
	src.cmd = "echo cmd-pw";
	s = secret_load(&src, err, sizeof(err));
	CHECK_STR(s, "cmd-pw");
	sasl_wipe(s);

	src.cmd = NULL;
	src.env = "INBOXFS_TEST_UNSET";
	s = secret_load(&src, err, sizeof(err));
	CHECK(s == NULL && strstr(err, "password_file") != NULL);

	/* RFC 4616 example: "\0tim\0tanstaaftanstaaf" */
	s = sasl_plain("tim", "tanstaaftanstaaf");
	CHECK_STR(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	sasl_wipe(s);

	remove(write_file("ok", "", 0600));
	remove(write_file("open", "", 0600));
	remove(write_file("empty", "", 0600));
	rmdir(dir);
	return check_summary("secret");
}
