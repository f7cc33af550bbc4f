/* A growable byte buffer with an optional hard cap.  Everything that
 * accumulates bytes from the network goes through one of these so that
 * no length from a peer is ever trusted for an allocation. */
#ifndef INBOXFS_BUF_H
#define INBOXFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Both return 0, or -1 when memory runs out (the buffer is unchanged). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hand the bytes to the caller (NUL-terminated) and leave b empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
