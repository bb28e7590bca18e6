/* Fuzzes the ID Directory queries of circuit/iddir_query.c: what a
 * directory runs on every sealed query a lighthouse forwards
 * (circ_iddir_query_open) and what a ua runs on the sealed answer
 * (circ_iddir_result_open).
 *
 * The directory is gamma of the harness (the third key pair) with id
 * "gamma"; the asker is the fixed ua (fixtures.nickname, "mother") with a
 * certificate beta really signed; the clock reads FUZZ_NOW_MS. The first
 * byte picks a mode (modulo 6); the rest is the data:
 *   0  the data is a sealed query, opened by the directory;
 *   1  the data is a sealed result, opened by the ua;
 *   2  the data is a SignedIdDirQuery, which the harness seals to gamma;
 *   3  the data is an IdDirQuery, which the harness signs with the ua's
 *      key ("anosip-iddir-query-v1" || query), puts with the ua's
 *      certificate in a SignedIdDirQuery and seals to gamma, so every
 *      check past the signature runs;
 *   4  the data is a SignedIdDirResult, sealed to the ua's key;
 *   5  the first 32 bytes are the query hash the ua expects, the rest an
 *      IdDirResult, which the harness signs with gamma's key
 *      ("anosip-iddir-result-v1" || result) and seals to the ua.
 *
 * Oracles. A refusal hands out nothing and is one of the circuit errors.
 * Mode 3's verdict is worked out on our own from docs/protocol.md §8 (in
 * the order the checks run: decoding, whom it names, time, fields); an
 * accepted query has the fields we decoded and the hash of the bytes.
 * Mode 5's verdict likewise: undecodable, then another query's hash. In
 * the other modes anything accepted must still satisfy those rules. */
#include "tests/fuzz/harness.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR_ID FUZZ_THIRD_ID
#define QUERY_CONTEXT "anosip-iddir-query-v1"
#define RESULT_CONTEXT "anosip-iddir-result-v1"

static const struct keys_pair *directory(void)
{
	return &fuzz_fixtures()->third;
}

/* The ua's certificate, made once (Ed25519 signing is deterministic). */
static const uint8_t *certificate(size_t *len)
{
	static uint8_t *cert;
	static size_t cert_len;
	if (!cert) {
		const struct fuzz_fixtures *f = fuzz_fixtures();
		if (circ_certificate_sign(&f->responder, FUZZ_LIGHTHOUSE_ID, FUZZ_NICKNAME,
					  f->nickname.pub.sign, FUZZ_NOW_S - 3600,
					  FUZZ_NOW_S + 30 * 86400, &cert, &cert_len) != 0)
			fuzz_fail("circ_certificate_sign");
	}
	*len = cert_len;
	return cert;
}

/* Well-formed UTF-8 by the table of the Unicode standard (§3.9, table
 * 3-7), without C0, DEL or C1 controls. */
static int text_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = s[i];
		if (b < 0x20 || b == 0x7f)
			return 0;
		if (b < 0x80) {
			i++;
			continue;
		}
		uint8_t lo = 0x80, hi = 0xbf;
		int more;
		if (b >= 0xc2 && b <= 0xdf)
			more = 1;
		else if (b == 0xe0)
			more = 2, lo = 0xa0;
		else if (b == 0xed)
			more = 2, hi = 0x9f;
		else if (b >= 0xe1 && b <= 0xef)
			more = 2;
		else if (b == 0xf0)
			more = 3, lo = 0x90;
		else if (b == 0xf4)
			more = 3, hi = 0x8f;
		else if (b >= 0xf1 && b <= 0xf3)
			more = 3;
		else
			return 0;
		if (i + (size_t)more >= n)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (int k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		/* U+0080..U+009F are C2 80..C2 9F. */
		if (b == 0xc2 && s[i + 1] <= 0x9f)
			return 0;
		i += (size_t)more + 1;
	}
	return 1;
}

/* Our own verdict on the fields of a query signed by the ua. */
static int expected_query(const Anosip__V1__IdDirQuery *q)
{
	if (strcmp(q->asker, FUZZ_NICKNAME) != 0 || strcmp(q->directory, DIR_ID) != 0)
		return CIRC_ERR_PROOF;
	uint64_t d = q->sent_unix_ms > FUZZ_NOW_MS ? q->sent_unix_ms - FUZZ_NOW_MS
						   : FUZZ_NOW_MS - q->sent_unix_ms;
	if (d > 60000)
		return CIRC_ERR_STALE;
	if (q->nonce.len != 16)
		return CIRC_ERR_DECODE;
	switch ((int)q->op) {
	case 1:
		return fuzz_nickname_ok(q->nickname) ? 0 : CIRC_ERR_NICKNAME;
	case 3:
	case 4:
		return 0;
	case 2:
		break;
	default:
		return CIRC_ERR_DECODE;
	}
	size_t n = strlen(q->real_id);
	if (n < 1 || n > 200 || !text_ok((const uint8_t *)q->real_id, n))
		return CIRC_ERR_DECODE;
	if ((int)q->policy < 0 || (int)q->policy > 2 || q->n_readers > 64)
		return CIRC_ERR_DECODE;
	for (size_t i = 0; i < q->n_readers; i++)
		if (!fuzz_nickname_ok(q->readers[i]))
			return CIRC_ERR_NICKNAME;
	return 0;
}

static int is_circ_error(int rc)
{
	return rc == CIRC_ERR_SEALED || rc == CIRC_ERR_DECODE || rc == CIRC_ERR_PROOF ||
	       rc == CIRC_ERR_STALE || rc == CIRC_ERR_NICKNAME;
}

/* The directory opens sealed; returns the verdict and, on 0, the query
 * (the caller frees it). */
static int open_query(const uint8_t *sealed, size_t len, uint8_t hash[32],
		      Anosip__V1__IdDirQuery **out)
{
	Anosip__V1__IdDirQuery *q = (Anosip__V1__IdDirQuery *)1;
	Anosip__V1__Certificate *cert = (Anosip__V1__Certificate *)1;
	int rc = circ_iddir_query_open(directory(), DIR_ID, sealed, len, fuzz_peer_lookup, NULL,
				       FUZZ_NOW_MS, &q, &cert, hash);
	if (rc != 0) {
		if (q || cert)
			fuzz_fail("circ_iddir_query_open refused but handed something out");
		if (!is_circ_error(rc))
			fuzz_fail("circ_iddir_query_open: an unexpected error");
		*out = NULL;
		return rc;
	}
	if (!q || !cert)
		fuzz_fail("circ_iddir_query_open accepted but handed out nothing");
	fuzz_walk_message(&q->base);
	/* Whatever passes, passes our own rules: only the ua's certificate
	 * exists for an accepted query here. */
	if (strcmp(cert->nickname, FUZZ_NICKNAME) != 0 || expected_query(q) != 0)
		fuzz_fail("circ_iddir_query_open accepted a query our rules refuse");
	anosip__v1__certificate__free_unpacked(cert, NULL);
	*out = q;
	return 0;
}

static void run_sealed_query(const uint8_t *data, size_t size, int seal)
{
	uint8_t hash[32], *sealed = NULL;
	Anosip__V1__IdDirQuery *q;
	if (seal) {
		if (!(sealed = malloc(size + crypto_box_SEALBYTES)))
			fuzz_fail("out of memory");
		size = fuzz_seal_fixed(data, size, directory()->pub.kx, sealed);
		data = sealed;
	}
	if (open_query(data, size, hash, &q) == 0)
		anosip__v1__id_dir_query__free_unpacked(q, NULL);
	free(sealed);
}

static void run_signed_query(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	size_t ctx = strlen(QUERY_CONTEXT), cert_len;
	uint8_t *m = malloc(ctx + size + 1), sig[64];
	if (!m)
		fuzz_fail("out of memory");
	memcpy(m, QUERY_CONTEXT, ctx);
	if (size)
		memcpy(m + ctx, data, size);
	crypto_sign_detached(sig, NULL, m, ctx + size, f->nickname.sign_secret);
	Anosip__V1__SignedIdDirQuery sq = ANOSIP__V1__SIGNED_ID_DIR_QUERY__INIT;
	sq.query.data = m + ctx;
	sq.query.len = size;
	sq.certificate.data = (uint8_t *)certificate(&cert_len);
	sq.certificate.len = cert_len;
	sq.signature.data = sig;
	sq.signature.len = sizeof(sig);
	size_t plen = anosip__v1__signed_id_dir_query__get_packed_size(&sq);
	uint8_t *plain = malloc(plen), *sealed = malloc(plen + crypto_box_SEALBYTES);
	if (!plain || !sealed)
		fuzz_fail("out of memory");
	anosip__v1__signed_id_dir_query__pack(&sq, plain);
	size_t len = fuzz_seal_fixed(plain, plen, directory()->pub.kx, sealed);

	Anosip__V1__IdDirQuery *mine = anosip__v1__id_dir_query__unpack(NULL, size, data);
	int expect = mine ? expected_query(mine) : CIRC_ERR_DECODE;
	/* Over the size bound nothing is opened at all. */
	if (len > 64 * 1024)
		expect = CIRC_ERR_DECODE;
	uint8_t hash[32], digest[32];
	Anosip__V1__IdDirQuery *q;
	int rc = open_query(sealed, len, hash, &q);
	if (rc != expect)
		fuzz_fail("circ_iddir_query_open's answer is not the expected one");
	if (rc == 0) {
		crypto_hash_sha256(digest, data, size);
		if (memcmp(digest, hash, 32) != 0)
			fuzz_fail("the query hash is not SHA-256 of the query");
		if (q->op != mine->op || q->sent_unix_ms != mine->sent_unix_ms ||
		    strcmp(q->nickname, mine->nickname) != 0 ||
		    strcmp(q->real_id, mine->real_id) != 0 || q->n_readers != mine->n_readers ||
		    memcmp(q->nonce.data, mine->nonce.data, 16) != 0)
			fuzz_fail("circ_iddir_query_open handed out other fields than were signed");
		anosip__v1__id_dir_query__free_unpacked(q, NULL);
	}
	if (mine)
		anosip__v1__id_dir_query__free_unpacked(mine, NULL);
	free(m);
	free(plain);
	free(sealed);
}

/* The ua opens a result; returns the verdict. */
static int open_result(const uint8_t *sealed, size_t len, const uint8_t hash[32])
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__IdDirResult *r = (Anosip__V1__IdDirResult *)1;
	int rc = circ_iddir_result_open(&f->nickname, directory()->pub.sign, sealed, len, hash, &r);
	if (rc != 0) {
		if (r)
			fuzz_fail("circ_iddir_result_open refused but handed something out");
		if (!is_circ_error(rc))
			fuzz_fail("circ_iddir_result_open: an unexpected error");
		return rc;
	}
	if (!r)
		fuzz_fail("circ_iddir_result_open accepted but handed out nothing");
	fuzz_walk_message(&r->base);
	if (r->query_hash.len != 32 || memcmp(r->query_hash.data, hash, 32) != 0)
		fuzz_fail("circ_iddir_result_open accepted an answer to another query");
	anosip__v1__id_dir_result__free_unpacked(r, NULL);
	return 0;
}

static uint8_t *seal_to_ua(const uint8_t *data, size_t size, size_t *len)
{
	static uint8_t kx[32];
	static int have_kx;
	uint8_t *sealed = malloc(size + crypto_box_SEALBYTES);
	if (!sealed)
		fuzz_fail("out of memory");
	if (!have_kx) {
		if (crypto_sign_ed25519_pk_to_curve25519(kx, fuzz_fixtures()->nickname.pub.sign) !=
		    0)
			fuzz_fail("the ua's key does not convert");
		have_kx = 1;
	}
	*len = fuzz_seal_fixed(data, size, kx, sealed);
	return sealed;
}

static void run_sealed_result(const uint8_t *data, size_t size)
{
	static const uint8_t hash[32];
	size_t len;
	uint8_t *sealed = seal_to_ua(data, size, &len);
	open_result(sealed, len, hash);
	free(sealed);
}

static void run_signed_result(const uint8_t *data, size_t size)
{
	uint8_t hash[32];
	fuzz_take(&data, &size, hash, sizeof(hash));
	size_t ctx = strlen(RESULT_CONTEXT);
	uint8_t *m = malloc(ctx + size + 1), sig[64];
	if (!m)
		fuzz_fail("out of memory");
	memcpy(m, RESULT_CONTEXT, ctx);
	if (size)
		memcpy(m + ctx, data, size);
	crypto_sign_detached(sig, NULL, m, ctx + size, directory()->sign_secret);
	Anosip__V1__SignedIdDirResult sr = ANOSIP__V1__SIGNED_ID_DIR_RESULT__INIT;
	sr.result.data = m + ctx;
	sr.result.len = size;
	sr.signature.data = sig;
	sr.signature.len = sizeof(sig);
	size_t plen = anosip__v1__signed_id_dir_result__get_packed_size(&sr), len;
	uint8_t *plain = malloc(plen);
	if (!plain)
		fuzz_fail("out of memory");
	anosip__v1__signed_id_dir_result__pack(&sr, plain);
	uint8_t *sealed = seal_to_ua(plain, plen, &len);

	Anosip__V1__IdDirResult *mine = anosip__v1__id_dir_result__unpack(NULL, size, data);
	int expect = !mine ? CIRC_ERR_DECODE
		     : mine->query_hash.len != 32 || memcmp(mine->query_hash.data, hash, 32) != 0
			 ? CIRC_ERR_PROOF
			 : 0;
	if (open_result(sealed, len, hash) != expect)
		fuzz_fail("circ_iddir_result_open's answer is not the expected one");
	/* The same answer never opens under another directory's key. */
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__IdDirResult *r = NULL;
	if (circ_iddir_result_open(&f->nickname, f->responder.pub.sign, sealed, len, hash, &r) !=
		CIRC_ERR_PROOF ||
	    r)
		fuzz_fail("a result verified under a key that did not sign it");
	if (mine)
		anosip__v1__id_dir_result__free_unpacked(mine, NULL);
	free(m);
	free(plain);
	free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 6;
	data++;
	size--;
	switch (mode) {
	case 0:
		run_sealed_query(data, size, 0);
		break;
	case 1:
		open_result(data, size, (const uint8_t[32]){0});
		break;
	case 2:
		run_sealed_query(data, size, 1);
		break;
	case 3:
		run_signed_query(data, size);
		break;
	case 4:
		run_sealed_result(data, size);
		break;
	default:
		run_signed_result(data, size);
		break;
	}
	return 0;
}
