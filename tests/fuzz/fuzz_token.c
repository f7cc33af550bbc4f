/*
 * libFuzzer target for auth/token_response.c: whatever a token endpoint
 * (or something posing as one) answers.  The input's first byte picks the
 * HTTP status; the rest is the body.  Beyond the sanitizers' checks: an
 * accepted token must be a bearer token (it goes into a SASL string and
 * an IMAP line), and an error text must be one printable line.
 */
#include "auth/token_response.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 401, 500 };
	struct token_response t;
	char err[512];

	if (size < 1)
		return 0;
	if (token_response_parse(statuses[data[0] % 4], "application/json",
				 (const char *)data + 1, size - 1, &t, err, sizeof(err)) == 0) {
		if (!sasl_is_bearer_token(t.access_token) || t.expires_in < 0)
			abort();
		if (t.refresh_token && strpbrk(t.refresh_token, "\r\n"))
			abort();
		token_response_free(&t);
	} else {
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
				abort();
	}
	return 0;
}
