/* The life of files written into a folder (fs/newfile.c): what is sent
 * when, what stays, what a rename does, with the kernel's order of
 * requests (FLUSH at close(), RELEASE afterwards, maybe late). */
#include "check.h"
#include "fs/mail/newfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DIR_A 2
#define DIR_B 3

/* A stand-in for the APPEND: records what it was given, answers err. */
struct server {
	int err;
	int calls;
	uint64_t dir;
	char name[64];
	char data[64];
	size_t len;
	int64_t mtime;
	struct newfiles *nf;     /* set: remove victim while it is sent */
	const char *victim;
};

static int append(void *ctx, uint64_t dir_ino, const char *name, const char *data, size_t len,
		  int64_t mtime, struct newfile_sent *sent)
{
	struct server *s = ctx;

	s->calls++;
	s->dir = dir_ino;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->len = len < sizeof(s->data) ? len : sizeof(s->data);
	memcpy(s->data, data, s->len);
	s->mtime = mtime;
	if (s->nf)
		CHECK(newfile_unlink(s->nf, DIR_A, s->victim) == 0);
	sent->uid = 40 + (uint32_t)s->calls;
	sent->date = mtime >= 0 ? mtime : 1;
	return s->err;
}

static uint64_t written(struct newfiles *nf, uint64_t dir, const char *name, const char *text)
{
	uint64_t ino = 0;

	CHECK(newfile_create(nf, dir, name, &ino) == 0);
	CHECK(newfile_write(nf, ino, text, strlen(text), 0) == 0);
	return ino;
}

static bool held(struct newfiles *nf, uint64_t dir, const char *name, struct newfile_info *info)
{
	return newfile_lookup(nf, dir, name, info) == 0;
}

/* cp: appended at the close; the name then stands for the message. */
static void test_visible_file(void)
{
	struct newfiles *nf = newfiles_new(1 << 20);
	struct server s = { 0 };
	struct newfile_info info;
	uint64_t ino = written(nf, DIR_A, "x.eml", "hello");

	CHECK(newfile_flush(nf, ino, append, &s) == 0);
	CHECK(s.calls == 1 && s.len == 5 && strcmp(s.name, "x.eml") == 0);
	newfile_release(nf, ino);
	CHECK(held(nf, DIR_A, "x.eml", &info) && info.ghost && info.uid == 41 && info.size == 5);
	/* written again: a new file, a second message */
	CHECK(newfile_reopen(nf, ino, true) == 0);
	CHECK(newfile_write(nf, ino, "again", 5, 0) == 0);
	CHECK(newfile_flush(nf, ino, append, &s) == 0 && s.calls == 2);
	newfile_release(nf, ino);
	newfile_forget_ghosts(nf, DIR_A);
	CHECK(!held(nf, DIR_A, "x.eml", &info));
	newfiles_free(nf);
}

/* rsync: a hidden temporary is never sent at its close; its rename is. */
static void test_hidden_then_renamed(void)
{
	struct newfiles *nf = newfiles_new(1 << 20);
	struct server s = { .err = EDQUOT };
	struct newfile_info info;
	uint64_t ino = written(nf, DIR_A, ".x.eml.Ab12", "body");

	CHECK(newfile_flush(nf, ino, append, &s) == 0 && s.calls == 0);
	newfile_release(nf, ino);
	CHECK(newfile_set_mtime(nf, ino, 1700000000) == 0);
	CHECK(held(nf, DIR_A, ".x.eml.Ab12", &info) && !info.open && !info.ghost);
	/* refused: the rename fails, the file stays as it was */
	CHECK(newfile_rename(nf, DIR_A, ".x.eml.Ab12", DIR_A, "x.eml", false, append, &s) == EDQUOT);
	CHECK(held(nf, DIR_A, ".x.eml.Ab12", &info) && info.size == 4);
	CHECK(!held(nf, DIR_A, "x.eml", &info));
	s.err = 0;
	CHECK(newfile_rename(nf, DIR_A, ".x.eml.Ab12", DIR_B, "x.eml", false, append, &s) == 0);
	CHECK(s.calls == 2 && s.dir == DIR_B && s.mtime == 1700000000 && memcmp(s.data, "body", 4) == 0);
	CHECK(!held(nf, DIR_A, ".x.eml.Ab12", &info));
	CHECK(held(nf, DIR_B, "x.eml", &info) && info.ghost && info.mtime == 1700000000);
	/* a kept name moves only within its folder */
	CHECK(newfile_rename(nf, DIR_B, "x.eml", DIR_A, "y.eml", false, append, &s) == EXDEV);
	CHECK(newfile_rename(nf, DIR_B, "x.eml", DIR_B, "y.eml", false, append, &s) == 0);
	CHECK(s.calls == 2 && held(nf, DIR_B, "y.eml", &info));
	newfiles_free(nf);
}

/* The RELEASE comes after close() returns: a rename between the two
 * appends all the same (the file is not dropped at the RELEASE). */
static void test_rename_before_release(void)
{
	struct newfiles *nf = newfiles_new(1 << 20);
	struct server s = { 0 };
	struct newfile_info info;
	uint64_t ino = written(nf, DIR_A, ".t", "data");

	CHECK(newfile_flush(nf, ino, append, &s) == 0);
	CHECK(newfile_rename(nf, DIR_A, ".t", DIR_A, "final.eml", false, append, &s) == 0);
	CHECK(s.calls == 1);
	newfile_release(nf, ino);
	CHECK(held(nf, DIR_A, "final.eml", &info) && info.ghost);
	/* still being written (no close yet): only renamed, sent at its close */
	ino = written(nf, DIR_A, ".u", "more");
	CHECK(newfile_rename(nf, DIR_A, ".u", DIR_A, "u.eml", false, append, &s) == 0);
	CHECK(s.calls == 1);
	CHECK(newfile_flush(nf, ino, append, &s) == 0 && s.calls == 2);
	newfile_release(nf, ino);
	newfiles_free(nf);
}

/* Removed: never sent, gone at once when closed, at the RELEASE if not;
 * an empty file is no message; a removal during the APPEND waits. */
static void test_removed_and_empty(void)
{
	struct newfiles *nf = newfiles_new(1 << 20);
	struct server s = { 0 };
	struct newfile_info info;
	uint64_t ino = written(nf, DIR_A, ".gone", "x");

	newfile_release(nf, ino);
	CHECK(newfile_unlink(nf, DIR_A, ".gone") == 0 && !held(nf, DIR_A, ".gone", &info));
	ino = written(nf, DIR_A, "open", "x");
	CHECK(newfile_unlink(nf, DIR_A, "open") == 0);
	CHECK(newfile_flush(nf, ino, append, &s) == 0 && s.calls == 0);
	newfile_release(nf, ino);
	CHECK(newfile_create(nf, DIR_A, ".empty", &ino) == 0);
	newfile_release(nf, ino);
	CHECK(newfile_rename(nf, DIR_A, ".empty", DIR_A, "e.eml", false, append, &s) == 0);
	CHECK(s.calls == 0 && !held(nf, DIR_A, "e.eml", &info));
	ino = written(nf, DIR_A, ".busy", "y");
	newfile_release(nf, ino);
	s.nf = nf;
	s.victim = ".busy";
	CHECK(newfile_rename(nf, DIR_A, ".busy", DIR_A, "b.eml", false, append, &s) == 0);
	CHECK(s.calls == 1 && !held(nf, DIR_A, "b.eml", &info));
	newfiles_free(nf);
}

/* Names: a file being written is not replaced; noreplace; the bounds. */
static void test_names_and_bounds(void)
{
	struct newfiles *nf = newfiles_new(1 << 20);
	struct server s = { 0 };
	uint64_t ino, open_ino = written(nf, DIR_A, "w", "1");
	char name[32];
	int i, err = 0;

	ino = written(nf, DIR_A, ".a", "2");
	newfile_release(nf, ino);
	CHECK(newfile_rename(nf, DIR_A, ".a", DIR_A, "w", false, append, &s) == EBUSY);
	ino = written(nf, DIR_A, ".b", "3");
	newfile_release(nf, ino);
	CHECK(newfile_rename(nf, DIR_A, ".a", DIR_A, ".b", true, append, &s) == EEXIST);
	CHECK(newfile_rename(nf, DIR_A, ".a", DIR_A, ".b", false, append, &s) == 0);
	CHECK(newfile_create(nf, DIR_A, ".b", &ino) == EEXIST);
	newfile_release(nf, open_ino);
	for (i = 1; i < PARKED_MAX_FILES && !err; i++) {
		snprintf(name, sizeof(name), ".p%d", i);
		if (!(err = newfile_create(nf, DIR_B, name, &ino)))
			newfile_release(nf, ino);
	}
	CHECK(err == 0);
	CHECK(newfile_create(nf, DIR_B, ".one-too-many", &ino) == ENOSPC);
	CHECK(newfile_create(nf, DIR_B, "visible", &ino) == 0);
	newfiles_free(nf);
}

int main(void)
{
	test_visible_file();
	test_hidden_then_renamed();
	test_rename_before_release();
	test_removed_and_empty();
	test_names_and_bounds();
	return check_summary("newfile");
}
