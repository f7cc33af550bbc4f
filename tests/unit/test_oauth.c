/* OAuth2 pieces that need no network: token endpoint answers, the SASL
 * strings of XOAUTH2 and OAUTHBEARER, base64url, and the log redaction
 * that keeps registered secrets out of every log line. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/jwt.h"
#include "auth/sasl.h"
#include "auth/token_response.h"
#include "common/log.h"
#include "check.h"

static int parse(long status, const char *body, struct token_response *t, char *err)
{
	return token_response_parse(status, "application/json", body, strlen(body), t, err, 400);
}

static void test_success(void)
{
	struct token_response t;
	char err[400];

	CHECK(parse(200, "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
			 "\"ext_expires_in\":3599,\"access_token\":\"eyJ0eXAi.eyJhdWQi.sig-_\"}",
		    &t, err) == 0);
	CHECK_STR(t.access_token, "eyJ0eXAi.eyJhdWQi.sig-_");
	CHECK(t.refresh_token == NULL);
	CHECK(t.expires_in == 3599);
	token_response_free(&t);

	/* rotation; expires_in as a string (some endpoints); lower-case type */
	CHECK(parse(200, "{\"token_type\":\"bearer\",\"expires_in\":\"60\",\"access_token\":"
			 "\"abc123\",\"refresh_token\":\"1//0gNEW\"}", &t, err) == 0);
	CHECK_STR(t.refresh_token, "1//0gNEW");
	CHECK(t.expires_in == 60);
	token_response_free(&t);

	/* no expires_in: 0, the caller assumes a lifetime */
	CHECK(parse(200, "{\"access_token\":\"abc123\"}", &t, err) == 0);
	CHECK(t.expires_in == 0);
	token_response_free(&t);
}

static void test_errors(void)
{
	struct token_response t;
	char err[400];

	CHECK(parse(401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
			 "Invalid client secret provided.\\r\\nTrace ID: 1234\\r\\nCorrelation ID: 5\","
			 "\"error_codes\":[7000215]}", &t, err) < 0);
	CHECK_STR(err, "invalid_client: AADSTS7000215: Invalid client secret provided.");
	CHECK(parse(400, "{\"error\":\"invalid_grant\"}", &t, err) < 0);
	CHECK_STR(err, "invalid_grant (HTTP 400)");
	CHECK(token_response_parse(502, "text/html", "<html>bad gateway</html>", 24, &t, err,
				   sizeof(err)) < 0);
	CHECK_STR(err, "HTTP 502 with a text/html body of 24 bytes, not a JSON object");
	CHECK(parse(200, "{\"access_token\":\"abc", &t, err) < 0); /* truncated */
	CHECK(strstr(err, "not a JSON object") != NULL);
	CHECK(parse(200, "[\"access_token\"]", &t, err) < 0);
	CHECK(parse(200, "{\"token_type\":\"Bearer\"}", &t, err) < 0);
	CHECK_STR(err, "the answer has no access_token");
	CHECK(parse(200, "{\"token_type\":\"mac\",\"access_token\":\"abc\"}", &t, err) < 0);
	CHECK_STR(err, "it issued a 'mac' token, not a Bearer token");
	/* a token that would break the SASL framing or the IMAP line */
	CHECK(parse(200, "{\"access_token\":\"abc\\u0001auth=x\"}", &t, err) < 0);
	CHECK(parse(200, "{\"access_token\":\"abc def\"}", &t, err) < 0);
	CHECK(parse(200, "{\"access_token\":\"abc\\r\\nA1 LOGOUT\"}", &t, err) < 0);
	CHECK(parse(200, "{\"access_token\":\"\"}", &t, err) < 0);
	/* the answer's token never appears in an error */
	CHECK(parse(200, "{\"access_token\":\"s3cr3t-token\",\"token_type\":\"weird\"}", &t,
		    err) < 0);
	CHECK(strstr(err, "s3cr3t") == NULL);
	CHECK(parse(200, "{\"access_token\":\"abc\",\"refresh_token\":\"a\\nb\"}", &t, err) < 0);
}

static char *unbase64(const char *b64)
{
	size_t len = strlen(b64);
	unsigned char *out = calloc(1, len + 1);
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);

	while (len && b64[--len] == '=')
		n--;
	out[n] = '\0';
	return (char *)out;
}

static void test_sasl(void)
{
	char *b64, *raw;

	/* Microsoft's documented example: user=test@contoso.onmicrosoft.com */
	b64 = sasl_xoauth2("test@contoso.onmicrosoft.com", "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA");
	CHECK_STR(b64, "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZw"
		       "VUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==");
	sasl_wipe(b64);
	/* RFC 7628 §4.1 */
	b64 = sasl_oauthbearer("user@example.com", "server.example.com", 143,
			       "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	raw = unbase64(b64);
	CHECK_STR(raw, "n,a=user@example.com,\001host=server.example.com\001port=143\001"
		       "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001");
	free(raw);
	sasl_wipe(b64);
	/* RFC 5801 escaping of the authzid */
	b64 = sasl_oauthbearer("a,b=c", "h", 993, "tok");
	raw = unbase64(b64);
	CHECK(strncmp(raw, "n,a=a=2Cb=3Dc,\001", 15) == 0);
	free(raw);
	sasl_wipe(b64);
	/* nothing that could break the framing gets through */
	CHECK(sasl_xoauth2("a\001b", "tok") == NULL);
	CHECK(sasl_xoauth2("alice", "to k") == NULL);
	CHECK(sasl_xoauth2("alice", "") == NULL);
	CHECK(sasl_oauthbearer("alice", "h", 1, "tok\001") == NULL);
	CHECK(sasl_is_bearer_token("abc-._~+/=="));
	CHECK(!sasl_is_bearer_token("=abc"));
	CHECK(!sasl_is_bearer_token("ab=c"));
}

static void test_base64url(void)
{
	char *s = jwt_base64url((const unsigned char *)"\xfb\xff\xfe", 3);

	CHECK_STR(s, "-__-");
	free(s);
	s = jwt_base64url((const unsigned char *)"ab", 2);
	CHECK_STR(s, "YWI"); /* no padding */
	free(s);
}

static void test_redaction(void)
{
	char line[64];

	log_add_secret("hunter2-secret");
	log_add_secret("abc"); /* too short to be registered */
	strcpy(line, "pw=hunter2-secret and hunter2-secret, abc");
	log_redact(line, sizeof(line), false);
	CHECK_STR(line, "pw=<redacted> and <redacted>, abc");
	/* a line cut short that ends in the first part of a secret */
	strcpy(line, "token: hunter2-se");
	log_redact(line, sizeof(line), true);
	CHECK_STR(line, "token: ");
	/* a secret that is part of the marker does not loop */
	log_add_secret("redacted");
	strcpy(line, "x redacted y");
	log_redact(line, sizeof(line), false);
	CHECK_STR(line, "x <redacted> y");
	log_forget_secret("redacted");
	log_forget_secret("hunter2-secret");
	strcpy(line, "hunter2-secret");
	log_redact(line, sizeof(line), false);
	CHECK_STR(line, "hunter2-secret");
}

int main(void)
{
	test_success();
	test_errors();
	test_sasl();
	test_base64url();
	test_redaction();
	return check_summary("oauth");
}
