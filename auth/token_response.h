/* The answer of an OAuth2 token endpoint (RFC 6749 §5.1 success, §5.2
 * error), parsed with cJSON.  Pure: no I/O, so it is unit tested and
 * fuzzed on its own. */
#ifndef INBOXFS_AUTH_TOKEN_RESPONSE_H
#define INBOXFS_AUTH_TOKEN_RESPONSE_H

#include <stddef.h>

struct token_response {
	char *access_token;   /* a bearer token (checked: RFC 6750 b64token) */
	char *refresh_token;  /* NULL unless the endpoint sent one (rotation) */
	long expires_in;      /* seconds; 0 when the endpoint did not say */
};

/* 0 with a token, or -1 with one line in err that says what the endpoint
 * answered: "invalid_client: AADSTS7000215: Invalid client secret
 * provided." or "HTTP 502 with a text/html body, not JSON".  Values of
 * the answer that may be credentials never go into err. */
int token_response_parse(long http_status, const char *content_type, const char *body,
			 size_t len, struct token_response *out, char *err, size_t errlen);
void token_response_free(struct token_response *t);

#endif
