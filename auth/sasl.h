/* SASL initial responses, base64-encoded for AUTHENTICATE:
 *   PLAIN        RFC 4616
 *   XOAUTH2      Google/Microsoft (no RFC): "user=U^Aauth=Bearer T^A^A"
 *   OAUTHBEARER  RFC 7628 §3.1, with the GS2 header of RFC 5801
 * The caller wipes and frees the result (sasl_wipe): it carries
 * credentials. */
#ifndef INBOXFS_AUTH_SASL_H
#define INBOXFS_AUTH_SASL_H

/* "" NUL user NUL password.  NULL when out of memory. */
char *sasl_plain(const char *user, const char *password);
/* NULL when user or token could not be framed (a ^A in them, a token
 * with characters a bearer token cannot have) or out of memory. */
char *sasl_xoauth2(const char *user, const char *token);
char *sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token);
/* Whether s has only the characters of RFC 6750's b64token (what a
 * bearer token is made of). */
int sasl_is_bearer_token(const char *s);
/* Overwrite and free a credential string. */
void sasl_wipe(char *s);

#endif
