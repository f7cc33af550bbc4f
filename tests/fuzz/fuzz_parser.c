/*
 * libFuzzer target for imap/parser.c: arbitrary server streams.
 *
 * The first byte picks the chunk size the stream is fed in (the parser
 * must give the same answers whatever the chunking); every response that
 * comes out is walked as the session layer would walk it (FETCH items,
 * literals handed over, LIST lines read with their OLDNAME), so a
 * malformed tree would show up under ASan.
 * Small limits keep the memory per input bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/commands.h"
#include "imap/parser.h"

static void walk(const struct imap_value *v, unsigned depth)
{
	volatile size_t sink = 0;

	if (depth > 100)
		abort(); /* the parser's depth limit did not hold */
	if (v->type == IV_LIST) {
		for (size_t i = 0; i < v->n; i++)
			walk(&v->items[i], depth + 1);
		return;
	}
	if (v->str && v->len)
		sink += (unsigned char)v->str[v->len - 1];
	(void)sink;
}

/* A LIST line's names point into r and are as long as said. */
static void list_line(const struct imap_response *r)
{
	struct imap_list_line l;

	if (!imap_list_parse(r, &l))
		return;
	if (l.name[l.len] != '\0' || (l.oldname && (!l.oldlen || memchr(l.oldname, '\0',
									    l.oldlen))))
		abort();
}

static void consume(struct imap_response *r)
{
	struct imap_msg_meta m;
	size_t len;
	char *d;

	walk(&r->data, 0);
	walk(&r->code, 0);
	list_line(r);
	if (imap_parse_fetch(r, &m)) {
		const struct imap_value *items = imap_list_item(&r->data, 2);

		for (size_t i = 0; i + 1 < items->n; i += 2)
			if (items->items[i + 1].type == IV_STRING) {
				d = imap_value_steal(r, &items->items[i + 1], &len);
				if (d && d[len] != '\0')
					abort(); /* stolen bytes stay NUL-terminated */
				free(d);
			}
	}
	imap_response_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = { .max_line = 4096, .max_literal = 1 << 16,
					  .max_depth = 32, .max_items = 4096 };
	struct imap_parser *p;
	size_t chunk, off = 0, used;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 16 + 1;
	data++, size--;
	p = imap_parser_new(&lim);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		enum imap_parse_result r = imap_parser_feed(p, (const char *)data + off, n, &used);

		if (used > n)
			abort();
		off += used;
		if (r == IMAP_PARSE_ERROR)
			break; /* the session drops the connection here */
		if (r == IMAP_PARSE_RESPONSE)
			consume(imap_parser_take(p));
		else if (used != n)
			abort(); /* NEED_MORE must consume everything it was given */
	}
	imap_parser_free(p);
	return 0;
}
