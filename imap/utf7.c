/*
 * Modified UTF-7 for IMAP mailbox names.
 *
 * Implements RFC 3501 §5.1.3 "Mailbox International Naming Convention"
 * (unchanged in RFC 9051 §5.1.3), which modifies the UTF-7 of RFC 2152:
 *   - '&' (not '+') starts a shift, '-' ends it, "&-" stands for '&';
 *   - the base64 alphabet of RFC 4648 §4 with ',' in place of '/',
 *     and no '=' padding;
 *   - printable US-ASCII 0x20..0x7e other than '&' represents itself
 *     and must not be encoded; everything else is UTF-16 (RFC 2781),
 *     astral code points as surrogate pairs;
 *   - a shift is closed explicitly, and adjacent shifts must be merged.
 * UTF-8 handling follows RFC 3629 (no overlongs, no surrogates,
 * nothing above U+10FFFF).
 *
 * Both directions are strict so that decode and encode are exact
 * inverses: whatever decode accepts, encode reproduces byte for byte,
 * and whatever encode produces, decode accepts.  This matters because a
 * decoded name is shown to the user as a path and must map back to the
 * very same name on the server.
 */
#include "imap/utf7.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- output buffer ---------------------------------------------------- */

/* A growable byte string; every append checks for size_t overflow, so
 * no caller has to pre-compute a worst-case output size. */
struct obuf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;		/* sticky: an allocation or size check failed */
};

static bool obuf_reserve(struct obuf *b, size_t extra)
{
	size_t need, ncap;
	char *n;

	if (b->failed)
		return false;
	/* +1 keeps room for the terminating NUL. */
	if (extra > SIZE_MAX - 1 - b->len)
		goto fail;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 32;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	n = realloc(b->data, ncap);
	if (!n)
		goto fail;
	b->data = n;
	b->cap = ncap;
	return true;
fail:
	b->failed = true;
	return false;
}

static void obuf_putc(struct obuf *b, char c)
{
	if (obuf_reserve(b, 1))
		b->data[b->len++] = c;
}

/* Hand over the NUL-terminated result, or NULL after any failure. */
static char *obuf_finish(struct obuf *b)
{
	if (!obuf_reserve(b, 0)) {
		free(b->data);
		return NULL;
	}
	b->data[b->len] = '\0';
	return b->data;
}

static char *obuf_abandon(struct obuf *b)
{
	free(b->data);
	return NULL;
}

/* ---- shared helpers ---------------------------------------------------- */

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Value of a modified-base64 character, or -1 if it is not one. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Characters that represent themselves and so must never be encoded. */
static bool is_direct(uint32_t cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

/* Code points the encoder refuses (NUL, C0 controls, DEL).  The decoder
 * refuses them too, or a decoded name could not be encoded back. */
static bool is_forbidden_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f;
}

static bool is_high_surrogate(uint32_t u) { return u >= 0xd800 && u <= 0xdbff; }
static bool is_low_surrogate(uint32_t u) { return u >= 0xdc00 && u <= 0xdfff; }

/* ---- UTF-8 ------------------------------------------------------------- */

static void utf8_put(struct obuf *b, uint32_t cp)
{
	if (cp < 0x80) {
		obuf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		obuf_putc(b, (char)(0xc0 | (cp >> 6)));
		obuf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		obuf_putc(b, (char)(0xe0 | (cp >> 12)));
		obuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		obuf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		obuf_putc(b, (char)(0xf0 | (cp >> 18)));
		obuf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		obuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		obuf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * Read one code point from s[*pos..len).  Returns false on anything
 * RFC 3629 forbids: stray continuation bytes, truncated sequences,
 * overlong forms, UTF-16 surrogates and values above U+10FFFF.
 */
static bool utf8_get(const unsigned char *s, size_t len, size_t *pos,
		     uint32_t *out)
{
	unsigned char c = s[*pos];
	size_t n, i;
	uint32_t cp, min;

	if (c < 0x80) {
		n = 0; cp = c; min = 0;
	} else if (c >= 0xc2 && c <= 0xdf) {	/* 0xc0/0xc1 are always overlong */
		n = 1; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {	/* 0xf5.. would exceed U+10FFFF */
		n = 3; cp = c & 0x07; min = 0x10000;
	} else {
		return false;
	}
	if (n > len - *pos - 1)
		return false;
	for (i = 1; i <= n; i++) {
		unsigned char cc = s[*pos + i];

		if ((cc & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || is_high_surrogate(cp) ||
	    is_low_surrogate(cp))
		return false;
	*pos += n + 1;
	*out = cp;
	return true;
}

/* ---- decode ------------------------------------------------------------ */

/* Collects 16-bit units from a shift and pairs up surrogates. */
struct u16_state {
	uint32_t high;		/* pending high surrogate, 0 if none */
};

/* Accept one UTF-16 unit of a shift; false if the result is invalid
 * or could only have come from a non-canonical encoder. */
static bool decode_unit(struct u16_state *st, uint32_t u, struct obuf *out)
{
	uint32_t cp;

	if (st->high) {
		if (!is_low_surrogate(u))
			return false;
		cp = 0x10000 + ((st->high - 0xd800) << 10) + (u - 0xdc00);
		st->high = 0;
		utf8_put(out, cp);
		return true;
	}
	if (is_high_surrogate(u)) {
		st->high = u;
		return true;
	}
	/* Anything below U+0080 is either direct (must be sent raw) or a
	 * control the encoder refuses; a lone low surrogate is invalid. */
	if (is_direct(u) || is_forbidden_control(u) || is_low_surrogate(u))
		return false;
	utf8_put(out, u);
	return true;
}

/*
 * Decode the base64 run in[0..n), which lies between '&' and '-' and is
 * not empty.  The run must hold whole UTF-16 units: fewer than 6 bits
 * may be left over, and they must be zero.
 */
static bool decode_shift(const unsigned char *in, size_t n, struct obuf *out)
{
	struct u16_state st = { 0 };
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return false;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (!decode_unit(&st, (bits >> nbits) & 0xffff, out))
				return false;
			bits &= (1u << nbits) - 1;
		}
	}
	/* nbits >= 6 means a whole superfluous base64 char. */
	if (nbits >= 6 || bits != 0)
		return false;
	return st.high == 0;
}

char *imap_utf7_decode(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	struct obuf out = { 0 };
	bool after_shift = false;	/* previous token was a non-empty shift */
	size_t i = 0;

	if (!in && len)
		return NULL;
	while (i < len) {
		unsigned char c = s[i];
		size_t end;

		if (c != '&') {
			if (!is_direct(c))
				return obuf_abandon(&out);
			obuf_putc(&out, (char)c);
			after_shift = false;
			i++;
			continue;
		}
		end = i + 1;
		while (end < len && s[end] != '-')
			end++;
		if (end == len)		/* unterminated shift */
			return obuf_abandon(&out);
		if (end == i + 1) {	/* "&-" */
			obuf_putc(&out, '&');
			after_shift = false;
		} else {
			/* The encoder merges consecutive non-ASCII runs, so
			 * two shifts in a row cannot be canonical. */
			if (after_shift ||
			    !decode_shift(s + i + 1, end - i - 1, &out))
				return obuf_abandon(&out);
			after_shift = true;
		}
		i = end + 1;
	}
	return obuf_finish(&out);
}

/* ---- encode ------------------------------------------------------------ */

/* Modified base64 writer for one shift sequence. */
struct b64_state {
	uint32_t bits;
	unsigned nbits;
};

static void encode_unit(struct b64_state *st, uint32_t u, struct obuf *out)
{
	st->bits = (st->bits << 16) | u;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		obuf_putc(out, b64_alphabet[(st->bits >> st->nbits) & 0x3f]);
	}
	st->bits &= (1u << st->nbits) - 1;
}

static void encode_cp(struct b64_state *st, uint32_t cp, struct obuf *out)
{
	if (cp >= 0x10000) {
		cp -= 0x10000;
		encode_unit(st, 0xd800 | (cp >> 10), out);
		encode_unit(st, 0xdc00 | (cp & 0x3ff), out);
	} else {
		encode_unit(st, cp, out);
	}
}

/* Flush the remaining bits zero-padded, then close the shift. */
static void encode_close(struct b64_state *st, struct obuf *out)
{
	if (st->nbits)
		obuf_putc(out, b64_alphabet[(st->bits << (6 - st->nbits)) & 0x3f]);
	obuf_putc(out, '-');
	st->bits = 0;
	st->nbits = 0;
}

char *imap_utf7_encode(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	struct obuf out = { 0 };
	struct b64_state st = { 0 };
	bool shifted = false;
	size_t i = 0;

	if (!in && len)
		return NULL;
	while (i < len) {
		uint32_t cp;

		if (!utf8_get(s, len, &i, &cp) || is_forbidden_control(cp))
			return obuf_abandon(&out);
		if (is_direct(cp)) {
			if (shifted) {
				encode_close(&st, &out);
				shifted = false;
			}
			obuf_putc(&out, (char)cp);
			if (cp == '&')
				obuf_putc(&out, '-');
			continue;
		}
		if (!shifted) {
			obuf_putc(&out, '&');
			shifted = true;
		}
		encode_cp(&st, cp, &out);
	}
	if (shifted)
		encode_close(&st, &out);
	return obuf_finish(&out);
}
