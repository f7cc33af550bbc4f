/*
 * libFuzzer target for the paths of FOLDER/.parts that read hostile input:
 * imap/bodystructure.c (a server's BODYSTRUCTURE), fs/parts.c with GMime
 * (the names and header fields decoded from it, or from a whole message
 * parsed here), fs/parts_content.c (decoding), fs/parts_name.c (the
 * name sanitiser) and fs/parts_store.c (every list packed for the disk
 * cache unpacks the same, and no shorter copy unpacks).  The first byte
 * picks the path.  Every name that comes out must be one safe file name
 * component.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mail/parts.h"
#include "fs/mail/parts_name.h"
#include "fs/mail/parts_store.h"
#include "imap/bodystructure.h"
#include "imap/parser.h"

static const char header[] = "Subject: =?utf-8?q?fuzz?=\r\nFrom: a@b\r\n\r\n";

/* Valid UTF-8, no control character, no '/', no leading dot, not too long. */
static void check_name(const char *name)
{
	size_t len = strlen(name);
	const unsigned char *s = (const unsigned char *)name;

	if (len == 0 || len > PARTS_NAME_MAX || name[0] == '.' || strchr(name, '/') ||
	    strchr(name, '\\'))
		abort();
	for (size_t i = 0; i < len;) {
		size_t n = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 :
			   (s[i] & 0xf8) == 0xf0 ? 4 : 0;

		if (n == 0 || i + n > len || s[i] < 0x20 || s[i] == 0x7f)
			abort();
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
		i += n;
	}
}

/* Packed and unpacked, pm is the same list; cut short, it is refused. */
static void check_packing(const struct parts_msg *pm)
{
	struct parts_msg back = { 0 }, cut = { 0 };
	size_t len;
	char *buf;

	if (parts_pack(pm, &buf, &len) < 0)
		return;
	if (parts_unpack(&back, buf, len) < 0 || back.n != pm->n || back.hlen != pm->hlen)
		abort();
	for (size_t i = 0; i < pm->n; i++)
		if (strcmp(back.e[i].name, pm->e[i].name) != 0 || back.e[i].size != pm->e[i].size)
			abort();
	if (parts_unpack(&cut, buf, len - 1 - pm->n % len) == 0)
		abort();
	parts_msg_free(&back);
	free(buf);
}

static void check_list(const struct parts_msg *pm, const char *msg, size_t len)
{
	check_packing(pm);
	for (size_t i = 0; i < pm->n; i++) {
		char *out;
		size_t olen;

		check_name(pm->e[i].name);
		for (size_t k = 0; k < i && pm->n < 64; k++)
			if (strcmp(pm->e[k].name, pm->e[i].name) == 0)
				abort(); /* two files of one name */
		if (pm->e[i].kind == PARTS_FIELD && strchr(pm->e[i].value, '\n') !=
		    pm->e[i].value + strlen(pm->e[i].value) - 1)
			abort(); /* a field is one line */
		if (msg && i < 8 && (pm->e[i].kind == PARTS_LEAF || pm->e[i].kind == PARTS_TEXT) &&
		    parts_extract(&pm->e[i], msg, len, &out, &olen) == 0)
			free(out);
	}
}

/* "* 1 FETCH (BODYSTRUCTURE <data>)" through the protocol parser. */
static void structure(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim = { 1 << 16, 1 << 16, 64, 1 << 14 };
	struct imap_parser *p = imap_parser_new(&lim);
	char *line = malloc(size + 64);
	struct imap_response *r = NULL;
	struct imap_bodystructure bs;
	struct parts_msg pm;
	size_t n = 0, used;

	n += (size_t)sprintf(line, "* 1 FETCH (BODYSTRUCTURE ");
	memcpy(line + n, data, size);
	n += size;
	n += (size_t)sprintf(line + n, ")\r\n");
	if (imap_parser_feed(p, line, n, &used) == IMAP_PARSE_RESPONSE)
		r = imap_parser_take(p);
	if (r && r->data.n >= 3 && r->data.items[2].type == IV_LIST &&
	    r->data.items[2].n == 2 && imap_bodystructure_parse(&r->data.items[2].items[1], &bs) == 0) {
		for (size_t i = 0; i < bs.n; i++)
			if (!imap_section_valid(bs.parts[i].section))
				abort();
		if (parts_from_structure(&pm, strdup(header), strlen(header), &bs) == 0) {
			check_list(&pm, NULL, 0);
			parts_msg_free(&pm);
		}
		imap_bodystructure_free(&bs);
	}
	if (r)
		imap_response_free(r);
	imap_parser_free(p);
	free(line);
}

static void sanitise(const uint8_t *data, size_t size)
{
	char out[PARTS_NAME_MAX + 1], *name = malloc(size + 1);
	size_t cap = size ? 1 + data[0] % sizeof(out) : sizeof(out);

	if (parts_sanitize(out, cap, (const char *)data, size) > 0)
		check_name(out);
	memcpy(name, data, size);
	name[size] = '\0';
	parts_name(out, "1.2", name, "application", "pdf");
	check_name(out);
	free(name);
}

static void message(const uint8_t *data, size_t size)
{
	struct parts_msg pm;

	if (parts_from_message(&pm, (const char *)data, size) == 0) {
		check_list(&pm, (const char *)data, size);
		parts_msg_free(&pm);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1 << 16))
		return 0;
	if (data[0] % 3 == 0)
		structure(data + 1, size - 1);
	else if (data[0] % 3 == 1)
		sanitise(data + 1, size - 1);
	else
		message(data + 1, size - 1);
	return 0;
}
