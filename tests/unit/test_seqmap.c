/* Sequence number to UID maps: EXPUNGE renumbering (RFC 3501 §7.4.1). */
#include "check.h"
#include "imap/seqmap.h"

int main(void)
{
	struct imap_seqmap m;

	seqmap_init(&m);
	for (uint32_t u = 10; u <= 50; u += 10)
		CHECK(seqmap_append(&m, u) == 0);            /* 10 20 30 40 50 */
	CHECK(seqmap_append(&m, 50) < 0 && seqmap_append(&m, 7) < 0 && seqmap_append(&m, 0) < 0);
	/* "* 2 EXPUNGE" twice in a row removes what were seq 2 and seq 3. */
	CHECK(seqmap_expunge(&m, 2) == 20);
	CHECK(seqmap_expunge(&m, 2) == 30);
	CHECK(m.n == 3 && seqmap_uid(&m, 2) == 40 && seqmap_last(&m) == 50);
	CHECK(seqmap_expunge(&m, 0) == 0 && seqmap_expunge(&m, 4) == 0 && m.n == 3);
	CHECK(seqmap_expunge(&m, 3) == 50 && seqmap_last(&m) == 40);
	CHECK(seqmap_uid(&m, 9) == 0);
	for (uint32_t u = 100; u < 10100; u++)
		CHECK(seqmap_append(&m, u) == 0);
	CHECK(m.n == 10002 && seqmap_uid(&m, 3) == 100);
	seqmap_clear(&m);
	CHECK(m.n == 0 && seqmap_last(&m) == 0 && seqmap_append(&m, 1) == 0);
	seqmap_free(&m);
	return check_summary("seqmap");
}
