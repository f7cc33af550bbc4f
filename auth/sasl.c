/* SASL mechanisms: PLAIN (RFC 4616), XOAUTH2 (Google's and Microsoft's
 * documentation; no RFC) and OAUTHBEARER (RFC 7628, GS2 header RFC 5801). */
#include "auth/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_MAX 16384

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

/* base64 of a built string, wiping the plain text. */
static char *encode_and_wipe(char *raw, size_t len)
{
	char *b64 = base64((unsigned char *)raw, len);

	OPENSSL_cleanse(raw, len);
	free(raw);
	return b64;
}

char *sasl_plain(const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password), len = ul + pl + 2;
	char *raw = malloc(len);

	if (!raw)
		return NULL;
	raw[0] = '\0'; /* empty authzid: act as the user we authenticate as */
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, password, pl);
	return encode_and_wipe(raw, len);
}

int sasl_is_bearer_token(const char *s)
{
	size_t n = strlen(s), i = 0;

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
	while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
			 (s[i] >= '0' && s[i] <= '9') || strchr("-._~+/", s[i])))
		i++;
	if (i == 0)
		return 0;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

/* A user name goes between ^A separators: it may not contain one, nor any
 * other control character. */
static int usable_user(const char *user)
{
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return *user != '\0';
}

char *sasl_xoauth2(const char *user, const char *token)
{
	size_t len = strlen(user) + strlen(token) + 32;
	char *raw;
	int n;

	if (!usable_user(user) || !sasl_is_bearer_token(token) || !(raw = malloc(len)))
		return NULL;
	n = snprintf(raw, len, "user=%s\001auth=Bearer %s\001\001", user, token);
	return encode_and_wipe(raw, (size_t)n);
}

/* RFC 5801 saslname: "," and "=" are written =2C and =3D. */
static char *gs2_escape(const char *user)
{
	char *out = malloc(3 * strlen(user) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = user; *p; p++) {
		if (*p == ',')
			o += sprintf(o, "=2C");
		else if (*p == '=')
			o += sprintf(o, "=3D");
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

char *sasl_oauthbearer(const char *user, const char *host, unsigned port, const char *token)
{
	char *euser, *raw;
	size_t len;
	int n;

	if (!usable_user(user) || !usable_user(host) || !sasl_is_bearer_token(token))
		return NULL;
	if (!(euser = gs2_escape(user)))
		return NULL;
	len = strlen(euser) + strlen(host) + strlen(token) + 64;
	raw = malloc(len);
	if (!raw) {
		free(euser);
		return NULL;
	}
	n = snprintf(raw, len, "n,a=%s,\001host=%s\001port=%u\001auth=Bearer %s\001\001",
		     euser, host, port, token);
	free(euser);
	return encode_and_wipe(raw, (size_t)n);
}

void sasl_wipe(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
