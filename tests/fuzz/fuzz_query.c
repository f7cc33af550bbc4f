/*
 * libFuzzer target for fs/mail/query.c (the search language).
 *
 * Whatever the input, a parse either fails with EINVAL and a reason, or
 * gives arguments that are safe to send: keys we wrote are atoms (no
 * space, quote, "{", backslash, "(", ")", "%", "*" or "]": RFC 3501 §9),
 * and typed values hold no control character.  A violation aborts so libFuzzer records it.
 */
#include "fs/mail/query.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_arg(const struct imap_search_arg *a)
{
	if (!a->text || strlen(a->text) != a->len || a->len == 0)
		abort();
	for (size_t i = 0; i < a->len; i++) {
		unsigned char c = (unsigned char)a->text[i];

		if (c < 0x20 || c == 0x7f)
			abort();
		if (!a->value && (c >= 0x7f || strchr(" \"{\\()%*]", c)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[256], shown[512];
	struct imap_search q;
	int err;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err = query_parse(text, &q, why, sizeof(why));
	if (err == 0) {
		if (q.n == 0)
			abort();
		for (size_t i = 0; i < q.n; i++)
			check_arg(&q.args[i]);
		imap_search_describe(&q, shown, sizeof(shown));
		imap_search_free(&q);
	} else if (err != EINVAL || !why[0] || q.n != 0) {
		abort();
	}
	free(text);
	return 0;
}
