/* imap:// and imaps:// server URLs (RFC 5092 §3 subset: user, host, port). */
#ifndef INBOXFS_IMAP_URL_H
#define INBOXFS_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>

struct imap_url {
	bool implicit_tls;  /* imaps:// (port 993) rather than imap:// + STARTTLS (143) */
	char *user;         /* percent-decoded */
	char *host;         /* without IPv6 brackets */
	unsigned port;
};

/* Returns 0, or -1 with a reason in err. */
int imap_url_parse(const char *s, struct imap_url *u, char *err, size_t errlen);
void imap_url_free(struct imap_url *u);

#endif
