/* The search language (fs/mail/query.c) -> IMAP SEARCH arguments. */
#include "fs/mail/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The arguments of text as sent, or "EINVAL: why". */
static const char *parsed(const char *text)
{
	static char out[70000];
	struct imap_search q;
	char why[200];
	int err = query_parse(text, &q, why, sizeof(why));

	if (err) {
		snprintf(out, sizeof(out), "%s: %s", err == EINVAL ? "EINVAL" : "ERR", why);
		return out;
	}
	imap_search_describe(&q, out, sizeof(out));
	if (q.utf8)
		strcat(out, " [utf8]");
	if (q.gmail)
		strcat(out, " [gmail]");
	imap_search_free(&q);
	return out;
}

static void test_operators(void)
{
	CHECK_STR(parsed("from:alice"), "FROM \"alice\"");
	CHECK_STR(parsed("to:bob cc:carol bcc:dave"), "TO \"bob\" CC \"carol\" BCC \"dave\"");
	CHECK_STR(parsed("subject:\"hello world\""), "SUBJECT \"hello world\"");
	CHECK_STR(parsed("body:needle text:hay"), "BODY \"needle\" TEXT \"hay\"");
	CHECK_STR(parsed("header:X-Mailer:mutt"), "HEADER \"X-Mailer\" \"mutt\"");
	CHECK_STR(parsed("header:List-Id:\"a b\""), "HEADER \"List-Id\" \"a b\"");
	CHECK_STR(parsed("since:2024-01-01 before:2024-02-29 on:2023-12-31"),
		  "SINCE 1-Jan-2024 BEFORE 29-Feb-2024 ON 31-Dec-2023");
	CHECK_STR(parsed("larger:10k smaller:1M"), "LARGER 10240 SMALLER 1048576");
	CHECK_STR(parsed("larger:0 smaller:4294967295"), "LARGER 0 SMALLER 4294967295");
	CHECK_STR(parsed("seen unseen flagged unflagged answered draft"),
		  "SEEN UNSEEN FLAGGED UNFLAGGED ANSWERED DRAFT");
	CHECK_STR(parsed("keyword:$Label1"), "KEYWORD $Label1");
	CHECK_STR(parsed("invoice"), "TEXT \"invoice\"");
	CHECK_STR(parsed("\"two words\""), "TEXT \"two words\"");
	CHECK_STR(parsed("FROM:Alice Seen"), "FROM \"Alice\" SEEN");
	CHECK_STR(parsed("gmail:\"has:attachment\""), "X-GM-RAW \"has:attachment\" [gmail]");
}

static void test_negation_and_spaces(void)
{
	CHECK_STR(parsed("-from:alice"), "NOT FROM \"alice\"");
	CHECK_STR(parsed("-seen -invoice"), "NOT SEEN NOT TEXT \"invoice\"");
	CHECK_STR(parsed("  from:a   to:b  "), "FROM \"a\" TO \"b\"");
	CHECK_STR(parsed("from:a-b"), "FROM \"a-b\"");
	CHECK_STR(parsed("subject:\"say \\\"hi\\\" \\\\ there\""),
		  "SUBJECT \"say \\\"hi\\\" \\\\ there\"");
	CHECK_STR(parsed("subject:a\\b"), "SUBJECT \"a\\\\b\"");
}

static void test_utf8_literals(void)
{
	CHECK_STR(parsed("subject:caf\xc3\xa9"), "SUBJECT {5}caf\xc3\xa9 [utf8]");
	CHECK_STR(parsed("from:\xe6\x97\xa5\xe6\x9c\xac seen"),
		  "FROM {6}\xe6\x97\xa5\xe6\x9c\xac SEEN [utf8]");
}

static void test_refusals(void)
{
	CHECK(strncmp(parsed(""), "EINVAL: empty query", 19) == 0);
	CHECK(strncmp(parsed("   "), "EINVAL: empty query", 19) == 0);
	CHECK_STR(parsed("frm:alice"), "EINVAL: term 1 \"frm:alice\": unknown operator");
	CHECK_STR(parsed("seen since:2024-13-01"),
		  "EINVAL: term 2 \"since:2024-13-01\": not a date (YYYY-MM-DD)");
	CHECK(strstr(parsed("since:2023-02-29"), "not a date"));
	CHECK(strstr(parsed("since:2024-1-01"), "not a date"));
	CHECK(strstr(parsed("on:1899-12-31"), "not a date"));
	CHECK(strstr(parsed("larger:4G"), "not a size"));
	CHECK(strstr(parsed("larger:10x"), "not a size"));
	CHECK(strstr(parsed("larger:k"), "not a size"));
	CHECK(strstr(parsed("larger:99999999999"), "not a size"));
	CHECK(strstr(parsed("from:"), "empty value"));
	CHECK(strstr(parsed("from:\"\""), "empty value"));
	CHECK(strstr(parsed("from:\"alice"), "no closing quote"));
	CHECK(strstr(parsed("from:\"a\"b"), "closing quote must end"));
	CHECK(strstr(parsed("from:a\"b"), "a quote inside"));
	CHECK(strstr(parsed("ab\"c\""), "a quote inside"));
	CHECK(strstr(parsed("-"), "'-' must be followed"));
	CHECK(strstr(parsed("--seen"), "'-' must be followed"));
	CHECK(strstr(parsed("from:a\rb"), "control character"));
	CHECK(strstr(parsed("subject:\"x\r\nA1 LOGOUT\""), "control character"));
	CHECK(strstr(parsed("from:\xff\xfe"), "not UTF-8"));
	CHECK(strstr(parsed("from:\xc0\xaf"), "not UTF-8"));
	CHECK(strstr(parsed("from:\xed\xa0\x80"), "not UTF-8"));
	CHECK(strstr(parsed("keyword:a{5}"), "not a keyword"));
	CHECK(strstr(parsed("keyword:\\Seen"), "not a keyword"));
	/* A quoted keyword with a space would have sent two search keys. */
	CHECK(strstr(parsed("keyword:\"a OR ALL\""), "not a keyword"));
	CHECK(strstr(parsed("keyword:a\"b"), "a quote inside"));
	CHECK(strstr(parsed("header:X-A"), "header:NAME:VALUE"));
	CHECK(strstr(parsed("header:X-A:"), "empty value"));
	CHECK_STR(parsed("frm:a\x01\xff"), "EINVAL: term 1 \"frm:a??\": unknown operator");
}

static void test_bounds(void)
{
	size_t big = QUERY_MAX_VALUE + 10;
	char *s = malloc(big + 16);
	struct imap_search q;
	char why[200];

	/* A 10 KB value is a literal, not a quoted string. */
	strcpy(s, "body:");
	memset(s + 5, 'a', 10240);
	s[5 + 10240] = '\0';
	CHECK(query_parse(s, &q, why, sizeof(why)) == 0);
	CHECK(q.n == 2 && q.args[1].len == 10240 && q.args[1].value);
	imap_search_free(&q);
	memset(s + 5, 'a', big);
	s[5 + big] = '\0';
	CHECK(strstr(parsed(s), "value too long"));
	free(s);
	s = calloc(1, 4 * QUERY_MAX_TERMS);
	for (size_t i = 0; i <= QUERY_MAX_TERMS; i++)
		strcat(s, "a ");
	CHECK(strstr(parsed(s), "too many terms"));
	free(s);
}

int main(void)
{
	test_operators();
	test_negation_and_spaces();
	test_utf8_literals();
	test_refusals();
	test_bounds();
	return check_summary("test_query");
}
