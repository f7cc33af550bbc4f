/* JWT client assertions: RFC 7519 (JWT), RFC 7515 (JWS compact form),
 * RFC 7518 §3.3 (RS256), RFC 7523 §2.2 (client authentication), and the
 * x5t header (SHA-1 thumbprint of the certificate) Microsoft requires. */
#include "auth/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "auth/secret.h"

#define KEY_FILE_MAX (64u << 10)

char *jwt_base64url(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t n;

	if (!out || len > (size_t)1 << 28) {
		free(out);
		return NULL;
	}
	n = (size_t)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	while (n && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

/* x5t: base64url(SHA-1(certificate DER)). */
static char *thumbprint(const char *cert_path, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	X509 *x = NULL;
	FILE *f = fopen(cert_path, "re");

	if (!f) {
		snprintf(err, errlen, "cannot open oauth2_client_cert %s", cert_path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x || !X509_digest(x, EVP_sha1(), md, &mdlen)) {
		snprintf(err, errlen, "oauth2_client_cert %s holds no PEM certificate", cert_path);
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	X509_free(x);
	return jwt_base64url(md, mdlen);
}

static EVP_PKEY *load_key(const char *key_path, char *err, size_t errlen)
{
	size_t len = 0;
	char *pem = secret_whole_file(key_path, "oauth2_client_key", KEY_FILE_MAX, &len, err, errlen);
	EVP_PKEY *key = NULL;
	BIO *b;

	if (!pem)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(pem, len);
	free(pem);
	ERR_clear_error();
	if (!key)
		snprintf(err, errlen, "oauth2_client_key %s holds no unencrypted PEM private key",
			 key_path);
	else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "oauth2_client_key %s is not an RSA key (RS256 needs one)",
			 key_path);
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

static char *json_part(cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL, *enc;

	cJSON_Delete(o);
	if (!text)
		return NULL;
	enc = jwt_base64url((unsigned char *)text, strlen(text));
	cJSON_free(text);
	return enc;
}

static char *header_part(const char *x5t)
{
	cJSON *h = cJSON_CreateObject();

	if (h && (!cJSON_AddStringToObject(h, "alg", "RS256") ||
		  !cJSON_AddStringToObject(h, "typ", "JWT") ||
		  !cJSON_AddStringToObject(h, "x5t", x5t))) {
		cJSON_Delete(h);
		return NULL;
	}
	return json_part(h);
}

static char *claims_part(const char *client_id, const char *aud, time_t now, long lifetime_s)
{
	unsigned char rnd[16];
	char jti[40];
	cJSON *c;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(jti + 2 * i, "%02x", rnd[i]);
	c = cJSON_CreateObject();
	if (c && (!cJSON_AddStringToObject(c, "aud", aud) ||
		  !cJSON_AddStringToObject(c, "iss", client_id) ||
		  !cJSON_AddStringToObject(c, "sub", client_id) ||
		  !cJSON_AddStringToObject(c, "jti", jti) ||
		  !cJSON_AddNumberToObject(c, "nbf", (double)now) ||
		  !cJSON_AddNumberToObject(c, "iat", (double)now) ||
		  !cJSON_AddNumberToObject(c, "exp", (double)(now + lifetime_s)))) {
		cJSON_Delete(c);
		return NULL;
	}
	return json_part(c);
}

static char *sign(EVP_PKEY *key, const char *input)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;

	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1 &&
	    (sig = malloc(siglen)) &&
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1)
		out = jwt_base64url(sig, siglen);
	free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return out;
}

char *jwt_client_assertion(const char *cert_path, const char *key_path, const char *client_id,
			   const char *audience, time_t now, long lifetime_s,
			   char *err, size_t errlen)
{
	char *x5t, *head = NULL, *claims = NULL, *input = NULL, *sig = NULL, *jwt = NULL;
	EVP_PKEY *key;

	if (!(x5t = thumbprint(cert_path, err, errlen)))
		return NULL;
	if (!(key = load_key(key_path, err, errlen))) {
		free(x5t);
		return NULL;
	}
	head = header_part(x5t);
	claims = claims_part(client_id, audience, now, lifetime_s);
	if (head && claims && asprintf(&input, "%s.%s", head, claims) < 0)
		input = NULL;
	if (input)
		sig = sign(key, input);
	if (sig && asprintf(&jwt, "%s.%s", input, sig) < 0)
		jwt = NULL;
	if (!jwt)
		snprintf(err, errlen, "cannot sign the client assertion");
	EVP_PKEY_free(key);
	free(x5t);
	free(head);
	free(claims);
	free(input);
	free(sig);
	return jwt;
}
