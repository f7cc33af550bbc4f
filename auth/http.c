/* HTTPS POST with libcurl: RFC 6749 §3.2 token requests. */
#include "auth/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "auth/sasl.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	struct http_reply *rep = ctx;
	size_t len = size * n;
	char *nb;

	if (len > HTTP_BODY_MAX - rep->len)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	nb = realloc(rep->body, rep->len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + rep->len, data, len);
	rep->body = nb;
	rep->len += len;
	nb[rep->len] = '\0';
	return len;
}

static CURLcode setup(CURL *c, const char *url, const char *form, const char *cafile,
		      unsigned timeout_s, struct http_reply *rep, char *errbuf)
{
	CURLcode e = CURLE_OK;

#define SET(opt, val) do { if (e == CURLE_OK) e = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cafile)
		SET(CURLOPT_CAINFO, cafile);
	SET(CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 10 ? timeout_s : 10));
	SET(CURLOPT_TIMEOUT, (long)timeout_s);
	SET(CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	SET(CURLOPT_POSTFIELDS, form);
	SET(CURLOPT_USERAGENT, "inboxfs/" INBOXFS_VERSION);
	SET(CURLOPT_WRITEFUNCTION, collect);
	SET(CURLOPT_WRITEDATA, rep);
	SET(CURLOPT_ERRORBUFFER, errbuf);
#undef SET
	return e;
}

int http_post_form(const char *url, const char *form, const char *cafile, unsigned timeout_s,
		   struct http_reply *rep, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	const char *ct = NULL;
	CURLcode e;
	CURL *c;

	memset(rep, 0, sizeof(*rep));
	pthread_once(&curl_once, init_curl);
	if (curl_init_rc != CURLE_OK || !(c = curl_easy_init())) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	e = setup(c, url, form, cafile, timeout_s, rep, errbuf);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (e == CURLE_OK)
		e = curl_easy_perform(c);
	if (e == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(rep->content_type, sizeof(rep->content_type), "%s", ct);
	} else if (e == CURLE_WRITE_ERROR) {
		snprintf(err, errlen, "the answer is larger than %u KiB", HTTP_BODY_MAX >> 10);
	} else {
		snprintf(err, errlen, "%s", *errbuf ? errbuf : curl_easy_strerror(e));
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (e != CURLE_OK) {
		http_reply_free(rep);
		return -1;
	}
	if (!rep->body && !(rep->body = calloc(1, 1))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void http_reply_free(struct http_reply *rep)
{
	if (rep->body)
		OPENSSL_cleanse(rep->body, rep->len); /* it may hold a token */
	free(rep->body);
	rep->body = NULL;
	rep->len = 0;
}

int http_form_add(char **form, const char *key, const char *value)
{
	char *enc = curl_easy_escape(NULL, value, 0), *nf = NULL;
	int n;

	if (!enc)
		return -1;
	n = asprintf(&nf, "%s%s%s=%s", *form ? *form : "", *form ? "&" : "", key, enc);
	OPENSSL_cleanse(enc, strlen(enc));
	curl_free(enc);
	if (n < 0)
		return -1;
	sasl_wipe(*form);
	*form = nf;
	return 0;
}
