/*
 * libFuzzer target for imap/utf7.c (modified UTF-7, RFC 3501 §5.1.3).
 *
 * The two directions must be exact inverses on everything they accept:
 *   - decode(x) succeeds  =>  encode(decode(x)) == x byte for byte,
 *     i.e. the decoder only accepts the canonical encoding;
 *   - encode(x) succeeds  =>  decode(encode(x)) == x.
 * A mismatch aborts so libFuzzer records the input.
 */
#include "imap/utf7.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int equal(const char *s, const uint8_t *data, size_t size)
{
	return s && strlen(s) == size && memcmp(s, data, size) == 0;
}

static void check_decode_canonical(const uint8_t *data, size_t size)
{
	char *dec = imap_utf7_decode((const char *)data, size);
	char *enc;

	if (!dec)
		return;
	enc = imap_utf7_encode(dec, strlen(dec));
	if (!equal(enc, data, size))
		abort();
	free(enc);
	free(dec);
}

static void check_encode_reversible(const uint8_t *data, size_t size)
{
	char *enc = imap_utf7_encode((const char *)data, size);
	char *dec;

	if (!enc)
		return;
	dec = imap_utf7_decode(enc, strlen(enc));
	if (!equal(dec, data, size))
		abort();
	free(dec);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode_canonical(data, size);
	check_encode_reversible(data, size);
	return 0;
}
