/* A minimal check harness for the C unit tests: one line per failure,
 * a summary line, exit status 1 when anything failed. */
#ifndef INBOXFS_TEST_CHECK_H
#define INBOXFS_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks_run, checks_failed;

#define CHECK(cond) do { \
	checks_run++; \
	if (!(cond)) { \
		checks_failed++; \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	checks_run++; \
	if (!g_ || strcmp(g_, w_) != 0) { \
		checks_failed++; \
		fprintf(stderr, "%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, \
			g_ ? g_ : "(null)", w_); \
	} \
} while (0)

static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}

#endif
