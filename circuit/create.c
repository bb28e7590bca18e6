/* CREATE / CREATED: an ntor-like handshake between a ua and its lighthouse.
 *
 *   ua:          x, X = x·G        lighthouse: static b, B; fresh y, Y = y·G
 *   s1 = X25519(y, X) = X25519(x, Y)     (forward secrecy)
 *   s2 = X25519(b, X) = X25519(x, B)     (only the holder of b can compute it)
 *   master = BLAKE2b-256("anosip-circuit-v1" || s1 || s2 || id || B || X || Y)
 *   forward, backward, confirm, auth keys = KDF(master, 1..4, "anoscirc")
 *   auth = BLAKE2b-256(key = auth key, "anosip-circuit-auth" || X || Y)
 *
 * The request proves the nickname key: the ua signs the lighthouse's id, X,
 * the time and the nickname with it. */
#include "circuit/circuit.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char master_context[] = "anosip-circuit-v1";
static const char auth_context[] = "anosip-circuit-auth";
static const char proof_context[] = "anosip-create-v1";
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'a', 'n', 'o', 's', 'c', 'i', 'r', 'c'};
enum { KEY_FORWARD = 1, KEY_BACKWARD = 2, KEY_CONFIRM = 3, KEY_AUTH = 4 };

const char *circ_strerror(int err)
{
	switch (err) {
	case CIRC_ERR_SEALED:
		return "sealed request does not open";
	case CIRC_ERR_DECODE:
		return "malformed request";
	case CIRC_ERR_VERSION:
		return "another circuit protocol version";
	case CIRC_ERR_PROOF:
		return "nickname proof does not verify";
	case CIRC_ERR_STALE:
		return "request too old or from the future";
	case CIRC_ERR_AUTH:
		return "lighthouse answer does not authenticate";
	case CIRC_ERR_REPLAY:
		return "replayed or out-of-order data";
	case CIRC_ERR_TOO_LARGE:
		return "data too large";
	case CIRC_ERR_NICKNAME:
		return "invalid nickname";
	}
	return err < 0 ? "error" : "ok";
}

int circ_nickname_valid(const char *nickname)
{
	return util_nickname_valid(nickname);
}

void circ_keys_wipe(struct circ_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* What the nickname key signs. */
static size_t proof_transcript(const char *lighthouse_id, const uint8_t client_public[32],
			       uint64_t sent_ms, const char *nickname, uint8_t *out)
{
	size_t n = 0, id = strlen(lighthouse_id), nick = strlen(nickname);
	memcpy(out, proof_context, sizeof(proof_context) - 1);
	n += sizeof(proof_context) - 1;
	out[n++] = (uint8_t)id;
	memcpy(out + n, lighthouse_id, id);
	n += id;
	memcpy(out + n, client_public, 32);
	n += 32;
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(sent_ms >> (8 * i));
	out[n++] = (uint8_t)nick;
	memcpy(out + n, nickname, nick);
	return n + nick;
}
#define PROOF_MAX (sizeof(proof_context) + 1 + 32 + 32 + 8 + 1 + CIRC_NICKNAME_MAX)

/* Derives the four keys from the two shared secrets and the transcript. */
static int derive(const uint8_t s1[32], const uint8_t s2[32], const char *lighthouse_id,
		  const uint8_t lighthouse_kx[32], const uint8_t x_pub[32], const uint8_t y_pub[32],
		  struct circ_keys *keys, uint8_t confirm_key[32], uint8_t auth[32])
{
	uint8_t master[32], auth_key[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(master));
	crypto_generichash_update(&st, (const uint8_t *)master_context, sizeof(master_context) - 1);
	crypto_generichash_update(&st, s1, 32);
	crypto_generichash_update(&st, s2, 32);
	crypto_generichash_update(&st, (const uint8_t *)lighthouse_id, strlen(lighthouse_id));
	crypto_generichash_update(&st, lighthouse_kx, 32);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, y_pub, 32);
	crypto_generichash_final(&st, master, sizeof(master));
	crypto_kdf_derive_from_key(keys->forward, 32, KEY_FORWARD, kdf_context, master);
	crypto_kdf_derive_from_key(keys->backward, 32, KEY_BACKWARD, kdf_context, master);
	crypto_kdf_derive_from_key(confirm_key, 32, KEY_CONFIRM, kdf_context, master);
	crypto_kdf_derive_from_key(auth_key, 32, KEY_AUTH, kdf_context, master);
	crypto_generichash_init(&st, auth_key, sizeof(auth_key), 32);
	crypto_generichash_update(&st, (const uint8_t *)auth_context, sizeof(auth_context) - 1);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, y_pub, 32);
	crypto_generichash_final(&st, auth, 32);
	sodium_memzero(master, sizeof(master));
	sodium_memzero(auth_key, sizeof(auth_key));
	sodium_memzero(&st, sizeof(st));
	keys->sent = keys->received = 0;
	return 0;
}

int circ_client_create(struct circ_client *cc, const struct keys_pair *nickname_keys,
		       const char *nickname, const char *lighthouse_id,
		       const uint8_t lighthouse_kx[32], int sign_up, uint8_t **sealed,
		       size_t *sealed_len)
{
	if (!circ_nickname_valid(nickname))
		return CIRC_ERR_NICKNAME;
	if (!util_id_valid(lighthouse_id))
		return -EINVAL; /* the proof transcript has room for a directory id only */
	if (sodium_init() < 0)
		return -EIO;
	memset(cc, 0, sizeof(*cc));
	crypto_box_keypair(cc->eph_public, cc->eph_secret);
	snprintf(cc->lighthouse_id, sizeof(cc->lighthouse_id), "%s", lighthouse_id);
	memcpy(cc->lighthouse_kx, lighthouse_kx, 32);

	uint8_t transcript[PROOF_MAX], proof[crypto_sign_BYTES];
	Anosip__V1__CreateRequest req = ANOSIP__V1__CREATE_REQUEST__INIT;
	req.version = CIRC_VERSION;
	req.client_public.data = cc->eph_public;
	req.client_public.len = 32;
	req.nickname = (char *)nickname;
	req.nickname_public.data = (uint8_t *)nickname_keys->pub.sign;
	req.nickname_public.len = 32;
	req.sent_unix_ms = util_wall_ms();
	req.sign_up = sign_up != 0;
	size_t tn =
	    proof_transcript(lighthouse_id, cc->eph_public, req.sent_unix_ms, nickname, transcript);
	crypto_sign_detached(proof, NULL, transcript, tn, nickname_keys->sign_secret);
	req.proof.data = proof;
	req.proof.len = sizeof(proof);

	size_t len = anosip__v1__create_request__get_packed_size(&req);
	uint8_t *plain = malloc(len);
	uint8_t *out = malloc(len + crypto_box_SEALBYTES);
	if (!plain || !out) {
		free(plain);
		free(out);
		return -ENOMEM;
	}
	anosip__v1__create_request__pack(&req, plain);
	crypto_box_seal(out, plain, len, lighthouse_kx);
	sodium_memzero(plain, len);
	free(plain);
	*sealed = out;
	*sealed_len = len + crypto_box_SEALBYTES;
	return 0;
}

int circ_client_finish(struct circ_client *cc, const Anosip__V1__Created *created,
		       struct circ_keys *keys, Anosip__V1__CreateConfirm **confirm)
{
	int rc = CIRC_ERR_AUTH;
	uint8_t s1[32], s2[32], confirm_key[32], auth[32];
	uint8_t *plain = NULL;
	if (created->server_public.len != 32 || created->auth.len != 32 ||
	    created->sealed.len < crypto_aead_chacha20poly1305_ietf_ABYTES)
		goto out;
	if (crypto_scalarmult(s1, cc->eph_secret, created->server_public.data) != 0 ||
	    crypto_scalarmult(s2, cc->eph_secret, cc->lighthouse_kx) != 0)
		goto out;
	derive(s1, s2, cc->lighthouse_id, cc->lighthouse_kx, cc->eph_public,
	       created->server_public.data, keys, confirm_key, auth);
	if (sodium_memcmp(auth, created->auth.data, 32) != 0)
		goto out;
	size_t plain_len = created->sealed.len - crypto_aead_chacha20poly1305_ietf_ABYTES;
	plain = malloc(plain_len ? plain_len : 1);
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	if (!plain || crypto_aead_chacha20poly1305_ietf_decrypt(
			  plain, NULL, NULL, created->sealed.data, created->sealed.len, NULL, 0,
			  nonce, confirm_key) != 0)
		goto out;
	*confirm = anosip__v1__create_confirm__unpack(NULL, plain_len, plain);
	rc = *confirm ? 0 : CIRC_ERR_DECODE;
	keys->is_lighthouse = 0;
out:
	if (rc < 0)
		circ_keys_wipe(keys);
	free(plain);
	sodium_memzero(s1, sizeof(s1));
	sodium_memzero(s2, sizeof(s2));
	sodium_memzero(confirm_key, sizeof(confirm_key));
	sodium_memzero(cc, sizeof(*cc));
	return rc;
}

int circ_server_open(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
		     const uint8_t *sealed, size_t sealed_len, uint64_t now_unix_ms,
		     Anosip__V1__CreateRequest **req_out)
{
	int rc = CIRC_ERR_SEALED;
	Anosip__V1__CreateRequest *req = NULL;
	if (!util_id_valid(lighthouse_id))
		return -EINVAL;
	if (sealed_len < crypto_box_SEALBYTES || sealed_len > 4096)
		return CIRC_ERR_SEALED;
	size_t plain_len = sealed_len - crypto_box_SEALBYTES;
	uint8_t *plain = malloc(plain_len ? plain_len : 1);
	if (!plain)
		return -ENOMEM;
	if (crypto_box_seal_open(plain, sealed, sealed_len, lighthouse_keys->pub.kx,
				 lighthouse_keys->kx_secret) != 0)
		goto out;
	rc = CIRC_ERR_DECODE;
	req = anosip__v1__create_request__unpack(NULL, plain_len, plain);
	if (!req)
		goto out;
	if (req->version != CIRC_VERSION) {
		rc = CIRC_ERR_VERSION;
		goto out;
	}
	if (req->client_public.len != 32 || req->nickname_public.len != 32 ||
	    req->proof.len != crypto_sign_BYTES || !req->nickname)
		goto out;
	if (!circ_nickname_valid(req->nickname)) {
		rc = CIRC_ERR_NICKNAME;
		goto out;
	}
	uint64_t age = now_unix_ms > req->sent_unix_ms ? now_unix_ms - req->sent_unix_ms
						       : req->sent_unix_ms - now_unix_ms;
	if (age > CIRC_CREATE_MAX_AGE_MS) {
		rc = CIRC_ERR_STALE;
		goto out;
	}
	uint8_t transcript[PROOF_MAX];
	size_t tn = proof_transcript(lighthouse_id, req->client_public.data, req->sent_unix_ms,
				     req->nickname, transcript);
	if (crypto_sign_verify_detached(req->proof.data, transcript, tn,
					req->nickname_public.data) != 0) {
		rc = CIRC_ERR_PROOF;
		goto out;
	}
	*req_out = req;
	req = NULL;
	rc = 0;
out:
	if (req)
		anosip__v1__create_request__free_unpacked(req, NULL);
	sodium_memzero(plain, plain_len);
	free(plain);
	return rc;
}

int circ_server_accept(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
		       const Anosip__V1__CreateRequest *req,
		       const Anosip__V1__CreateConfirm *confirm, Anosip__V1__Created *created,
		       struct circ_keys *keys)
{
	int rc = -ENOMEM;
	uint8_t y_secret[32], s1[32], s2[32], confirm_key[32];
	uint8_t *y_pub = malloc(32), *auth = malloc(32), *plain = NULL, *sealed = NULL;
	anosip__v1__created__init(created);
	if (!y_pub || !auth)
		goto out;
	crypto_box_keypair(y_pub, y_secret);
	if (crypto_scalarmult(s1, y_secret, req->client_public.data) != 0 ||
	    crypto_scalarmult(s2, lighthouse_keys->kx_secret, req->client_public.data) != 0) {
		rc = CIRC_ERR_DECODE; /* a low-order point */
		goto out;
	}
	derive(s1, s2, lighthouse_id, lighthouse_keys->pub.kx, req->client_public.data, y_pub, keys,
	       confirm_key, auth);
	keys->is_lighthouse = 1;
	size_t plain_len = anosip__v1__create_confirm__get_packed_size(confirm);
	plain = malloc(plain_len ? plain_len : 1);
	sealed = malloc(plain_len + crypto_aead_chacha20poly1305_ietf_ABYTES);
	if (!plain || !sealed)
		goto out;
	anosip__v1__create_confirm__pack(confirm, plain);
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	/* The confirm key seals exactly one message: a zero nonce is safe. */
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, plain, plain_len, NULL, 0, NULL,
						  nonce, confirm_key);
	created->server_public.data = y_pub;
	created->server_public.len = 32;
	created->auth.data = auth;
	created->auth.len = 32;
	created->sealed.data = sealed;
	created->sealed.len = plain_len + crypto_aead_chacha20poly1305_ietf_ABYTES;
	y_pub = auth = sealed = NULL;
	rc = 0;
out:
	if (rc < 0)
		circ_keys_wipe(keys);
	free(y_pub);
	free(auth);
	free(sealed);
	free(plain);
	sodium_memzero(y_secret, sizeof(y_secret));
	sodium_memzero(s1, sizeof(s1));
	sodium_memzero(s2, sizeof(s2));
	sodium_memzero(confirm_key, sizeof(confirm_key));
	return rc;
}

void circ_created_free(Anosip__V1__Created *created)
{
	free(created->server_public.data);
	free(created->auth.data);
	free(created->sealed.data);
	anosip__v1__created__init(created);
}
