/* Server URL parsing: schemes, default ports, percent-decoded users. */
#include <stdlib.h>

#include "check.h"
#include "imap/url.h"

static void ok(const char *in, int tls, const char *user, const char *host, unsigned port)
{
	struct imap_url u;
	char err[200];

	CHECK(imap_url_parse(in, &u, err, sizeof(err)) == 0);
	CHECK(u.implicit_tls == tls);
	CHECK_STR(u.user, user);
	CHECK_STR(u.host, host);
	CHECK(u.port == port);
	imap_url_free(&u);
}

static void bad(const char *in)
{
	struct imap_url u;
	char err[200] = "";

	CHECK(imap_url_parse(in, &u, err, sizeof(err)) < 0);
	CHECK(err[0] != '\0');
}

int main(void)
{
	ok("imaps://alice@mail.example.com", 1, "alice", "mail.example.com", 993);
	ok("imap://alice@mail.example.com", 0, "alice", "mail.example.com", 143);
	ok("imaps://alice%40example.com@outlook.office365.com:993/", 1, "alice@example.com",
	   "outlook.office365.com", 993);
	ok("IMAPS://bob@localhost:10993", 1, "bob", "localhost", 10993);
	ok("imaps://a@b@[::1]:1993", 1, "a@b", "::1", 1993);
	bad("http://alice@host");
	bad("imaps://host");
	bad("imaps://@host");
	bad("imaps://alice@");
	bad("imaps://alice@host:0");
	bad("imaps://alice@host:65536");
	bad("imaps://alice@host:99x");
	bad("imaps://alice@host/INBOX");
	bad("imaps://al%0Dice@host");   /* CR smuggled into the user name */
	bad("imaps://al%4@host");
	bad("imaps://alice%@host");
	bad("imaps://alice@ho st");
	bad("imaps://alice@[::1");
	return check_summary("url");
}
