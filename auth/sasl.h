/* SASL initial responses (RFC 4422), base64-encoded for AUTHENTICATE.
 * The caller wipes and frees the result: it carries credentials. */
#ifndef INBOXFS_AUTH_SASL_H
#define INBOXFS_AUTH_SASL_H

/* PLAIN (RFC 4616): "" NUL user NUL password.  NULL on NUL-free input
 * failure or out of memory. */
char *sasl_plain(const char *user, const char *password);
/* Overwrite and free a credential string. */
void sasl_wipe(char *s);

#endif
