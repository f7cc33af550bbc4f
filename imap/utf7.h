/* Modified UTF-7 mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1.3). */
#ifndef INBOXFS_IMAP_UTF7_H
#define INBOXFS_IMAP_UTF7_H

#include <stddef.h>

/* Decode a modified UTF-7 name of `len` bytes into a malloc'd,
 * NUL-terminated UTF-8 string.  Returns NULL for anything a conforming
 * server would not send: bad base64, a non-canonical encoding (an
 * encoded printable ASCII char, "&-" not used for '&', padding bits
 * set, an empty "&-"-less shift, adjacent shifts), unpaired UTF-16
 * surrogates, NUL, or a raw byte outside 0x20..0x7e. */
char *imap_utf7_decode(const char *in, size_t len);

/* Encode a UTF-8 string of `len` bytes into a malloc'd modified UTF-7
 * string.  Returns NULL when the input is not valid UTF-8 (overlongs,
 * surrogates, > U+10FFFF), or contains NUL or other C0 controls / DEL. */
char *imap_utf7_encode(const char *in, size_t len);

#endif
