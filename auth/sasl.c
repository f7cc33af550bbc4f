/* SASL mechanisms: PLAIN (RFC 4616). */
#include "auth/sasl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static char *base64(const unsigned char *raw, size_t len)
{
	char *out;

	if (len > (size_t)1 << 30)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
	return out;
}

char *sasl_plain(const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password), len = ul + pl + 2;
	unsigned char *raw = malloc(len);
	char *b64;

	if (!raw)
		return NULL;
	raw[0] = '\0'; /* empty authzid: act as the user we authenticate as */
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, password, pl);
	b64 = base64(raw, len);
	OPENSSL_cleanse(raw, len);
	free(raw);
	return b64;
}

void sasl_wipe(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
