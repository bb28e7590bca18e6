/* keys: key files and their permissions; util: hex and address parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "keys/keys.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Each test gets a fresh scratch directory and a saved key pair in it. */
struct fixture {
	char dir[64];
	char prefix[4000];
	char key_path[4096];
	char pub_path[4096];
	struct keys_pair keys;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || helper_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	helper_path(f->dir, "node", f->prefix, sizeof(f->prefix));
	snprintf(f->key_path, sizeof(f->key_path), "%s.key", f->prefix);
	snprintf(f->pub_path, sizeof(f->pub_path), "%s.pub", f->prefix);
	if (keys_generate(&f->keys) != 0 || keys_save(f->prefix, &f->keys) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	helper_rmdir(f->dir);
	keys_wipe(&f->keys);
	free(f);
	return 0;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_save_modes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(file_mode(f->key_path), 0600);
	assert_int_equal(file_mode(f->pub_path), 0644);
}

static void test_save_ignores_umask(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	int rc = keys_save(f->prefix, &f->keys);
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(file_mode(f->key_path), 0600);
	old = umask(0777);
	rc = keys_save(f->prefix, &f->keys);
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(file_mode(f->key_path), 0600);
	assert_int_equal(file_mode(f->pub_path), 0644);
}

static void test_secret_round_trip(void **state)
{
	struct fixture *f = *state;
	struct keys_pair k;
	memset(&k, 0xAA, sizeof(k));
	assert_int_equal(keys_load_secret(f->key_path, &k), 0);
	assert_memory_equal(&k.pub, &f->keys.pub, sizeof(k.pub));
	assert_memory_equal(k.sign_secret, f->keys.sign_secret, sizeof(k.sign_secret));
	assert_memory_equal(k.kx_secret, f->keys.kx_secret, sizeof(k.kx_secret));
	keys_wipe(&k);
	static const uint8_t zero[sizeof(k)];
	assert_memory_equal(&k, zero, sizeof(k));
}

static void test_generate_differs(void **state)
{
	(void)state;
	struct keys_pair a, b;
	assert_int_equal(keys_generate(&a), 0);
	assert_int_equal(keys_generate(&b), 0);
	assert_memory_not_equal(a.pub.sign, b.pub.sign, sizeof(a.pub.sign));
	assert_memory_not_equal(a.pub.kx, b.pub.kx, sizeof(a.pub.kx));
	keys_wipe(&a);
	keys_wipe(&b);
}

static void test_secret_readable_by_others_refused(void **state)
{
	struct fixture *f = *state;
	struct keys_pair k;
	static const unsigned modes[] = {0644, 0640, 0604, 0601, 0610, 0700 | 0040};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(f->key_path, modes[i]), 0);
		assert_int_equal(keys_load_secret(f->key_path, &k), -EPERM);
	}
	assert_int_equal(chmod(f->key_path, 0400), 0);
	assert_int_equal(keys_load_secret(f->key_path, &k), 0);
	keys_wipe(&k);
}

static void expect_secret_invalid(struct fixture *f, const void *data, size_t len)
{
	char path[4096];
	struct keys_pair k;
	assert_int_equal(helper_write(f->dir, "bad.key", data, len, 0600, path, sizeof(path)), 0);
	assert_int_equal(keys_load_secret(path, &k), -EINVAL);
}

static void test_secret_bad_files_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *good;
	size_t len;
	assert_int_equal(util_read_file(f->key_path, 4096, &good, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		expect_secret_invalid(f, good, cut);
	/* One byte too long. */
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, good, len);
	longer[len] = 0;
	expect_secret_invalid(f, longer, len + 1);
	/* Right length, wrong magic. */
	memcpy(longer, good, len);
	longer[0] ^= 1;
	expect_secret_invalid(f, longer, len);
	uint8_t garbage[256];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	expect_secret_invalid(f, garbage, len);
	expect_secret_invalid(f, garbage, sizeof(garbage));
	/* The public file is not a secret file. */
	assert_int_equal(chmod(f->pub_path, 0600), 0);
	struct keys_pair k;
	assert_int_equal(keys_load_secret(f->pub_path, &k), -EINVAL);
	free(longer);
	free(good);
}

static void test_secret_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct keys_pair k;
	helper_path(f->dir, "none.key", path, sizeof(path));
	assert_int_equal(keys_load_secret(path, &k), -ENOENT);
	/* A directory is not a key file. */
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(keys_load_secret(f->dir, &k), -EINVAL);
}

static void test_public_round_trip(void **state)
{
	struct fixture *f = *state;
	struct keys_public pub;
	memset(&pub, 0, sizeof(pub));
	assert_int_equal(keys_load_public(f->pub_path, &pub), 0);
	assert_memory_equal(&pub, &f->keys.pub, sizeof(pub));
	/* The text is what keys_public_text makes. */
	char text[KEYS_PUBLIC_TEXT_MAX];
	keys_public_text(&f->keys.pub, text);
	uint8_t *file;
	size_t len;
	assert_int_equal(util_read_file(f->pub_path, 4096, &file, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(file, text, len);
	free(file);
}

static void expect_public_invalid(struct fixture *f, const char *text)
{
	char path[4096];
	struct keys_public pub;
	assert_int_equal(
	    helper_write(f->dir, "bad.pub", text, strlen(text), 0644, path, sizeof(path)), 0);
	assert_int_equal(keys_load_public(path, &pub), -EINVAL);
}

static void test_public_bad_files_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const hex64 =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char text[512];
	expect_public_invalid(f, "");
	snprintf(text, sizeof(text), "[keys]\nsign_public = %s\n", hex64);
	expect_public_invalid(f, text); /* no kx_public */
	snprintf(text, sizeof(text), "[keys]\nsign_public = %s\nkx_public = %.62s\n", hex64, hex64);
	expect_public_invalid(f, text); /* short key */
	snprintf(text, sizeof(text), "[keys]\nsign_public = %s\nkx_public = %.63sg\n", hex64,
		 hex64);
	expect_public_invalid(f, text); /* not hex */
	snprintf(text, sizeof(text), "[other]\nsign_public = %s\nkx_public = %s\n", hex64, hex64);
	expect_public_invalid(f, text); /* wrong section */
	struct keys_public pub;
	char path[4096];
	helper_path(f->dir, "none.pub", path, sizeof(path));
	assert_int_equal(keys_load_public(path, &pub), -ENOENT);
}

static void test_hex(void **state)
{
	(void)state;
	static const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xff, 0x7e};
	char text[2 * sizeof(bytes) + 1];
	util_hex_encode(bytes, sizeof(bytes), text);
	assert_string_equal(text, "0001abff7e");
	uint8_t out[5];
	assert_int_equal(util_hex_decode("0001ABff7e", out, sizeof(out)), 0);
	assert_memory_equal(out, bytes, sizeof(bytes));
	assert_int_equal(util_hex_decode("", out, 0), 0);
	assert_int_equal(util_hex_decode("0001abff7", out, sizeof(out)), -EINVAL);    /* odd */
	assert_int_equal(util_hex_decode("0001abff7e0", out, sizeof(out)), -EINVAL);  /* odd */
	assert_int_equal(util_hex_decode("0001abff", out, sizeof(out)), -EINVAL);     /* short */
	assert_int_equal(util_hex_decode("0001abff7e00", out, sizeof(out)), -EINVAL); /* long */
	assert_int_equal(util_hex_decode("0001abfg7e", out, sizeof(out)), -EINVAL);
	assert_int_equal(util_hex_decode("0x01abff7e", out, sizeof(out)), -EINVAL);
	assert_int_equal(util_hex_decode(" 001abff7e", out, sizeof(out)), -EINVAL);
	assert_int_equal(util_hex_decode("0001abff7-", out, sizeof(out)), -EINVAL);
}

static void test_parse_address_accepts(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	assert_int_equal(util_parse_address("127.0.0.1:7000", &ss), 0);
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	assert_int_equal(v4->sin_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 7000);
	assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(util_parse_address("[::1]:9", &ss), 0);
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
	assert_int_equal(v6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 9);
	assert_memory_equal(&v6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback));

	assert_int_equal(util_parse_address("0.0.0.0:65535", &ss), 0);
	assert_int_equal(util_parse_address("[2001:db8::7]:1", &ss), 0);
}

static void test_parse_address_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "1.2.3.4",	    ":80",	  "1.2.3.4:0",	    "1.2.3.4:70000", "host:80",
	    "1.2.3.4:",	    "1.2.3.4:-1", "1.2.3.4:80a",    "[::1]",	     "[::1]:",
	    "[::1:80",	    "::1]:80",	  "[1.2.3.4]:80x",  "1.2.3:80",	     "",
	    "256.1.1.1:80", "[]:80",	  "[localhost]:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;
		if (util_parse_address(bad[i], &ss) != -EINVAL)
			fail_msg("util_parse_address accepted \"%s\"", bad[i]);
	}
}

static void test_id_valid(void **state)
{
	(void)state;
	assert_true(util_id_valid("a"));
	assert_true(util_id_valid("node-1.portal_x"));
	assert_true(util_id_valid("0123456789012345678901234567890")); /* 31 */
	assert_false(util_id_valid(""));
	assert_false(util_id_valid("01234567890123456789012345678901")); /* 32 */
	assert_false(util_id_valid("A"));
	assert_false(util_id_valid("a b"));
	assert_false(util_id_valid("a/b"));
}

static void test_log_ratelimit(void **state)
{
	(void)state;
	struct log_ratelimit rl = {.burst = 3};
	assert_true(log_ratelimit_ok(&rl));
	assert_true(log_ratelimit_ok(&rl));
	assert_true(log_ratelimit_ok(&rl));
	assert_false(log_ratelimit_ok(&rl));
	assert_false(log_ratelimit_ok(&rl));
	assert_int_equal(rl.suppressed, 2);
	enum log_level level = LOG_ERROR;
	assert_int_equal(log_level_parse("debug", &level), 0);
	assert_int_equal(level, LOG_DEBUG);
	assert_int_equal(log_level_parse("loud", &level), -EINVAL);
}

static void test_write_file_is_exact_and_atomic(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	helper_path(f->dir, "data", path, sizeof(path));
	assert_int_equal(util_write_file(path, "hello", 5, 0640), 0);
	assert_int_equal(file_mode(path), 0640);
	uint8_t *buf;
	size_t len;
	assert_int_equal(util_read_file(path, 5, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(buf[5], 0);
	free(buf);
	assert_int_equal(util_read_file(path, 4, &buf, &len), -EFBIG);
	assert_int_equal(util_read_file(f->dir, 1 << 20, &buf, &len), -EINVAL);
	assert_int_equal(util_write_file(path, "", 0, 0600), 0);
	assert_int_equal(util_read_file(path, 4, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_save_modes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_save_ignores_umask, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_round_trip, setup, teardown),
    cmocka_unit_test(test_generate_differs),
    cmocka_unit_test_setup_teardown(test_secret_readable_by_others_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_bad_files_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_missing_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_public_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_public_bad_files_refused, setup, teardown),
    cmocka_unit_test(test_hex),
    cmocka_unit_test(test_parse_address_accepts),
    cmocka_unit_test(test_parse_address_rejects),
    cmocka_unit_test(test_id_valid),
    cmocka_unit_test(test_log_ratelimit),
    cmocka_unit_test_setup_teardown(test_write_file_is_exact_and_atomic, setup, teardown),
};

int test_keys_suite(void)
{
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}

int test_keys_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
