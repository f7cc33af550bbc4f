#include "imap/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode %XX escapes; control characters are refused because the user
 * name goes into IMAP commands and log lines. */
static char *percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= len)
				goto bad;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);

			if (hi < 0 || lo < 0)
				goto bad;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int parse_hostport(const char *hp, struct imap_url *u)
{
	const char *colon;
	size_t hlen;

	if (*hp == '[') {
		const char *close = strchr(hp, ']');

		if (!close || close == hp + 1)
			return -1;
		hlen = (size_t)(close - hp - 1);
		u->host = strndup(hp + 1, hlen);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			return -1;
	} else {
		colon = strchr(hp, ':');
		hlen = colon ? (size_t)(colon - hp) : strlen(hp);
		if (hlen == 0)
			return -1;
		u->host = strndup(hp, hlen);
	}
	if (!u->host)
		return -1;
	for (const char *c = u->host; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c))
			return -1;
	return colon ? parse_port(colon + 1, &u->port) : 0;
}

int imap_url_parse(const char *s, struct imap_url *u, char *err, size_t errlen)
{
	const char *rest, *at;
	char *hp = NULL;
	size_t len;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "imaps://", 8) == 0) {
		u->implicit_tls = true;
		u->port = 993;
		rest = s + 8;
	} else if (strncasecmp(s, "imap://", 7) == 0) {
		u->port = 143;
		rest = s + 7;
	} else {
		snprintf(err, errlen, "'%s' is not an imap:// or imaps:// URL", s);
		return -1;
	}
	len = strlen(rest);
	if (len && rest[len - 1] == '/')
		len--;
	at = memrchr(rest, '@', len);
	if (!at || at == rest) {
		snprintf(err, errlen, "the URL needs a user name: imaps://USER@HOST[:PORT]");
		return -1;
	}
	u->user = percent_decode(rest, (size_t)(at - rest));
	hp = strndup(at + 1, len - (size_t)(at + 1 - rest));
	if (!u->user || !hp || strchr(hp, '/') || parse_hostport(hp, u) < 0) {
		snprintf(err, errlen, "cannot parse the server URL '%s'", s);
		free(hp);
		imap_url_free(u);
		return -1;
	}
	free(hp);
	return 0;
}

void imap_url_free(struct imap_url *u)
{
	free(u->user);
	free(u->host);
	u->user = u->host = NULL;
}
