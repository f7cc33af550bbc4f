/* One HTTPS POST of a form, for OAuth2 token requests (libcurl).
 * Certificates verified (system store, or cafile), HTTPS only, no
 * redirects, bounded time and answer size; proxies from the usual
 * environment variables (https_proxy, no_proxy), as libcurl reads them. */
#ifndef INBOXFS_AUTH_HTTP_H
#define INBOXFS_AUTH_HTTP_H

#include <stddef.h>

#define HTTP_BODY_MAX (256u << 10)

struct http_reply {
	long status;        /* HTTP status; 0 when no answer came */
	char *body;         /* NUL-terminated (malloc'd), may be empty */
	size_t len;
	char content_type[128];
};

/* POST form (already URL-encoded) to url.  0 with a reply (any status),
 * or -1 with a reason in err (no connection, TLS refused, timeout, answer
 * too large).  The form is never logged. */
int http_post_form(const char *url, const char *form, const char *cafile, unsigned timeout_s,
		   struct http_reply *rep, char *err, size_t errlen);
void http_reply_free(struct http_reply *rep);
/* Append "&key=value" (value URL-encoded) to a malloc'd form string; a
 * form carries secrets: free it with sasl_wipe. */
int http_form_add(char **form, const char *key, const char *value);

#endif
