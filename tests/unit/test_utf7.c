/*
 * Unit tests for imap/utf7.c (modified UTF-7, RFC 3501 §5.1.3).
 *
 * Standalone: exits 0 when every check passes, 1 otherwise, and prints
 * one line per failed check plus a summary line.
 */
#include "imap/utf7.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned checks, failures;

/* Print a byte string with non-printables escaped, so failure lines
 * stay readable and on one line. */
static void put_escaped(const char *s, size_t len)
{
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	putchar('"');
}

static void report(const char *what, const char *in, size_t inlen,
		   const char *want, const char *got)
{
	failures++;
	printf("FAIL %s(", what);
	put_escaped(in, inlen);
	printf("): want ");
	if (want)
		put_escaped(want, strlen(want));
	else
		printf("NULL");
	printf(", got ");
	if (got)
		put_escaped(got, strlen(got));
	else
		printf("NULL");
	putchar('\n');
}

static int same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* want == NULL means the call must fail. */
static void check_decode_n(const char *in, size_t len, const char *want)
{
	char *got = imap_utf7_decode(in, len);

	checks++;
	if (!same(got, want))
		report("decode", in, len, want, got);
	free(got);
}

static void check_encode_n(const char *in, size_t len, const char *want)
{
	char *got = imap_utf7_encode(in, len);

	checks++;
	if (!same(got, want))
		report("encode", in, len, want, got);
	free(got);
}

static void check_decode(const char *in, const char *want)
{
	check_decode_n(in, strlen(in), want);
}

static void check_encode(const char *in, const char *want)
{
	check_encode_n(in, strlen(in), want);
}

/* A known pair must map both ways. */
static void check_pair(const char *utf7, const char *utf8)
{
	check_decode(utf7, utf8);
	check_encode(utf8, utf7);
}

static void check_reject_decode(const char *in)
{
	check_decode(in, NULL);
}

/* Round trip: decode(encode(s)) == s, and encode(decode(e)) == e. */
static void check_roundtrip_n(const char *s, size_t len)
{
	char *enc = imap_utf7_encode(s, len);
	char *dec = NULL, *reenc = NULL;
	int ok = 0;

	checks++;
	if (enc) {
		dec = imap_utf7_decode(enc, strlen(enc));
		if (dec)
			reenc = imap_utf7_encode(dec, strlen(dec));
		ok = dec && strlen(dec) == len && memcmp(dec, s, len) == 0 &&
		     reenc && strcmp(reenc, enc) == 0;
	}
	if (!ok) {
		failures++;
		printf("FAIL roundtrip(");
		put_escaped(s, len);
		printf("): encoded ");
		if (enc)
			put_escaped(enc, strlen(enc));
		else
			printf("NULL");
		printf(", decoded ");
		if (dec)
			put_escaped(dec, strlen(dec));
		else
			printf("NULL");
		putchar('\n');
	}
	free(enc);
	free(dec);
	free(reenc);
}

static void check_roundtrip(const char *s)
{
	check_roundtrip_n(s, strlen(s));
}

static void test_known_pairs(void)
{
	/* RFC 3501 §5.1.3 example. */
	check_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		   "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("&-", "&");
	check_pair("Entw&APw-rfe", "Entw\xc3\xbc" "rfe");
	check_pair("", "");
	check_pair("INBOX", "INBOX");
	check_pair("a b~c-d_e.f/g\\h", "a b~c-d_e.f/g\\h");
	check_pair("Tom &- Jerry", "Tom & Jerry");
	check_pair("&-&-", "&&");
	/* U+1F600 GRINNING FACE: surrogate pair D83D DE00. */
	check_pair("&2D3eAA-", "\xf0\x9f\x98\x80");
	check_pair("smile &2D3eAA- ok", "smile \xf0\x9f\x98\x80 ok");
	/* U+10FFFF, the last code point: DBFF DFFF. */
	check_pair("&2,,f,w-", "\xf4\x8f\xbf\xbf");
	/* U+0080, first encodable code point, and U+FFFF. */
	check_pair("&AIA-", "\xc2\x80");
	check_pair("&,,8-", "\xef\xbf\xbf");
	/* Mixed: shift ends at ASCII, '-' right after a shift, '&' next. */
	check_pair("&AOQ--x", "\xc3\xa4-x");
	check_pair("&AOQ-&-", "\xc3\xa4&");
	check_pair("&AOQ-&-&AOQ-", "\xc3\xa4&\xc3\xa4");
	check_pair("&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc");
	check_pair("&AOQ-a&APY-", "\xc3\xa4" "a\xc3\xb6");
	/* BMP char followed by astral char inside one shift. */
	check_pair("&AOTYPd4A-", "\xc3\xa4\xf0\x9f\x98\x80");
}

static void test_decode_rejects(void)
{
	/* Invalid base64 characters (including standard '/' and '='). */
	check_reject_decode("&AO/-");
	check_reject_decode("&AOQ=-");
	check_reject_decode("&AO Q-");
	check_reject_decode("&AO&Q-");
	check_reject_decode("&AO\x80Q-");
	/* Unterminated shifts. */
	check_reject_decode("&");
	check_reject_decode("&AOQ");
	check_reject_decode("abc&AOQ");
	/* Non-zero padding bits: AOQ = 0x00e4 + 2 bits; AOR sets them. */
	check_reject_decode("&AOR-");
	check_reject_decode("&AOT-");
	/* Base64 length not matching whole UTF-16 units. */
	check_reject_decode("&A-");
	check_reject_decode("&AO-");
	check_reject_decode("&AOQA-");	/* 24 bits: 1 unit + 8 bits */
	check_reject_decode("&AOQAA-");	/* 30 bits: 1 unit + 14 bits */
	check_reject_decode("&AOQA9gD-");	/* 42 bits: 2 units + 10 */
	/* Encoded printable ASCII must have been sent raw. */
	check_reject_decode("&AGE-");	/* 'a' */
	check_reject_decode("&ACY-");	/* '&' */
	check_reject_decode("&AC0-");	/* '-' */
	check_reject_decode("&ACA-");	/* ' ' */
	check_reject_decode("&AH4-");	/* '~' */
	check_reject_decode("&AOQAYQ-");	/* 'a' after a valid unit */
	/* Encoded NUL, C0 controls and DEL. */
	check_reject_decode("&AAA-");
	check_reject_decode("&AAE-");
	check_reject_decode("&AB8-");
	check_reject_decode("&AH8-");
	/* Unpaired surrogates. */
	check_reject_decode("&2D0-");	/* lone high */
	check_reject_decode("&3gA-");	/* lone low */
	check_reject_decode("&3gDYPQ-");	/* low then high */
	check_reject_decode("&2D3YPQ-");	/* high then high */
	check_reject_decode("&2D0AOQ-");	/* high then BMP */
	check_reject_decode("&2D0-&3gA-");	/* pair split across shifts */
	/* Adjacent shifts would have been merged by the encoder. */
	check_reject_decode("&AOQ-&AOQ-");
	check_reject_decode("x&AOQ-&APY-y");
	/* Raw bytes outside 0x20..0x7e, including a raw NUL. */
	check_reject_decode("tab\there");
	check_reject_decode("nl\n");
	check_reject_decode("del\x7f");
	check_reject_decode("\xc3\xbc");
	check_reject_decode("\xff");
	check_decode_n("a\0b", 3, NULL);
}

static void test_encode_rejects(void)
{
	/* Overlong forms. */
	check_encode("\xc0\xaf", NULL);
	check_encode("\xc1\xbf", NULL);
	check_encode("\xe0\x80\xaf", NULL);
	check_encode("\xe0\x9f\xbf", NULL);
	check_encode("\xf0\x80\x80\xaf", NULL);
	check_encode("\xf0\x8f\xbf\xbf", NULL);
	/* UTF-16 surrogates encoded as UTF-8 (CESU-8 style too). */
	check_encode("\xed\xa0\x80", NULL);
	check_encode("\xed\xbf\xbf", NULL);
	check_encode("\xed\xa0\xbd\xed\xb8\x80", NULL);
	/* Above U+10FFFF. */
	check_encode("\xf4\x90\x80\x80", NULL);
	check_encode("\xf5\x80\x80\x80", NULL);
	check_encode("\xf8\x88\x80\x80\x80", NULL);
	check_encode("\xff", NULL);
	/* Truncated sequences and stray continuation bytes. */
	check_encode("\xc3", NULL);
	check_encode("abc\xe6\x97", NULL);
	check_encode("\xf0\x9f\x98", NULL);
	check_encode("\x80", NULL);
	check_encode("\xc3\xa4\xbc", NULL);
	check_encode("\xe6" "a\xa5", NULL);
	/* NUL, C0 controls and DEL. */
	check_encode_n("a\0b", 3, NULL);
	check_encode("\x01", NULL);
	check_encode("tab\there", NULL);
	check_encode("\x1f", NULL);
	check_encode("\x7f", NULL);
	/* C1 controls are not in the refused set and must encode. */
	check_pair("&AIUAnw-", "\xc2\x85\xc2\x9f");
}

static void test_roundtrip_set(void)
{
	static const char *const set[] = {
		"",
		"INBOX",
		"&",
		"&&&",
		"-&-",
		"&-",
		"Entw\xc3\xbc" "rfe",
		"Gel\xc3\xb6schte Objekte",
		"\xd0\x92\xd1\x85\xd0\xbe\xd0\xb4\xd1\x8f\xd1\x89\xd0\xb8\xd0\xb5",
		"\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"\xf0\x9f\x93\xa7 Mail & \xf0\x9f\x93\x8e",
		"\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82",
		"a\xc3\xa4" "b\xc3\xb6" "c\xc3\xbc",
		"[Gmail]/Sent Mail",
		"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
		"\xee\x80\x80",	/* private use U+E000 */
	};
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		check_roundtrip(set[i]);
}

/* xorshift64: deterministic across platforms, unlike rand(). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

/* A random code point the encoder must accept, biased so that runs of
 * ASCII, '&', '-', BMP and astral characters all show up. */
static uint32_t random_cp(void)
{
	uint32_t cp;

	switch (rng() % 8) {
	case 0:
		return '&';
	case 1:
		return '-';
	case 2:
	case 3:
		return 0x20 + rng() % 0x5f;
	case 4:
		return 0x80 + rng() % 0x780;
	case 5:
		return 0x10000 + rng() % 0x100000;
	default:
		do
			cp = 0x80 + rng() % (0x10000 - 0x80);
		while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	}
}

static size_t put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void test_random_roundtrip(void)
{
	enum { ITER = 5000, MAXCP = 40 };
	char buf[MAXCP * 4 + 1];
	int it;

	for (it = 0; it < ITER; it++) {
		size_t ncp = rng() % (MAXCP + 1), len = 0, k;

		for (k = 0; k < ncp; k++)
			len += put_utf8(buf + len, random_cp());
		buf[len] = '\0';
		check_roundtrip_n(buf, len);
	}
}

int main(void)
{
	test_known_pairs();
	test_decode_rejects();
	test_encode_rejects();
	test_roundtrip_set();
	test_random_roundtrip();
	printf("utf7: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
