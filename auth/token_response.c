/* OAuth2 token endpoint answers: RFC 6749 §5.1 (success) and §5.2
 * (error), plus Microsoft's error_codes/AADSTS descriptions. */
#include "auth/token_response.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "auth/sasl.h"

#define DESCRIPTION_MAX 300

static const char *json_string(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* One printable line of at most max bytes: Microsoft's descriptions go on
 * with "\r\nTrace ID: ...", which is noise in a log line. */
static void first_line(char *out, size_t outlen, const char *s, size_t max)
{
	size_t o = 0;

	for (; *s && *s != '\r' && *s != '\n' && o + 1 < outlen && o < max; s++)
		out[o++] = isprint((unsigned char)*s) ? *s : '?';
	out[o] = '\0';
}

static int parse_error(long status, const cJSON *root, char *err, size_t errlen)
{
	const char *code = json_string(root, "error"), *desc = json_string(root, "error_description");
	char c[64], d[DESCRIPTION_MAX + 1];

	if (!code) {
		snprintf(err, errlen, "HTTP %ld without an OAuth2 error", status);
		return -1;
	}
	first_line(c, sizeof(c), code, sizeof(c) - 1);
	if (desc) {
		first_line(d, sizeof(d), desc, DESCRIPTION_MAX);
		snprintf(err, errlen, "%s: %s", c, d);
	} else {
		snprintf(err, errlen, "%s (HTTP %ld)", c, status);
	}
	return -1;
}

static long parse_expiry(const cJSON *root)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
	double d = 0;

	/* A number, or (some endpoints) a string holding one. */
	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v) && v->valuestring)
		d = strtod(v->valuestring, NULL);
	if (!(d > 0))
		return 0;
	return d > 366.0 * 86400 ? 366L * 86400 : (long)d;
}

static int parse_success(const cJSON *root, struct token_response *out, char *err, size_t errlen)
{
	const char *tok = json_string(root, "access_token"), *type = json_string(root, "token_type");
	const char *refresh = json_string(root, "refresh_token");

	if (!tok) {
		snprintf(err, errlen, "the answer has no access_token");
		return -1;
	}
	if (type && strcasecmp(type, "bearer") != 0) {
		char t[32];

		first_line(t, sizeof(t), type, sizeof(t) - 1);
		snprintf(err, errlen, "it issued a '%s' token, not a Bearer token", t);
		return -1;
	}
	if (!sasl_is_bearer_token(tok)) {
		snprintf(err, errlen, "the access_token has characters a bearer token cannot have");
		return -1;
	}
	if (refresh && (!*refresh || strlen(refresh) > 16384 || strpbrk(refresh, "\r\n"))) {
		snprintf(err, errlen, "the endpoint sent an unusable refresh_token");
		return -1;
	}
	out->access_token = strdup(tok);
	out->refresh_token = refresh ? strdup(refresh) : NULL;
	out->expires_in = parse_expiry(root);
	if (!out->access_token || (refresh && !out->refresh_token)) {
		token_response_free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int token_response_parse(long status, const char *content_type, const char *body, size_t len,
			 struct token_response *out, char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		char ct[48];

		first_line(ct, sizeof(ct), content_type && *content_type ? content_type : "untyped",
			   sizeof(ct) - 1);
		ct[strcspn(ct, "; ")] = '\0'; /* no "; charset=utf-8" */
		snprintf(err, errlen, "HTTP %ld with a %s body of %zu bytes, not a JSON object",
			 status, ct, len);
		cJSON_Delete(root);
		return -1;
	}
	if (status == 200)
		rc = parse_success(root, out, err, errlen);
	else
		rc = parse_error(status, root, err, errlen);
	/* the tree holds the token in its own copies */
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "access_token");
		cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "refresh_token");

		if (cJSON_IsString(t) && t->valuestring)
			OPENSSL_cleanse(t->valuestring, strlen(t->valuestring));
		if (cJSON_IsString(r) && r->valuestring)
			OPENSSL_cleanse(r->valuestring, strlen(r->valuestring));
	}
	cJSON_Delete(root);
	return rc;
}

void token_response_free(struct token_response *t)
{
	sasl_wipe(t->access_token);
	sasl_wipe(t->refresh_token);
	memset(t, 0, sizeof(*t));
}
