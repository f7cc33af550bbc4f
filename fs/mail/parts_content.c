/* The bytes of a part file (parts.h): transfer encoding undone, and for
 * the main text the charset converted, by GMime's filters. */
#include "fs/mail/parts.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

static void add_filter(GMimeStream *fs, GMimeFilter *f)
{
	if (!f)
		return;
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
	g_object_unref(f);
}

static bool needs_charset(const char *charset)
{
	return *charset && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	       g_ascii_strcasecmp(charset, "us-ascii") != 0;
}

static bool decodable(GMimeContentEncoding enc)
{
	return enc == GMIME_CONTENT_ENCODING_BASE64 ||
	       enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	       enc == GMIME_CONTENT_ENCODING_UUENCODE;
}

/* A memory stream's bytes into a malloc'd copy. */
static int take_bytes(GMimeStream *mem, char **out, size_t *outlen)
{
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));

	*outlen = ba ? ba->len : 0;
	*out = malloc(*outlen + 1);
	if (!*out)
		return -1;
	if (*outlen)
		memcpy(*out, ba->data, *outlen);
	(*out)[*outlen] = '\0';
	return 0;
}

/* The transfer encoding undone in one pass (a stream would copy in small
 * chunks: ten times slower for a large attachment). */
static int undo_encoding(GMimeContentEncoding enc, const char *raw, size_t len, char **out,
			 size_t *outlen)
{
	GMimeEncoding state;

	g_mime_encoding_init_decode(&state, enc);
	if (!(*out = malloc(g_mime_encoding_outlen(&state, len) + 1)))
		return -1;
	*outlen = g_mime_encoding_flush(&state, raw, len, *out);
	(*out)[*outlen] = '\0';
	return 0;
}

/* The main text in UTF-8 (a charset iconv does not know is left as it is)
 * with LF line ends. */
static int convert_text(const struct parts_entry *e, const char *in, size_t len, char **out,
			size_t *outlen)
{
	GMimeStream *mem = g_mime_stream_mem_new(), *fs = g_mime_stream_filter_new(mem);
	int rc = 0;

	if (needs_charset(e->charset))
		add_filter(fs, g_mime_filter_charset_new(e->charset, "UTF-8"));
	add_filter(fs, g_mime_filter_dos2unix_new(FALSE));
	if ((len && g_mime_stream_write(fs, in, len) < 0) || g_mime_stream_flush(fs) < 0)
		rc = -1;
	if (rc == 0)
		rc = take_bytes(mem, out, outlen);
	g_object_unref(fs);
	g_object_unref(mem);
	return rc;
}

int parts_decode(const struct parts_entry *e, char *raw, size_t len, bool decoded, char **out,
		 size_t *outlen)
{
	GMimeContentEncoding enc = g_mime_content_encoding_from_string(e->encoding);
	char *mid = raw;
	size_t midlen = len;
	int rc = 0;

	parts_init();
	if (!decoded && !e->message && decodable(enc)) {
		rc = undo_encoding(enc, raw, len, &mid, &midlen);
		free(raw);
		if (rc < 0)
			return -1;
	}
	if (e->kind != PARTS_TEXT) {
		*out = mid;
		*outlen = midlen;
		return 0;
	}
	rc = convert_text(e, mid, midlen, out, outlen);
	free(mid);
	return rc;
}

/* The object at section in GMime's tree (numbered as IMAP numbers them),
 * or NULL. */
static GMimeObject *find_section(GMimeObject *o, const char *section)
{
	const char *p = section;
	char *end;

	if (!GMIME_IS_MULTIPART(o))
		return strcmp(section, "1") == 0 ? o : NULL;
	while (o && *p) {
		unsigned long k = strtoul(p, &end, 10);

		if (!GMIME_IS_MULTIPART(o) || end == p || k == 0 ||
		    k > (unsigned long)g_mime_multipart_get_count(GMIME_MULTIPART(o)))
			return NULL;
		o = g_mime_multipart_get_part(GMIME_MULTIPART(o), (int)k - 1);
		p = *end == '.' ? end + 1 : end;
	}
	return o && !GMIME_IS_MULTIPART(o) ? o : NULL;
}

/* An attached message written back: GMime keeps the raw header values
 * and contents, and writes the line ends the message has (IMAP's CRLF). */
static int message_bytes(GMimeMessagePart *mp, bool crlf, GMimeStream *mem)
{
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	GMimeFormatOptions *fo = g_mime_format_options_new();
	int rc;

	g_mime_format_options_set_newline_format(fo, crlf ? GMIME_NEWLINE_FORMAT_DOS :
						 GMIME_NEWLINE_FORMAT_UNIX);
	rc = m && g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, mem) >= 0 ? 0 : -1;
	g_mime_format_options_free(fo);
	return rc;
}

/* The part's bytes as they are in the message (still encoded) into mem. */
static int raw_bytes(GMimeObject *o, bool crlf, GMimeStream *mem)
{
	GMimeDataWrapper *w;
	GMimeStream *src;

	if (GMIME_IS_MESSAGE_PART(o))
		return message_bytes(GMIME_MESSAGE_PART(o), crlf, mem);
	if (!GMIME_IS_PART(o) || !(w = g_mime_part_get_content(GMIME_PART(o))))
		return 0; /* no content: an empty file */
	src = g_mime_data_wrapper_get_stream(w);
	g_mime_stream_reset(src);
	return g_mime_stream_write_to_stream(src, mem) < 0 ? -1 : 0;
}

int parts_extract(const struct parts_entry *e, const char *msg, size_t len, char **out,
		  size_t *outlen)
{
	GMimeStream *stream, *mem;
	GMimeParser *parser;
	GMimeMessage *m;
	GMimeObject *o;
	size_t rawlen;
	char *raw;
	int rc = -1;

	parts_init();
	stream = g_mime_stream_mem_new_with_buffer(msg, len);
	parser = g_mime_parser_new_with_stream(stream);
	m = g_mime_parser_construct_message(parser, NULL);
	mem = g_mime_stream_mem_new();
	o = m ? find_section(g_mime_message_get_mime_part(m), e->section) : NULL;
	if (o && raw_bytes(o, memmem(msg, len, "\r\n", 2) != NULL, mem) == 0 &&
	    take_bytes(mem, &raw, &rawlen) == 0)
		rc = parts_decode(e, raw, rawlen, false, out, outlen);
	g_object_unref(mem);
	if (m)
		g_object_unref(m);
	g_object_unref(parser);
	g_object_unref(stream);
	return rc;
}
