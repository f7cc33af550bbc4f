/* An account opened the way the daemon opens it (options_parse, then
 * account_open), against a scripted server on 127.0.0.1: plain IMAP,
 * user "u", password "pw". */
#ifndef INBOXFS_TEST_ACCOUNT_FIXTURE_H
#define INBOXFS_TEST_ACCOUNT_FIXTURE_H

#include "fs/mail/account.h"
#include "fs/options.h"

/* What the scripted server must see and say for a first login: the
 * greeting, LOGIN and its answer. */
#define FX_GREETING "* OK [CAPABILITY IMAP4rev1 UIDPLUS] script server ready"
#define FX_LOGIN "LOGIN \"u\" \"pw\""
#define FX_LOGGED_IN "OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in"

/* Parse "imap://u@127.0.0.1:PORT /tmp -o tls=none,connections=1"
 * and the comma-separated extra options (NULL: none) into o, as the
 * command line would.  0, or -1 after a message. */
int fx_options(struct options *o, unsigned port, const char *extra);
/* fx_options (exits when they are wrong), then account_open: its
 * result; err gets the reason.  fx_close a either way. */
int fx_open(struct account *a, struct options *o, unsigned port, const char *extra,
	    char *err, size_t errlen);
/* account_close and options_free. */
void fx_close(struct account *a, struct options *o);
/* The folder named name at the top of a's tree, or NULL. */
struct folder *fx_folder(struct account *a, const char *name);

struct fx_test {
	const char *name;
	void (*run)(void);
};
/* Run the n tests, or those named in argv[1..], each timed on stderr. */
void fx_run_tests(const struct fx_test *tests, size_t n, int argc, char **argv);

#endif
