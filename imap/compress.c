/* RFC 4978 COMPRESS=DEFLATE with zlib (RFC 1951 raw deflate). */
#include "imap/compress.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define IN_MAX (64u << 10)

struct zlayer {
	z_stream def, inf;
	unsigned char *out;      /* deflate output */
	size_t out_cap;
	unsigned char in[IN_MAX];  /* compressed input not yet inflated */
	size_t in_len, in_off;
};

struct zlayer *zlayer_new(void)
{
	struct zlayer *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	/* -15: raw deflate, 32 KiB window, as RFC 4978 §4 asks. */
	if (deflateInit2(&z->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	if (inflateInit2(&z->inf, -15) != Z_OK) {
		deflateEnd(&z->def);
		free(z);
		return NULL;
	}
	return z;
}

void zlayer_free(struct zlayer *z)
{
	if (!z)
		return;
	deflateEnd(&z->def);
	inflateEnd(&z->inf);
	free(z->out);
	free(z);
}

int zlayer_deflate(struct zlayer *z, const void *in, size_t len, const char **out,
		   size_t *outlen)
{
	size_t need = deflateBound(&z->def, len) + 64, done;
	unsigned char *nb;

	if (need > z->out_cap) {
		if (!(nb = realloc(z->out, need)))
			return -1;
		z->out = nb;
		z->out_cap = need;
	}
	z->def.next_in = (unsigned char *)in;
	z->def.avail_in = (uInt)len;
	z->def.next_out = z->out;
	z->def.avail_out = (uInt)z->out_cap;
	/* The peer must be able to decode this command now: sync flush. */
	if (deflate(&z->def, Z_SYNC_FLUSH) != Z_OK || z->def.avail_in != 0)
		return -1;
	done = z->out_cap - z->def.avail_out;
	*out = (const char *)z->out;
	*outlen = done;
	return 0;
}

int zlayer_feed(struct zlayer *z, const void *in, size_t len)
{
	if (z->in_off == z->in_len)
		z->in_off = z->in_len = 0;
	if (len > IN_MAX - z->in_len) {
		memmove(z->in, z->in + z->in_off, z->in_len - z->in_off);
		z->in_len -= z->in_off;
		z->in_off = 0;
		if (len > IN_MAX - z->in_len)
			return -1;
	}
	memcpy(z->in + z->in_len, in, len);
	z->in_len += len;
	return 0;
}

long zlayer_inflate(struct zlayer *z, void *buf, size_t len)
{
	int r;

	if (z->in_off == z->in_len)
		return 0;
	z->inf.next_in = z->in + z->in_off;
	z->inf.avail_in = (uInt)(z->in_len - z->in_off);
	z->inf.next_out = buf;
	z->inf.avail_out = (uInt)len;
	r = inflate(&z->inf, Z_SYNC_FLUSH);
	z->in_off = z->in_len - z->inf.avail_in;
	if (r != Z_OK && r != Z_BUF_ERROR)
		return -1; /* Z_STREAM_END too: the stream never ends in IMAP */
	return (long)(len - z->inf.avail_out);
}
