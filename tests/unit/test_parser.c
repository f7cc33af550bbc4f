/* Unit tests for the response parser: grammar, chunking, and the limits
 * that keep a hostile server from taking memory or trust. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "imap/commands.h"
#include "imap/commands.h" /* twice: every declaration is inside its guard */
#include "imap/parser.h"

/* Feed the whole input in chunks of `chunk` bytes; collect up to max responses. */
static int parse_all(struct imap_parser *p, const char *in, size_t len, size_t chunk,
		     struct imap_response **out, int max, enum imap_parse_result *last)
{
	size_t off = 0, used, n;
	int count = 0;

	*last = IMAP_PARSE_NEED_MORE;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		while (n > 0) {
			*last = imap_parser_feed(p, in + off, n, &used);
			off += used;
			n -= used;
			if (*last == IMAP_PARSE_ERROR)
				return count;
			if (*last == IMAP_PARSE_RESPONSE) {
				struct imap_response *r = imap_parser_take(p);

				if (count < max)
					out[count++] = r;
				else
					imap_response_free(r);
			}
		}
	}
	return count;
}

static struct imap_response *parse_one(const char *in, size_t chunk)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_response *r[2] = { 0 };
	enum imap_parse_result last;
	int n = parse_all(p, in, strlen(in), chunk, r, 2, &last);

	imap_parser_free(p);
	if (n != 1) {
		imap_response_free(r[0]);
		imap_response_free(r[1]);
		return NULL;
	}
	return r[0];
}

static enum imap_parse_result parse_error_of(const char *in, size_t len,
					     const struct imap_parser_limits *lim)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct imap_response *r[4] = { 0 };
	enum imap_parse_result last;
	int n = parse_all(p, in, len, len ? len : 1, r, 4, &last);

	for (int i = 0; i < n; i++)
		imap_response_free(r[i]);
	imap_parser_free(p);
	return last;
}

static void test_tagged(void)
{
	struct imap_response *r = parse_one("A1 OK [READ-ONLY] EXAMINE completed\r\n", 1000);

	CHECK(r && r->kind == IMAP_RESP_TAGGED);
	if (!r)
		return;
	CHECK_STR(r->tag, "A1");
	CHECK(r->cond == IMAP_COND_OK);
	CHECK(r->code.n == 1 && imap_value_is(&r->code.items[0], "READ-ONLY"));
	CHECK_STR(r->text, "EXAMINE completed");
	imap_response_free(r);

	r = parse_one("A2 NO [TRYCREATE] No such mailbox {5}\r\n", 1000);
	CHECK(r && r->cond == IMAP_COND_NO && r->code.n == 1);
	if (r)
		CHECK_STR(r->text, "No such mailbox {5}"); /* text, not a literal */
	imap_response_free(r);
}

static void test_untagged_status_codes(void)
{
	struct imap_response *r = parse_one("* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] Flags\r\n", 7);

	CHECK(r && r->kind == IMAP_RESP_UNTAGGED && r->cond == IMAP_COND_OK);
	if (r) {
		CHECK(r->code.n == 2 && imap_value_is(&r->code.items[0], "PERMANENTFLAGS"));
		CHECK(r->code.items[1].type == IV_LIST && r->code.items[1].n == 3);
		CHECK(imap_value_is(&r->code.items[1].items[2], "\\*"));
	}
	imap_response_free(r);

	r = parse_one("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n", 3);
	CHECK(r && r->code.n == 2 && r->code.items[1].type == IV_NUMBER &&
	      r->code.items[1].num == 3857529045u);
	imap_response_free(r);

	r = parse_one("* BYE Session invalidated - AccessTokenExpired\r\n", 1000);
	CHECK(r && r->cond == IMAP_COND_BYE);
	if (r)
		CHECK_STR(r->text, "Session invalidated - AccessTokenExpired");
	imap_response_free(r);
}

static void test_fetch_with_literal(void)
{
	const char *in = "* 12 FETCH (UID 7 RFC822.SIZE 5 INTERNALDATE \" 7-Jul-1996 02:44:25 -0700\" "
			 "BODY[] {5}\r\na\0b\r\n FLAGS (\\Seen))\r\n";
	size_t len;
	struct imap_parser *p;
	struct imap_response *r[2];
	enum imap_parse_result last;
	const struct imap_value *items;

	/* the literal holds a NUL: compute the real length */
	len = strlen(in) + 1 + strlen(in + strlen(in) + 1);
	for (size_t chunk = 1; chunk <= len; chunk += (chunk < 8 ? 1 : 13)) {
		p = imap_parser_new(NULL);
		CHECK(parse_all(p, in, len, chunk, r, 2, &last) == 1);
		imap_parser_free(p);
		items = imap_list_item(&r[0]->data, 2);
		CHECK(r[0]->data.n == 3 && r[0]->data.items[0].num == 12);
		CHECK(imap_value_is(&r[0]->data.items[1], "FETCH"));
		CHECK(items && items->n == 10);
		if (items && items->n == 10) {
			CHECK(imap_value_is(&items->items[6], "BODY[]"));
			CHECK(items->items[7].len == 5 && memcmp(items->items[7].str, "a\0b\r\n", 5) == 0);
			CHECK(items->items[7].blob == 0);
			CHECK(items->items[9].type == IV_LIST && items->items[9].n == 1);
		}
		imap_response_free(r[0]);
	}
}

static void test_steal_literal(void)
{
	struct imap_response *r = parse_one("* 1 FETCH (BODY[] {3}\r\nxyz)\r\n", 4);
	const struct imap_value *v;
	size_t len;
	char *d;

	CHECK(r != NULL);
	if (!r)
		return;
	v = &r->data.items[2].items[1];
	d = imap_value_steal(r, v, &len);
	CHECK(d && len == 3 && memcmp(d, "xyz", 3) == 0);
	free(d);
	imap_response_free(r); /* must not double free the stolen blob */
}

static void test_empty_literal(void)
{
	struct imap_response *r = parse_one("* 1 FETCH (UID 1 BODY[] {0}\r\n)\r\n", 3);
	size_t len = 99;
	char *d;

	CHECK(r != NULL);
	if (!r)
		return;
	d = imap_value_steal(r, &r->data.items[2].items[3], &len);
	CHECK(d && len == 0 && d[0] == '\0');
	free(d);
	imap_response_free(r);
}

static void test_list_and_atoms(void)
{
	struct imap_response *r = parse_one("* LIST (\\HasNoChildren \\Trash) \"/\" \"Entw&APw-rfe/a \\\"q\\\"\"\r\n", 5);
	CHECK(r && r->data.n == 4);
	if (r && r->data.n == 4) {
		CHECK(imap_value_is(&r->data.items[0], "LIST"));
		CHECK(r->data.items[2].type == IV_STRING && r->data.items[2].len == 1);
		CHECK_STR(r->data.items[3].str, "Entw&APw-rfe/a \"q\"");
	}
	imap_response_free(r);

	/* An all-digit mailbox name is an astring, usable as a string. */
	r = parse_one("* LIST () NIL 2023\r\n", 100);
	CHECK(r && r->data.items[2].type == IV_NIL && imap_value_is_string(&r->data.items[3]));
	if (r)
		CHECK_STR(r->data.items[3].str, "2023");
	imap_response_free(r);

	r = parse_one("* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)]<0> {2}\r\nhi)\r\n", 9);
	CHECK(r && imap_value_is(&r->data.items[2].items[0], "BODY[HEADER.FIELDS (SUBJECT FROM)]<0>"));
	imap_response_free(r);

	r = parse_one("+ dGVzdA==\r\n", 2);
	CHECK(r && r->kind == IMAP_RESP_CONTINUE);
	if (r)
		CHECK_STR(r->text, "dGVzdA==");
	imap_response_free(r);
}

static void test_several_responses_in_one_chunk(void)
{
	const char *in = "* 4 EXISTS\r\n* 2 EXPUNGE\r\nA3 OK done\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_response *r[4] = { 0 };
	enum imap_parse_result last;
	int n = parse_all(p, in, strlen(in), strlen(in), r, 4, &last);

	CHECK(n == 3);
	CHECK(n == 3 && imap_value_is(&r[1]->data.items[1], "EXPUNGE") && r[2]->kind == IMAP_RESP_TAGGED);
	CHECK(imap_parser_empty(p));
	for (int i = 0; i < n; i++)
		imap_response_free(r[i]);
	imap_parser_free(p);
}

static void test_hostile(void)
{
	struct imap_parser_limits lim;
	char *big;

	imap_parser_default_limits(&lim);
	/* A literal of 2^63 bytes, or more digits than any size has. */
	CHECK(parse_error_of("* 1 FETCH (BODY[] {9223372036854775808}\r\n", 42, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("* 1 FETCH (BODY[] {99999999999999999999999}\r\n", 46, NULL) == IMAP_PARSE_ERROR);
	/* Just over the configured cap. */
	lim.max_literal = 10;
	CHECK(parse_error_of("* 1 FETCH (BODY[] {11}\r\n", 24, &lim) == IMAP_PARSE_ERROR);
	/* An endless line. */
	imap_parser_default_limits(&lim);
	lim.max_line = 1000;
	big = malloc(5000);
	memset(big, 'a', 5000);
	CHECK(parse_error_of(big, 5000, &lim) == IMAP_PARSE_ERROR);
	free(big);
	/* Nesting. */
	imap_parser_default_limits(&lim);
	lim.max_depth = 10;
	CHECK(parse_error_of("* X ((((((((((((((((((((1))))))))))))))))))))\r\n", 47, &lim) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("* X ((((1))))\r\n", 15, &lim) == IMAP_PARSE_RESPONSE);
	/* NUL in a line or a quoted string, unterminated things. */
	CHECK(parse_error_of("* LIST () \"/\" \"a\0b\"\r\n", 21, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("* LIST () \"/\" \"ab\r\n", 19, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("* X (1 2\r\n", 10, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("* X 1 2)\r\n", 10, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("A1 FOO bar\r\n", 12, NULL) == IMAP_PARSE_ERROR);
	CHECK(parse_error_of("\r\n", 2, NULL) == IMAP_PARSE_ERROR);
	/* A literal announced where no value can be. */
	CHECK(parse_error_of("* X \"ab{3}\r\nxyz\"\r\n", 18, NULL) == IMAP_PARSE_ERROR);
	/* Absurd numbers stay atoms, never wrap around. */
	{
		struct imap_response *r = parse_one("* 99999999999999999999 EXISTS\r\n", 100);
		uint32_t u;

		CHECK(r && r->data.items[0].type == IV_ATOM && !imap_value_u32(&r->data.items[0], &u));
		imap_response_free(r);
		r = parse_one("* 4294967296 EXISTS\r\n", 100);
		CHECK(r && !imap_value_u32(&r->data.items[0], &u));
		imap_response_free(r);
		r = parse_one("* 0 FETCH (UID 0)\r\n", 100);
		CHECK(r && !imap_value_u32(&r->data.items[0], &u));
		imap_response_free(r);
	}
}

static void test_truncated_literal_needs_more(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const char *in = "* 1 FETCH (BODY[] {100}\r\nshort";

	CHECK(imap_parser_feed(p, in, strlen(in), &used) == IMAP_PARSE_NEED_MORE);
	CHECK(used == strlen(in));
	CHECK(!imap_parser_empty(p));
	CHECK(imap_parser_pending(p) >= 100);
	imap_parser_free(p);
}

static void test_dates(void)
{
	int64_t t;

	CHECK(imap_parse_date_time(" 7-Jul-1996 02:44:25 -0700", 26, &t) == 0 && t == 836732665);
	CHECK(imap_parse_date_time("07-Jul-1996 02:44:25 -0700", 26, &t) == 0 && t == 836732665);
	CHECK(imap_parse_date_time("7-Jul-1996 02:44:25 -0700", 25, &t) == 0 && t == 836732665);
	CHECK(imap_parse_date_time("17-jul-1996 02:44:25 -0700", 26, &t) == 0 && t == 837596665);
	CHECK(imap_parse_date_time("29-Feb-2024 00:00:00 +0000", 26, &t) == 0 && t == 1709164800);
	CHECK(imap_parse_date_time("19-Jan-2038 08:44:08 +0530", 26, &t) == 0 && t == 2147483648LL); /* past 2^31 */
	CHECK(imap_parse_date_time("31-Dec-1969 23:00:00 +0000", 26, &t) == 0 && t == -3600);
	CHECK(imap_parse_date_time("32-Jul-1996 02:44:25 -0700", 26, &t) < 0);
	CHECK(imap_parse_date_time("17-Jux-1996 02:44:25 -0700", 26, &t) < 0);
	CHECK(imap_parse_date_time("17-Jul-1996 24:44:25 -0700", 26, &t) < 0);
	CHECK(imap_parse_date_time("17-Jul-1996 02:44:25 07000", 26, &t) < 0);
	CHECK(imap_parse_date_time("17-Jul-1996 02:44:25 +0760", 26, &t) < 0);
	CHECK(imap_parse_date_time("17-Jul-1996", 11, &t) < 0);
	CHECK(imap_parse_date_time("", 0, &t) < 0);
}

/* NOTIFY's news of a rename (as Dovecot 2.3 sends it), of a deletion, and
 * LIST lines that tell of no rename. */
static void test_list_lines(void)
{
	static const char *const not_renames[] = {
		"* LIST (\\HasNoChildren) \"/\" New\r\n",
		"* LIST () \"/\" New (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
		"* LIST () \"/\" New (\"OLDNAME\" ())\r\n",
		"* LIST () \"/\" New (\"OLDNAME\")\r\n",
		"* LIST () \"/\" New (\"OLDNAME\" (\"\"))\r\n",
	};
	struct imap_response *r;
	struct imap_list_line l;

	r = parse_one("* LIST (\\HasChildren) \"/\" \"New\" (\"OLDNAME\" (Old/Sub))\r\n", 7);
	CHECK(r && imap_list_parse(r, &l) && l.oldname && l.delim == '/');
	if (r && imap_list_parse(r, &l) && l.oldname)
		CHECK(l.oldlen == 7 && memcmp(l.oldname, "Old/Sub", 7) == 0 && l.len == 3 &&
		      !memcmp(l.name, "New", 3) && l.flags == MBX_HASCHILDREN);
	imap_response_free(r);
	r = parse_one("* LIST () NIL New (OLDNAME (Old))\r\n", 1000); /* the tag is an astring */
	CHECK(r && imap_list_parse(r, &l) && l.oldname && l.delim == 0);
	imap_response_free(r);
	r = parse_one("* LIST (\\NonExistent) \"/\" Gone\r\n", 1000);
	CHECK(r && imap_list_parse(r, &l) && !l.oldname && l.flags == MBX_NONEXISTENT);
	imap_response_free(r);
	for (size_t i = 0; i < sizeof(not_renames) / sizeof(*not_renames); i++) {
		r = parse_one(not_renames[i], 1000);
		CHECK(r && imap_list_parse(r, &l) && !l.oldname);
		imap_response_free(r);
	}
	r = parse_one("* LSUB () \"/\" New (\"OLDNAME\" (Old))\r\n", 1000);
	CHECK(r && !imap_list_parse(r, &l));
	imap_response_free(r);
}

int main(void)
{
	test_list_lines();
	test_dates();
	test_tagged();
	test_untagged_status_codes();
	test_fetch_with_literal();
	test_steal_literal();
	test_empty_literal();
	test_list_and_atoms();
	test_several_responses_in_one_chunk();
	test_hostile();
	test_truncated_literal_needs_more();
	return check_summary("parser");
}
