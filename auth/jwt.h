/* A signed JWT client assertion (RFC 7523 §2.2, RFC 7515 JWS, RS256) for
 * the client-credentials grant with a certificate, as Microsoft's
 * identity platform expects it: header {alg RS256, typ JWT, x5t}, claims
 * aud (the token URL), iss = sub = client id, jti, nbf, iat, exp. */
#ifndef INBOXFS_AUTH_JWT_H
#define INBOXFS_AUTH_JWT_H

#include <stddef.h>
#include <time.h>

/* Sign an assertion valid from now for lifetime_s seconds.  The key file
 * must be private to the user (mode 0600).  Returns a malloc'd JWT or
 * NULL with a reason in err. */
char *jwt_client_assertion(const char *cert_path, const char *key_path, const char *client_id,
			   const char *audience, time_t now, long lifetime_s,
			   char *err, size_t errlen);
/* base64url without padding (RFC 7515 §2).  Malloc'd. */
char *jwt_base64url(const unsigned char *data, size_t len);

#endif
