/* Logging in: which SASL mechanism or command, where the credentials come
 * from (password sources, OAuth2 token sources), and what a refusal means
 * for the next try.  Shared by the worker and the IDLE watchers. */
#ifndef INBOXFS_FS_MAIL_LOGIN_H
#define INBOXFS_FS_MAIL_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/oauth2.h"
#include "auth/secret.h"
#include "fs/options.h"
#include "imap/session.h"
#include "imap/url.h"

enum login_mech { MECH_AUTO, MECH_PLAIN, MECH_LOGIN, MECH_XOAUTH2, MECH_OAUTHBEARER };

struct login {
	const char *user, *host;
	unsigned port;
	enum login_mech mech;      /* as configured; AUTO: chosen per server */
	struct secret_source secret;
	struct oauth2 *oauth;      /* NULL: a password login */
	bool allow_plaintext;      /* credentials may cross a non-loopback link in clear */
};

/* From the options; checks that the mechanism and the credentials fit
 * together.  0, or -1 with a reason. */
int login_init(struct login *l, const struct options *opt, const struct imap_url *url,
	       char *err, size_t errlen);
/* After daemonising: start renewing tokens in the background. */
int login_start(struct login *l);
/* Authenticate s (connected, not yet logged in).  A refused OAuth2 token
 * that came from the cache is dropped and a new one tried at once. */
enum imap_result login_run(struct login *l, struct imap_session *s, struct imap_status *st);
/* s is about to be closed: if the server ended it because its token
 * expired, that token is never used again. */
void login_session_ended(struct login *l, const struct imap_session *s);
void login_free(struct login *l);

#endif
