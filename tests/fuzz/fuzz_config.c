/*
 * libFuzzer target for fs/options.c: arbitrary bytes as the config file,
 * parsed the way the program does it (options_parse: the config's lines
 * become -o arguments before the command line's, then fuse_opt_parse,
 * fuse_parse_cmdline and the value checks).  Beyond the sanitizers'
 * checks, when the parse succeeds:
 *  - the URL and the mount point are still the command line's: no config
 *    value can become an argument of its own;
 *  - the numbers that become milliseconds in an int (account.c, watch.c)
 *    fit.
 * The input reaches options_parse through a memfd named by its
 * /proc/self/fd path (options_read_config takes a path).
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/options.h"

#define URL "imaps://alice@mail.example.com"
#define MOUNTPOINT "/tmp"

static int config_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	return fd;
}

static void check(const struct options *o)
{
	if (!o->url || strcmp(o->url, URL) != 0)
		abort();
	if (!o->mountpoint || strcmp(o->mountpoint, MOUNTPOINT) != 0)
		abort();
	if (o->timeout > INT_MAX / 1000 || o->idle_timeout > INT_MAX / 1000 ||
	    o->poll_interval > INT_MAX / 1000 || o->idle_interval > INT_MAX / 1000 ||
	    o->reconnect_max > INT_MAX / 1000)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = config_fd();
	char opt[64];
	char *argv[] = { "inboxfs", "-o", opt, URL, MOUNTPOINT, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct options o;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(opt, sizeof(opt), "config=/proc/self/fd/%d", fd);
	if (options_parse(5, argv, &o, &args) == 0)
		check(&o);
	fuse_opt_free_args(&args);
	options_free(&o);
	return 0;
}
