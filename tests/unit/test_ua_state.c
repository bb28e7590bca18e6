/* ua/state.c: the softphone's registration kept in the ua's state file. */
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "ua/ua_sip.h"

#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	char path[128];
	struct ua_state *s;
};

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	if (helper_tmpdir(f.dir, sizeof(f.dir)) < 0)
		return -1;
	helper_path(f.dir, "ua.db", f.path, sizeof(f.path));
	char err[256];
	if (ua_state_open(f.path, &f.s, err, sizeof(err)) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ua_state_close(f->s);
	helper_rmdir(f->dir);
	return 0;
}

#define CONTACT "<sip:alice@127.0.0.1:5062;transport=tcp>;expires=3600"

static void test_set_get_clear(void **state)
{
	struct fixture *f = *state;
	char contact[512], source[64];
	int tcp = -1;
	uint64_t expires = 0;
	assert_int_equal(ua_state_contact_get(f->s, 100, contact, sizeof(contact), &tcp, source,
					      sizeof(source), &expires),
			 -ENOENT);
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 1, "127.0.0.1:40001", 5000), 0);
	assert_int_equal(ua_state_contact_get(f->s, 100, contact, sizeof(contact), &tcp, source,
					      sizeof(source), &expires),
			 0);
	assert_string_equal(contact, CONTACT);
	assert_string_equal(source, "127.0.0.1:40001");
	assert_int_equal(tcp, 1);
	assert_int_equal(expires, 5000);

	/* A new registration replaces the old: still one row. */
	assert_int_equal(
	    ua_state_contact_set(f->s, "<sip:alice@[::1]:5060>", 0, "[::1]:5060", 7000), 0);
	assert_int_equal(ua_state_contact_get(f->s, 100, contact, sizeof(contact), &tcp, source,
					      sizeof(source), &expires),
			 0);
	assert_string_equal(contact, "<sip:alice@[::1]:5060>");
	assert_string_equal(source, "[::1]:5060");
	assert_int_equal(tcp, 0);
	assert_int_equal(expires, 7000);
	/* Outputs may be NULL. */
	assert_int_equal(ua_state_contact_get(f->s, 100, NULL, 0, NULL, NULL, 0, NULL), 0);

	assert_int_equal(ua_state_contact_clear(f->s), 0);
	assert_int_equal(ua_state_contact_get(f->s, 100, contact, sizeof(contact), &tcp, source,
					      sizeof(source), &expires),
			 -ENOENT);
	assert_int_equal(ua_state_contact_clear(f->s), 0);
}

static void test_expiry(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1:5060", 1000), 0);
	uint64_t expires = 0;
	assert_int_equal(ua_state_contact_get(f->s, 999, NULL, 0, NULL, NULL, 0, &expires), 0);
	assert_int_equal(expires, 1000);
	assert_int_equal(ua_state_contact_get(f->s, 1000, NULL, 0, NULL, NULL, 0, NULL), -ENOENT);
	assert_int_equal(ua_state_contact_get(f->s, 5000, NULL, 0, NULL, NULL, 0, NULL), -ENOENT);
	/* Times beyond what SQLite compares as signed are refused. */
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1:5060", UINT64_MAX),
			 -ERANGE);
	assert_int_equal(
	    ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1:5060", (uint64_t)INT64_MAX), 0);
	assert_int_equal(ua_state_contact_get(f->s, UINT64_MAX - 1, NULL, 0, NULL, NULL, 0, NULL),
			 -ENOENT);
	assert_int_equal(ua_state_contact_get(f->s, 2000000000, NULL, 0, NULL, NULL, 0, &expires),
			 0);
	assert_int_equal(expires, (uint64_t)INT64_MAX);
}

static void test_reopen_keeps_and_mode(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 1, "10.0.0.2:5060", 9000), 0);
	ua_state_close(f->s);
	f->s = NULL;
	mode_t old = umask(0);
	char err[256];
	assert_int_equal(ua_state_open(f->path, &f->s, err, sizeof(err)), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char contact[512], source[64];
	int tcp = 0;
	assert_int_equal(ua_state_contact_get(f->s, 1, contact, sizeof(contact), &tcp, source,
					      sizeof(source), NULL),
			 0);
	assert_string_equal(contact, CONTACT);
	assert_string_equal(source, "10.0.0.2:5060");
	assert_int_equal(tcp, 1);
}

static void test_new_file_is_0600(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	helper_path(f->dir, "fresh.db", path, sizeof(path));
	mode_t old = umask(0);
	struct ua_state *s = NULL;
	assert_int_equal(ua_state_open(path, &s, err, sizeof(err)), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ua_state_close(s);
	ua_state_close(NULL);
}

static void test_refuses_bad_values(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1:5060", 1000), 0);
	const char *bad[] = {"", "<sip:a@b>\r\nX: y", "<sip:a@b>\n", "a\tb", "a\x7f", "a\x01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ua_state_contact_set(f->s, bad[i], 0, "127.0.0.1:5060", 2000),
				 -EINVAL);
	char longc[600];
	memset(longc, 'a', sizeof(longc));
	longc[512] = 0;
	assert_int_equal(ua_state_contact_set(f->s, longc, 0, "127.0.0.1:5060", 2000), -EINVAL);
	assert_int_equal(ua_state_contact_set(f->s, NULL, 0, "127.0.0.1:5060", 2000), -EINVAL);
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 2, "127.0.0.1:5060", 2000), -EINVAL);
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "localhost:5060", 2000), -EINVAL);
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1", 2000), -EINVAL);
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, NULL, 2000), -EINVAL);
	/* Nothing refused changed what was there. */
	uint64_t expires = 0;
	assert_int_equal(ua_state_contact_get(f->s, 1, NULL, 0, NULL, NULL, 0, &expires), 0);
	assert_int_equal(expires, 1000);

	/* 511 bytes is the most, and UTF-8 passes. */
	longc[511] = 0;
	assert_int_equal(ua_state_contact_set(f->s, longc, 0, "127.0.0.1:5060", 2000), 0);
	char contact[512], small[511];
	assert_int_equal(
	    ua_state_contact_get(f->s, 1, contact, sizeof(contact), NULL, NULL, 0, NULL), 0);
	assert_string_equal(contact, longc);
	assert_int_equal(ua_state_contact_get(f->s, 1, small, sizeof(small), NULL, NULL, 0, NULL),
			 -ENOSPC);
	assert_int_equal(
	    ua_state_contact_set(f->s, "\"J\xc3\xbcrg\" <sip:j@h>", 0, "127.0.0.1:5060", 2000), 0);
}

/* A file changed behind our back: what we would never have written is
 * refused on the way out. */
static void test_refuses_tampered_row(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ua_state_contact_set(f->s, CONTACT, 0, "127.0.0.1:5060", 1000), 0);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE registration SET contact = 'a' || char(10) || 'b'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ua_state_contact_get(f->s, 1, NULL, 0, NULL, NULL, 0, NULL), -EINVAL);
}

static void test_peer_keys_first_use(void **state)
{
	struct fixture *f = *state;
	uint8_t key[32], other[32];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	assert_int_equal(ua_state_peer_key(f->s, "father", key, 100), 0); /* first seen */
	assert_int_equal(ua_state_peer_key(f->s, "father", key, 200), 0); /* the same */
	assert_int_equal(ua_state_peer_key(f->s, "father", other, 300), -EKEYREJECTED);
	assert_int_equal(ua_state_peer_key(f->s, "mother", other, 300), 0); /* another peer */
	assert_int_equal(ua_state_peer_key(f->s, "NOT A NICK", key, 300), -EINVAL);
	/* Kept across a reopen. */
	char err[256];
	ua_state_close(f->s);
	assert_int_equal(ua_state_open(f->path, &f->s, err, sizeof(err)), 0);
	assert_int_equal(ua_state_peer_key(f->s, "father", other, 400), -EKEYREJECTED);
	assert_int_equal(ua_state_peer_key(f->s, "father", key, 400), 0);
}

static void test_refuses_other_files(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	struct ua_state *s = (void *)1;
	/* Another program's SQLite file. */
	helper_path(f->dir, "other.db", path, sizeof(path));
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ua_state_open(path, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "not a ua state database"));
	/* Not SQLite at all. */
	assert_int_equal(
	    helper_write(f->dir, "junk.db", "junk junk junk junk", 19, 0600, path, sizeof(path)),
	    0);
	assert_int_equal(ua_state_open(path, &s, err, sizeof(err)), -EINVAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_set_get_clear, setup, teardown),
    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reopen_keeps_and_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_new_file_is_0600, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuses_bad_values, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuses_tampered_row, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuses_other_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_peer_keys_first_use, setup, teardown),
};

int test_ua_state_suite(void)
{
	return cmocka_run_group_tests_name("ua_state", tests, NULL, NULL);
}

int test_ua_state_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
