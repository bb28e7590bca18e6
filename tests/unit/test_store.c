/* The lighthouse and lookup stores on real SQLite files: every function,
 * persistence across reopen (a lighthouse restart), file modes, WAL, the
 * schema version and the files open must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lighthouse/store.h"
#include "lookup/store.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1700000000ull

/* Each test gets a fresh scratch directory and the paths of both databases
 * in it; the stores are opened by the tests themselves. */
struct fixture {
	char dir[64];
	char lh_path[4096];
	char lookup_path[4096];
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || helper_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	helper_path(f->dir, "lighthouse.db", f->lh_path, sizeof(f->lh_path));
	helper_path(f->dir, "lookup.db", f->lookup_path, sizeof(f->lookup_path));
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

static struct lh_store *open_lh(struct fixture *f)
{
	struct lh_store *s = NULL;
	int rc = lh_store_open(f->lh_path, &s, f->err, sizeof(f->err));
	if (rc != 0)
		fail_msg("lh_store_open: %d %s", rc, f->err);
	return s;
}

static struct lookup_store *open_lookup(struct fixture *f)
{
	struct lookup_store *s = NULL;
	int rc = lookup_store_open(f->lookup_path, &s, f->err, sizeof(f->err));
	if (rc != 0)
		fail_msg("lookup_store_open: %d %s", rc, f->err);
	return s;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Raw SQLite, to look at a file from outside the store or to craft one. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
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

static void key_of(uint8_t key[32], uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(seed + i);
}

static void add_account(struct lh_store *s, const char *nickname, uint8_t seed)
{
	uint8_t key[32];
	key_of(key, seed);
	assert_int_equal(lh_store_account_add(s, nickname, key, T0 + seed), 0);
}

/* --- files: modes, WAL, versions, refusals --- */

static void check_file_is_ours(const char *path, const char *application_id, int version)
{
	char text[64], expected[16];
	assert_int_equal(file_mode(path), 0600);
	raw_query(path, "PRAGMA journal_mode", text, sizeof(text));
	assert_string_equal(text, "wal");
	raw_query(path, "PRAGMA user_version", text, sizeof(text));
	snprintf(expected, sizeof(expected), "%d", version);
	assert_string_equal(text, expected);
	raw_query(path, "PRAGMA application_id", text, sizeof(text));
	assert_string_equal(text, application_id);
}

static void test_open_creates_0600_wal_current_version(void **state)
{
	struct fixture *f = *state;
	/* Whatever the umask, the files are 0600, the WAL and shm ones too. */
	mode_t old = umask(0);
	struct lh_store *lh = open_lh(f);
	struct lookup_store *lookup = open_lookup(f);
	umask(old);
	add_account(lh, "mother", 1);
	assert_int_equal(lookup_store_claim(lookup, "mother", "lh-1", T0, NULL), 0);
	char path[4200];
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->lh_path, suffixes[i]);
		assert_int_equal(file_mode(path), 0600);
		snprintf(path, sizeof(path), "%s%s", f->lookup_path, suffixes[i]);
		assert_int_equal(file_mode(path), 0600);
	}
	lh_store_close(lh);
	lookup_store_close(lookup);
	/* 0x414e4c48 "ANLH" and 0x414e4c4b "ANLK". */
	check_file_is_ours(f->lh_path, "1095650376", LH_STORE_SCHEMA_VERSION);
	check_file_is_ours(f->lookup_path, "1095650379", LOOKUP_STORE_SCHEMA_VERSION);
	/* Closing the last connection folds the WAL back in and removes it. */
	snprintf(path, sizeof(path), "%s-wal", f->lh_path);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_open_tightens_loose_mode(void **state)
{
	struct fixture *f = *state;
	lh_store_close(open_lh(f));
	lookup_store_close(open_lookup(f));
	assert_int_equal(chmod(f->lh_path, 0644), 0);
	assert_int_equal(chmod(f->lookup_path, 0660), 0);
	lh_store_close(open_lh(f));
	lookup_store_close(open_lookup(f));
	assert_int_equal(file_mode(f->lh_path), 0600);
	assert_int_equal(file_mode(f->lookup_path), 0600);
}

static void test_open_refuses_newer_version(void **state)
{
	struct fixture *f = *state;
	raw_exec(f->lh_path, "CREATE TABLE accounts (nickname TEXT); PRAGMA user_version = 99");
	raw_exec(f->lookup_path, "PRAGMA user_version = 99");
	/* A refused open leaves *out NULL, whatever it held. */
	struct lh_store *lh = (struct lh_store *)f;
	assert_int_equal(lh_store_open(f->lh_path, &lh, f->err, sizeof(f->err)), -ENOTSUP);
	assert_null(lh);
	assert_non_null(strstr(f->err, "version 99"));
	assert_non_null(strstr(f->err, "newer"));
	struct lookup_store *lookup = NULL;
	assert_int_equal(lookup_store_open(f->lookup_path, &lookup, f->err, sizeof(f->err)),
			 -ENOTSUP);
	assert_null(lookup);
	assert_non_null(strstr(f->err, "version 99"));
	/* Refused means untouched: same version, same journal mode. */
	char text[64];
	raw_query(f->lh_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, "99");
	raw_query(f->lh_path, "PRAGMA journal_mode", text, sizeof(text));
	assert_string_equal(text, "delete");
}

static void test_open_refuses_other_files(void **state)
{
	struct fixture *f = *state;
	struct lh_store *lh = NULL;
	struct lookup_store *lookup = NULL;
	char text[2048];
	/* Not SQLite at all. */
	memset(text, 'x', sizeof(text));
	assert_int_equal(helper_write(f->dir, "lighthouse.db", text, sizeof(text), 0600, NULL, 0),
			 0);
	assert_int_equal(lh_store_open(f->lh_path, &lh, f->err, sizeof(f->err)), -EINVAL);
	assert_null(lh);
	assert_non_null(strstr(f->err, "not an SQLite database"));
	static const char short_text[] = "hello, I am a text file\n";
	assert_int_equal(
	    helper_write(f->dir, "lookup.db", short_text, sizeof(short_text) - 1, 0600, NULL, 0),
	    0);
	assert_int_equal(lookup_store_open(f->lookup_path, &lookup, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_null(lookup);
	assert_non_null(strstr(f->err, "not an SQLite database"));
	/* SQLite, but another program's. */
	assert_int_equal(unlink(f->lh_path), 0);
	raw_exec(f->lh_path, "CREATE TABLE notes (body TEXT)");
	assert_int_equal(lh_store_open(f->lh_path, &lh, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a lighthouse database"));
	/* Ours, but the other store's. */
	assert_int_equal(unlink(f->lookup_path), 0);
	lookup_store_close(open_lookup(f));
	assert_int_equal(lh_store_open(f->lookup_path, &lh, f->err, sizeof(f->err)), -EINVAL);
	assert_non_null(strstr(f->err, "not a lighthouse database"));
	assert_int_equal(unlink(f->lh_path), 0);
	lh_store_close(open_lh(f));
	/* The lighthouse file is at a higher version than the lookup store
	 * knows, and db_open looks at the version before the application id:
	 * refused as too new rather than as another store's. Refused, and
	 * left alone, either way. */
	int rc = lookup_store_open(f->lh_path, &lookup, f->err, sizeof(f->err));
	assert_true(rc == -EINVAL || rc == -ENOTSUP);
	assert_null(lookup);
	assert_true(strstr(f->err, "not a lookup database") || strstr(f->err, "newer"));
	raw_query(f->lh_path, "PRAGMA application_id", text, sizeof(text));
	assert_string_equal(text, "1095650376");
	/* Not a file, or nowhere to create one. */
	assert_int_equal(lh_store_open(f->dir, &lh, f->err, sizeof(f->err)), -EISDIR);
	char missing[4200];
	snprintf(missing, sizeof(missing), "%s/no/such/dir.db", f->dir);
	assert_int_equal(lookup_store_open(missing, &lookup, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "cannot open"));
}

/* --- lighthouse: accounts and certificates --- */

static void test_lh_accounts(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	uint8_t key[32], got[32], other[32];
	uint64_t created = 0, count = 99;
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(lh_store_account_get(s, "mother", got, &created), -ENOENT);
	key_of(key, 7);
	assert_int_equal(lh_store_account_add(s, "mother", key, T0), 0);
	assert_int_equal(lh_store_account_get(s, "mother", got, &created), 0);
	assert_memory_equal(got, key, 32);
	assert_int_equal(created, T0);
	/* The nickname is taken, whatever key comes with it. */
	key_of(other, 9);
	assert_int_equal(lh_store_account_add(s, "mother", other, T0 + 5), -EEXIST);
	assert_int_equal(lh_store_account_get(s, "mother", got, NULL), 0);
	assert_memory_equal(got, key, 32);
	assert_int_equal(lh_store_account_get(s, "mother", NULL, NULL), 0);
	add_account(s, "father", 2);
	add_account(s, "a", 3);
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 3);
	/* Nicknames are exact: no case folding, no prefix match. */
	assert_int_equal(lh_store_account_get(s, "mothe", NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_account_get(s, "mother.", NULL, NULL), -ENOENT);
	lh_store_close(s);
}

static void test_lh_account_delete_cascades(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	static const uint8_t cert[] = {1, 2, 3};
	add_account(s, "mother", 1);
	add_account(s, "father", 2);
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, sizeof(cert), T0), 0);
	assert_int_equal(lh_store_certificate_put(s, "father", cert, sizeof(cert), T0), 0);
	assert_int_equal(lh_store_binding_set(s, "mother", 10, 1, T0), 0);
	assert_int_equal(lh_store_binding_set(s, "father", 20, 1, T0), 0);
	assert_int_equal(lh_store_registration_set(s, "mother", T0 + 60), 0);
	assert_int_equal(lh_store_registration_set(s, "father", T0 + 60), 0);
	assert_int_equal(lh_store_auth_failure(s, "mother", T0, NULL), 0);
	assert_int_equal(lh_store_auth_failure(s, "father", T0, NULL), 0);
	assert_int_equal(lh_store_account_delete(s, "mother"), 0);
	assert_int_equal(lh_store_account_get(s, "mother", NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_binding_get(s, "mother", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_registration_get(s, "mother", NULL), -ENOENT);
	assert_int_equal(lh_store_auth_failures(s, "mother", T0, NULL), -ENOENT);
	assert_int_equal(lh_store_account_delete(s, "mother"), -ENOENT);
	/* The other account keeps everything. */
	assert_int_equal(lh_store_account_get(s, "father", NULL, NULL), 0);
	assert_int_equal(lh_store_certificate_get(s, "father", NULL, NULL, NULL), 0);
	assert_int_equal(lh_store_binding_get(s, "father", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(lh_store_registration_get(s, "father", NULL), 0);
	unsigned failures = 0;
	assert_int_equal(lh_store_auth_failures(s, "father", T0, &failures), 0);
	assert_int_equal(failures, 1);
	uint64_t count = 0, live = 0, stale = 0;
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(lh_store_binding_count(s, &live, &stale), 0);
	assert_int_equal(live, 1);
	assert_int_equal(stale, 0);
	assert_int_equal(lh_store_registration_count(s, &count), 0);
	assert_int_equal(count, 1);
	/* The name is free again, and comes with nothing of the old account:
	 * no password, no registration, no failures. */
	add_account(s, "mother", 3);
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_registration_get(s, "mother", NULL), -ENOENT);
	assert_int_equal(lh_store_auth_failures(s, "mother", T0, &failures), 0);
	assert_int_equal(failures, 0);
	lh_store_close(s);
}

static void test_lh_certificates(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	uint8_t cert[300], *got = NULL;
	size_t len = 0;
	uint64_t expires = 0;
	for (size_t i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(i * 7);
	/* A certificate belongs to an account. */
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, sizeof(cert), T0), -ENOENT);
	add_account(s, "mother", 1);
	assert_int_equal(lh_store_certificate_get(s, "mother", &got, &len, &expires), -ENOENT);
	assert_null(got);
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, sizeof(cert), T0 + 86400), 0);
	assert_int_equal(lh_store_certificate_get(s, "mother", &got, &len, &expires), 0);
	assert_int_equal(len, sizeof(cert));
	assert_memory_equal(got, cert, sizeof(cert));
	assert_int_equal(expires, T0 + 86400);
	free(got);
	got = NULL;
	/* Replaced, not added: a shorter one comes back whole and alone. */
	assert_int_equal(lh_store_certificate_put(s, "mother", cert + 100, 1, T0 + 2), 0);
	assert_int_equal(lh_store_certificate_get(s, "mother", &got, &len, &expires), 0);
	assert_int_equal(len, 1);
	assert_int_equal(got[0], cert[100]);
	assert_int_equal(expires, T0 + 2);
	free(got);
	len = 0;
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, &len, NULL), 0);
	assert_int_equal(len, 1);
	/* Empty, oversized and out-of-range certificates are refused. */
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, 0, T0), -EINVAL);
	assert_int_equal(lh_store_certificate_put(s, "mother", NULL, 5, T0), -EINVAL);
	uint8_t *big = calloc(1, LH_STORE_CERTIFICATE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(lh_store_certificate_put(s, "mother", big, LH_STORE_CERTIFICATE_MAX, T0),
			 0);
	assert_int_equal(
	    lh_store_certificate_put(s, "mother", big, LH_STORE_CERTIFICATE_MAX + 1, T0),
	    -EMSGSIZE);
	free(big);
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, 3, 1ull << 63), -ERANGE);
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, &len, &expires), 0);
	assert_int_equal(len, LH_STORE_CERTIFICATE_MAX);
	assert_int_equal(expires, T0);
	lh_store_close(s);
}

/* --- lighthouse: bindings --- */

static void expect_binding(struct lh_store *s, const char *nickname, uint64_t circuit,
			   uint64_t epoch, uint64_t expires, int live)
{
	uint64_t got_circuit = 0, got_epoch = 0, got_expires = 0;
	int got_live = -1;
	assert_int_equal(
	    lh_store_binding_get(s, nickname, &got_circuit, &got_epoch, &got_expires, &got_live),
	    0);
	assert_true(got_circuit == circuit);
	assert_true(got_epoch == epoch);
	assert_true(got_expires == expires);
	assert_int_equal(got_live, live);
}

static void expect_counts(struct lh_store *s, uint64_t live, uint64_t stale)
{
	uint64_t got_live = 99, got_stale = 99;
	assert_int_equal(lh_store_binding_count(s, &got_live, &got_stale), 0);
	assert_int_equal(got_live, live);
	assert_int_equal(got_stale, stale);
}

static void test_lh_bindings_set_get_replace(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	expect_counts(s, 0, 0);
	/* A binding belongs to an account. */
	assert_int_equal(lh_store_binding_set(s, "mother", 1, 1, T0), -ENOENT);
	add_account(s, "mother", 1);
	assert_int_equal(lh_store_binding_get(s, "mother", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_binding_set(s, "mother", 0x1234, 5, T0 + 3600), 0);
	expect_binding(s, "mother", 0x1234, 5, T0 + 3600, 1);
	/* A newer circuit replaces it: one binding per nickname. */
	assert_int_equal(lh_store_binding_set(s, "mother", 0x5678, 6, T0 + 7200), 0);
	expect_binding(s, "mother", 0x5678, 6, T0 + 7200, 1);
	expect_counts(s, 1, 0);
	/* A stale binding comes back to life with the rebuilt circuit. */
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 0x5678), 1);
	expect_binding(s, "mother", 0x5678, 6, T0 + 7200, 0);
	expect_counts(s, 0, 1);
	assert_int_equal(lh_store_binding_set(s, "mother", 0x9abc, 6, T0 + 9000), 0);
	expect_binding(s, "mother", 0x9abc, 6, T0 + 9000, 1);
	expect_counts(s, 1, 0);
	assert_int_equal(lh_store_binding_get(s, "mother", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(lh_store_binding_set(s, "mother", 1, 1, 1ull << 63), -ERANGE);
	assert_int_equal(lh_store_binding_set(s, "mother", 1, 1, INT64_MAX), 0);
	expect_binding(s, "mother", 1, 1, INT64_MAX, 1);
	lh_store_close(s);
}

static void test_lh_handles_round_trip(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	static const uint64_t values[] = {
	    0, 1, 0x7fffffffffffffffull, 1ull << 63, 0x8000000000000001ull, 0xffffffffffffffffull,
	};
	const size_t n = sizeof(values) / sizeof(values[0]);
	char nickname[16];
	for (size_t i = 0; i < n; i++) {
		snprintf(nickname, sizeof(nickname), "user-%zu", i);
		add_account(s, nickname, (uint8_t)i);
		assert_int_equal(
		    lh_store_binding_set(s, nickname, values[i], values[n - 1 - i], T0 + i), 0);
	}
	lh_store_close(s);
	s = open_lh(f);
	for (size_t i = 0; i < n; i++) {
		snprintf(nickname, sizeof(nickname), "user-%zu", i);
		expect_binding(s, nickname, values[i], values[n - 1 - i], T0 + i, 1);
	}
	/* Matching by handle is exact too: only 1<<63, not its neighbours. */
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 1ull << 63), 1);
	expect_binding(s, "user-3", 1ull << 63, values[n - 4], T0 + 3, 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 0xffffffffffffffffull), 1);
	expect_binding(s, "user-5", 0xffffffffffffffffull, 0, T0 + 5, 0);
	expect_counts(s, 4, 2);
	/* Every epoch but 0xff…ff: user-0 keeps its live binding. */
	assert_int_equal(lh_store_bindings_mark_stale_except_epoch(s, 0xffffffffffffffffull), 3);
	expect_binding(s, "user-0", 0, 0xffffffffffffffffull, T0, 1);
	expect_counts(s, 1, 5);
	lh_store_close(s);
}

static void test_lh_mark_stale_circuit(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	add_account(s, "mother", 1);
	add_account(s, "father", 2);
	add_account(s, "sister", 3);
	assert_int_equal(lh_store_binding_set(s, "mother", 100, 1, T0), 0);
	assert_int_equal(lh_store_binding_set(s, "father", 200, 1, T0), 0);
	assert_int_equal(lh_store_binding_set(s, "sister", 300, 1, T0), 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 200), 1);
	expect_binding(s, "father", 200, 1, T0, 0);
	expect_binding(s, "mother", 100, 1, T0, 1);
	expect_binding(s, "sister", 300, 1, T0, 1);
	/* Twice, or an unknown circuit: nothing more to do. */
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 200), 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 999), 0);
	expect_counts(s, 2, 1);
	lh_store_close(s);
}

/* A lighthouse restart: the bindings made by the old process survive it,
 * stale, because their circuits died with that process. */
static void test_lh_restart_marks_old_bindings_stale(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	static const uint8_t cert[] = {9, 8, 7};
	add_account(s, "mother", 1);
	add_account(s, "father", 2);
	add_account(s, "sister", 3);
	assert_int_equal(lh_store_certificate_put(s, "mother", cert, sizeof(cert), T0 + 99), 0);
	assert_int_equal(lh_store_binding_set(s, "mother", 11, 1, T0 + 600), 0);
	assert_int_equal(lh_store_binding_set(s, "father", 12, 1, T0 + 600), 0);
	assert_int_equal(lh_store_binding_set(s, "sister", 13, 1, T0 + 600), 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 13), 1);
	lh_store_close(s);

	s = open_lh(f);
	/* Only the two live ones change; sister's was stale already. */
	assert_int_equal(lh_store_bindings_mark_stale_except_epoch(s, 2), 2);
	expect_binding(s, "mother", 11, 1, T0 + 600, 0);
	expect_binding(s, "father", 12, 1, T0 + 600, 0);
	expect_binding(s, "sister", 13, 1, T0 + 600, 0);
	expect_counts(s, 0, 3);
	uint64_t count = 0, expires = 0;
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 3);
	uint8_t key[32], got[32];
	key_of(key, 2);
	assert_int_equal(lh_store_account_get(s, "father", got, NULL), 0);
	assert_memory_equal(got, key, 32);
	size_t len = 0;
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, &len, &expires), 0);
	assert_int_equal(len, sizeof(cert));
	assert_int_equal(expires, T0 + 99);
	/* Mother's ua rebuilds her circuit in the new run. */
	assert_int_equal(lh_store_binding_set(s, "mother", 21, 2, T0 + 1200), 0);
	expect_binding(s, "mother", 21, 2, T0 + 1200, 1);
	assert_int_equal(lh_store_bindings_mark_stale_except_epoch(s, 2), 0);
	expect_counts(s, 1, 2);
	/* The new run keeps its live bindings fresh in one statement. */
	assert_int_equal(lh_store_bindings_refresh_epoch(s, 2, T0 + 5000), 1);
	expect_binding(s, "mother", 21, 2, T0 + 5000, 1);
	expect_binding(s, "father", 12, 1, T0 + 600, 0);
	assert_int_equal(lh_store_bindings_refresh_epoch(s, 1, T0 + 5000), 0);
	assert_int_equal(lh_store_bindings_refresh_epoch(s, 2, 1ull << 63), -ERANGE);
	lh_store_close(s);
}

static void test_lh_bindings_expire(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	add_account(s, "a1", 1);
	add_account(s, "a2", 2);
	add_account(s, "a3", 3);
	assert_int_equal(lh_store_binding_set(s, "a1", 1, 1, T0 + 100), 0);
	assert_int_equal(lh_store_binding_set(s, "a2", 2, 1, T0 + 200), 0);
	assert_int_equal(lh_store_binding_set(s, "a3", 3, 1, T0 + 300), 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 2), 1);
	assert_int_equal(lh_store_bindings_expire(s, T0 + 99), 0);
	/* expires_unix <= now goes, live or stale. */
	assert_int_equal(lh_store_bindings_expire(s, T0 + 200), 2);
	assert_int_equal(lh_store_binding_get(s, "a1", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(lh_store_binding_get(s, "a2", NULL, NULL, NULL, NULL), -ENOENT);
	expect_binding(s, "a3", 3, 1, T0 + 300, 1);
	assert_int_equal(lh_store_bindings_expire(s, T0 + 200), 0);
	/* The accounts stay. */
	uint64_t count = 0;
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(lh_store_bindings_expire(s, 1ull << 63), -ERANGE);
	assert_int_equal(lh_store_bindings_expire(s, INT64_MAX), 1);
	expect_counts(s, 0, 0);
	lh_store_close(s);
}

struct seen_binding {
	char nickname[64];
	uint64_t circuit, epoch, expires;
	int live;
};

struct foreach_log {
	struct seen_binding rows[8];
	int n;
	int stop_after;
};

static int log_binding(void *ctx, const char *nickname, uint64_t circuit, uint64_t epoch,
		       uint64_t expires_unix, int live)
{
	struct foreach_log *log = ctx;
	if (log->n >= 8)
		return -1;
	struct seen_binding *b = &log->rows[log->n++];
	snprintf(b->nickname, sizeof(b->nickname), "%s", nickname);
	b->circuit = circuit;
	b->epoch = epoch;
	b->expires = expires_unix;
	b->live = live;
	return log->n == log->stop_after ? 42 : 0;
}

static void test_lh_bindings_foreach(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	struct foreach_log log = {.stop_after = 0};
	assert_int_equal(lh_store_bindings_foreach(s, log_binding, &log), 0);
	assert_int_equal(log.n, 0);
	add_account(s, "zed", 1);
	add_account(s, "amy", 2);
	add_account(s, "max", 3);
	add_account(s, "nobinding", 4);
	assert_int_equal(lh_store_binding_set(s, "zed", 3, 7, T0 + 3), 0);
	assert_int_equal(lh_store_binding_set(s, "amy", 1ull << 63, 7, T0 + 1), 0);
	assert_int_equal(lh_store_binding_set(s, "max", 2, 6, T0 + 2), 0);
	assert_int_equal(lh_store_binding_mark_stale_circuit(s, 2), 1);
	assert_int_equal(lh_store_bindings_foreach(s, log_binding, &log), 0);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.rows[0].nickname, "amy");
	assert_true(log.rows[0].circuit == 1ull << 63);
	assert_int_equal(log.rows[0].live, 1);
	assert_string_equal(log.rows[1].nickname, "max");
	assert_int_equal(log.rows[1].epoch, 6);
	assert_int_equal(log.rows[1].expires, T0 + 2);
	assert_int_equal(log.rows[1].live, 0);
	assert_string_equal(log.rows[2].nickname, "zed");
	/* fn's non-zero answer stops the walk and comes back... */
	memset(&log, 0, sizeof(log));
	log.stop_after = 2;
	assert_int_equal(lh_store_bindings_foreach(s, log_binding, &log), 42);
	assert_int_equal(log.n, 2);
	/* ...and the store is usable at once, the walk restarts from the top. */
	assert_int_equal(lh_store_binding_set(s, "nobinding", 4, 7, T0 + 4), 0);
	memset(&log, 0, sizeof(log));
	assert_int_equal(lh_store_bindings_foreach(s, log_binding, &log), 0);
	assert_int_equal(log.n, 4);
	assert_string_equal(log.rows[0].nickname, "amy");
	assert_int_equal(lh_store_bindings_foreach(s, NULL, NULL), -EINVAL);
	lh_store_close(s);
}

static void test_lh_invalid_nicknames(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	char longest[64], too_long[65];
	memset(longest, 'a', 63);
	longest[63] = 0;
	memset(too_long, 'a', 64);
	too_long[64] = 0;
	static const char *const bad_fixed[] = {
	    "", "Mother", "mo ther", "mo/ther", "m\xc3\xb6ther", "mother\n", "mother@x", "*", "%",
	};
	const char *bad[sizeof(bad_fixed) / sizeof(bad_fixed[0]) + 2];
	size_t n = 0;
	for (; n < sizeof(bad_fixed) / sizeof(bad_fixed[0]); n++)
		bad[n] = bad_fixed[n];
	bad[n++] = too_long;
	bad[n++] = NULL;
	uint8_t key[32] = {0}, *cert = NULL;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(lh_store_account_add(s, bad[i], key, T0), -EINVAL);
		assert_int_equal(lh_store_account_get(s, bad[i], key, NULL), -EINVAL);
		assert_int_equal(lh_store_account_delete(s, bad[i]), -EINVAL);
		assert_int_equal(lh_store_certificate_put(s, bad[i], key, 32, T0), -EINVAL);
		assert_int_equal(lh_store_certificate_get(s, bad[i], &cert, NULL, NULL), -EINVAL);
		assert_int_equal(lh_store_binding_set(s, bad[i], 1, 1, T0), -EINVAL);
		assert_int_equal(lh_store_binding_get(s, bad[i], NULL, NULL, NULL, NULL), -EINVAL);
		assert_int_equal(lh_store_password_set(s, bad[i], key, key, 0), -EINVAL);
		assert_int_equal(lh_store_password_get(s, bad[i], NULL, NULL, NULL, NULL), -EINVAL);
		assert_int_equal(lh_store_registration_set(s, bad[i], T0), -EINVAL);
		assert_int_equal(lh_store_registration_get(s, bad[i], NULL), -EINVAL);
		assert_int_equal(lh_store_registration_delete(s, bad[i]), -EINVAL);
		assert_int_equal(lh_store_auth_failure(s, bad[i], T0, NULL), -EINVAL);
		assert_int_equal(lh_store_auth_failures(s, bad[i], T0, NULL), -EINVAL);
		assert_int_equal(lh_store_auth_reset(s, bad[i]), -EINVAL);
	}
	assert_null(cert);
	/* The edges of the alphabet and the length are fine. */
	static const char *const good[] = {"a", "0", "a.b_c-d", "0123456789", "z.-_"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		add_account(s, good[i], (uint8_t)i);
	add_account(s, longest, 9);
	assert_int_equal(lh_store_binding_set(s, longest, 1, 1, T0), 0);
	uint64_t count = 0;
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 6);
	assert_int_equal(lh_store_account_add(s, "mother", key, 1ull << 63), -ERANGE);
	lh_store_close(s);
}

/* --- lighthouse: passwords, registrations, failed authentications --- */

static void ha1_of(uint8_t *out, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seed * 31 + i);
}

static void test_lh_passwords(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	uint8_t md5[16], sha[32], got_md5[16], got_sha[32];
	int has_md5 = -1, has_sha = -1;
	ha1_of(md5, 16, 1);
	ha1_of(sha, 32, 2);
	/* A password belongs to an account. */
	assert_int_equal(lh_store_password_set(s, "mother", md5, sha, 0), -ENOENT);
	assert_int_equal(lh_store_password_set(s, "mother", md5, sha, 1), -ENOENT);
	assert_int_equal(lh_store_password_get(s, "mother", got_md5, &has_md5, got_sha, &has_sha),
			 -ENOENT);
	add_account(s, "mother", 1);
	assert_int_equal(lh_store_password_get(s, "mother", got_md5, &has_md5, got_sha, &has_sha),
			 0);
	assert_int_equal(has_md5, 0);
	assert_int_equal(has_sha, 0);
	/* Neither hash is refused; each alone is fine. */
	assert_int_equal(lh_store_password_set(s, "mother", NULL, NULL, 0), -EINVAL);
	assert_int_equal(lh_store_password_set(s, "mother", md5, sha, 1), 0);
	memset(got_md5, 0, 16);
	memset(got_sha, 0, 32);
	assert_int_equal(lh_store_password_get(s, "mother", got_md5, &has_md5, got_sha, &has_sha),
			 0);
	assert_int_equal(has_md5, 1);
	assert_int_equal(has_sha, 1);
	assert_memory_equal(got_md5, md5, 16);
	assert_memory_equal(got_sha, sha, 32);
	/* only_if_unset: a password is there, nothing changes. */
	uint8_t other_sha[32];
	ha1_of(other_sha, 32, 3);
	assert_int_equal(lh_store_password_set(s, "mother", NULL, other_sha, 1), -EEXIST);
	assert_int_equal(lh_store_password_get(s, "mother", NULL, &has_md5, got_sha, NULL), 0);
	assert_int_equal(has_md5, 1);
	assert_memory_equal(got_sha, sha, 32);
	/* A replacement replaces both: without MD5 there is no MD5 HA1 left. */
	assert_int_equal(lh_store_password_set(s, "mother", NULL, other_sha, 0), 0);
	memset(got_md5, 0xee, 16);
	assert_int_equal(lh_store_password_get(s, "mother", got_md5, &has_md5, got_sha, &has_sha),
			 0);
	assert_int_equal(has_md5, 0);
	assert_int_equal(has_sha, 1);
	assert_memory_equal(got_sha, other_sha, 32);
	uint8_t untouched[16];
	memset(untouched, 0xee, 16);
	assert_memory_equal(got_md5, untouched, 16);
	assert_int_equal(lh_store_password_set(s, "mother", md5, NULL, 0), 0);
	assert_int_equal(lh_store_password_get(s, "mother", got_md5, &has_md5, NULL, &has_sha), 0);
	assert_int_equal(has_md5, 1);
	assert_int_equal(has_sha, 0);
	assert_memory_equal(got_md5, md5, 16);
	assert_int_equal(lh_store_password_get(s, "mother", NULL, NULL, NULL, NULL), 0);
	/* Another account's only_if_unset is its own. */
	add_account(s, "father", 2);
	assert_int_equal(lh_store_password_set(s, "father", NULL, sha, 1), 0);
	lh_store_close(s);
	/* What is stored is the HA1 bytes, as blobs of 16 and 32, and they
	 * survive a restart. */
	char text[64];
	raw_query(f->lh_path,
		  "SELECT typeof(ha1_md5) || ' ' || length(ha1_md5) || ' ' || typeof(ha1_sha256)"
		  " FROM accounts WHERE nickname = 'mother'",
		  text, sizeof(text));
	assert_string_equal(text, "blob 16 null");
	raw_query(f->lh_path,
		  "SELECT typeof(ha1_md5) || ' ' || typeof(ha1_sha256) || ' ' || length(ha1_sha256)"
		  " FROM accounts WHERE nickname = 'father'",
		  text, sizeof(text));
	assert_string_equal(text, "null blob 32");
	s = open_lh(f);
	assert_int_equal(lh_store_password_get(s, "father", NULL, &has_md5, got_sha, &has_sha), 0);
	assert_int_equal(has_md5, 0);
	assert_memory_equal(got_sha, sha, 32);
	lh_store_close(s);
}

/* A file edited by hand must not make the store read an HA1 past its end. */
static void test_lh_password_wrong_length_is_eio(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	add_account(s, "mother", 1);
	lh_store_close(s);
	/* The CHECK counts characters for text: 16 of them get through. */
	raw_exec(f->lh_path, "UPDATE accounts SET ha1_md5 = 'abcdefghijklmno\xc3\xa9'"
			     " WHERE nickname = 'mother'");
	s = open_lh(f);
	uint8_t md5[16];
	int has = 0;
	assert_int_equal(lh_store_password_get(s, "mother", md5, &has, NULL, NULL), -EIO);
	lh_store_close(s);
}

static void test_lh_registrations(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	uint64_t expires = 0, count = 99;
	assert_int_equal(lh_store_registration_count(s, &count), 0);
	assert_int_equal(count, 0);
	/* A registration belongs to an account. */
	assert_int_equal(lh_store_registration_set(s, "mother", T0 + 3600), -ENOENT);
	add_account(s, "mother", 1);
	add_account(s, "father", 2);
	add_account(s, "sister", 3);
	assert_int_equal(lh_store_registration_get(s, "mother", &expires), -ENOENT);
	assert_int_equal(lh_store_registration_delete(s, "mother"), -ENOENT);
	assert_int_equal(lh_store_registration_set(s, "mother", T0 + 3600), 0);
	assert_int_equal(lh_store_registration_get(s, "mother", &expires), 0);
	assert_int_equal(expires, T0 + 3600);
	assert_int_equal(lh_store_registration_get(s, "mother", NULL), 0);
	/* A re-REGISTER replaces it: one per nickname, shorter or longer. */
	assert_int_equal(lh_store_registration_set(s, "mother", T0 + 60), 0);
	assert_int_equal(lh_store_registration_get(s, "mother", &expires), 0);
	assert_int_equal(expires, T0 + 60);
	assert_int_equal(lh_store_registration_set(s, "father", T0 + 120), 0);
	assert_int_equal(lh_store_registration_set(s, "sister", T0 + 180), 0);
	assert_int_equal(lh_store_registration_count(s, &count), 0);
	assert_int_equal(count, 3);
	/* Expiry: expires_unix <= now goes; the accounts stay. */
	assert_int_equal(lh_store_registrations_expire(s, T0 + 59), 0);
	assert_int_equal(lh_store_registrations_expire(s, T0 + 120), 2);
	assert_int_equal(lh_store_registration_get(s, "mother", NULL), -ENOENT);
	assert_int_equal(lh_store_registration_get(s, "father", NULL), -ENOENT);
	assert_int_equal(lh_store_registration_get(s, "sister", &expires), 0);
	assert_int_equal(expires, T0 + 180);
	assert_int_equal(lh_store_account_get(s, "mother", NULL, NULL), 0);
	/* An un-REGISTER (Expires: 0) deletes it. */
	assert_int_equal(lh_store_registration_delete(s, "sister"), 0);
	assert_int_equal(lh_store_registration_delete(s, "sister"), -ENOENT);
	assert_int_equal(lh_store_registration_count(s, &count), 0);
	assert_int_equal(count, 0);
	/* Times above INT64_MAX are refused; INT64_MAX itself is fine. */
	assert_int_equal(lh_store_registration_set(s, "mother", 1ull << 63), -ERANGE);
	assert_int_equal(lh_store_registrations_expire(s, 1ull << 63), -ERANGE);
	assert_int_equal(lh_store_registration_set(s, "mother", INT64_MAX), 0);
	lh_store_close(s);
	/* Registrations survive a restart, and hold nothing but the expiry. */
	char text[128];
	raw_query(f->lh_path,
		  "SELECT group_concat(name, ',') FROM pragma_table_info('registrations')", text,
		  sizeof(text));
	assert_string_equal(text, "nickname,expires_unix");
	s = open_lh(f);
	assert_int_equal(lh_store_registration_get(s, "mother", &expires), 0);
	assert_true(expires == INT64_MAX);
	lh_store_close(s);
}

static void expect_failures(struct lh_store *s, const char *nickname, uint64_t now,
			    unsigned expected)
{
	unsigned got = 99;
	assert_int_equal(lh_store_auth_failures(s, nickname, now, &got), 0);
	assert_int_equal(got, expected);
}

static void test_lh_auth_failures(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	const uint64_t w = LH_STORE_AUTH_WINDOW_S;
	unsigned n = 0;
	assert_int_equal(w, 900);
	/* Unknown nicknames are not tracked. */
	assert_int_equal(lh_store_auth_failure(s, "mother", T0, &n), -ENOENT);
	assert_int_equal(lh_store_auth_failures(s, "mother", T0, &n), -ENOENT);
	assert_int_equal(lh_store_auth_reset(s, "mother"), -ENOENT);
	add_account(s, "mother", 1);
	add_account(s, "father", 2);
	expect_failures(s, "mother", T0, 0);
	assert_int_equal(lh_store_auth_reset(s, "mother"), 0);
	/* Each failure counts, this one included. */
	for (unsigned i = 1; i <= 5; i++) {
		assert_int_equal(lh_store_auth_failure(s, "mother", T0 + i, &n), 0);
		assert_int_equal(n, i);
	}
	assert_int_equal(lh_store_auth_failure(s, "mother", T0 + 6, NULL), 0);
	expect_failures(s, "mother", T0 + 6, 6);
	/* Reading changes nothing. */
	expect_failures(s, "mother", T0 + 6, 6);
	/* Per account. */
	expect_failures(s, "father", T0 + 6, 0);
	assert_int_equal(lh_store_auth_failure(s, "father", T0 + 6, &n), 0);
	assert_int_equal(n, 1);
	/* The window opened at T0 + 1: it still counts at its last second... */
	expect_failures(s, "mother", T0 + w, 6);
	/* ...and is over after it: a new failure opens a new window. */
	expect_failures(s, "mother", T0 + 1 + w, 0);
	assert_int_equal(lh_store_auth_failure(s, "mother", T0 + 1 + w, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(lh_store_auth_failure(s, "mother", T0 + 2 * w, &n), 0);
	assert_int_equal(n, 2);
	/* A success forgets them. */
	assert_int_equal(lh_store_auth_reset(s, "mother"), 0);
	expect_failures(s, "mother", T0 + 2 * w, 0);
	assert_int_equal(lh_store_auth_failure(s, "mother", T0 + 2 * w, &n), 0);
	assert_int_equal(n, 1);
	expect_failures(s, "father", T0 + 2 * w, 0);
	lh_store_close(s);
	/* The count survives a restart: a lighthouse restart is no way round
	 * the throttle. */
	s = open_lh(f);
	expect_failures(s, "mother", T0 + 2 * w, 1);
	assert_int_equal(lh_store_auth_failure(s, "mother", T0 + 2 * w + 1, &n), 0);
	assert_int_equal(n, 2);
	/* A clock set back keeps counting, and the window then runs from the
	 * earlier time, not from a start far in the future. */
	const uint64_t back = T0 - 86400;
	assert_int_equal(lh_store_auth_failure(s, "mother", back, &n), 0);
	assert_int_equal(n, 3);
	expect_failures(s, "mother", back + w - 1, 3);
	expect_failures(s, "mother", back + w, 0);
	assert_int_equal(lh_store_auth_failure(s, "mother", 1ull << 63, &n), -ERANGE);
	assert_int_equal(lh_store_auth_failures(s, "mother", 1ull << 63, &n), -ERANGE);
	lh_store_close(s);
}

struct seen_account {
	char nickname[64];
	uint64_t created, registered_until;
	int has_password;
};

struct account_log {
	struct seen_account rows[8];
	int n;
	int stop_after;
};

static int log_account(void *ctx, const char *nickname, uint64_t created_unix, int has_password,
		       uint64_t registered_until)
{
	struct account_log *log = ctx;
	if (log->n >= 8)
		return -1;
	struct seen_account *a = &log->rows[log->n++];
	snprintf(a->nickname, sizeof(a->nickname), "%s", nickname);
	a->created = created_unix;
	a->has_password = has_password;
	a->registered_until = registered_until;
	return log->n == log->stop_after ? 42 : 0;
}

static void test_lh_accounts_foreach(void **state)
{
	struct fixture *f = *state;
	struct lh_store *s = open_lh(f);
	struct account_log log = {.stop_after = 0};
	assert_int_equal(lh_store_accounts_foreach(s, log_account, &log), 0);
	assert_int_equal(log.n, 0);
	uint8_t md5[16], sha[32];
	ha1_of(md5, 16, 1);
	ha1_of(sha, 32, 2);
	add_account(s, "zed", 1);
	add_account(s, "amy", 2);
	add_account(s, "max", 3);
	assert_int_equal(lh_store_password_set(s, "amy", md5, sha, 0), 0);
	assert_int_equal(lh_store_password_set(s, "zed", NULL, sha, 0), 0);
	assert_int_equal(lh_store_registration_set(s, "zed", T0 + 500), 0);
	assert_int_equal(lh_store_accounts_foreach(s, log_account, &log), 0);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.rows[0].nickname, "amy");
	assert_int_equal(log.rows[0].created, T0 + 2);
	assert_int_equal(log.rows[0].has_password, 1);
	assert_int_equal(log.rows[0].registered_until, 0);
	assert_string_equal(log.rows[1].nickname, "max");
	assert_int_equal(log.rows[1].has_password, 0);
	assert_int_equal(log.rows[1].registered_until, 0);
	assert_string_equal(log.rows[2].nickname, "zed");
	assert_int_equal(log.rows[2].has_password, 1);
	assert_int_equal(log.rows[2].registered_until, T0 + 500);
	/* fn's non-zero answer stops the walk and comes back, and the store
	 * is usable at once. */
	memset(&log, 0, sizeof(log));
	log.stop_after = 1;
	assert_int_equal(lh_store_accounts_foreach(s, log_account, &log), 42);
	assert_int_equal(log.n, 1);
	add_account(s, "bob", 4);
	memset(&log, 0, sizeof(log));
	assert_int_equal(lh_store_accounts_foreach(s, log_account, &log), 0);
	assert_int_equal(log.n, 4);
	assert_string_equal(log.rows[1].nickname, "bob");
	assert_int_equal(lh_store_accounts_foreach(s, NULL, NULL), -EINVAL);
	lh_store_close(s);
}

/* The version-1 schema exactly as it shipped (lighthouse/store.c, step 0),
 * to make the files that are in the field. */
static const char lh_schema_v1[] =
    "CREATE TABLE accounts ("
    " nickname TEXT PRIMARY KEY NOT NULL,"
    " sign_public BLOB NOT NULL CHECK (typeof(sign_public) = 'blob' AND length(sign_public) = 32),"
    " created_unix INTEGER NOT NULL,"
    " ha1_md5 BLOB CHECK (ha1_md5 IS NULL OR length(ha1_md5) = 16),"
    " ha1_sha256 BLOB CHECK (ha1_sha256 IS NULL OR length(ha1_sha256) = 32));"
    "CREATE TABLE certificates ("
    " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
    " certificate BLOB NOT NULL CHECK (typeof(certificate) = 'blob'),"
    " expires_unix INTEGER NOT NULL);"
    "CREATE TABLE bindings ("
    " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
    " circuit INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " expires_unix INTEGER NOT NULL,"
    " live INTEGER NOT NULL CHECK (live IN (0, 1)));"
    "CREATE INDEX bindings_by_circuit ON bindings (circuit);"
    "CREATE INDEX bindings_by_expiry ON bindings (expires_unix);";

/* A version-1 file, as a lighthouse of the previous release left it (WAL,
 * mode 0600, with accounts, a certificate and a binding), opens: it is
 * migrated to the current version in place and keeps everything. */
static void test_lh_migrates_version_1(void **state)
{
	struct fixture *f = *state;
	char sql[4096];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode = WAL; BEGIN; %s"
		 " PRAGMA application_id = 1095650376; PRAGMA user_version = 1;"
		 " INSERT INTO accounts (nickname, sign_public, created_unix)"
		 "  VALUES ('mother', zeroblob(32), %llu), ('father', randomblob(32), %llu);"
		 " INSERT INTO certificates VALUES ('mother', x'010203', %llu);"
		 " INSERT INTO bindings VALUES ('mother', -1, 7, %llu, 1);"
		 " COMMIT",
		 lh_schema_v1, T0, T0 + 1, T0 + 86400, T0 + 3600);
	/* Made 0600 as the store made it, before SQLite writes to it. */
	assert_int_equal(helper_write(f->dir, "lighthouse.db", "", 0, 0600, NULL, 0), 0);
	raw_exec(f->lh_path, sql);
	char text[64];
	raw_query(f->lh_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, "1");
	assert_int_equal(file_mode(f->lh_path), 0600);

	struct lh_store *s = open_lh(f);
	assert_int_equal(file_mode(f->lh_path), 0600);
	/* Everything version 1 held is there. */
	uint8_t key[32], zero[32] = {0};
	uint64_t created = 0, circuit = 0, epoch = 0, expires = 0, count = 0;
	int live = 0;
	assert_int_equal(lh_store_account_get(s, "mother", key, &created), 0);
	assert_memory_equal(key, zero, 32);
	assert_int_equal(created, T0);
	assert_int_equal(lh_store_account_count(s, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(lh_store_certificate_get(s, "mother", NULL, NULL, &expires), 0);
	assert_int_equal(expires, T0 + 86400);
	assert_int_equal(lh_store_binding_get(s, "mother", &circuit, &epoch, &expires, &live), 0);
	assert_true(circuit == 0xffffffffffffffffull);
	assert_int_equal(epoch, 7);
	assert_int_equal(live, 1);
	/* The accounts have no password yet, and the new tables work. */
	int has_md5 = -1, has_sha = -1;
	assert_int_equal(lh_store_password_get(s, "mother", NULL, &has_md5, NULL, &has_sha), 0);
	assert_int_equal(has_md5 + has_sha, 0);
	uint8_t md5[16], sha[32];
	ha1_of(md5, 16, 5);
	ha1_of(sha, 32, 6);
	assert_int_equal(lh_store_password_set(s, "mother", md5, sha, 1), 0);
	assert_int_equal(lh_store_registration_set(s, "mother", T0 + 60), 0);
	unsigned n = 0;
	assert_int_equal(lh_store_auth_failure(s, "father", T0, &n), 0);
	assert_int_equal(n, 1);
	/* The new tables follow the accounts: a delete takes all. */
	assert_int_equal(lh_store_account_delete(s, "mother"), 0);
	assert_int_equal(lh_store_registration_count(s, &count), 0);
	assert_int_equal(count, 0);
	lh_store_close(s);
	check_file_is_ours(f->lh_path, "1095650376", LH_STORE_SCHEMA_VERSION);
	assert_int_equal(LH_STORE_SCHEMA_VERSION, 2);
	/* Opening again migrates nothing more and keeps the rest. */
	s = open_lh(f);
	expect_failures(s, "father", T0, 1);
	lh_store_close(s);
	assert_int_equal(file_mode(f->lh_path), 0600);
}

/* A version-1 file left open to others is migrated and tightened too. */
static void test_lh_migrates_version_1_loose_mode(void **state)
{
	struct fixture *f = *state;
	char sql[4096];
	snprintf(sql, sizeof(sql),
		 "BEGIN; %s PRAGMA application_id = 1095650376; PRAGMA user_version = 1; COMMIT",
		 lh_schema_v1);
	raw_exec(f->lh_path, sql);
	assert_int_equal(chmod(f->lh_path, 0644), 0);
	lh_store_close(open_lh(f));
	check_file_is_ours(f->lh_path, "1095650376", LH_STORE_SCHEMA_VERSION);
}

/* --- lookup --- */

static void test_lookup_claim(void **state)
{
	struct fixture *f = *state;
	struct lookup_store *s = open_lookup(f);
	char holder[LOOKUP_STORE_ID_LEN] = "", where[LOOKUP_STORE_ID_LEN] = "";
	assert_int_equal(lookup_store_get(s, "mother", where), -ENOENT);
	/* Free: homed here. */
	assert_int_equal(lookup_store_claim(s, "mother", "lh-a", T0, holder), 0);
	assert_string_equal(holder, "");
	assert_int_equal(lookup_store_get(s, "mother", where), 0);
	assert_string_equal(where, "lh-a");
	/* The same lighthouse again (a re-registration): still fine. */
	assert_int_equal(lookup_store_claim(s, "mother", "lh-a", T0 + 10, holder), 0);
	/* Another lighthouse: refused, told who holds it, nothing changes. */
	assert_int_equal(lookup_store_claim(s, "mother", "lh-b", T0 + 20, holder), -EEXIST);
	assert_string_equal(holder, "lh-a");
	assert_int_equal(lookup_store_claim(s, "mother", "lh-b", T0 + 20, NULL), -EEXIST);
	assert_int_equal(lookup_store_get(s, "mother", where), 0);
	assert_string_equal(where, "lh-a");
	assert_int_equal(lookup_store_get(s, "mother", NULL), 0);
	/* Other nicknames are free for lh-b. */
	assert_int_equal(lookup_store_claim(s, "father", "lh-b", T0, holder), 0);
	/* A longest-id lighthouse fits holder exactly. */
	static const char long_id[] = "lighthouse-0123456789abcdefghij";
	assert_int_equal(strlen(long_id), LOOKUP_STORE_ID_LEN - 1);
	assert_int_equal(lookup_store_claim(s, "sister", long_id, T0, holder), 0);
	assert_int_equal(lookup_store_claim(s, "sister", "lh-a", T0, holder), -EEXIST);
	assert_string_equal(holder, long_id);
	assert_int_equal(lookup_store_claim(s, "mother", "lh-a", 1ull << 63, holder), -ERANGE);
	lookup_store_close(s);
}

struct home_log {
	char rows[8][128];
	int n;
};

static int log_home(void *ctx, const char *nickname, const char *lighthouse, uint64_t updated_unix)
{
	struct home_log *log = ctx;
	if (log->n >= 8)
		return -1;
	snprintf(log->rows[log->n++], sizeof(log->rows[0]), "%s %s %llu", nickname, lighthouse,
		 (unsigned long long)updated_unix);
	return 0;
}

static void test_lookup_release_count_foreach(void **state)
{
	struct fixture *f = *state;
	struct lookup_store *s = open_lookup(f);
	uint64_t count = 99;
	assert_int_equal(lookup_store_count(s, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(lookup_store_claim(s, "mother", "lh-a", T0, NULL), 0);
	assert_int_equal(lookup_store_claim(s, "father", "lh-b", T0 + 1, NULL), 0);
	assert_int_equal(lookup_store_claim(s, "mother", "lh-a", T0 + 5, NULL), 0);
	assert_int_equal(lookup_store_count(s, &count), 0);
	assert_int_equal(count, 2);
	struct home_log log = {.n = 0};
	assert_int_equal(lookup_store_foreach(s, log_home, &log), 0);
	assert_int_equal(log.n, 2);
	assert_string_equal(log.rows[0], "father lh-b 1700000001");
	/* A re-claim by the holder refreshed the time. */
	assert_string_equal(log.rows[1], "mother lh-a 1700000005");
	/* Only the holder may release. */
	assert_int_equal(lookup_store_release(s, "mother", "lh-b"), -EPERM);
	assert_int_equal(lookup_store_get(s, "mother", NULL), 0);
	assert_int_equal(lookup_store_release(s, "mother", "lh-a"), 0);
	assert_int_equal(lookup_store_release(s, "mother", "lh-a"), -ENOENT);
	assert_int_equal(lookup_store_get(s, "mother", NULL), -ENOENT);
	assert_int_equal(lookup_store_count(s, &count), 0);
	assert_int_equal(count, 1);
	/* Released, it is free for anyone. */
	char holder[LOOKUP_STORE_ID_LEN];
	assert_int_equal(lookup_store_claim(s, "mother", "lh-b", T0 + 9, holder), 0);
	lookup_store_close(s);
	/* Everything survives a restart. */
	s = open_lookup(f);
	memset(&log, 0, sizeof(log));
	assert_int_equal(lookup_store_foreach(s, log_home, &log), 0);
	assert_int_equal(log.n, 2);
	assert_string_equal(log.rows[0], "father lh-b 1700000001");
	assert_string_equal(log.rows[1], "mother lh-b 1700000009");
	assert_int_equal(lookup_store_foreach(s, NULL, NULL), -EINVAL);
	lookup_store_close(s);
}

static void test_lookup_invalid_input(void **state)
{
	struct fixture *f = *state;
	struct lookup_store *s = open_lookup(f);
	char too_long_nickname[65], too_long_id[33];
	memset(too_long_nickname, 'a', 64);
	too_long_nickname[64] = 0;
	memset(too_long_id, 'a', 32);
	too_long_id[32] = 0;
	const char *bad_nicknames[] = {"",  "Mother", "mo ther", "m\xc3\xb6ther", too_long_nickname,
				       NULL};
	const char *bad_ids[] = {"", "LH", "lh a", "lh/1", too_long_id, NULL};
	for (size_t i = 0; i < sizeof(bad_nicknames) / sizeof(bad_nicknames[0]); i++) {
		assert_int_equal(lookup_store_claim(s, bad_nicknames[i], "lh-a", T0, NULL),
				 -EINVAL);
		assert_int_equal(lookup_store_get(s, bad_nicknames[i], NULL), -EINVAL);
		assert_int_equal(lookup_store_release(s, bad_nicknames[i], "lh-a"), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		assert_int_equal(lookup_store_claim(s, "mother", bad_ids[i], T0, NULL), -EINVAL);
		assert_int_equal(lookup_store_release(s, "mother", bad_ids[i]), -EINVAL);
	}
	uint64_t count = 99;
	assert_int_equal(lookup_store_count(s, &count), 0);
	assert_int_equal(count, 0);
	lookup_store_close(s);
}

/* Two lighthouses (here two processes, each with its own connection)
 * claim the same free nicknames, one from each end of the list so that
 * they meet in the middle; both open their store first and start together.
 * Every nickname has exactly one winner, and the loser is told the
 * winner's id. */
#define RACE_NICKNAMES 400

static int claim_all(struct lookup_store *s, const char *self, const char *other, int descending,
		     uint8_t won[RACE_NICKNAMES])
{
	char nickname[32], holder[LOOKUP_STORE_ID_LEN];
	for (int k = 0; k < RACE_NICKNAMES; k++) {
		int i = descending ? RACE_NICKNAMES - 1 - k : k;
		snprintf(nickname, sizeof(nickname), "user-%03d", i);
		/* A pause between claims lets the other side in: SQLite's busy
		 * handler sleeps, and a writer that never pauses starves it. */
		nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
		int rc = lookup_store_claim(s, nickname, self, T0, holder);
		if (rc == 0)
			won[i] = 1;
		else if (rc != -EEXIST || strcmp(holder, other) != 0)
			return -1;
	}
	return 0;
}

/* The child: open, say ready, wait for the start, claim, send what it won. */
static int race_child(const char *path, int ready_fd, int go_fd)
{
	struct lookup_store *s = NULL;
	char err[256], byte = 0;
	uint8_t won[RACE_NICKNAMES] = {0};
	if (lookup_store_open(path, &s, err, sizeof(err)) != 0)
		return 1;
	int rc = write(ready_fd, "r", 1) == 1 && read(go_fd, &byte, 1) == 1 ? 0 : -1;
	if (rc == 0)
		rc = claim_all(s, "lh-child", "lh-parent", 1, won);
	lookup_store_close(s);
	if (rc == 0 && write(ready_fd, won, sizeof(won)) != (ssize_t)sizeof(won))
		rc = -1;
	return rc == 0 ? 0 : 1;
}

static void test_lookup_claim_race(void **state)
{
	struct fixture *f = *state;
	lookup_store_close(open_lookup(f));
	int to_parent[2], to_child[2];
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(to_parent[0]);
		close(to_child[1]);
		_exit(race_child(f->lookup_path, to_parent[1], to_child[0]));
	}
	close(to_parent[1]);
	close(to_child[0]);
	uint8_t parent_won[RACE_NICKNAMES] = {0}, child_won[RACE_NICKNAMES] = {0};
	struct lookup_store *s = open_lookup(f);
	char byte = 0;
	int rc = -1;
	if (read(to_parent[0], &byte, 1) == 1 && write(to_child[1], "g", 1) == 1)
		rc = claim_all(s, "lh-parent", "lh-child", 0, parent_won);
	ssize_t got = 0, n;
	while (got < (ssize_t)sizeof(child_won) &&
	       (n = read(to_parent[0], child_won + got, sizeof(child_won) - got)) > 0)
		got += n;
	close(to_parent[0]);
	close(to_child[1]);
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(rc, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, sizeof(child_won));
	char nickname[32], where[LOOKUP_STORE_ID_LEN];
	for (int i = 0; i < RACE_NICKNAMES; i++) {
		assert_int_equal(parent_won[i] + child_won[i], 1);
		snprintf(nickname, sizeof(nickname), "user-%03d", i);
		assert_int_equal(lookup_store_get(s, nickname, where), 0);
		assert_string_equal(where, parent_won[i] ? "lh-parent" : "lh-child");
	}
	uint64_t count = 0;
	assert_int_equal(lookup_store_count(s, &count), 0);
	assert_int_equal(count, RACE_NICKNAMES);
	lookup_store_close(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_open_creates_0600_wal_current_version, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_tightens_loose_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_refuses_newer_version, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_refuses_other_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_accounts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_account_delete_cascades, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_certificates, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_bindings_set_get_replace, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_handles_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_mark_stale_circuit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_restart_marks_old_bindings_stale, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_bindings_expire, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_bindings_foreach, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_invalid_nicknames, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_passwords, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_password_wrong_length_is_eio, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_registrations, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_auth_failures, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_accounts_foreach, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_migrates_version_1, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lh_migrates_version_1_loose_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lookup_claim, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lookup_release_count_foreach, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lookup_invalid_input, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lookup_claim_race, setup, teardown),
};

int test_store_suite(void)
{
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

int test_store_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
