/* OAuth2 access tokens for IMAP: where they come from, kept in memory and
 * renewed before they expire.
 *
 * Sources (RFC 6749): the client-credentials grant with a client secret
 * (§4.4) or a certificate-signed JWT assertion (RFC 7523), the
 * refresh_token grant (§6, a rotated refresh token written back), or an
 * external command whose first output line is the token (pizauth, oama,
 * mutt_oauth2.py), run for every login because such tools keep their own
 * cache.
 *
 * A background thread renews a token at expires_in minus a margin
 * (min(5 min, a quarter of its life)), so logins never wait for the
 * endpoint and a reconnect never presents a stale token.  Thread-safe. */
#ifndef INBOXFS_AUTH_OAUTH2_H
#define INBOXFS_AUTH_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>

struct oauth2_config {
	const char *token_url;          /* https:// token endpoint */
	const char *tenant;             /* Microsoft tenant: the token URL is derived */
	const char *client_id;
	const char *client_secret_file;
	const char *client_cert, *client_key;
	const char *scope;              /* default with a tenant: Office 365 IMAP */
	const char *refresh_token_file;
	const char *token_cmd;
	const char *cafile;             /* CA file for the token endpoint */
	unsigned timeout_s;             /* per token request */
};

struct oauth2;

/* Whether any OAuth2 source is configured. */
bool oauth2_configured(const struct oauth2_config *cfg);
/* Check the configuration (which grant, the files it needs); NULL with a
 * reason in err.  No network traffic yet. */
struct oauth2 *oauth2_new(const struct oauth2_config *cfg, char *err, size_t errlen);
/* Start renewing in the background (after daemonising: threads do not
 * survive fork).  0 or -1. */
int oauth2_start(struct oauth2 *o);
/* A token to log in with: the cached one while it has life left, else a
 * new one.  *fresh says whether it was obtained by this call.  Returns a
 * malloc'd copy (sasl_wipe it) or NULL with one line in err. */
char *oauth2_token(struct oauth2 *o, bool *fresh, char *err, size_t errlen);
/* The server refused token (or ended a session saying it expired): never
 * hand it out again. */
void oauth2_reject(struct oauth2 *o, const char *token);
/* A server ended a session logged in at since_ms (monotonic) because its
 * token expired: drop the cached token if it is that old. */
void oauth2_expired(struct oauth2 *o, long long since_ms);
/* For .inboxfs/status: seconds the cached token has left (-1: none) and
 * the number of tokens obtained. */
void oauth2_stats(struct oauth2 *o, long *left_s, unsigned *obtained);
void oauth2_free(struct oauth2 *o);

#endif
