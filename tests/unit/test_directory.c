/* topo: the signed directory and the INI topology description it is made
 * from. Every refusal must say what is wrong in one line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "directory.pb-c.h"
#include "keys/keys.h"
#include "node/node.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "topo/topo.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One authority and four nodes with real keys, shared by the group. */
struct fixture {
	struct keys_pair authority;
	struct keys_pair other_authority;
	struct keys_pair node_keys[4];
	struct topo_entry good[4];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || keys_generate(&f->authority) < 0 || keys_generate(&f->other_authority) < 0)
		return -1;
	static const char *const spec[4][4] = {
	    {"root", "127.0.0.1:7000", "", "lighthouse,iddir"},
	    {"a", "127.0.0.1:7001", "root", "portal"},
	    {"b", "[::1]:7002", "root", "lookup"},
	    {"a.1_x-y", "10.0.0.3:65535", "a", "lighthouse"},
	};
	for (int i = 0; i < 4; i++) {
		struct topo_entry *e = &f->good[i];
		if (keys_generate(&f->node_keys[i]) < 0)
			return -1;
		snprintf(e->id, sizeof(e->id), "%s", spec[i][0]);
		snprintf(e->address, sizeof(e->address), "%s", spec[i][1]);
		snprintf(e->parent, sizeof(e->parent), "%s", spec[i][2]);
		e->keys = f->node_keys[i].pub;
		char roles[64];
		snprintf(roles, sizeof(roles), "%s", spec[i][3]);
		char *save = NULL;
		for (char *r = strtok_r(roles, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
			unsigned role;
			if (topo_role_parse(r, &role) < 0)
				return -1;
			e->roles |= role;
		}
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	keys_wipe(&f->authority);
	keys_wipe(&f->other_authority);
	for (int i = 0; i < 4; i++)
		keys_wipe(&f->node_keys[i]);
	free(f);
	return 0;
}

static uint8_t *sign_or_fail(const struct fixture *f, const struct topo_entry *e, int n,
			     uint64_t serial, size_t *len)
{
	uint8_t *buf = NULL;
	assert_int_equal(topo_directory_sign(e, n, serial, &f->authority, &buf, len), 0);
	assert_non_null(buf);
	return buf;
}

/* Parses and expects a refusal whose message contains `why`. */
static void expect_refused(const uint8_t *buf, size_t len, const uint8_t authority[32],
			   const char *why)
{
	struct topo *t = NULL;
	char err[256] = "";
	int rc = topo_directory_parse(buf, len, authority, &t, err, sizeof(err));
	if (rc >= 0) {
		topo_free(t);
		fail_msg("accepted a directory that should fail with \"%s\"", why);
	}
	assert_null(t);
	if (why && !strstr(err, why))
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
	assert_non_null(memchr(err, 0, sizeof(err)));
	assert_null(strchr(err, '\n'));
}

/* Signs the entries with the right authority and expects topo_build's
 * shape check to refuse them. */
static void expect_shape_refused(const struct fixture *f, const struct topo_entry *e, int n,
				 const char *why)
{
	size_t len;
	uint8_t *buf = sign_or_fail(f, e, n, 1, &len);
	expect_refused(buf, len, f->authority.pub.sign, why);
	free(buf);
	/* topo_build on its own says the same. */
	struct topo *t = NULL;
	char err[256] = "";
	assert_int_equal(topo_build(e, n, 1, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, why));
}

static void test_sign_parse_round_trip(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 42, &len);
	struct topo *t = NULL;
	char err[256] = "";
	int rc = topo_directory_parse(buf, len, f->authority.pub.sign, &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse: %s", err);
	assert_int_equal(t->n, 4);
	assert_int_equal(t->serial, 42);
	assert_int_equal(t->root, 0);
	for (int i = 0; i < 4; i++) {
		const struct topo_node *nd = &t->nodes[i];
		assert_string_equal(nd->id, f->good[i].id);
		assert_string_equal(nd->address, f->good[i].address);
		assert_int_equal(nd->roles, f->good[i].roles);
		assert_memory_equal(&nd->keys, &f->node_keys[i].pub, sizeof(nd->keys));
		int want_parent = f->good[i].parent[0] ? topo_find(t, f->good[i].parent) : -1;
		assert_int_equal(nd->parent, want_parent);
	}
	assert_int_equal(t->nodes[3].depth, 2);
	topo_free(t);
	free(buf);
}

static void test_load_from_file(void **state)
{
	struct fixture *f = *state;
	char dir[64], path[4096], err[512];
	assert_int_equal(helper_tmpdir(dir, sizeof(dir)), 0);
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 7, &len);
	assert_int_equal(helper_write(dir, "directory.bin", buf, len, 0644, path, sizeof(path)), 0);
	struct topo *t = NULL;
	assert_int_equal(topo_directory_load(path, f->authority.pub.sign, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n, 4);
	assert_int_equal(t->serial, 7);
	topo_free(t);
	t = NULL;
	/* Errors name the file. */
	assert_true(topo_directory_load(path, f->other_authority.pub.sign, &t, err, sizeof(err)) <
		    0);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "does not verify"));
	helper_path(dir, "missing.bin", path, sizeof(path));
	assert_int_equal(topo_directory_load(path, f->authority.pub.sign, &t, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "missing.bin"));
	free(buf);
	helper_rmdir(dir);
}

/* The highest serial a node ran on (node_directory_floor): first run,
 * newer, same, older, and a file that is not a directory floor. */
static void test_directory_floor_refuses_an_older_directory(void **state)
{
	(void)state;
	char dir[64], path[4096], err[512];
	assert_int_equal(helper_tmpdir(dir, sizeof(dir)), 0);
	helper_path(dir, "node.directory.db", path, sizeof(path));
	assert_int_equal(node_directory_floor(path, 2, err, sizeof(err)), 0);
	assert_int_equal(node_directory_floor(path, 2, err, sizeof(err)), 0);
	assert_int_equal(node_directory_floor(path, 5, err, sizeof(err)), 0);
	assert_int_equal(node_directory_floor(path, 4, err, sizeof(err)), -ESTALE);
	assert_non_null(strstr(err, "serial 4 is older than serial 5"));
	/* Refusing did not lower the floor; the newest is still taken. */
	assert_int_equal(node_directory_floor(path, 1, err, sizeof(err)), -ESTALE);
	assert_int_equal(node_directory_floor(path, 5, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Not an SQLite file, or another store's: refused, not overwritten. */
	assert_int_equal(helper_write(dir, "other.db", "x7\n", 3, 0600, path, sizeof(path)), 0);
	assert_int_equal(node_directory_floor(path, 9, err, sizeof(err)), -EINVAL);
	helper_rmdir(dir);
}

static void test_refuses_tampered_signature(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 1, &len);
	/* The signature is the last field: its final 64 bytes. */
	for (size_t i = len - 64; i < len; i += 9) {
		buf[i] ^= 0x20;
		expect_refused(buf, len, f->authority.pub.sign, "does not verify");
		buf[i] ^= 0x20;
	}
	free(buf);
}

static void test_refuses_tampered_body(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 1, &len);
	/* Rename a node inside the signed body: same length, still decodes. */
	uint8_t *hit = memmem(buf, len, "lookup", 6);
	assert_non_null(hit);
	hit[0] = 'h';
	expect_refused(buf, len, f->authority.pub.sign, "does not verify");
	hit[0] = 'l';
	expect_refused(buf, len, f->other_authority.pub.sign, "does not verify");
	free(buf);
}

/* No single flipped bit anywhere in the file yields an accepted directory. */
static void test_refuses_every_bit_flip(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 1, &len);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			expect_refused(buf, len, f->authority.pub.sign, NULL);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	free(buf);
}

static void test_refuses_wrong_authority(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 1, &len);
	expect_refused(buf, len, f->other_authority.pub.sign, "does not verify");
	/* A node's key is not the authority's either. */
	expect_refused(buf, len, f->node_keys[0].pub.sign, "does not verify");
	free(buf);
}

static void test_refuses_every_truncation(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 4, 1, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly `cut` bytes, so ASan sees any read past it. */
		uint8_t *part = malloc(cut ? cut : 1);
		assert_non_null(part);
		memcpy(part, buf, cut);
		expect_refused(part, cut, f->authority.pub.sign, NULL);
		free(part);
	}
	expect_refused(buf, len - 1, f->authority.pub.sign, "does not decode");
	expect_refused(buf, 0, f->authority.pub.sign, "signature missing");
	free(buf);
}

static void test_refuses_garbage(void **state)
{
	struct fixture *f = *state;
	uint32_t s = 0xC0FFEEu;
	for (size_t len = 1; len <= 2048; len = len * 2 + 1) {
		uint8_t *buf = malloc(len);
		assert_non_null(buf);
		for (int round = 0; round < 16; round++) {
			for (size_t i = 0; i < len; i++) {
				s = s * 1664525u + 1013904223u;
				buf[i] = (uint8_t)(s >> 24);
			}
			expect_refused(buf, len, f->authority.pub.sign, NULL);
		}
		free(buf);
	}
	static const char text[] = "[directory]\nserial = 1\n";
	expect_refused((const uint8_t *)text, sizeof(text) - 1, f->authority.pub.sign, NULL);
}

static void test_refuses_two_cycle_beside_a_root(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	/* a -> b -> a, while root stands apart. */
	snprintf(e[1].parent, sizeof(e[1].parent), "b");
	snprintf(e[2].parent, sizeof(e[2].parent), "a");
	expect_shape_refused(f, e, 4, "cycle");
}

static void test_refuses_three_cycle(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	/* a -> a.1_x-y -> b -> a */
	snprintf(e[1].parent, sizeof(e[1].parent), "a.1_x-y");
	snprintf(e[3].parent, sizeof(e[3].parent), "b");
	snprintf(e[2].parent, sizeof(e[2].parent), "a");
	expect_shape_refused(f, e, 4, "cycle");
}

static void test_refuses_own_parent(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	snprintf(e[2].parent, sizeof(e[2].parent), "b");
	expect_shape_refused(f, e, 4, "its own parent");
}

static void test_refuses_missing_parent(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	snprintf(e[3].parent, sizeof(e[3].parent), "nowhere");
	expect_shape_refused(f, e, 4, "parent nowhere is not in the directory");
}

static void test_refuses_two_roots(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	e[2].parent[0] = 0;
	expect_shape_refused(f, e, 4, "two roots");
}

static void test_refuses_no_root(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	snprintf(e[0].parent, sizeof(e[0].parent), "a");
	expect_shape_refused(f, e, 4, "no root");
}

static void test_refuses_duplicate_id(void **state)
{
	struct fixture *f = *state;
	struct topo_entry e[4];
	memcpy(e, f->good, sizeof(e));
	snprintf(e[3].id, sizeof(e[3].id), "b");
	expect_shape_refused(f, e, 4, "node id b appears twice");
}

static void test_refuses_portal_with_a_knowing_role(void **state)
{
	struct fixture *f = *state;
	static const unsigned knowing[] = {TOPO_ROLE_LIGHTHOUSE, TOPO_ROLE_LOOKUP, TOPO_ROLE_IDDIR};
	for (size_t i = 0; i < sizeof(knowing) / sizeof(knowing[0]); i++) {
		struct topo_entry e[4];
		memcpy(e, f->good, sizeof(e));
		e[1].roles = TOPO_ROLE_PORTAL | knowing[i];
		expect_shape_refused(f, e, 4, "a portal may not also be");
	}
}

static void test_refuses_invalid_ids(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {"", "Upper", "has space", "semi;colon", "slash/x", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct topo_entry e[4];
		memcpy(e, f->good, sizeof(e));
		snprintf(e[2].id, sizeof(e[2].id), "%s", bad[i]);
		expect_shape_refused(f, e, 4, "is not 1-31 of");
	}
}

static void test_refuses_bad_addresses(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {"",	       "127.0.0.1",   "localhost:80", ":80",
					  "1.2.3.4:0", "[::1]:99999", "1.2.3.4:80x",  "[::1]80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct topo_entry e[4];
		memcpy(e, f->good, sizeof(e));
		snprintf(e[1].address, sizeof(e[1].address), "%s", bad[i]);
		expect_shape_refused(f, e, 4, "is not IP:port");
	}
}

static void test_refuses_empty_directory(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *buf = sign_or_fail(f, f->good, 0, 1, &len);
	expect_refused(buf, len, f->authority.pub.sign, "lists 0 nodes");
	free(buf);
	struct topo *t = NULL;
	char err[128] = "";
	assert_int_equal(topo_build(f->good, 0, 1, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no nodes"));
}

/* Directories the signer cannot produce, packed by hand and signed the way
 * topo_directory_sign does: context string, then the encoded body. */
static uint8_t *sign_raw(const struct fixture *f, const Anosip__V1__Directory *d, size_t *out_len)
{
	static const char context[] = "anosip-directory-v1";
	size_t body_len = anosip__v1__directory__get_packed_size(d);
	size_t ctx = sizeof(context) - 1;
	uint8_t *m = malloc(ctx + body_len + 1);
	assert_non_null(m);
	memcpy(m, context, ctx);
	anosip__v1__directory__pack(d, m + ctx);
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, m, ctx + body_len, f->authority.sign_secret);
	Anosip__V1__SignedDirectory sd;
	anosip__v1__signed_directory__init(&sd);
	sd.directory.data = m + ctx;
	sd.directory.len = body_len;
	sd.signature.data = sig;
	sd.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_directory__get_packed_size(&sd);
	uint8_t *out = malloc(*out_len);
	assert_non_null(out);
	anosip__v1__signed_directory__pack(&sd, out);
	free(m);
	return out;
}

/* A one-node directory, the field under test then spoiled by the caller. */
struct raw_directory {
	Anosip__V1__Directory d;
	Anosip__V1__DirectoryNode node;
	Anosip__V1__DirectoryNode *nodes[1];
	char *roles[1];
	uint8_t sign[33], kx[32];
};

static void raw_init(struct raw_directory *r)
{
	memset(r, 0, sizeof(*r));
	anosip__v1__directory__init(&r->d);
	anosip__v1__directory_node__init(&r->node);
	r->d.version = 1;
	r->d.serial = 3;
	r->d.n_nodes = 1;
	r->d.nodes = r->nodes;
	r->nodes[0] = &r->node;
	r->node.id = "solo";
	r->node.address = "127.0.0.1:9";
	r->node.parent = "";
	r->node.sign_public.data = r->sign;
	r->node.sign_public.len = 32;
	r->node.kx_public.data = r->kx;
	r->node.kx_public.len = 32;
}

static void expect_raw_refused(const struct fixture *f, struct raw_directory *r, const char *why)
{
	size_t len;
	uint8_t *buf = sign_raw(f, &r->d, &len);
	expect_refused(buf, len, f->authority.pub.sign, why);
	free(buf);
}

static void test_raw_baseline_accepted(void **state)
{
	struct fixture *f = *state;
	struct raw_directory r;
	raw_init(&r);
	size_t len;
	uint8_t *buf = sign_raw(f, &r.d, &len);
	struct topo *t = NULL;
	char err[256] = "";
	assert_int_equal(
	    topo_directory_parse(buf, len, f->authority.pub.sign, &t, err, sizeof(err)), 0);
	assert_int_equal(t->n, 1);
	assert_int_equal(t->serial, 3);
	topo_free(t);
	free(buf);
}

static void test_refuses_other_version(void **state)
{
	struct raw_directory r;
	raw_init(&r);
	r.d.version = 2;
	expect_raw_refused(*state, &r, "format version 2");
}

static void test_refuses_key_of_wrong_length(void **state)
{
	struct raw_directory r;
	raw_init(&r);
	r.node.sign_public.len = 33;
	expect_raw_refused(*state, &r, "wrong length");
	raw_init(&r);
	r.node.kx_public.len = 0;
	expect_raw_refused(*state, &r, "wrong length");
}

static void test_refuses_unknown_role(void **state)
{
	struct raw_directory r;
	raw_init(&r);
	r.roles[0] = "wizard";
	r.node.roles = r.roles;
	r.node.n_roles = 1;
	expect_raw_refused(*state, &r, "unknown role \"wizard\"");
}

static void test_refuses_overlong_fields(void **state)
{
	struct raw_directory r;
	raw_init(&r);
	r.node.id = "abcdefghijklmnopqrstuvwxyz0123456789";
	expect_raw_refused(*state, &r, "missing or too long");
	raw_init(&r);
	r.node.address = "127.0.0.1:9"
			 "0000000000000000000000000000000000000000000000000000000000000000000";
	expect_raw_refused(*state, &r, "too long");
}

/* --- the INI description --- */

struct description {
	char dir[64];
	char path[4096];
};

static void description_write(struct description *d, const char *text)
{
	assert_int_equal(helper_write(d->dir, "topology.ini", text, strlen(text), 0644, d->path,
				      sizeof(d->path)),
			 0);
}

/* A scratch directory with root.pub (from keys_save) and a hex line for a. */
static void description_setup(const struct fixture *f, struct description *d, char *a_keys,
			      size_t a_keys_len)
{
	assert_int_equal(helper_tmpdir(d->dir, sizeof(d->dir)), 0);
	char prefix[4096];
	helper_path(d->dir, "root", prefix, sizeof(prefix));
	assert_int_equal(keys_save(prefix, &f->node_keys[0]), 0);
	char sign[65], kx[65];
	util_hex_encode(f->node_keys[1].pub.sign, 32, sign);
	util_hex_encode(f->node_keys[1].pub.kx, 32, kx);
	snprintf(a_keys, a_keys_len, "sign_public = %s\nkx_public = %s\n", sign, kx);
}

static void expect_description_refused(struct description *d, const char *text, const char *why)
{
	description_write(d, text);
	struct topo_entry *e = NULL;
	int n = -1;
	uint64_t serial = 0;
	char err[512] = "";
	assert_int_equal(topo_description_load(d->path, &e, &n, &serial, err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, why))
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
	assert_non_null(strstr(err, d->path));
}

static void test_description_good(void **state)
{
	struct fixture *f = *state;
	struct description d;
	char a_keys[256], text[2048];
	description_setup(f, &d, a_keys, sizeof(a_keys));
	snprintf(text, sizeof(text),
		 "# a small network\n"
		 "[directory]\nserial = 9\n\n"
		 "[node root]\naddress = 127.0.0.1:7000\nroles = lighthouse, iddir\n"
		 "keys = root.pub\n\n"
		 "[node a]\naddress = [::1]:7001\nparent = root\nroles = router portal\n%s",
		 a_keys);
	description_write(&d, text);
	struct topo_entry *e = NULL;
	int n = 0;
	uint64_t serial = 0;
	char err[512] = "";
	int rc = topo_description_load(d.path, &e, &n, &serial, err, sizeof(err));
	if (rc != 0)
		fail_msg("description: %s", err);
	assert_int_equal(n, 2);
	assert_int_equal(serial, 9);
	assert_string_equal(e[0].id, "root");
	assert_string_equal(e[0].parent, "");
	assert_string_equal(e[0].address, "127.0.0.1:7000");
	assert_int_equal(e[0].roles, TOPO_ROLE_LIGHTHOUSE | TOPO_ROLE_IDDIR);
	assert_memory_equal(&e[0].keys, &f->node_keys[0].pub, sizeof(e[0].keys));
	assert_string_equal(e[1].id, "a");
	assert_string_equal(e[1].parent, "root");
	assert_string_equal(e[1].address, "[::1]:7001");
	assert_int_equal(e[1].roles, TOPO_ROLE_PORTAL);
	assert_memory_equal(&e[1].keys, &f->node_keys[1].pub, sizeof(e[1].keys));

	/* Description -> signed directory -> topology, end to end. */
	size_t len;
	uint8_t *buf = sign_or_fail(f, e, n, serial, &len);
	struct topo *t = NULL;
	assert_int_equal(
	    topo_directory_parse(buf, len, f->authority.pub.sign, &t, err, sizeof(err)), 0);
	assert_int_equal(t->serial, 9);
	assert_int_equal(t->nodes[topo_find(t, "a")].parent, topo_find(t, "root"));
	topo_free(t);
	free(buf);
	free(e);
	helper_rmdir(d.dir);
}

static void test_description_refusals(void **state)
{
	struct fixture *f = *state;
	struct description d;
	char a_keys[256], text[2048];
	description_setup(f, &d, a_keys, sizeof(a_keys));

	snprintf(text, sizeof(text), "[node a]\naddress = 127.0.0.1:1\nroles = portal, wizard\n%s",
		 a_keys);
	expect_description_refused(&d, text, "unknown role");

	snprintf(text, sizeof(text), "[node a]\naddress = 127.0.0.1:1\ncolour = red\n%s", a_keys);
	expect_description_refused(&d, text, "unknown key");

	snprintf(text, sizeof(text), "[directory]\nserial = 1\nowner = me\n");
	expect_description_refused(&d, text, "unknown key in [directory]");

	snprintf(text, sizeof(text),
		 "[node root]\naddress = 127.0.0.1:1\nkeys = root.pub\n"
		 "[node a]\naddress = 127.0.0.1:2\nparent = root\n");
	expect_description_refused(&d, text, "node a has no public keys");

	snprintf(text, sizeof(text), "[node a]\naddress = 127.0.0.1:2\nsign_public = %064d\n", 1);
	expect_description_refused(&d, text, "node a has no public keys");

	snprintf(text, sizeof(text), "[node a]\naddress = 127.0.0.1:2\nkx_public = %064d\n", 1);
	expect_description_refused(&d, text, "node a has no public keys");

	snprintf(text, sizeof(text), "[node a]\naddress = 127.0.0.1:2\nkeys = nothere.pub\n");
	expect_description_refused(&d, text, "cannot read public keys");

	snprintf(text, sizeof(text), "[node a]\nsign_public = 12zz\n");
	expect_description_refused(&d, text, "bad key");

	snprintf(text, sizeof(text), "[directory]\nserial = twelve\n");
	expect_description_refused(&d, text, "bad serial");

	snprintf(text, sizeof(text), "[nodes a]\naddress = 127.0.0.1:2\n");
	expect_description_refused(&d, text, "unknown section");

	snprintf(text, sizeof(text), "[node a]\nthis line has no equals sign\n%s", a_keys);
	expect_description_refused(&d, text, "syntax error");

	helper_path(d.dir, "absent.ini", d.path, sizeof(d.path));
	struct topo_entry *e = NULL;
	int n;
	uint64_t serial;
	char err[512];
	assert_int_equal(topo_description_load(d.path, &e, &n, &serial, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot open"));
	helper_rmdir(d.dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sign_parse_round_trip),
    cmocka_unit_test(test_load_from_file),
    cmocka_unit_test(test_directory_floor_refuses_an_older_directory),
    cmocka_unit_test(test_refuses_tampered_signature),
    cmocka_unit_test(test_refuses_tampered_body),
    cmocka_unit_test(test_refuses_every_bit_flip),
    cmocka_unit_test(test_refuses_wrong_authority),
    cmocka_unit_test(test_refuses_every_truncation),
    cmocka_unit_test(test_refuses_garbage),
    cmocka_unit_test(test_refuses_two_cycle_beside_a_root),
    cmocka_unit_test(test_refuses_three_cycle),
    cmocka_unit_test(test_refuses_own_parent),
    cmocka_unit_test(test_refuses_missing_parent),
    cmocka_unit_test(test_refuses_two_roots),
    cmocka_unit_test(test_refuses_no_root),
    cmocka_unit_test(test_refuses_duplicate_id),
    cmocka_unit_test(test_refuses_portal_with_a_knowing_role),
    cmocka_unit_test(test_refuses_invalid_ids),
    cmocka_unit_test(test_refuses_bad_addresses),
    cmocka_unit_test(test_refuses_empty_directory),
    cmocka_unit_test(test_raw_baseline_accepted),
    cmocka_unit_test(test_refuses_other_version),
    cmocka_unit_test(test_refuses_key_of_wrong_length),
    cmocka_unit_test(test_refuses_unknown_role),
    cmocka_unit_test(test_refuses_overlong_fields),
    cmocka_unit_test(test_description_good),
    cmocka_unit_test(test_description_refusals),
};

int test_directory_suite(void)
{
	return cmocka_run_group_tests_name("directory", tests, setup, teardown);
}

int test_directory_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
