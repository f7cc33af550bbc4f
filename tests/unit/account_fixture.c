/* Opening an account against the scripted server (see account_fixture.h). */
#include "account_fixture.h"

#include <fuse_opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "fs/inode.h"
#include "fs/mail/lookup.h"

int fx_options(struct options *o, unsigned port, const char *extra)
{
	char url[64], opts[512];
	char *argv[] = { "inboxfs", url, "/tmp", "-o", opts, NULL };
	struct fuse_args rest = FUSE_ARGS_INIT(0, NULL);
	int rc;

	/* Neither a config file nor a password source of the user's. */
	setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
	setenv("INBOXFS_PASSWORD", "pw", 1);
	snprintf(url, sizeof(url), "imap://u@127.0.0.1:%u", port);
	snprintf(opts, sizeof(opts), "tls=none,connections=1%s%s", extra ? "," : "",
		 extra ? extra : "");
	rc = options_parse(5, argv, o, &rest);
	fuse_opt_free_args(&rest);
	return rc == 0 ? 0 : -1;
}

int fx_open(struct account *a, struct options *o, unsigned port, const char *extra,
	    char *err, size_t errlen)
{
	if (fx_options(o, port, extra) < 0) {
		fprintf(stderr, "the test's options are wrong: %s\n", extra ? extra : "");
		exit(2);
	}
	return account_open(a, o, err, errlen);
}

void fx_close(struct account *a, struct options *o)
{
	account_close(a);
	options_free(o);
}

struct folder *fx_folder(struct account *a, const char *name)
{
	struct folder_info f;

	return lookup_subfolder(a, ROOT_INO, name, &f) ? f.f : NULL;
}

void fx_run_tests(const struct fx_test *tests, size_t n, int argc, char **argv)
{
	for (size_t i = 0; i < n; i++) {
		bool named = argc < 2;
		long long t0 = clock_ms();

		for (int k = 1; k < argc; k++)
			named |= strcmp(argv[k], tests[i].name) == 0;
		if (!named)
			continue;
		tests[i].run();
		fprintf(stderr, "-- %s: %lld ms\n", tests[i].name, clock_ms() - t0);
	}
}
