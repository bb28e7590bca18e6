/* ID Directory queries (docs/protocol.md §8): a ua signs its query with its
 * nickname key and seals it, with its certificate, to the directory's
 * X25519 key, so the lighthouses that carry it learn neither who asks nor
 * what; the directory signs its answer and seals it to the asker's
 * nickname key, so only the asker reads it and no one forges it. */
#include "circuit/circuit.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_CONTEXT "anosip-iddir-query-v1"
#define RESULT_CONTEXT "anosip-iddir-result-v1"
#define NONCE_BYTES 16
/* A query is a few short strings and at most 64 nicknames, plus a
 * certificate: anything larger sealed is not one. */
#define QUERY_SEALED_MAX (64 * 1024)
/* A result may carry a long read log; both ends hold it to this. */
#define RESULT_SEALED_MAX (1024 * 1024)

/* Packs m into a malloc'd buffer (NULL when out of memory). */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(*len ? *len : 1);
	if (out)
		protobuf_c_message_pack(m, out);
	return out;
}

/* Seals plain to an X25519 key; *out malloc'd. */
static int seal_to(const uint8_t *plain, size_t len, const uint8_t kx[32], uint8_t **out,
		   size_t *out_len)
{
	uint8_t *sealed = malloc(len + crypto_box_SEALBYTES);
	if (!sealed)
		return -ENOMEM;
	if (crypto_box_seal(sealed, plain, len, kx) != 0) {
		free(sealed);
		return -EINVAL;
	}
	*out = sealed;
	*out_len = len + crypto_box_SEALBYTES;
	return 0;
}

/* Opens a crypto_box_seal'd buffer of at most max bytes; *plain malloc'd. */
static int open_sealed(const uint8_t *sealed, size_t len, size_t max, const uint8_t kx_public[32],
		       const uint8_t kx_secret[32], uint8_t **plain, size_t *plain_len)
{
	if (!sealed || len < crypto_box_SEALBYTES)
		return CIRC_ERR_SEALED;
	if (len > max)
		return CIRC_ERR_DECODE;
	size_t n = len - crypto_box_SEALBYTES;
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return -ENOMEM;
	if (crypto_box_seal_open(p, sealed, len, kx_public, kx_secret) != 0) {
		free(p);
		return CIRC_ERR_SEALED;
	}
	*plain = p;
	*plain_len = n;
	return 0;
}

/* 1 if s is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF)
 * without C0 or C1 control characters or DEL. */
static int text_ok(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	while (*p) {
		uint32_t c = *p;
		int more;
		if (c < 0x80)
			more = 0;
		else if ((c & 0xe0) == 0xc0)
			more = 1, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			more = 2, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			more = 3, c &= 0x07;
		else
			return 0;
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (*p & 0x3f);
		}
		static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (c < min[more] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return 0;
	}
	return 1;
}

/* The meaning of a decoded query: what each operation needs. */
static int query_check(const Anosip__V1__IdDirQuery *q)
{
	if (q->nonce.len != NONCE_BYTES || !q->directory)
		return CIRC_ERR_DECODE;
	switch (q->op) {
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ:
		return circ_nickname_valid(q->nickname) ? 0 : CIRC_ERR_NICKNAME;
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH:
		break;
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_REVOKE:
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG:
		return 0;
	default:
		return CIRC_ERR_DECODE;
	}
	size_t n = q->real_id ? strlen(q->real_id) : 0;
	if (n == 0 || n > CIRC_IDDIR_REAL_ID_MAX || !text_ok(q->real_id))
		return CIRC_ERR_DECODE;
	switch (q->policy) {
	case ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_NOBODY:
	case ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_ANYONE:
	case ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST:
		break;
	default:
		return CIRC_ERR_DECODE;
	}
	if (q->n_readers > CIRC_IDDIR_READERS_MAX)
		return CIRC_ERR_DECODE;
	for (size_t i = 0; i < q->n_readers; i++)
		if (!circ_nickname_valid(q->readers[i]))
			return CIRC_ERR_NICKNAME;
	return 0;
}

/* The certificate's nickname and key, read without verifying it (the ua
 * only checks it is sealing the certificate it means to). */
static int certificate_names(const uint8_t *certificate, size_t len, const char *asker,
			     const uint8_t sign_public[32])
{
	Anosip__V1__SignedCertificate *sc =
	    anosip__v1__signed_certificate__unpack(NULL, len, certificate);
	if (!sc)
		return -EINVAL;
	Anosip__V1__Certificate *c =
	    anosip__v1__certificate__unpack(NULL, sc->certificate.len, sc->certificate.data);
	anosip__v1__signed_certificate__free_unpacked(sc, NULL);
	if (!c)
		return -EINVAL;
	int ok = c->nickname && strcmp(c->nickname, asker) == 0 && c->nickname_public.len == 32 &&
		 memcmp(c->nickname_public.data, sign_public, 32) == 0;
	anosip__v1__certificate__free_unpacked(c, NULL);
	return ok ? 0 : -EINVAL;
}

int circ_iddir_query_seal(const struct keys_pair *asker, const uint8_t *certificate,
			  size_t certificate_len, Anosip__V1__IdDirQuery *q,
			  const uint8_t directory_kx[32], uint8_t **out, size_t *out_len,
			  uint8_t query_hash[32])
{
	uint8_t nonce[NONCE_BYTES], signature[crypto_sign_BYTES];
	uint8_t *query = NULL, *signed_input = NULL, *plain = NULL;
	size_t query_len, signed_len, plain_len;
	int rc = -EINVAL;
	*out = NULL;
	*out_len = 0;
	if (!certificate || !certificate_len || !circ_nickname_valid(q->asker) ||
	    certificate_names(certificate, certificate_len, q->asker, asker->pub.sign) != 0)
		return -EINVAL;
	if (q->sent_unix_ms == 0)
		q->sent_unix_ms = util_wall_ms();
	/* A nonce made here lives only while the query is packed: q does
	 * not keep pointing into our stack. */
	int own_nonce = q->nonce.len == 0;
	if (own_nonce) {
		randombytes_buf(nonce, sizeof(nonce));
		q->nonce.data = nonce;
		q->nonce.len = sizeof(nonce);
	}
	query = pack(&q->base, &query_len);
	if (own_nonce) {
		q->nonce.data = NULL;
		q->nonce.len = 0;
	}
	rc = -ENOMEM;
	if (!query ||
	    !(signed_input = util_with_context(QUERY_CONTEXT, query, query_len, &signed_len)))
		goto out;
	crypto_sign_detached(signature, NULL, signed_input, signed_len, asker->sign_secret);

	Anosip__V1__SignedIdDirQuery sq = ANOSIP__V1__SIGNED_ID_DIR_QUERY__INIT;
	sq.query.data = query;
	sq.query.len = query_len;
	sq.certificate.data = (uint8_t *)certificate;
	sq.certificate.len = certificate_len;
	sq.signature.data = signature;
	sq.signature.len = sizeof(signature);
	if (!(plain = pack(&sq.base, &plain_len)))
		goto out;
	if (plain_len + crypto_box_SEALBYTES > QUERY_SEALED_MAX) {
		rc = -EMSGSIZE;
		goto out;
	}
	if ((rc = seal_to(plain, plain_len, directory_kx, out, out_len)) < 0)
		goto out;
	crypto_hash_sha256(query_hash, query, query_len);
	rc = 0;
out:
	free(query);
	free(signed_input);
	free(plain);
	return rc;
}

/* Verifies sq's signature by the certificate's key, then decodes and
 * checks the query itself. */
static int query_verify(const Anosip__V1__SignedIdDirQuery *sq, const Anosip__V1__Certificate *cert,
			const char *directory_id, uint64_t now_unix_ms,
			Anosip__V1__IdDirQuery **q_out)
{
	size_t m_len;
	uint8_t *m = util_with_context(QUERY_CONTEXT, sq->query.data, sq->query.len, &m_len);
	if (!m)
		return -ENOMEM;
	int good = crypto_sign_verify_detached(sq->signature.data, m, m_len,
					       cert->nickname_public.data) == 0;
	free(m);
	if (!good)
		return CIRC_ERR_PROOF;
	Anosip__V1__IdDirQuery *q =
	    anosip__v1__id_dir_query__unpack(NULL, sq->query.len, sq->query.data);
	if (!q)
		return CIRC_ERR_DECODE;
	int rc = CIRC_ERR_PROOF;
	/* Signed, but not by whom it names or not for us. */
	if (!q->asker || strcmp(q->asker, cert->nickname) != 0 || !q->directory ||
	    strcmp(q->directory, directory_id) != 0)
		goto fail;
	uint64_t age = now_unix_ms > q->sent_unix_ms ? now_unix_ms - q->sent_unix_ms
						     : q->sent_unix_ms - now_unix_ms;
	rc = CIRC_ERR_STALE;
	if (age > CIRC_IDDIR_MAX_AGE_MS)
		goto fail;
	if ((rc = query_check(q)) < 0)
		goto fail;
	*q_out = q;
	return 0;
fail:
	anosip__v1__id_dir_query__free_unpacked(q, NULL);
	return rc;
}

int circ_iddir_query_open(const struct keys_pair *directory, const char *directory_id,
			  const uint8_t *sealed, size_t len, circ_lighthouse_key_fn fn, void *ctx,
			  uint64_t now_unix_ms, Anosip__V1__IdDirQuery **q,
			  Anosip__V1__Certificate **cert, uint8_t query_hash[32])
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	Anosip__V1__SignedIdDirQuery *sq = NULL;
	Anosip__V1__Certificate *c = NULL;
	*q = NULL;
	*cert = NULL;
	memset(query_hash, 0, 32);
	if (!directory_id)
		return -EINVAL;
	int rc = open_sealed(sealed, len, QUERY_SEALED_MAX, directory->pub.kx, directory->kx_secret,
			     &plain, &plain_len);
	if (rc < 0)
		return rc;
	rc = CIRC_ERR_DECODE;
	sq = anosip__v1__signed_id_dir_query__unpack(NULL, plain_len, plain);
	if (!sq || sq->signature.len != crypto_sign_BYTES)
		goto out;
	if ((rc = circ_certificate_verify_any(sq->certificate.data, sq->certificate.len, fn, ctx,
					      now_unix_ms / 1000, &c)) < 0)
		goto out;
	if ((rc = query_verify(sq, c, directory_id, now_unix_ms, q)) < 0)
		goto out;
	crypto_hash_sha256(query_hash, sq->query.data, sq->query.len);
	*cert = c;
	c = NULL;
	rc = 0;
out:
	if (c)
		anosip__v1__certificate__free_unpacked(c, NULL);
	if (sq)
		anosip__v1__signed_id_dir_query__free_unpacked(sq, NULL);
	free(plain);
	return rc;
}

int circ_iddir_result_seal(const struct keys_pair *directory, const uint8_t asker_sign_public[32],
			   const Anosip__V1__IdDirResult *r, uint8_t **out, size_t *out_len)
{
	uint8_t asker_kx[crypto_box_PUBLICKEYBYTES], signature[crypto_sign_BYTES];
	uint8_t *result = NULL, *signed_input = NULL, *plain = NULL;
	size_t result_len, signed_len, plain_len;
	*out = NULL;
	*out_len = 0;
	if (crypto_sign_ed25519_pk_to_curve25519(asker_kx, asker_sign_public) != 0)
		return -EINVAL;
	int rc = -ENOMEM;
	if (!(result = pack(&r->base, &result_len)) ||
	    !(signed_input = util_with_context(RESULT_CONTEXT, result, result_len, &signed_len)))
		goto out;
	crypto_sign_detached(signature, NULL, signed_input, signed_len, directory->sign_secret);

	Anosip__V1__SignedIdDirResult sr = ANOSIP__V1__SIGNED_ID_DIR_RESULT__INIT;
	sr.result.data = result;
	sr.result.len = result_len;
	sr.signature.data = signature;
	sr.signature.len = sizeof(signature);
	if (!(plain = pack(&sr.base, &plain_len)))
		goto out;
	rc = -EMSGSIZE;
	if (plain_len + crypto_box_SEALBYTES > RESULT_SEALED_MAX)
		goto out;
	rc = seal_to(plain, plain_len, asker_kx, out, out_len);
out:
	free(result);
	free(signed_input);
	free(plain);
	return rc;
}

int circ_iddir_result_open(const struct keys_pair *asker, const uint8_t directory_sign[32],
			   const uint8_t *sealed, size_t len, const uint8_t query_hash[32],
			   Anosip__V1__IdDirResult **r)
{
	uint8_t kx_secret[crypto_box_SECRETKEYBYTES], kx_public[crypto_box_PUBLICKEYBYTES];
	uint8_t *plain = NULL, *m = NULL;
	size_t plain_len = 0, m_len;
	Anosip__V1__SignedIdDirResult *sr = NULL;
	Anosip__V1__IdDirResult *res = NULL;
	*r = NULL;
	if (crypto_sign_ed25519_sk_to_curve25519(kx_secret, asker->sign_secret) != 0)
		return -EINVAL;
	crypto_scalarmult_base(kx_public, kx_secret);
	int rc =
	    open_sealed(sealed, len, RESULT_SEALED_MAX, kx_public, kx_secret, &plain, &plain_len);
	sodium_memzero(kx_secret, sizeof(kx_secret));
	if (rc < 0)
		return rc;
	rc = CIRC_ERR_DECODE;
	sr = anosip__v1__signed_id_dir_result__unpack(NULL, plain_len, plain);
	if (!sr || sr->signature.len != crypto_sign_BYTES)
		goto out;
	rc = -ENOMEM;
	if (!(m = util_with_context(RESULT_CONTEXT, sr->result.data, sr->result.len, &m_len)))
		goto out;
	rc = CIRC_ERR_PROOF;
	if (crypto_sign_verify_detached(sr->signature.data, m, m_len, directory_sign) != 0)
		goto out;
	rc = CIRC_ERR_DECODE;
	if (!(res = anosip__v1__id_dir_result__unpack(NULL, sr->result.len, sr->result.data)))
		goto out;
	/* A genuine answer, but to another query (replayed by a lighthouse). */
	rc = CIRC_ERR_PROOF;
	if (res->query_hash.len != 32 || sodium_memcmp(res->query_hash.data, query_hash, 32) != 0)
		goto out;
	*r = res;
	res = NULL;
	rc = 0;
out:
	if (res)
		anosip__v1__id_dir_result__free_unpacked(res, NULL);
	if (sr)
		anosip__v1__signed_id_dir_result__free_unpacked(sr, NULL);
	free(m);
	free(plain);
	return rc;
}
