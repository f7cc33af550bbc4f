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
	/* VANISHED names UIDs: 40 was seq 2; 99 is not there */
	CHECK(seqmap_append(&m, 60) == 0 && seqmap_append(&m, 70) == 0); /* 10 40 60 70 */
	CHECK(seqmap_remove_uid(&m, 40) == 2 && seqmap_uid(&m, 2) == 60);
	CHECK(seqmap_remove_uid(&m, 99) == 0 && seqmap_remove_uid(&m, 5) == 0 && m.n == 3);
	CHECK(seqmap_remove_uid(&m, 70) == 3 && seqmap_remove_uid(&m, 10) == 1);
	CHECK(m.n == 1 && seqmap_last(&m) == 60 && seqmap_remove_uid(&m, 60) == 1 && m.n == 0);
	CHECK(seqmap_remove_uid(&m, 60) == 0);
	CHECK(seqmap_append(&m, 10) == 0 && seqmap_append(&m, 40) == 0); /* as before */
	for (uint32_t u = 100; u < 10100; u++)
		CHECK(seqmap_append(&m, u) == 0);
	CHECK(m.n == 10002 && seqmap_uid(&m, 3) == 100);
	/* Has this connection been told of a UID (and under which number)? */
	CHECK(seqmap_seq(&m, 10) == 1 && seqmap_seq(&m, 40) == 2 && seqmap_seq(&m, 10099) == 10002);
	CHECK(seqmap_seq(&m, 5) == 0 && seqmap_seq(&m, 41) == 0 && seqmap_seq(&m, 10100) == 0);
	seqmap_clear(&m);
	CHECK(m.n == 0 && seqmap_last(&m) == 0 && seqmap_seq(&m, 10) == 0);
	CHECK(seqmap_append(&m, 1) == 0);
	seqmap_free(&m);
	return check_summary("seqmap");
}
