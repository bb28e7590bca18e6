/* The ID Directory's store on real SQLite files: every function, who may
 * read under each policy, cascades, the access log's order and limit,
 * persistence across reopen, the file's mode and the inputs it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "iddir/store.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000ull

struct fixture {
	char dir[64];
	char path[4096];
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || helper_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	helper_path(f->dir, "iddir.db", f->path, sizeof(f->path));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	helper_rmdir(f->dir);
	free(f);
	return 0;
}

static struct iddir_store *open_store(struct fixture *f)
{
	struct iddir_store *s = NULL;
	int rc = iddir_store_open(f->path, &s, f->err, sizeof(f->err));
	if (rc != 0)
		fail_msg("iddir_store_open: %d %s", rc, f->err);
	return s;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* The first column of the first row of a query, as text. */
static void raw_query(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void put(struct iddir_store *s, const char *nickname, const char *real_id,
		enum iddir_policy policy, const char *const *readers, size_t n, uint64_t now)
{
	assert_int_equal(iddir_store_put(s, nickname, real_id, policy, readers, n, now, 0), 0);
}

/* --- log and tuple collectors --- */

struct log_seen {
	char text[2048];
	int calls;
	int stop_after; /* 0: never */
};

static int collect_log(void *ctx, const char *reader, uint64_t at_unix, int granted)
{
	struct log_seen *l = ctx;
	size_t used = strlen(l->text);
	snprintf(l->text + used, sizeof(l->text) - used, "%s@%llu%s;", reader,
		 (unsigned long long)(at_unix - T0), granted ? "+" : "-");
	l->calls++;
	return l->stop_after && l->calls == l->stop_after ? 7 : 0;
}

static int collect_tuple(void *ctx, const char *nickname, const char *real_id,
			 enum iddir_policy policy, size_t n_readers, uint64_t updated_unix,
			 int by_operator)
{
	struct log_seen *l = ctx;
	size_t used = strlen(l->text);
	snprintf(l->text + used, sizeof(l->text) - used, "%s=%s/%d/%zu/%llu/%d;", nickname, real_id,
		 (int)policy, n_readers, (unsigned long long)(updated_unix - T0), by_operator);
	l->calls++;
	return l->stop_after && l->calls == l->stop_after ? 9 : 0;
}

/* --- tests --- */

static void test_open_0600_and_refusals(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	struct iddir_store *s = open_store(f);
	umask(old);
	put(s, "alice", "Alice Liddell", IDDIR_ANYONE, NULL, 0, T0);
	char path[4200];
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->path, suffixes[i]);
		assert_int_equal(file_mode(path), 0600);
	}
	iddir_store_close(s);
	char text[64];
	raw_query(f->path, "PRAGMA application_id", text, sizeof(text));
	assert_string_equal(text, "1095649604"); /* 0x414e4944 "ANID" */
	raw_query(f->path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, "2");
	/* A loose mode is tightened again at open. */
	assert_int_equal(chmod(f->path, 0644), 0);
	iddir_store_close(open_store(f));
	assert_int_equal(file_mode(f->path), 0600);
	/* Another program's SQLite file is refused. */
	char other[4200];
	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes (t TEXT)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = (struct iddir_store *)f;
	assert_int_equal(iddir_store_open(other, &s, f->err, sizeof(f->err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(f->err, "not a iddir database"));
	iddir_store_close(NULL);
}

static void test_put_get_replace(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	char real_id[IDDIR_REAL_ID_MAX + 1];
	enum iddir_policy policy = IDDIR_LIST;
	assert_int_equal(iddir_store_get(s, "alice", real_id, sizeof(real_id), &policy), -ENOENT);
	put(s, "alice", "Alice Liddell <alice@example.org>", IDDIR_ANYONE, NULL, 0, T0);
	assert_int_equal(iddir_store_get(s, "alice", real_id, sizeof(real_id), &policy), 0);
	assert_string_equal(real_id, "Alice Liddell <alice@example.org>");
	assert_int_equal(policy, IDDIR_ANYONE);
	/* Outputs are optional. */
	assert_int_equal(iddir_store_get(s, "alice", NULL, 0, NULL), 0);
	/* Replacing keeps the access log but changes everything else. */
	assert_int_equal(iddir_store_log_add(s, "alice", "bob", T0 + 1, 1), 0);
	const char *const readers[] = {"bob", "carol"};
	assert_int_equal(
	    iddir_store_put(s, "alice", "Ålice Lïddell 🐇", IDDIR_LIST, readers, 2, T0 + 5, 1), 0);
	assert_int_equal(iddir_store_get(s, "alice", real_id, sizeof(real_id), &policy), 0);
	assert_string_equal(real_id, "Ålice Lïddell 🐇");
	assert_int_equal(policy, IDDIR_LIST);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_string_equal(l.text, "alice=Ålice Lïddell 🐇/2/2/5/1;");
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_log_foreach(s, "alice", 10, collect_log, &l), 0);
	assert_string_equal(l.text, "bob@1+;");
	/* A new list replaces the old one whole; another policy drops it. */
	const char *const others[] = {"dave", "dave"};
	put(s, "alice", "Alice", IDDIR_LIST, others, 2, T0 + 6);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 0);
	assert_int_equal(iddir_store_may_read(s, "alice", "dave"), 1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_string_equal(l.text, "alice=Alice/2/1/6/0;");
	put(s, "alice", "Alice", IDDIR_NOBODY, readers, 2, T0 + 7);
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_string_equal(l.text, "alice=Alice/0/0/7/0;");
	/* A 200-byte real ID fits, and a buffer of 201 holds it. */
	char longest[IDDIR_REAL_ID_MAX + 1];
	memset(longest, 'x', IDDIR_REAL_ID_MAX);
	longest[IDDIR_REAL_ID_MAX] = 0;
	put(s, "bob", longest, IDDIR_ANYONE, NULL, 0, T0);
	assert_int_equal(iddir_store_get(s, "bob", real_id, sizeof(real_id), NULL), 0);
	assert_string_equal(real_id, longest);
	assert_int_equal(iddir_store_get(s, "bob", real_id, IDDIR_REAL_ID_MAX, NULL), -EINVAL);
	iddir_store_close(s);
}

static void test_may_read_policies(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), -ENOENT);
	assert_int_equal(iddir_store_may_read(s, "alice", "alice"), -ENOENT);
	put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, T0);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 1);
	assert_int_equal(iddir_store_may_read(s, "alice", "alice"), 1);
	put(s, "alice", "Alice", IDDIR_NOBODY, NULL, 0, T0);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 0);
	assert_int_equal(iddir_store_may_read(s, "alice", "alice"), 1);
	const char *const readers[] = {"bob", "carol"};
	put(s, "alice", "Alice", IDDIR_LIST, readers, 2, T0);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 1);
	assert_int_equal(iddir_store_may_read(s, "alice", "carol"), 1);
	assert_int_equal(iddir_store_may_read(s, "alice", "dave"), 0);
	assert_int_equal(iddir_store_may_read(s, "alice", "alice"), 1);
	/* An empty list: the owner only. */
	put(s, "alice", "Alice", IDDIR_LIST, NULL, 0, T0);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 0);
	assert_int_equal(iddir_store_may_read(s, "alice", "alice"), 1);
	/* Readers given with NOBODY are ignored, not a way in. */
	put(s, "alice", "Alice", IDDIR_NOBODY, readers, 2, T0);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 0);
	/* One tuple's list says nothing about another's. */
	put(s, "bob", "Bob", IDDIR_LIST, readers, 1, T0);
	assert_int_equal(iddir_store_may_read(s, "bob", "carol"), 0);
	iddir_store_close(s);
}

static void test_readers_cap(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	static char names[IDDIR_READERS_MAX + 1][24];
	const char *readers[IDDIR_READERS_MAX + 1];
	for (int i = 0; i <= IDDIR_READERS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "reader-%02d", i);
		readers[i] = names[i];
	}
	assert_int_equal(
	    iddir_store_put(s, "alice", "Alice", IDDIR_LIST, readers, IDDIR_READERS_MAX + 1, T0, 0),
	    -EINVAL);
	assert_int_equal(iddir_store_get(s, "alice", NULL, 0, NULL), -ENOENT);
	put(s, "alice", "Alice", IDDIR_LIST, readers, IDDIR_READERS_MAX, T0);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	char expected[64];
	snprintf(expected, sizeof(expected), "alice=Alice/2/%d/0/0;", IDDIR_READERS_MAX);
	assert_string_equal(l.text, expected);
	assert_int_equal(iddir_store_may_read(s, "alice", names[IDDIR_READERS_MAX - 1]), 1);
	assert_int_equal(iddir_store_may_read(s, "alice", names[IDDIR_READERS_MAX]), 0);
	/* A bad reader anywhere refuses the whole put and keeps the old list. */
	readers[3] = "Not-A-Nick";
	assert_int_equal(iddir_store_put(s, "alice", "Alice 2", IDDIR_LIST, readers, 5, T0, 0),
			 -EINVAL);
	assert_int_equal(iddir_store_may_read(s, "alice", names[10]), 1);
	assert_int_equal(iddir_store_put(s, "alice", "Alice", IDDIR_LIST, NULL, 1, T0, 0), -EINVAL);
	iddir_store_close(s);
}

static void test_delete_cascades(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	const char *const readers[] = {"bob"};
	put(s, "alice", "Alice", IDDIR_LIST, readers, 1, T0);
	put(s, "bob", "Bob", IDDIR_LIST, readers, 1, T0);
	assert_int_equal(iddir_store_log_add(s, "alice", "bob", T0 + 1, 1), 0);
	assert_int_equal(iddir_store_log_add(s, "alice", "eve", T0 + 2, 0), 0);
	assert_int_equal(iddir_store_log_add(s, "bob", "bob", T0 + 3, 1), 0);
	assert_int_equal(iddir_store_delete(s, "alice"), 0);
	assert_int_equal(iddir_store_delete(s, "alice"), -ENOENT);
	assert_int_equal(iddir_store_get(s, "alice", NULL, 0, NULL), -ENOENT);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), -ENOENT);
	uint64_t tuples = 0, entries = 0;
	assert_int_equal(iddir_store_count(s, &tuples, &entries), 0);
	assert_int_equal(tuples, 1);
	assert_int_equal(entries, 1);
	iddir_store_close(s);
	char text[64];
	raw_query(f->path, "SELECT count(*) FROM readers WHERE nickname = 'alice'", text,
		  sizeof(text));
	assert_string_equal(text, "0");
	raw_query(f->path, "SELECT count(*) FROM access_log WHERE nickname = 'alice'", text,
		  sizeof(text));
	assert_string_equal(text, "0");
	raw_query(f->path, "SELECT count(*) FROM readers", text, sizeof(text));
	assert_string_equal(text, "1");
}

static void test_log_order_limit_stop(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	assert_int_equal(iddir_store_log_add(s, "alice", "bob", T0, 1), -ENOENT);
	put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, T0);
	put(s, "bob", "Bob", IDDIR_ANYONE, NULL, 0, T0);
	/* Logged out of time order (a clock set back): the log keeps the order
	 * of the reads, not of their times. */
	assert_int_equal(iddir_store_log_add(s, "alice", "r1", T0 + 10, 1), 0);
	assert_int_equal(iddir_store_log_add(s, "bob", "x", T0 + 11, 1), 0);
	assert_int_equal(iddir_store_log_add(s, "alice", "r2", T0 + 5, 0), 0);
	assert_int_equal(iddir_store_log_add(s, "alice", "r3", T0 + 20, 7), 0);
	assert_int_equal(iddir_store_log_add(s, "alice", "r4", T0 + 30, 1), 0);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_log_foreach(s, "alice", 100, collect_log, &l), 0);
	assert_string_equal(l.text, "r1@10+;r2@5-;r3@20+;r4@30+;");
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_log_foreach(s, "alice", 2, collect_log, &l), 0);
	assert_string_equal(l.text, "r3@20+;r4@30+;");
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_log_foreach(s, "alice", SIZE_MAX, collect_log, &l), 0);
	assert_int_equal(l.calls, 4);
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_log_foreach(s, "alice", 0, collect_log, &l), 0);
	assert_int_equal(l.calls, 0);
	/* fn's first non-zero value stops the walk and comes back. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(iddir_store_log_foreach(s, "alice", 100, collect_log, &l), 7);
	assert_string_equal(l.text, "r1@10+;r2@5-;");
	/* No tuple, no log: nothing to walk. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_log_foreach(s, "carol", 100, collect_log, &l), 0);
	assert_int_equal(l.calls, 0);
	/* The store is usable after an early stop (the statement was reset). */
	assert_int_equal(iddir_store_log_add(s, "alice", "r5", T0 + 40, 1), 0);
	uint64_t tuples = 0, entries = 0;
	assert_int_equal(iddir_store_count(s, &tuples, &entries), 0);
	assert_int_equal(tuples, 2);
	assert_int_equal(entries, 6);
	iddir_store_close(s);
}

static void test_foreach_order_and_stop(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_int_equal(l.calls, 0);
	put(s, "carol", "C", IDDIR_NOBODY, NULL, 0, T0 + 3);
	put(s, "alice", "A", IDDIR_ANYONE, NULL, 0, T0 + 1);
	assert_int_equal(iddir_store_put(s, "bob", "B", IDDIR_ANYONE, NULL, 0, T0 + 2, 1), 0);
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_string_equal(l.text, "alice=A/1/0/1/0;bob=B/1/0/2/1;carol=C/0/0/3/0;");
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 9);
	assert_string_equal(l.text, "alice=A/1/0/1/0;");
	assert_int_equal(iddir_store_foreach(s, NULL, NULL), -EINVAL);
	iddir_store_close(s);
}

static void test_log_purge(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, T0);
	put(s, "bob", "Bob", IDDIR_ANYONE, NULL, 0, T0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(iddir_store_log_add(s, "alice", "r", T0 + (uint64_t)i * 10, 1), 0);
		assert_int_equal(iddir_store_log_add(s, "bob", "r", T0 + (uint64_t)i * 10, 0), 0);
	}
	assert_int_equal(iddir_store_log_purge(s, T0), 0);
	/* Strictly older: the entries at T0 + 20 stay. */
	assert_int_equal(iddir_store_log_purge(s, T0 + 20), 4);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_log_foreach(s, "alice", 100, collect_log, &l), 0);
	assert_string_equal(l.text, "r@20+;r@30+;r@40+;");
	uint64_t tuples = 0, entries = 0;
	assert_int_equal(iddir_store_count(s, &tuples, &entries), 0);
	assert_int_equal(tuples, 2);
	assert_int_equal(entries, 6);
	assert_int_equal(iddir_store_log_purge(s, UINT64_MAX), 6);
	assert_int_equal(iddir_store_count(s, NULL, &entries), 0);
	assert_int_equal(entries, 0);
	/* The tuples stay. */
	assert_int_equal(iddir_store_get(s, "bob", NULL, 0, NULL), 0);
	iddir_store_close(s);
}

static void test_bad_inputs(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	static const char *const bad_nicknames[] = {
	    "",
	    "Alice",
	    "al ice",
	    "al/ice",
	    "0123456789012345678901234567890123456789012345678901234567890123",
	};
	for (size_t i = 0; i < sizeof(bad_nicknames) / sizeof(bad_nicknames[0]); i++) {
		const char *bad = bad_nicknames[i];
		assert_int_equal(iddir_store_put(s, bad, "x", IDDIR_ANYONE, NULL, 0, T0, 0),
				 -EINVAL);
		assert_int_equal(iddir_store_get(s, bad, NULL, 0, NULL), -EINVAL);
		assert_int_equal(iddir_store_may_read(s, bad, "bob"), -EINVAL);
		assert_int_equal(iddir_store_may_read(s, "bob", bad), -EINVAL);
		assert_int_equal(iddir_store_delete(s, bad), -EINVAL);
		assert_int_equal(iddir_store_log_add(s, bad, "bob", T0, 1), -EINVAL);
		assert_int_equal(iddir_store_log_add(s, "bob", bad, T0, 1), -EINVAL);
		assert_int_equal(iddir_store_log_foreach(s, bad, 1, collect_log, NULL), -EINVAL);
	}
	assert_int_equal(iddir_store_put(s, NULL, "x", IDDIR_ANYONE, NULL, 0, T0, 0), -EINVAL);
	assert_int_equal(iddir_store_get(s, NULL, NULL, 0, NULL), -EINVAL);
	char too_long[IDDIR_REAL_ID_MAX + 2];
	memset(too_long, 'x', IDDIR_REAL_ID_MAX + 1);
	too_long[IDDIR_REAL_ID_MAX + 1] = 0;
	const char *const bad_real_ids[] = {
	    "",
	    too_long,
	    "line\nbreak",
	    "tab\there",
	    "esc\x1b[31m",
	    "del\x7f",
	    "c1 \xc2\x85 next line",
	    "bad \xff byte",
	    "overlong \xc0\xaf",
	    "surrogate \xed\xa0\x80",
	    "cut \xe2\x82",
	    "above \xf4\x90\x80\x80",
	};
	for (size_t i = 0; i < sizeof(bad_real_ids) / sizeof(bad_real_ids[0]); i++)
		assert_int_equal(
		    iddir_store_put(s, "alice", bad_real_ids[i], IDDIR_ANYONE, NULL, 0, T0, 0),
		    -EINVAL);
	assert_int_equal(iddir_store_put(s, "alice", NULL, IDDIR_ANYONE, NULL, 0, T0, 0), -EINVAL);
	assert_int_equal(iddir_store_put(s, "alice", "x", (enum iddir_policy)3, NULL, 0, T0, 0),
			 -EINVAL);
	assert_int_equal(iddir_store_put(s, "alice", "x", IDDIR_ANYONE, NULL, 0, 1ull << 63, 0),
			 -ERANGE);
	put(s, "alice", "x", IDDIR_ANYONE, NULL, 0, T0);
	assert_int_equal(iddir_store_log_add(s, "alice", "bob", 1ull << 63, 1), -ERANGE);
	assert_int_equal(iddir_store_log_foreach(s, "alice", 1, NULL, NULL), -EINVAL);
	/* Nothing bad got in. */
	uint64_t tuples = 0, entries = 0;
	assert_int_equal(iddir_store_count(s, &tuples, &entries), 0);
	assert_int_equal(tuples, 1);
	assert_int_equal(entries, 0);
	assert_int_equal(iddir_store_count(NULL, &tuples, &entries), -EINVAL);
	assert_int_equal(iddir_store_log_purge(NULL, T0), -EINVAL);
	iddir_store_close(s);
}

static int count_log(void *ctx, const char *reader, uint64_t at_unix, int granted)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void test_log_kept_bounded(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	assert_int_equal(iddir_store_put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, 10, 0), 0);
	for (int i = 0; i < IDDIR_LOG_KEEP + 50; i++)
		assert_int_equal(iddir_store_log_add(s, "alice", "bob", 100 + (uint64_t)i, 1), 0);
	size_t n = 0;
	assert_int_equal(iddir_store_log_foreach(s, "alice", SIZE_MAX, count_log, &n), 0);
	assert_int_equal(n, IDDIR_LOG_KEEP);
	iddir_store_close(s);
}

static void test_owner_key_pinned(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	uint8_t key[32], other[32];
	memset(key, 1, sizeof(key));
	memset(other, 2, sizeof(other));
	/* Without a tuple nothing is pinned. */
	assert_int_equal(iddir_store_owner_key(s, "alice", other), 0);
	assert_int_equal(iddir_store_put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, 10, 0), 0);
	assert_int_equal(iddir_store_owner_key(s, "alice", key), 0); /* pinned now */
	assert_int_equal(iddir_store_owner_key(s, "alice", key), 0);
	assert_int_equal(iddir_store_owner_key(s, "alice", other), -EKEYREJECTED);
	/* Replacing the tuple keeps the pin; deleting it drops it. */
	assert_int_equal(iddir_store_put(s, "alice", "Alice L.", IDDIR_ANYONE, NULL, 0, 11, 0), 0);
	assert_int_equal(iddir_store_owner_key(s, "alice", other), -EKEYREJECTED);
	assert_int_equal(iddir_store_delete(s, "alice"), 0);
	assert_int_equal(iddir_store_put(s, "alice", "Alice", IDDIR_ANYONE, NULL, 0, 12, 0), 0);
	assert_int_equal(iddir_store_owner_key(s, "alice", other), 0);
	assert_int_equal(iddir_store_owner_key(s, "NOT A NICK", key), -EINVAL);
	iddir_store_close(s);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct iddir_store *s = open_store(f);
	const char *const readers[] = {"bob"};
	assert_int_equal(iddir_store_put(s, "alice", "Alice", IDDIR_LIST, readers, 1, T0, 1), 0);
	assert_int_equal(iddir_store_log_add(s, "alice", "bob", T0 + 1, 1), 0);
	iddir_store_close(s);
	s = open_store(f);
	char real_id[IDDIR_REAL_ID_MAX + 1];
	enum iddir_policy policy = IDDIR_ANYONE;
	assert_int_equal(iddir_store_get(s, "alice", real_id, sizeof(real_id), &policy), 0);
	assert_string_equal(real_id, "Alice");
	assert_int_equal(policy, IDDIR_LIST);
	assert_int_equal(iddir_store_may_read(s, "alice", "bob"), 1);
	struct log_seen l = {.calls = 0};
	assert_int_equal(iddir_store_log_foreach(s, "alice", 10, collect_log, &l), 0);
	assert_string_equal(l.text, "bob@1+;");
	memset(&l, 0, sizeof(l));
	assert_int_equal(iddir_store_foreach(s, collect_tuple, &l), 0);
	assert_string_equal(l.text, "alice=Alice/2/1/0/1;");
	iddir_store_close(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_open_0600_and_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_put_get_replace, setup, teardown),
    cmocka_unit_test_setup_teardown(test_may_read_policies, setup, teardown),
    cmocka_unit_test_setup_teardown(test_readers_cap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
    cmocka_unit_test_setup_teardown(test_log_order_limit_stop, setup, teardown),
    cmocka_unit_test_setup_teardown(test_foreach_order_and_stop, setup, teardown),
    cmocka_unit_test_setup_teardown(test_log_purge, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
    cmocka_unit_test_setup_teardown(test_owner_key_pinned, setup, teardown),
    cmocka_unit_test_setup_teardown(test_log_kept_bounded, setup, teardown),
};

int test_iddir_store_suite(void)
{
	return cmocka_run_group_tests_name("iddir_store", tests, NULL, NULL);
}

int test_iddir_store_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
