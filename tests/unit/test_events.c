/* Arrivals, departures and the merge (fs/mail/events.c): which names a
 * folder shows, which wait for the announcer (its mknod or unlink raises
 * the inotify event) and which the kernel is told to forget.  The
 * announcer and the kernel are stand-ins that record what they are
 * asked. */
#include "check.h"
#include "common/buf.h"
#include "fs/announce.h"
#include "fs/mail/account.h"
#include "fs/mail/events.h"
#include "fs/mail/state.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int wakes;
static char forgotten[256];

/* The announcer's news hook. */
static void news(void *ctx)
{
	(void)ctx;
	wakes++;
}

static void inval_entry(void *ctx, uint64_t dir, const char *name)
{
	(void)ctx;
	(void)dir;
	snprintf(forgotten + strlen(forgotten), sizeof(forgotten) - strlen(forgotten), "%s%s",
		 *forgotten ? " " : "", name);
}

static struct account *account_new(bool announcer)
{
	struct account *a = calloc(1, sizeof(*a));

	rlock_init(&a->index_lock, 2, "index_lock");
	a->index = index_new();
	a->hooks.news = announcer ? news : NULL;
	a->hooks.inval_entry = inval_entry;
	return a;
}

static void account_free(struct account *a)
{
	index_free(a->index);
	rlock_destroy(&a->index_lock);
	free(a);
}

static struct folder *folder(struct account *a, const char *name, bool watched)
{
	const char *path[] = { name };
	struct folder *f = index_add_mailbox(a->index, path, 1, name, 0);

	f->watched = watched;
	return f;
}

/* UIDs as "1 2 3", for comparing in one line. */
static const char *uids(const struct msg *m, size_t n)
{
	static char out[4][256];
	static int turn;
	char *s = out[turn++ % 4];

	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(s + strlen(s), 256 - strlen(s), "%s%u", i ? " " : "", m[i].uid);
	return s;
}

static const char *shown(struct folder *f) { return uids(f->msgs, f->nmsgs); }
static const char *pending(struct folder *f) { return uids(f->pending, f->npending); }
static const char *departed(struct folder *f) { return uids(f->departed, f->ndeparted); }

static void list_of(struct msg *m, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (struct msg){ .uid = u[i], .size = 100 };
}

static bool merge(struct account *a, struct folder *f, uint32_t uidvalidity,
		  const uint32_t *u, size_t n, bool quiet, long long seen_ms)
{
	struct msg m[16];

	list_of(m, u, n);
	return events_merge(a, f, uidvalidity, n ? u[n - 1] + 1 : 1, m, n, quiet, seen_ms);
}

static void reset_records(void)
{
	wakes = 0;
	forgotten[0] = '\0';
}

/* The first look shows what is there: old mail is not announced. */
static void test_first_look(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true);

	reset_records();
	CHECK(merge(a, f, 7, (uint32_t[]){ 1, 2, 3 }, 3, false, 10));
	CHECK_STR(shown(f), "1 2 3");
	CHECK_STR(pending(f), "");
	CHECK(f->announced == 3);
	CHECK(wakes == 0);
	account_free(a);
}

/* New mail in a watched folder waits for the announcer's mknod; the
 * server is known to have it meanwhile (count, UIDs). */
static void test_arrival_announced(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true);
	struct msg m = { .uid = 4, .size = 10 }, got;
	uint64_t ino = 0;
	struct imap_seqmap seq = { 0 };

	merge(a, f, 7, (uint32_t[]){ 1, 2, 3 }, 3, false, 10);
	reset_records();
	events_arrived(a, f, &m, 1);
	events_arrived(a, f, &m, 1); /* told twice (IDLE, then a resync) */
	CHECK_STR(shown(f), "1 2 3");
	CHECK_STR(pending(f), "4");
	CHECK(wakes == 1);
	CHECK(events_count(a, f, 4) == 4);
	CHECK(events_count(a, f, 3) == 3);
	CHECK(events_uids(a, f, &seq) == 0 && seq.n == 4 && seqmap_last(&seq) == 4);
	CHECK(events_publish(a, f->ino, 4, &got, &ino)); /* the announcer's mknod */
	CHECK(got.uid == 4 && ino == index_msg_ino(f, 4));
	CHECK(!events_publish(a, f->ino, 4, &got, &ino)); /* once */
	CHECK_STR(shown(f), "1 2 3 4");
	CHECK_STR(pending(f), "");
	seqmap_free(&seq);
	account_free(a);
}

/* An unwatched folder (or no announcer) shows new mail at once. */
static void test_arrival_unwatched(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "Archive", false);
	struct msg m = { .uid = 9, .size = 10 };

	merge(a, f, 7, (uint32_t[]){ 1 }, 1, false, 10);
	reset_records();
	events_arrived(a, f, &m, 1);
	CHECK_STR(shown(f), "1 9");
	CHECK_STR(pending(f), "");
	CHECK(wakes == 0);
	account_free(a);
}

/* Another client expunged 2: it leaves the listing and waits for the
 * announcer's unlink (IN_DELETE); a pending message just goes. */
static void test_departures(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true);
	struct msg m = { .uid = 5, .size = 10 }, got;
	uint64_t ino = 0;

	merge(a, f, 7, (uint32_t[]){ 1, 2, 3 }, 3, false, 10);
	events_arrived(a, f, &m, 1);
	reset_records();
	events_departed(a, f, 2, false);
	CHECK_STR(shown(f), "1 3");
	CHECK_STR(departed(f), "2");
	CHECK(wakes == 1);
	CHECK_STR(forgotten, "");
	CHECK(events_departure(a, f->ino, 2, &got, &ino) && got.uid == 2);
	events_forget_departure(a, f->ino, 2); /* the announcer's unlink */
	CHECK(!events_departure(a, f->ino, 2, &got, &ino));
	events_departed(a, f, 5, false);
	CHECK_STR(pending(f), "");
	CHECK_STR(departed(f), "");
	CHECK_STR(forgotten, "5.eml");
	account_free(a);
}

/* mv INBOX/1.eml Archive/: our own change leaves quietly (the kernel
 * already told watchers of the rename) and arrives as a new UID. */
static void test_moved_by_us(void)
{
	struct account *a = account_new(true);
	struct folder *in = folder(a, "INBOX", true), *ar = folder(a, "Archive", true);
	struct msg m = { .uid = 8, .size = 10 };

	merge(a, in, 7, (uint32_t[]){ 1, 2 }, 2, false, 10);
	merge(a, ar, 9, (uint32_t[]){ 7 }, 1, false, 10);
	reset_records();
	events_departed(a, in, 1, true);
	events_arrived(a, ar, &m, 1);
	CHECK_STR(shown(in), "2");
	CHECK_STR(departed(in), "");
	CHECK_STR(forgotten, "1.eml");
	CHECK_STR(shown(ar), "7");
	CHECK_STR(pending(ar), "8");
	account_free(a);
}

/* A resync: 2 went (another client moved it away), 4 came, 3's flags
 * changed on the server and its real size, once read, stays known. */
static void test_merge(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true);
	struct msg m[3];

	merge(a, f, 7, (uint32_t[]){ 1, 2, 3 }, 3, false, 10);
	f->msgs[2].size = 1234;
	f->msgs[2].size_exact = 1;
	reset_records();
	list_of(m, (uint32_t[]){ 1, 3, 4 }, 3);
	m[1].flags = 1;
	CHECK(events_merge(a, f, 7, 5, m, 3, false, 20));
	CHECK_STR(shown(f), "1 3");
	CHECK_STR(pending(f), "4");
	CHECK_STR(departed(f), "2");
	CHECK(f->msgs[1].size == 1234 && f->msgs[1].size_exact && f->msgs[1].flags == 1);
	CHECK(f->uidnext == 5);
	CHECK(wakes == 1);
	/* 4 goes before it was announced: nothing to say of it. */
	CHECK(merge(a, f, 7, (uint32_t[]){ 1, 3 }, 2, false, 30));
	CHECK_STR(pending(f), "");
	CHECK_STR(shown(f), "1 3");
	/* Our own expunge of 3, seen by the resync: quiet. */
	CHECK(merge(a, f, 7, (uint32_t[]){ 1 }, 1, true, 40));
	CHECK_STR(shown(f), "1");
	CHECK_STR(departed(f), "2");
	account_free(a);
}

/* A new UIDVALIDITY: every old name is forgotten, the new list shown
 * without announcements; a late answer from before it changes nothing. */
static void test_uidvalidity(void)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true);

	merge(a, f, 7, (uint32_t[]){ 1, 2 }, 2, false, 10);
	reset_records();
	CHECK(merge(a, f, 8, (uint32_t[]){ 1, 2, 3 }, 3, false, 20));
	CHECK_STR(forgotten, "1.eml 2.eml");
	CHECK_STR(shown(f), "1 2 3");
	CHECK_STR(pending(f), "");
	CHECK_STR(departed(f), "");
	CHECK(f->announced == 3);
	CHECK(!merge(a, f, 7, (uint32_t[]){ 1 }, 1, false, 15));
	CHECK_STR(shown(f), "1 2 3");
	CHECK(f->uidvalidity == 8);
	CHECK(merge(a, f, 7, (uint32_t[]){ 5 }, 1, false, 25));
	CHECK_STR(shown(f), "5");
	account_free(a);
}

/* The announcer's batch: what is pending and departed in a folder, with
 * its path on the mount; once announced, .newmail names the arrivals
 * and the watermark rises. */
static void test_batch(void)
{
	struct account *a = account_new(true);
	const char *path[] = { "Archive", "2023" };
	struct folder *f = index_add_mailbox(a->index, path, 2, "Archive/2023", 0);
	struct msg m[2] = { { .uid = 4, .size = 10 }, { .uid = 5, .size = 10 } };
	struct events_batch *b = calloc(1, sizeof(*b));
	struct buf marker;

	f->watched = true;
	merge(a, f, 7, (uint32_t[]){ 1, 2, 3 }, 3, false, 10);
	CHECK(!events_take_batch(a, f, b)); /* nothing to announce */
	events_arrived(a, f, m, 2);
	events_departed(a, f, 2, false);
	CHECK(events_pending_top(a, f) == 5);
	CHECK(events_pending_upto(a, f, 4) && !events_pending_upto(a, f, 3));
	CHECK(events_take_batch(a, f, b));
	CHECK_STR(b->path, "Archive/2023");
	CHECK(b->nborn == 2 && b->born[0] == 4 && b->born[1] == 5);
	CHECK(b->ngone == 1 && b->gone[0] == 2);
	buf_init(&marker);
	buf_printf(&marker, "4.eml\n5.eml\n");
	events_announced(a, f, &marker, 5);
	CHECK(f->marker && f->marker_len == 12 && memcmp(f->marker, "4.eml\n5.eml\n", 12) == 0);
	CHECK(f->announced == 5);
	free(b);
	account_free(a);
}

/* Mail that came while unmounted is announced at the next mount: the
 * watermark comes from the state file; a first mount saves one. */
static void test_watermark(const char *dir)
{
	struct account *a = account_new(true);
	struct folder *f = folder(a, "INBOX", true), *g = folder(a, "Lists", true);

	setenv("XDG_STATE_HOME", dir, 1);
	a->state = state_open("user", "host", 993);
	state_set(a->state, "INBOX", 7, 2);
	merge(a, f, 7, (uint32_t[]){ 1, 2, 3, 4 }, 4, false, 10);
	CHECK_STR(shown(f), "1 2");
	CHECK_STR(pending(f), "3 4");
	merge(a, g, 3, (uint32_t[]){ 5, 6 }, 2, false, 10);
	CHECK_STR(pending(g), "");
	state_close(a->state);
	a->state = state_open("user", "host", 993);
	{
		uint32_t mark = 0;

		CHECK(state_get(a->state, "Lists", 3, &mark) && mark == 6);
		CHECK(state_get(a->state, "INBOX", 7, &mark) && mark == 2);
		/* A first mount's seed never moves a mark a folder has. */
		struct stat before, after;

		CHECK(state_seed(a->state, (struct state_mark[]){ { "INBOX", 7, 9 },
								  { "Sent", 4, 11 } }, 2) == 1);
		CHECK(state_get(a->state, "INBOX", 7, &mark) && mark == 2);
		CHECK(state_knows(a->state, "Sent") && !state_knows(a->state, "Drafts"));
		/* Nothing new to seed: the file is not rewritten (tmp + rename). */
		CHECK(stat(state_path(a->state), &before) == 0);
		CHECK(state_seed(a->state, (struct state_mark[]){ { "Sent", 4, 12 } }, 1) == 0);
		CHECK(stat(state_path(a->state), &after) == 0 && after.st_ino == before.st_ino);
	}
	state_close(a->state);
	a->state = state_open("user", "host", 993);
	{
		uint32_t mark = 0;

		CHECK(state_get(a->state, "Sent", 4, &mark) && mark == 11);
	}
	state_close(a->state);
	account_free(a);
}

int main(void)
{
	char dir[] = "/tmp/test_events.XXXXXX";
	char path[300];

	if (!mkdtemp(dir))
		return 2;
	test_first_look();
	test_arrival_announced();
	test_arrival_unwatched();
	test_departures();
	test_moved_by_us();
	test_merge();
	test_uidvalidity();
	test_batch();
	test_watermark(dir);
	snprintf(path, sizeof(path), "%s/inboxfs/user@host:993.state", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/inboxfs", dir);
	rmdir(path);
	rmdir(dir);
	return check_summary("events");
}
