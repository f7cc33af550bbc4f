#include "fs/mail/parts_name.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* An extension longer than this is part of the name, not a type. */
#define EXT_MAX 16

const char *parts_ext(const char *type, const char *subtype)
{
	static const struct { const char *type, *ext; } known[] = {
		{ "text/plain", "txt" }, { "text/html", "html" }, { "text/calendar", "ics" },
		{ "text/csv", "csv" }, { "text/xml", "xml" }, { "text/markdown", "md" },
		{ "application/pdf", "pdf" }, { "application/zip", "zip" },
		{ "application/json", "json" }, { "application/xml", "xml" },
		{ "application/pgp-signature", "asc" }, { "application/pkcs7-signature", "p7s" },
		{ "image/jpeg", "jpg" }, { "image/png", "png" }, { "image/gif", "gif" },
		{ "image/webp", "webp" }, { "image/svg+xml", "svg" }, { "audio/mpeg", "mp3" },
		{ "video/mp4", "mp4" }, { "message/rfc822", "eml" }, { "message/global", "eml" },
	};
	char full[128];

	snprintf(full, sizeof(full), "%s/%s", type, subtype);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(full, known[i].type) == 0)
			return known[i].ext;
	return strcmp(type, "text") == 0 ? "txt" : "bin";
}

/* Length of the valid UTF-8 character at s (n bytes left), 0 when it is
 * not one: overlong forms, surrogates, C1 controls and beyond U+10FFFF
 * are not. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		     s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	unsigned cp;

	if (len == 0 || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return 0;
	return len;
}

/* Every character safe, one by one, into out (cap bytes at least len + 1):
 * the length. */
static size_t clean(char *out, const char *in, size_t len)
{
	size_t o = 0, i = 0;

	while (i < len) {
		size_t c = utf8_char((const unsigned char *)in + i, len - i);

		if (c == 0 || in[i] == '/' || in[i] == '\\') {
			out[o++] = '_';
			i++;
			continue;
		}
		if (o == 0 && (in[i] == '.' || in[i] == ' ')) {
			i++;
			continue;
		}
		memcpy(out + o, in + i, c);
		o += c;
		i += c;
	}
	out[o] = '\0';
	return o;
}

/* Where a cut at most at max bytes ends on a character boundary. */
static size_t boundary(const char *s, size_t max)
{
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* s (len bytes, clean) cut to at most max bytes, its extension kept. */
static size_t shorten(char *s, size_t len, size_t max)
{
	const char *dot = strrchr(s, '.');
	size_t ext = dot && dot != s && (size_t)(s + len - dot) <= EXT_MAX ? (size_t)(s + len - dot) : 0;
	size_t stem;

	if (len <= max)
		return len;
	if (ext * 2 > max)
		ext = 0; /* no room for it: the name's start matters more */
	stem = boundary(s, max - ext);
	memmove(s + stem, s + len - ext, ext);
	s[stem + ext] = '\0';
	return stem + ext;
}

size_t parts_sanitize(char *out, size_t cap, const char *in, size_t len)
{
	char tmp[4 * PARTS_NAME_MAX + 1];
	size_t n;

	if (cap == 0)
		return 0;
	if (len > 4 * PARTS_NAME_MAX)
		len = 4 * PARTS_NAME_MAX; /* '_' per byte at most: the cut comes later anyway */
	n = shorten(tmp, clean(tmp, in, len), cap - 1);
	memcpy(out, tmp, n + 1);
	return n;
}

void parts_name(char *out, const char *section, const char *filename, const char *type,
		const char *subtype)
{
	int pre = snprintf(out, PARTS_NAME_MAX + 1, "%s-", section);

	if (pre > 0 && pre < PARTS_NAME_MAX - 8 && filename &&
	    parts_sanitize(out + pre, PARTS_NAME_MAX + 1 - (size_t)pre, filename,
			   strlen(filename)) > 0)
		return;
	snprintf(out, PARTS_NAME_MAX + 1, "%s.%s", section, parts_ext(type, subtype));
}

bool parts_name_section(const char *name, char *out, size_t cap)
{
	size_t i = 0;

	for (;;) {
		if (name[i] < '1' || name[i] > '9')
			return false; /* sections count from 1 */
		while (name[i] >= '0' && name[i] <= '9')
			i++;
		if (name[i] == '-' || (name[i] == '.' && ((name[i + 1] >= 'a' && name[i + 1] <= 'z') ||
							  (name[i + 1] >= 'A' && name[i + 1] <= 'Z'))))
			break; /* "-name", or ".ext" (parts_ext's start with a letter) */
		if (name[i] != '.')
			return false;
		i++;
	}
	if (i >= cap)
		return false;
	memcpy(out, name, i);
	out[i] = '\0';
	return true;
}
