/* The parts of a message as files: BODYSTRUCTURE to sections
 * (imap/bodystructure.c), the names made of them (fs/parts_name.c) and
 * the lists packed for the disk cache (fs/mail/parts_store.c), the
 * sections kept a short while (fs/mail/parts_sections.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fs/mail/parts_name.h"
#include "fs/mail/parts_sections.h"
#include "fs/mail/parts_store.h"
#include "imap/bodystructure.h"
#include "imap/parser.h"

static const char leaf[] = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1)";

/* Parse "* 1 FETCH (BODYSTRUCTURE <bs>)": 0 and out filled, or -1. */
static int parse(const char *bs, struct imap_bodystructure *out)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t len = strlen(bs) + 64, used;
	char *line = malloc(len);
	struct imap_response *r = NULL;
	int rc = -1;

	snprintf(line, len, "* 1 FETCH (BODYSTRUCTURE %s)\r\n", bs);
	if (imap_parser_feed(p, line, strlen(line), &used) == IMAP_PARSE_RESPONSE)
		r = imap_parser_take(p);
	if (r)
		rc = imap_bodystructure_parse(&r->data.items[2].items[1], out);
	if (r)
		imap_response_free(r);
	imap_parser_free(p);
	free(line);
	return rc;
}

/* bs nested in depth multiparts. */
static char *nested(int depth)
{
	size_t cap = strlen(leaf) + (size_t)depth * 16 + 1;
	char *s = malloc(cap), *t = malloc(cap);

	snprintf(s, cap, "%s", leaf);
	for (int i = 0; i < depth; i++) {
		snprintf(t, cap, "(%s \"mixed\")", s);
		snprintf(s, cap, "%s", t);
	}
	free(t);
	return s;
}

static void structures(void)
{
	struct imap_bodystructure bs;
	char *s;

	CHECK(parse(leaf, &bs) == 0 && bs.n == 1 && strcmp(bs.parts[0].section, "1") == 0);
	CHECK(strcmp(bs.parts[0].type, "text") == 0 && bs.parts[0].octets == 5);
	CHECK(strcmp(bs.parts[0].charset, "us-ascii") == 0 && !bs.parts[0].disposition);
	imap_bodystructure_free(&bs);
	/* Sections as IMAP numbers them; an attached message is one leaf; the
	 * disposition and parameters become header text, quoted where needed. */
	CHECK(parse("(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"QUOTED-PRINTABLE\" 9 1)"
		    "(\"text\" \"html\" NIL NIL NIL \"7bit\" 4 1) \"alternative\")"
		    "(\"application\" \"pdf\" (\"name\" \"a \\\"b\\\".pdf\") NIL NIL \"base64\" 8 NIL"
		    " (\"attachment\" (\"filename*0*\" \"utf-8''%C3%A4\" \"filename*1*\" \".pdf\")) NIL)"
		    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 30 (NIL NIL NIL NIL NIL NIL NIL NIL"
		    " NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 2 1) 2 NIL (\"inline\" NIL))"
		    " \"mixed\" (\"boundary\" \"b\"))", &bs) == 0);
	CHECK(bs.n == 4 && strcmp(bs.parts[0].section, "1.1") == 0 &&
	      strcmp(bs.parts[1].section, "1.2") == 0 && strcmp(bs.parts[2].section, "2") == 0 &&
	      strcmp(bs.parts[3].section, "3") == 0);
	CHECK(strcmp(bs.parts[0].encoding, "quoted-printable") == 0);
	CHECK(strcmp(bs.parts[2].params, "; name=\"a \\\"b\\\".pdf\"") == 0);
	CHECK(strcmp(bs.parts[2].disposition,
		     "attachment; filename*0*=utf-8''%C3%A4; filename*1*=.pdf") == 0);
	CHECK(strcmp(bs.parts[3].type, "message") == 0 &&
	      strcmp(bs.parts[3].disposition, "inline") == 0);
	imap_bodystructure_free(&bs);
	/* Malformed: a size that is no number, a multipart with no subtype. */
	CHECK(parse("(\"text\" \"plain\" NIL NIL NIL \"7bit\" \"many\" 1)", &bs) < 0 && !bs.n);
	CHECK(parse("((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1))", &bs) < 0);
	CHECK(parse("NIL", &bs) < 0 && parse("()", &bs) < 0);
	/* 32 levels of multipart are followed, 33 refused. */
	s = nested(31);
	CHECK(parse(s, &bs) == 0 && bs.n == 1 && strlen(bs.parts[0].section) == 61);
	imap_bodystructure_free(&bs);
	free(s);
	s = nested(33);
	CHECK(parse(s, &bs) < 0);
	free(s);
	CHECK(imap_section_valid("1") && imap_section_valid("4.2.10"));
	CHECK(!imap_section_valid("") && !imap_section_valid("1.") && !imap_section_valid(".1") &&
	      !imap_section_valid("1..2") && !imap_section_valid("1]") &&
	      !imap_section_valid("HEADER"));
}

static void many_parts(void)
{
	struct imap_bodystructure bs;
	size_t n = IMAP_BS_MAX_PARTS + 10, len = strlen(leaf);
	char *s = malloc(n * len + 32), *p = s;

	*p++ = '(';
	for (size_t i = 0; i < n; i++, p += len)
		memcpy(p, leaf, len);
	strcpy(p, " \"mixed\")");
	memset(&bs, 0, sizeof(bs));
	CHECK(parse(s, &bs) == 0 && bs.n == IMAP_BS_MAX_PARTS && bs.truncated);
	CHECK(bs.n && strcmp(bs.parts[bs.n - 1].section, "16000") == 0);
	imap_bodystructure_free(&bs);
	free(s);
}

static void names(void)
{
	char out[PARTS_NAME_MAX + 1], in[400];

	parts_name(out, "3", "invoice.pdf", "application", "pdf");
	CHECK(strcmp(out, "3-invoice.pdf") == 0);
	parts_name(out, "1.2", NULL, "text", "html");
	CHECK(strcmp(out, "1.2.html") == 0);
	parts_name(out, "4", "", "application", "x-whatever");
	CHECK(strcmp(out, "4.bin") == 0);
	parts_name(out, "5", "..", "message", "rfc822");
	CHECK(strcmp(out, "5.eml") == 0);
	parts_name(out, "2", "../../etc/passwd", "text", "plain");
	CHECK(strcmp(out, "2-_.._etc_passwd") == 0);
	parts_name(out, "2", "a\\b\x01\x7f\xff\xc3.txt", "text", "plain");
	CHECK(strcmp(out, "2-a_b____.txt") == 0);
	parts_name(out, "2", "\xc3\xa4rger \xe2\x82\xac.pdf", "application", "pdf");
	CHECK(strcmp(out, "2-\xc3\xa4rger \xe2\x82\xac.pdf") == 0);
	/* Long names: 255 bytes with the extension kept, cut at a character. */
	memset(in, 'x', 296);
	strcpy(in + 296, ".pdf");
	parts_name(out, "12", in, "application", "pdf");
	CHECK(strlen(out) == 255 && strcmp(out + 251, ".pdf") == 0 && strncmp(out, "12-xx", 5) == 0);
	for (int i = 0; i < 150; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	strcpy(in + 300, ".dat");
	parts_name(out, "1", in, "application", "octet-stream");
	CHECK(strlen(out) <= 255 && strcmp(out + strlen(out) - 4, ".dat") == 0);
	CHECK(strncmp(out + strlen(out) - 6, "\xc3\xa9", 2) == 0);
	/* A cap too small for the extension keeps the name's start. */
	CHECK(parts_sanitize(out, 6, "abcdefgh.extension", 18) == 5 && strcmp(out, "abcde") == 0);
	CHECK(parts_sanitize(out, 8, "...", 3) == 0 && out[0] == '\0');
	CHECK(strcmp(parts_ext("image", "jpeg"), "jpg") == 0 &&
	      strcmp(parts_ext("text", "x-diff"), "txt") == 0 &&
	      strcmp(parts_ext("application", "x-what"), "bin") == 0);
}

/* The section a lookup's name starts with: what parts_name makes, read back. */
static void name_sections(void)
{
	const char *yes[][2] = { { "3-invoice.pdf", "3" }, { "1.txt", "1" },
				 { "4.2-photo.jpg", "4.2" }, { "1.2.html", "1.2" },
				 { "5.eml", "5" }, { "12-1.2.pdf", "12" }, { "10.3.mp3", "10.3" }, { "1.x", "1" } };
	const char *no[] = { "text", "subject", "header", "0.txt", "1", "1.2", "-1.txt",
			     "1..2.txt", "01.txt", "1.", "4.02.txt", "x1.txt", "" };
	char out[IMAP_SECTION_MAX], tiny[2];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(parts_name_section(yes[i][0], out, sizeof(out)) &&
		      strcmp(out, yes[i][1]) == 0);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!parts_name_section(no[i], out, sizeof(out)));
	CHECK(!parts_name_section("12-a.pdf", tiny, sizeof(tiny)));
}

static const char msg[] =
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: a@example.org\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nhi\r\n--b\r\n"
	"Content-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n"
	"\r\nJVBERg==\r\n--b--\r\n";

/* Packed and unpacked, a list is the same; any shorter or altered
 * bytes are refused whole, never half-used. */
static void packing(void)
{
	struct parts_msg pm = { 0 }, back = { 0 };
	size_t len = 0, refused = 0;
	char *buf = NULL;

	CHECK(parts_from_message(&pm, msg, strlen(msg)) == 0 && pm.n >= 5);
	CHECK(parts_pack(&pm, &buf, &len) == 0);
	CHECK(parts_unpack(&back, buf, len) == 0 && back.n == pm.n && back.hlen == pm.hlen &&
	      memcmp(back.header, pm.header, pm.hlen) == 0 && back.local == pm.local);
	for (size_t i = 0; i < pm.n && i < back.n; i++) {
		CHECK_STR(back.e[i].name, pm.e[i].name);
		CHECK(back.e[i].kind == pm.e[i].kind && back.e[i].size == pm.e[i].size);
		CHECK(!pm.e[i].section || strcmp(back.e[i].section, pm.e[i].section) == 0);
		CHECK(!pm.e[i].value || strcmp(back.e[i].value, pm.e[i].value) == 0);
		CHECK(strcmp(back.e[i].charset, pm.e[i].charset) == 0);
	}
	parts_msg_free(&back);
	for (size_t cut = 0; cut < len; cut++) {
		struct parts_msg t = { 0 };

		refused += parts_unpack(&t, buf, cut) < 0 && t.n == 0 && !t.header;
	}
	CHECK(refused == len);
	buf[len - 2] = '/'; /* inside the last string: a value, never a name */
	buf[5] = (char)0xff; /* the header's length */
	CHECK(parts_unpack(&back, buf, len) < 0 && back.n == 0);
	free(buf);
	parts_msg_free(&pm);
}

/* A section is found by message and section only; the bytes kept are
 * bounded (a large one is not kept, older ones make room). */
static void sections(void)
{
	static char big[PARTS_SECTIONS_BYTES / 4];
	size_t len = 0, kept = 0;
	bool binary = false;
	char *got;

	parts_sections_put(7, "1", "abc", 3, true);
	got = parts_sections_get(7, "1", &len, &binary);
	CHECK(got && len == 3 && memcmp(got, "abc", 4) == 0 && binary);
	free(got);
	CHECK(!parts_sections_get(7, "2", &len, &binary) && !parts_sections_get(8, "1", &len,
										&binary));
	parts_sections_put(9, "1", big, sizeof(big) + 1, false);
	CHECK(!parts_sections_get(9, "1", &len, &binary));
	for (uint64_t k = 100; k < 105; k++)
		parts_sections_put(k, "1", big, sizeof(big), false);
	for (uint64_t k = 100; k < 105; k++) {
		got = parts_sections_get(k, "1", &len, &binary);
		kept += got != NULL;
		free(got);
	}
	got = parts_sections_get(104, "1", &len, &binary);
	CHECK(kept == 4 && got && len == sizeof(big));
	free(got);
}

int main(void)
{
	structures();
	many_parts();
	names();
	name_sections();
	packing();
	sections();
	return check_summary("parts");
}
