/* COMPRESS=DEFLATE (RFC 4978): raw deflate (no zlib header) both ways,
 * each write ended with a sync flush so the peer can decode it at once.
 * A pure transformation: net.c moves the bytes. */
#ifndef INBOXFS_IMAP_COMPRESS_H
#define INBOXFS_IMAP_COMPRESS_H

#include <stddef.h>

struct zlayer;

struct zlayer *zlayer_new(void);
void zlayer_free(struct zlayer *z);
/* Compress len bytes; *out points into the layer's buffer (valid until
 * the next call), *outlen its length.  0 or -1. */
int zlayer_deflate(struct zlayer *z, const void *in, size_t len, const char **out,
		   size_t *outlen);
/* Give compressed bytes received from the peer (copied). 0 or -1. */
int zlayer_feed(struct zlayer *z, const void *in, size_t len);
/* Decompressed bytes into buf: >0, 0 when it needs more input, -1 when
 * the stream is corrupt. */
long zlayer_inflate(struct zlayer *z, void *buf, size_t len);

#endif
