/* circuit: ID Directory queries and results (docs/protocol.md §8) — the
 * round trip of each operation, and everything the directory and the ua
 * must refuse: forged or misattributed signatures, certificates from
 * strangers, tampered bytes, another directory, stale times, bad fields,
 * answers signed by someone else or meant for another query. Where it
 * matters the bytes are rebuilt here from the protocol text alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "circuit/circuit.h"
#include "keys/keys.h"
#include "tests/unit/suites.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LH_ID "lh-1"
#define DIR_ID "iddir-1"
#define ALICE "alice"
#define BOB "bob"
#define NOW_S 1700000000ull
#define NOW_MS (NOW_S * 1000)
#define DAY 86400ull
#define QUERY_CONTEXT "anosip-iddir-query-v1"
#define RESULT_CONTEXT "anosip-iddir-result-v1"

/* A lighthouse and a stranger one, a directory and another, two askers;
 * alice's and bob's certificates by the lighthouse. */
struct fixture {
	struct keys_pair lh, other_lh, dir, other_dir, alice, bob;
	uint8_t *alice_cert, *bob_cert;
	size_t alice_cert_len, bob_cert_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || keys_generate(&f->lh) != 0 || keys_generate(&f->other_lh) != 0 ||
	    keys_generate(&f->dir) != 0 || keys_generate(&f->other_dir) != 0 ||
	    keys_generate(&f->alice) != 0 || keys_generate(&f->bob) != 0)
		return -1;
	if (circ_certificate_sign(&f->lh, LH_ID, ALICE, f->alice.pub.sign, NOW_S - DAY,
				  NOW_S + 30 * DAY, &f->alice_cert, &f->alice_cert_len) != 0 ||
	    circ_certificate_sign(&f->lh, LH_ID, BOB, f->bob.pub.sign, NOW_S - DAY,
				  NOW_S + 30 * DAY, &f->bob_cert, &f->bob_cert_len) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	keys_wipe(&f->lh);
	keys_wipe(&f->other_lh);
	keys_wipe(&f->dir);
	keys_wipe(&f->other_dir);
	keys_wipe(&f->alice);
	keys_wipe(&f->bob);
	free(f->alice_cert);
	free(f->bob_cert);
	free(f);
	return 0;
}

static int key_of(void *ctx, const char *id, uint8_t sign_public[32])
{
	struct fixture *f = ctx;
	if (strcmp(id, LH_ID) != 0)
		return -ENOENT;
	memcpy(sign_public, f->lh.pub.sign, 32);
	return 0;
}

static void query_init(Anosip__V1__IdDirQuery *q, Anosip__V1__IdDirOp op)
{
	anosip__v1__id_dir_query__init(q);
	q->op = op;
	q->asker = (char *)ALICE;
	q->directory = (char *)DIR_ID;
	q->sent_unix_ms = NOW_MS;
}

/* alice seals q to the directory. */
static uint8_t *seal(struct fixture *f, Anosip__V1__IdDirQuery *q, size_t *len, uint8_t hash[32])
{
	uint8_t *out = NULL;
	assert_int_equal(circ_iddir_query_seal(&f->alice, f->alice_cert, f->alice_cert_len, q,
					       f->dir.pub.kx, &out, len, hash),
			 0);
	assert_non_null(out);
	return out;
}

/* The directory opens; a refusal must hand out nothing. */
static int open_at(struct fixture *f, const char *dir_id, const uint8_t *sealed, size_t len,
		   uint64_t now_ms, Anosip__V1__IdDirQuery **q, uint8_t hash[32])
{
	Anosip__V1__Certificate *cert = NULL;
	*q = NULL;
	int rc =
	    circ_iddir_query_open(&f->dir, dir_id, sealed, len, key_of, f, now_ms, q, &cert, hash);
	if (rc == 0) {
		assert_non_null(*q);
		assert_non_null(cert);
		assert_string_equal(cert->nickname, (*q)->asker);
		anosip__v1__certificate__free_unpacked(cert, NULL);
	} else {
		assert_null(*q);
		assert_null(cert);
	}
	return rc;
}

/* Seals q and returns the directory's verdict at NOW_MS. */
static int verdict(struct fixture *f, Anosip__V1__IdDirQuery *q)
{
	size_t len;
	uint8_t hash[32], hash2[32];
	uint8_t *sealed = seal(f, q, &len, hash);
	Anosip__V1__IdDirQuery *got;
	int rc = open_at(f, DIR_ID, sealed, len, NOW_MS, &got, hash2);
	if (got)
		anosip__v1__id_dir_query__free_unpacked(got, NULL);
	free(sealed);
	return rc;
}

/* A SignedIdDirQuery built from §8 by hand: signer signs "anosip-iddir-
 * query-v1" || query, the certificate goes along, all sealed to kx. */
static uint8_t *hand_seal(const struct keys_pair *signer, const uint8_t *cert, size_t cert_len,
			  const Anosip__V1__IdDirQuery *q, const uint8_t kx[32], size_t *len)
{
	size_t qlen = anosip__v1__id_dir_query__get_packed_size(q);
	size_t ctx = strlen(QUERY_CONTEXT);
	uint8_t *m = malloc(ctx + qlen), sig[64];
	assert_non_null(m);
	memcpy(m, QUERY_CONTEXT, ctx);
	anosip__v1__id_dir_query__pack(q, m + ctx);
	crypto_sign_detached(sig, NULL, m, ctx + qlen, signer->sign_secret);
	Anosip__V1__SignedIdDirQuery sq = ANOSIP__V1__SIGNED_ID_DIR_QUERY__INIT;
	sq.query.data = m + ctx;
	sq.query.len = qlen;
	sq.certificate.data = (uint8_t *)cert;
	sq.certificate.len = cert_len;
	sq.signature.data = sig;
	sq.signature.len = sizeof(sig);
	size_t plen = anosip__v1__signed_id_dir_query__get_packed_size(&sq);
	uint8_t *plain = malloc(plen), *out = malloc(plen + crypto_box_SEALBYTES);
	assert_non_null(plain);
	assert_non_null(out);
	anosip__v1__signed_id_dir_query__pack(&sq, plain);
	assert_int_equal(crypto_box_seal(out, plain, plen, kx), 0);
	*len = plen + crypto_box_SEALBYTES;
	free(plain);
	free(m);
	return out;
}

static uint8_t nonce16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* --- round trips --- */

static void test_iddir_read_round_trip(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ);
	q.nickname = (char *)BOB;
	size_t len;
	uint8_t hash[32], hash2[32];
	uint8_t *sealed = seal(f, &q, &len, hash);
	/* Nothing of the query shows on the wire. */
	assert_null(memmem(sealed, len, BOB, strlen(BOB)));
	assert_null(memmem(sealed, len, DIR_ID, strlen(DIR_ID)));
	assert_int_equal(open_at(f, DIR_ID, sealed, len, NOW_MS, &got, hash2), 0);
	assert_memory_equal(hash, hash2, 32);
	assert_int_equal(got->op, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ);
	assert_string_equal(got->asker, ALICE);
	assert_string_equal(got->nickname, BOB);
	assert_string_equal(got->directory, DIR_ID);
	assert_int_equal(got->sent_unix_ms, NOW_MS);
	assert_int_equal(got->nonce.len, 16);
	anosip__v1__id_dir_query__free_unpacked(got, NULL);
	free(sealed);
	/* The nonce made by seal lives only in the sealed bytes. */
	assert_int_equal(q.nonce.len, 0);
	assert_null(q.nonce.data);
}

static void test_iddir_publish_round_trip(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH);
	char *readers[] = {(char *)BOB, (char *)"carol.9", (char *)"d_e-f"};
	q.real_id =
	    (char *)"Zo\xc3\xab \xc3\x9cnal <zoe@example.org> \xe6\x97\xa5 \xf0\x9f\x98\x80";
	q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST;
	q.readers = readers;
	q.n_readers = 3;
	q.nonce.data = nonce16;
	q.nonce.len = 16;
	size_t len;
	uint8_t hash[32], hash2[32];
	uint8_t *sealed = seal(f, &q, &len, hash);
	assert_int_equal(open_at(f, DIR_ID, sealed, len, NOW_MS, &got, hash2), 0);
	assert_memory_equal(hash, hash2, 32);
	assert_string_equal(got->real_id, q.real_id);
	assert_int_equal(got->policy, ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST);
	assert_int_equal(got->n_readers, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(got->readers[i], readers[i]);
	/* A nonce given is the nonce sent. */
	assert_memory_equal(got->nonce.data, nonce16, 16);
	anosip__v1__id_dir_query__free_unpacked(got, NULL);
	free(sealed);
	/* The limits themselves pass. */
	char long_id[CIRC_IDDIR_REAL_ID_MAX + 1];
	memset(long_id, 'x', CIRC_IDDIR_REAL_ID_MAX);
	long_id[CIRC_IDDIR_REAL_ID_MAX] = 0;
	char *many[CIRC_IDDIR_READERS_MAX];
	for (int i = 0; i < CIRC_IDDIR_READERS_MAX; i++)
		many[i] = (char *)BOB;
	q.real_id = long_id;
	q.readers = many;
	q.n_readers = CIRC_IDDIR_READERS_MAX;
	assert_int_equal(verdict(f, &q), 0);
	/* Every policy. */
	q.n_readers = 0;
	q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_ANYONE;
	assert_int_equal(verdict(f, &q), 0);
	q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_NOBODY;
	assert_int_equal(verdict(f, &q), 0);
}

static void test_iddir_revoke_and_log_round_trip(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_REVOKE);
	assert_int_equal(verdict(f, &q), 0);
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	assert_int_equal(verdict(f, &q), 0);
}

/* Seal fills in the clock and a fresh nonce; the bytes are what §8 says. */
static void test_iddir_query_matches_spec(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	q.sent_unix_ms = 0;
	uint8_t *cert = NULL, hash[2][32], nonce[2][16];
	size_t cert_len;
	uint64_t now = util_wall_ms();
	assert_int_equal(circ_certificate_sign(&f->lh, LH_ID, ALICE, f->alice.pub.sign,
					       now / 1000 - 10, now / 1000 + DAY, &cert, &cert_len),
			 0);
	for (int i = 0; i < 2; i++) {
		uint8_t *sealed = NULL;
		size_t len;
		assert_int_equal(circ_iddir_query_seal(&f->alice, cert, cert_len, &q, f->dir.pub.kx,
						       &sealed, &len, hash[i]),
				 0);
		assert_true(q.sent_unix_ms >= now && q.sent_unix_ms <= util_wall_ms());
		uint8_t *plain = malloc(len);
		assert_int_equal(
		    crypto_box_seal_open(plain, sealed, len, f->dir.pub.kx, f->dir.kx_secret), 0);
		Anosip__V1__SignedIdDirQuery *sq = anosip__v1__signed_id_dir_query__unpack(
		    NULL, len - crypto_box_SEALBYTES, plain);
		assert_non_null(sq);
		assert_int_equal(sq->certificate.len, cert_len);
		assert_memory_equal(sq->certificate.data, cert, cert_len);
		size_t ctx = strlen(QUERY_CONTEXT);
		uint8_t *m = malloc(ctx + sq->query.len), digest[32];
		memcpy(m, QUERY_CONTEXT, ctx);
		memcpy(m + ctx, sq->query.data, sq->query.len);
		assert_int_equal(sq->signature.len, 64);
		assert_int_equal(crypto_sign_verify_detached(
				     sq->signature.data, m, ctx + sq->query.len, f->alice.pub.sign),
				 0);
		crypto_hash_sha256(digest, sq->query.data, sq->query.len);
		assert_memory_equal(digest, hash[i], 32);
		Anosip__V1__IdDirQuery *d =
		    anosip__v1__id_dir_query__unpack(NULL, sq->query.len, sq->query.data);
		assert_non_null(d);
		assert_int_equal(d->nonce.len, 16);
		memcpy(nonce[i], d->nonce.data, 16);
		assert_int_equal(d->sent_unix_ms, q.sent_unix_ms);
		anosip__v1__id_dir_query__free_unpacked(d, NULL);
		anosip__v1__signed_id_dir_query__free_unpacked(sq, NULL);
		free(m);
		/* And the directory opens it on its own clock. */
		Anosip__V1__IdDirQuery *got;
		uint8_t h[32];
		assert_int_equal(open_at(f, DIR_ID, sealed, len, util_wall_ms(), &got, h), 0);
		anosip__v1__id_dir_query__free_unpacked(got, NULL);
		free(plain);
		free(sealed);
	}
	/* Two queries never share a nonce, hence neither a hash. */
	assert_memory_not_equal(nonce[0], nonce[1], 16);
	assert_memory_not_equal(hash[0], hash[1], 32);
	free(cert);
}

static void test_iddir_seal_refuses(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q;
	uint8_t *out = (uint8_t *)"", hash[32];
	size_t len = 1;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	/* Asking as bob with alice's certificate. */
	q.asker = (char *)BOB;
	assert_int_equal(circ_iddir_query_seal(&f->alice, f->alice_cert, f->alice_cert_len, &q,
					       f->dir.pub.kx, &out, &len, hash),
			 -EINVAL);
	assert_null(out);
	/* alice's certificate with bob's key. */
	q.asker = (char *)ALICE;
	assert_int_equal(circ_iddir_query_seal(&f->bob, f->alice_cert, f->alice_cert_len, &q,
					       f->dir.pub.kx, &out, &len, hash),
			 -EINVAL);
	/* No certificate, or garbage. */
	assert_int_equal(
	    circ_iddir_query_seal(&f->alice, NULL, 0, &q, f->dir.pub.kx, &out, &len, hash),
	    -EINVAL);
	assert_int_equal(circ_iddir_query_seal(&f->alice, (const uint8_t *)"\xff\xff", 2, &q,
					       f->dir.pub.kx, &out, &len, hash),
			 -EINVAL);
	assert_null(out);
}

/* --- what the directory refuses --- */

static void test_iddir_forged_signature(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	uint8_t hash[32];
	size_t len;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_REVOKE);
	q.nonce.data = nonce16;
	q.nonce.len = 16;
	/* The spec's own bytes open. */
	uint8_t *s =
	    hand_seal(&f->alice, f->alice_cert, f->alice_cert_len, &q, f->dir.pub.kx, &len);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), 0);
	anosip__v1__id_dir_query__free_unpacked(got, NULL);
	free(s);
	/* bob signs a revocation of alice's tuple and shows her certificate. */
	s = hand_seal(&f->bob, f->alice_cert, f->alice_cert_len, &q, f->dir.pub.kx, &len);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_PROOF);
	free(s);
	/* bob signs with his own key and certificate but names alice. */
	s = hand_seal(&f->bob, f->bob_cert, f->bob_cert_len, &q, f->dir.pub.kx, &len);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_PROOF);
	free(s);
	/* alice signs but shows bob's certificate. */
	s = hand_seal(&f->alice, f->bob_cert, f->bob_cert_len, &q, f->dir.pub.kx, &len);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_PROOF);
	free(s);
	/* No certificate at all. */
	s = hand_seal(&f->alice, NULL, 0, &q, f->dir.pub.kx, &len);
	assert_true(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash) < 0);
	free(s);
}

static void test_iddir_unknown_lighthouse(void **state)
{
	struct fixture *f = *state;
	uint8_t *cert = NULL, hash[32];
	size_t cert_len, len;
	/* A certificate a stranger signed, once under its own name and once
	 * claiming to be our lighthouse. */
	const char *ids[] = {"lh-9", LH_ID};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(circ_certificate_sign(&f->other_lh, ids[i], ALICE,
						       f->alice.pub.sign, NOW_S, NOW_S + DAY, &cert,
						       &cert_len),
				 0);
		Anosip__V1__IdDirQuery q, *got;
		query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
		uint8_t *s = NULL;
		assert_int_equal(circ_iddir_query_seal(&f->alice, cert, cert_len, &q, f->dir.pub.kx,
						       &s, &len, hash),
				 0);
		assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_PROOF);
		free(s);
		free(cert);
	}
	/* An expired certificate. */
	assert_int_equal(circ_certificate_sign(&f->lh, LH_ID, ALICE, f->alice.pub.sign,
					       NOW_S - 2 * DAY, NOW_S - DAY, &cert, &cert_len),
			 0);
	Anosip__V1__IdDirQuery q, *got;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	uint8_t *s = NULL;
	assert_int_equal(
	    circ_iddir_query_seal(&f->alice, cert, cert_len, &q, f->dir.pub.kx, &s, &len, hash), 0);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_STALE);
	free(s);
	free(cert);
}

static void test_iddir_tampered(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	uint8_t hash[32];
	size_t len;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ);
	q.nickname = (char *)BOB;
	uint8_t *s = seal(f, &q, &len, hash);
	for (size_t i = 0; i < len; i += 7) {
		s[i] ^= 0x01;
		assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_SEALED);
		s[i] ^= 0x01;
	}
	assert_int_equal(open_at(f, DIR_ID, s, len - 1, NOW_MS, &got, hash), CIRC_ERR_SEALED);
	assert_int_equal(open_at(f, DIR_ID, s, crypto_box_SEALBYTES - 1, NOW_MS, &got, hash),
			 CIRC_ERR_SEALED);
	assert_int_equal(open_at(f, DIR_ID, NULL, 0, NOW_MS, &got, hash), CIRC_ERR_SEALED);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), 0);
	anosip__v1__id_dir_query__free_unpacked(got, NULL);
	free(s);
	/* Sealed garbage: opens, does not decode. */
	uint8_t junk[64], sealed_junk[64 + crypto_box_SEALBYTES];
	memset(junk, 0xff, sizeof(junk));
	crypto_box_seal(sealed_junk, junk, sizeof(junk), f->dir.pub.kx);
	assert_int_equal(open_at(f, DIR_ID, sealed_junk, sizeof(sealed_junk), NOW_MS, &got, hash),
			 CIRC_ERR_DECODE);
	/* Over the size bound, whatever it holds. */
	size_t big = 64 * 1024 + 1;
	uint8_t *huge = calloc(1, big);
	assert_int_equal(open_at(f, DIR_ID, huge, big, NOW_MS, &got, hash), CIRC_ERR_DECODE);
	free(huge);
}

static void test_iddir_wrong_directory(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	uint8_t hash[32], *s = NULL;
	size_t len;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	/* Sealed to us, addressed to another directory id. */
	s = seal(f, &q, &len, hash);
	assert_int_equal(open_at(f, "iddir-2", s, len, NOW_MS, &got, hash), CIRC_ERR_PROOF);
	free(s);
	q.directory = (char *)"";
	assert_int_equal(verdict(f, &q), CIRC_ERR_PROOF);
	/* Sealed to another directory's key. */
	q.directory = (char *)DIR_ID;
	assert_int_equal(circ_iddir_query_seal(&f->alice, f->alice_cert, f->alice_cert_len, &q,
					       f->other_dir.pub.kx, &s, &len, hash),
			 0);
	assert_int_equal(open_at(f, DIR_ID, s, len, NOW_MS, &got, hash), CIRC_ERR_SEALED);
	free(s);
}

static void test_iddir_time_window(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	uint8_t hash[32];
	size_t len;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	uint8_t *s = seal(f, &q, &len, hash);
	const struct {
		uint64_t now;
		int rc;
	} cases[] = {
	    {NOW_MS, 0},
	    {NOW_MS + CIRC_IDDIR_MAX_AGE_MS, 0},
	    {NOW_MS - CIRC_IDDIR_MAX_AGE_MS, 0},
	    {NOW_MS + CIRC_IDDIR_MAX_AGE_MS + 1, CIRC_ERR_STALE}, /* stale */
	    {NOW_MS - CIRC_IDDIR_MAX_AGE_MS - 1, CIRC_ERR_STALE}, /* from the future */
	    {NOW_MS + 3600 * 1000, CIRC_ERR_STALE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(open_at(f, DIR_ID, s, len, cases[i].now, &got, hash), cases[i].rc);
		if (got)
			anosip__v1__id_dir_query__free_unpacked(got, NULL);
	}
	free(s);
	/* The far future and the epoch. */
	q.sent_unix_ms = UINT64_MAX;
	assert_int_equal(verdict(f, &q), CIRC_ERR_STALE);
	q.sent_unix_ms = 1;
	assert_int_equal(verdict(f, &q), CIRC_ERR_STALE);
}

static void test_iddir_bad_fields(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q;
	uint8_t nonce[17] = {0};
	/* The nonce is exactly 16 bytes. */
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG);
	q.nonce.data = nonce;
	q.nonce.len = 15;
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	q.nonce.len = 17;
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	/* Unknown operations. */
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_NONE);
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	query_init(&q, (Anosip__V1__IdDirOp)5);
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	/* READ needs a valid nickname. */
	const char *bad_nicks[] = {
	    "", "Bob", "bob!", "a b",
	    "a123456789012345678901234567890123456789012345678901234567890xxx"};
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ);
	for (size_t i = 0; i < sizeof(bad_nicks) / sizeof(bad_nicks[0]); i++) {
		q.nickname = (char *)bad_nicks[i];
		assert_int_equal(verdict(f, &q), CIRC_ERR_NICKNAME);
	}
	/* PUBLISH: the real ID. */
	const char *bad_ids[] = {
	    "",		   /* empty */
	    "line\nbreak", /* C0 */
	    "tab\there",
	    "del\x7f",
	    "c1 \xc2\x85",	/* NEL, a C1 control */
	    "\xc3\x28",		/* a lead byte without its continuation */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xe0\x80\xaf",	/* overlong, three bytes */
	    "\xed\xa0\x80",	/* a surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xf8\x88\x80\x80\x80",
	    "trailing \xe6\x97",
	    "\x80",
	};
	char *readers[CIRC_IDDIR_READERS_MAX + 1];
	for (int i = 0; i <= CIRC_IDDIR_READERS_MAX; i++)
		readers[i] = (char *)BOB;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH);
	q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST;
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		q.real_id = (char *)bad_ids[i];
		assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	}
	char long_id[CIRC_IDDIR_REAL_ID_MAX + 2];
	memset(long_id, 'x', CIRC_IDDIR_REAL_ID_MAX + 1);
	long_id[CIRC_IDDIR_REAL_ID_MAX + 1] = 0;
	q.real_id = long_id;
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	q.real_id = (char *)"Alice Liddell";
	assert_int_equal(verdict(f, &q), 0);
	/* The policy is one of the three. */
	q.policy = (Anosip__V1__IdDirPolicy)3;
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST;
	/* Readers: at most 64, each a nickname. */
	q.readers = readers;
	q.n_readers = CIRC_IDDIR_READERS_MAX + 1;
	assert_int_equal(verdict(f, &q), CIRC_ERR_DECODE);
	q.n_readers = 3;
	readers[1] = (char *)"Not A Nick";
	assert_int_equal(verdict(f, &q), CIRC_ERR_NICKNAME);
	readers[1] = (char *)"";
	assert_int_equal(verdict(f, &q), CIRC_ERR_NICKNAME);
}

/* --- results --- */

static Anosip__V1__IdDirResult *result_open(struct fixture *f, const struct keys_pair *asker,
					    const uint8_t dir_sign[32], const uint8_t *s,
					    size_t len, const uint8_t hash[32], int expect)
{
	Anosip__V1__IdDirResult *r = (Anosip__V1__IdDirResult *)1;
	assert_int_equal(circ_iddir_result_open(asker, dir_sign, s, len, hash, &r), expect);
	if (expect != 0)
		assert_null(r);
	return r;
}

static void test_iddir_result_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32], *s = NULL;
	size_t len;
	randombytes_buf(hash, sizeof(hash));
	/* READ. */
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.ok = 1;
	r.nickname = (char *)BOB;
	r.real_id = (char *)"Robert Tables";
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	assert_null(memmem(s, len, "Robert", 6));
	Anosip__V1__IdDirResult *got = result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, 0);
	assert_true(got->ok);
	assert_string_equal(got->nickname, BOB);
	assert_string_equal(got->real_id, "Robert Tables");
	anosip__v1__id_dir_result__free_unpacked(got, NULL);
	free(s);
	/* LOG, newest last. */
	Anosip__V1__IdDirLogEntry e[3], *ep[3];
	for (int i = 0; i < 3; i++) {
		anosip__v1__id_dir_log_entry__init(&e[i]);
		e[i].reader = (char *)(i == 1 ? "carol" : BOB);
		e[i].at_unix = NOW_S + (uint64_t)i;
		e[i].granted = i != 1;
		ep[i] = &e[i];
	}
	anosip__v1__id_dir_result__init(&r);
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.ok = 1;
	r.log = ep;
	r.n_log = 3;
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	got = result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, 0);
	assert_int_equal(got->n_log, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(got->log[i]->reader, e[i].reader);
		assert_int_equal(got->log[i]->at_unix, e[i].at_unix);
		assert_int_equal(got->log[i]->granted, e[i].granted);
	}
	anosip__v1__id_dir_result__free_unpacked(got, NULL);
	free(s);
	/* A refusal. */
	anosip__v1__id_dir_result__init(&r);
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.error = (char *)"no such tuple or not allowed";
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	got = result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, 0);
	assert_false(got->ok);
	assert_string_equal(got->error, r.error);
	anosip__v1__id_dir_result__free_unpacked(got, NULL);
	free(s);
}

/* A result built from §8 by hand opens; one signed by another key does not. */
static void test_iddir_result_spec_and_forged(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32];
	randombytes_buf(hash, sizeof(hash));
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.ok = 1;
	const struct keys_pair *signers[] = {&f->dir, &f->other_dir, &f->alice};
	for (int i = 0; i < 3; i++) {
		size_t rlen = anosip__v1__id_dir_result__get_packed_size(&r);
		size_t ctx = strlen(RESULT_CONTEXT);
		uint8_t *m = malloc(ctx + rlen), sig[64], kx[32];
		memcpy(m, RESULT_CONTEXT, ctx);
		anosip__v1__id_dir_result__pack(&r, m + ctx);
		crypto_sign_detached(sig, NULL, m, ctx + rlen, signers[i]->sign_secret);
		Anosip__V1__SignedIdDirResult sr = ANOSIP__V1__SIGNED_ID_DIR_RESULT__INIT;
		sr.result.data = m + ctx;
		sr.result.len = rlen;
		sr.signature.data = sig;
		sr.signature.len = 64;
		size_t plen = anosip__v1__signed_id_dir_result__get_packed_size(&sr);
		uint8_t *plain = malloc(plen), *s = malloc(plen + crypto_box_SEALBYTES);
		anosip__v1__signed_id_dir_result__pack(&sr, plain);
		assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(kx, f->alice.pub.sign), 0);
		crypto_box_seal(s, plain, plen, kx);
		Anosip__V1__IdDirResult *got =
		    result_open(f, &f->alice, f->dir.pub.sign, s, plen + crypto_box_SEALBYTES, hash,
				i == 0 ? 0 : CIRC_ERR_PROOF);
		if (got)
			anosip__v1__id_dir_result__free_unpacked(got, NULL);
		free(s);
		free(plain);
		free(m);
	}
	/* Through the library too: signed by the other directory. */
	uint8_t *s = NULL;
	size_t len;
	assert_int_equal(circ_iddir_result_seal(&f->other_dir, f->alice.pub.sign, &r, &s, &len), 0);
	result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, CIRC_ERR_PROOF);
	free(s);
}

static void test_iddir_result_other_query(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32], other[32], *s = NULL;
	size_t len;
	randombytes_buf(hash, sizeof(hash));
	memcpy(other, hash, 32);
	other[31] ^= 1;
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.ok = 1;
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	result_open(f, &f->alice, f->dir.pub.sign, s, len, other, CIRC_ERR_PROOF);
	free(s);
	/* No hash at all, or a short one. */
	r.query_hash.len = 0;
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, CIRC_ERR_PROOF);
	free(s);
	r.query_hash.len = 31;
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->alice.pub.sign, &r, &s, &len), 0);
	result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, CIRC_ERR_PROOF);
	free(s);
}

static void test_iddir_result_other_asker(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32], *s = NULL;
	size_t len;
	randombytes_buf(hash, sizeof(hash));
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	r.query_hash.data = hash;
	r.query_hash.len = 32;
	r.ok = 1;
	assert_int_equal(circ_iddir_result_seal(&f->dir, f->bob.pub.sign, &r, &s, &len), 0);
	result_open(f, &f->alice, f->dir.pub.sign, s, len, hash, CIRC_ERR_SEALED);
	/* Tampered or cut short. */
	for (size_t i = 0; i < len; i += 7) {
		s[i] ^= 0x01;
		result_open(f, &f->bob, f->dir.pub.sign, s, len, hash, CIRC_ERR_SEALED);
		s[i] ^= 0x01;
	}
	result_open(f, &f->bob, f->dir.pub.sign, s, len - 1, hash, CIRC_ERR_SEALED);
	result_open(f, &f->bob, f->dir.pub.sign, NULL, 0, hash, CIRC_ERR_SEALED);
	Anosip__V1__IdDirResult *got = result_open(f, &f->bob, f->dir.pub.sign, s, len, hash, 0);
	anosip__v1__id_dir_result__free_unpacked(got, NULL);
	free(s);
}

/* The whole exchange: alice asks, the directory answers her query. */
static void test_iddir_exchange(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__IdDirQuery q, *got;
	query_init(&q, ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ);
	q.nickname = (char *)BOB;
	size_t len;
	uint8_t ua_hash[32], dir_hash[32];
	uint8_t *s = seal(f, &q, &len, ua_hash);
	Anosip__V1__Certificate *cert = NULL;
	assert_int_equal(circ_iddir_query_open(&f->dir, DIR_ID, s, len, key_of, f, NOW_MS, &got,
					       &cert, dir_hash),
			 0);
	free(s);
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	r.query_hash.data = dir_hash;
	r.query_hash.len = 32;
	r.ok = 1;
	r.nickname = got->nickname;
	r.real_id = (char *)"Robert";
	assert_int_equal(circ_iddir_result_seal(&f->dir, cert->nickname_public.data, &r, &s, &len),
			 0);
	anosip__v1__certificate__free_unpacked(cert, NULL);
	anosip__v1__id_dir_query__free_unpacked(got, NULL);
	Anosip__V1__IdDirResult *res =
	    result_open(f, &f->alice, f->dir.pub.sign, s, len, ua_hash, 0);
	assert_string_equal(res->real_id, "Robert");
	anosip__v1__id_dir_result__free_unpacked(res, NULL);
	free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_iddir_read_round_trip),
    T(test_iddir_publish_round_trip),
    T(test_iddir_revoke_and_log_round_trip),
    T(test_iddir_query_matches_spec),
    T(test_iddir_seal_refuses),
    T(test_iddir_forged_signature),
    T(test_iddir_unknown_lighthouse),
    T(test_iddir_tampered),
    T(test_iddir_wrong_directory),
    T(test_iddir_time_window),
    T(test_iddir_bad_fields),
    T(test_iddir_result_round_trip),
    T(test_iddir_result_spec_and_forged),
    T(test_iddir_result_other_query),
    T(test_iddir_result_other_asker),
    T(test_iddir_exchange),
};

int test_circuit_iddir_suite(void)
{
	return cmocka_run_group_tests_name("circuit_iddir", tests, NULL, NULL);
}

int test_circuit_iddir_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
