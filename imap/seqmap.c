#include "imap/seqmap.h"

#include <stdlib.h>
#include <string.h>

void seqmap_init(struct imap_seqmap *m) { memset(m, 0, sizeof(*m)); }

void seqmap_free(struct imap_seqmap *m)
{
	free(m->uids);
	seqmap_init(m);
}

void seqmap_clear(struct imap_seqmap *m) { m->n = 0; }

int seqmap_append(struct imap_seqmap *m, uint32_t uid)
{
	uint32_t *n;

	if (uid == 0 || (m->n && uid <= m->uids[m->n - 1]))
		return -1;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;

		n = realloc(m->uids, cap * sizeof(*n));
		if (!n)
			return -1;
		m->uids = n;
		m->cap = cap;
	}
	m->uids[m->n++] = uid;
	return 0;
}

uint32_t seqmap_expunge(struct imap_seqmap *m, uint32_t seq)
{
	uint32_t uid;

	if (seq == 0 || seq > m->n)
		return 0;
	uid = m->uids[seq - 1];
	memmove(&m->uids[seq - 1], &m->uids[seq], (m->n - seq) * sizeof(*m->uids));
	m->n--;
	return uid;
}

uint32_t seqmap_seq(const struct imap_seqmap *m, uint32_t uid)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) { /* ascending: binary search */
		size_t mid = lo + (hi - lo) / 2;

		if (m->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->uids[lo] == uid ? (uint32_t)lo + 1 : 0;
}

uint32_t seqmap_remove_uid(struct imap_seqmap *m, uint32_t uid)
{
	uint32_t seq = seqmap_seq(m, uid);

	return seq && seqmap_expunge(m, seq) ? seq : 0;
}

uint32_t seqmap_last(const struct imap_seqmap *m) { return m->n ? m->uids[m->n - 1] : 0; }

uint32_t seqmap_uid(const struct imap_seqmap *m, uint32_t seq)
{
	return seq && seq <= m->n ? m->uids[seq - 1] : 0;
}
