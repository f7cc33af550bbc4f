/* Message sequence numbers of one connection's selected mailbox, mapped to
 * UIDs (RFC 3501 §2.3.1.2).  EXPUNGE names a message by sequence number,
 * and each connection's numbering is its own: only this map turns an
 * EXPUNGE seen on a connection into the UID it removed. */
#ifndef INBOXFS_IMAP_SEQMAP_H
#define INBOXFS_IMAP_SEQMAP_H

#include <stddef.h>
#include <stdint.h>

struct imap_seqmap {
	uint32_t *uids;   /* uids[seq - 1], ascending */
	size_t n, cap;
};

void seqmap_init(struct imap_seqmap *m);
void seqmap_free(struct imap_seqmap *m);
void seqmap_clear(struct imap_seqmap *m);
/* A message that arrived: its UID must be above every UID in the map.
 * Returns 0, or -1 (out of order, or out of memory). */
int seqmap_append(struct imap_seqmap *m, uint32_t uid);
/* EXPUNGE seq: returns the UID it named, or 0 when seq is out of range. */
uint32_t seqmap_expunge(struct imap_seqmap *m, uint32_t seq);
/* A message that vanished (RFC 7162 VANISHED names UIDs): its sequence
 * number, now gone, or 0 when the map does not hold uid. */
uint32_t seqmap_remove_uid(struct imap_seqmap *m, uint32_t uid);
/* The sequence number of uid, 0 when the map does not hold it. */
uint32_t seqmap_seq(const struct imap_seqmap *m, uint32_t uid);
/* The highest UID, 0 when empty. */
uint32_t seqmap_last(const struct imap_seqmap *m);
/* The UID at seq, 0 when out of range. */
uint32_t seqmap_uid(const struct imap_seqmap *m, uint32_t seq);

#endif
