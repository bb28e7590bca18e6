/* The link handshake: ephemeral X25519 (forward secrecy), authenticated by
 * Ed25519 signatures with the directory keys (SIGMA-I: the initiator's
 * identity travels only under encryption). docs/protocol.md §1.2. */
#include "link/link.h"

#include "link.pb-c.h"
#include "util/util.h"

#include <sodium.h>
#include <string.h>

static const char transcript_context[] = "anosip-link";
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'a', 'n', 'o', 's', 'l', 'i', 'n', 'k'};

enum { KEY_HS_I2R = 1, KEY_HS_R2I = 2, KEY_DATA_I2R = 3, KEY_DATA_R2I = 4 };

/* Plaintext sealed in messages 2 and 3: a 2-byte length, a HandshakeAuth,
 * zero padding up to the frame. */
#define M2_SEALED (LINK_FRAME_SIZE - 32)
#define M2_PLAIN (M2_SEALED - LINK_TAG_SIZE)
#define M3_PLAIN (LINK_FRAME_SIZE - LINK_TAG_SIZE)

const char *link_strerror(int err)
{
	switch (err) {
	case LINK_OK:
		return "ok";
	case LINK_ERR_AUTH:
		return "authentication failed (forged, replayed, reordered or corrupted)";
	case LINK_ERR_FORMAT:
		return "malformed content";
	case LINK_ERR_OVERSIZE:
		return "message too large";
	case LINK_ERR_VERSION:
		return "peer speaks another link protocol version";
	case LINK_ERR_UNKNOWN_PEER:
		return "peer is not in the directory or not a neighbour";
	case LINK_ERR_BAD_SIGNATURE:
		return "peer's handshake signature does not verify";
	case LINK_ERR_WRONG_PEER:
		return "responder is not the node we dialled";
	case LINK_ERR_STATE:
		return "handshake step out of order";
	}
	return "unknown link error";
}

static void handshake_common(struct link_handshake *hs, const struct keys_pair *keys,
			     const char *self_id)
{
	memset(hs, 0, sizeof(*hs));
	hs->keys = keys;
	if (self_id)
		snprintf(hs->self_id, sizeof(hs->self_id), "%s", self_id);
	crypto_box_keypair(hs->eph_public, hs->eph_secret);
}

void link_handshake_initiator(struct link_handshake *hs, const struct keys_pair *keys,
			      const char *self_id, const char *peer_id, const uint8_t peer_sign[32])
{
	handshake_common(hs, keys, self_id);
	hs->initiator = 1;
	snprintf(hs->peer_id, sizeof(hs->peer_id), "%s", peer_id);
	memcpy(hs->peer_sign, peer_sign, 32);
}

void link_handshake_responder(struct link_handshake *hs, const struct keys_pair *keys,
			      const char *self_id, link_peer_lookup_fn lookup, void *ctx,
			      int allow_anonymous)
{
	handshake_common(hs, keys, self_id);
	hs->lookup = lookup;
	hs->lookup_ctx = ctx;
	hs->allow_anonymous = allow_anonymous;
}

void link_handshake_wipe(struct link_handshake *hs)
{
	char peer[32];
	memcpy(peer, hs->peer_id, sizeof(peer));
	sodium_memzero(hs, sizeof(*hs));
	memcpy(hs->peer_id, peer, sizeof(peer));
}

/* ck = BLAKE2b(context || X25519(e, e') || e_i || e_r): every later key and
 * signature is bound to both ephemeral keys. */
static int derive_chaining_key(struct link_handshake *hs)
{
	uint8_t shared[32];
	const uint8_t *e_i = hs->initiator ? hs->eph_public : hs->peer_eph;
	const uint8_t *e_r = hs->initiator ? hs->peer_eph : hs->eph_public;
	if (crypto_scalarmult(shared, hs->eph_secret, hs->peer_eph) != 0)
		return LINK_ERR_AUTH; /* a low-order point */
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)transcript_context,
				  sizeof(transcript_context) - 1);
	crypto_generichash_update(&st, shared, sizeof(shared));
	crypto_generichash_update(&st, e_i, 32);
	crypto_generichash_update(&st, e_r, 32);
	crypto_generichash_final(&st, hs->chaining_key, 32);
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

/* What a side signs: its role, both ephemeral keys, its own id and, for the
 * initiator, the responder's id (so a signature cannot be replayed to
 * vouch for a different pairing). */
static size_t signed_transcript(const struct link_handshake *hs, int by_initiator, const char *id,
				const char *responder_id, uint8_t *out)
{
	const uint8_t *e_i = hs->initiator ? hs->eph_public : hs->peer_eph;
	const uint8_t *e_r = hs->initiator ? hs->peer_eph : hs->eph_public;
	size_t n = 0;
	memcpy(out + n, transcript_context, sizeof(transcript_context) - 1);
	n += sizeof(transcript_context) - 1;
	out[n++] = by_initiator ? 'I' : 'R';
	memcpy(out + n, e_i, 32);
	n += 32;
	memcpy(out + n, e_r, 32);
	n += 32;
	size_t id_len = strlen(id);
	out[n++] = (uint8_t)id_len;
	memcpy(out + n, id, id_len);
	n += id_len;
	if (by_initiator) {
		size_t r_len = strlen(responder_id);
		out[n++] = (uint8_t)r_len;
		memcpy(out + n, responder_id, r_len);
		n += r_len;
	}
	return n;
}
#define TRANSCRIPT_MAX (sizeof(transcript_context) + 1 + 64 + 2 * 33)

static void derive_key(const struct link_handshake *hs, int which, uint8_t key[32])
{
	crypto_kdf_derive_from_key(key, 32, (uint64_t)which, kdf_context, hs->chaining_key);
}

/* Seals our HandshakeAuth under the handshake key for our direction. */
static int seal_auth(struct link_handshake *hs, uint8_t *out, size_t plain_len)
{
	uint8_t plain[M3_PLAIN];
	uint8_t transcript[TRANSCRIPT_MAX];
	uint8_t sig[crypto_sign_BYTES];
	uint8_t key[32];
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	Anosip__V1__HandshakeAuth auth;
	anosip__v1__handshake_auth__init(&auth);
	auth.version = LINK_VERSION;
	if (hs->keys) {
		const char *responder = hs->initiator ? hs->peer_id : hs->self_id;
		size_t tn =
		    signed_transcript(hs, hs->initiator, hs->self_id, responder, transcript);
		crypto_sign_detached(sig, NULL, transcript, tn, hs->keys->sign_secret);
		auth.node_id = hs->self_id;
		auth.signature.data = sig;
		auth.signature.len = sizeof(sig);
	}
	size_t packed = anosip__v1__handshake_auth__get_packed_size(&auth);
	if (packed + 2 > plain_len)
		return LINK_ERR_STATE;
	memset(plain, 0, sizeof(plain));
	plain[0] = (uint8_t)(packed >> 8);
	plain[1] = (uint8_t)packed;
	anosip__v1__handshake_auth__pack(&auth, plain + 2);
	derive_key(hs, hs->initiator ? KEY_HS_I2R : KEY_HS_R2I, key);
	/* Each handshake key seals exactly one message, so a zero nonce is safe. */
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, plain_len, NULL, 0, NULL, nonce,
						  key);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, sizeof(plain));
	return 0;
}

/* Opens the peer's HandshakeAuth and checks version, identity, signature. */
static int open_auth(struct link_handshake *hs, const uint8_t *in, size_t sealed_len)
{
	uint8_t plain[M3_PLAIN];
	uint8_t key[32];
	uint8_t transcript[TRANSCRIPT_MAX];
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	Anosip__V1__HandshakeAuth *auth = NULL;
	int rc;

	derive_key(hs, hs->initiator ? KEY_HS_R2I : KEY_HS_I2R, key);
	unsigned long long plain_len;
	rc = crypto_aead_chacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, in, sealed_len,
						       NULL, 0, nonce, key);
	sodium_memzero(key, sizeof(key));
	if (rc != 0)
		return LINK_ERR_AUTH;
	size_t packed = (size_t)plain[0] << 8 | plain[1];
	if (packed > plain_len - 2) {
		rc = LINK_ERR_FORMAT;
		goto out;
	}
	auth = anosip__v1__handshake_auth__unpack(NULL, packed, plain + 2);
	if (!auth) {
		rc = LINK_ERR_FORMAT;
		goto out;
	}
	if (auth->version != LINK_VERSION) {
		rc = LINK_ERR_VERSION;
		goto out;
	}
	const char *id = auth->node_id ? auth->node_id : "";
	if (!hs->initiator && id[0] == 0 && auth->signature.len == 0) {
		rc = hs->allow_anonymous ? 0 : LINK_ERR_UNKNOWN_PEER;
		hs->peer_id[0] = 0;
		goto out;
	}
	if (!util_id_valid(id) || auth->signature.len != crypto_sign_BYTES) {
		rc = LINK_ERR_FORMAT;
		goto out;
	}
	uint8_t sign_public[32];
	if (hs->initiator) {
		if (strcmp(id, hs->peer_id) != 0) {
			rc = LINK_ERR_WRONG_PEER;
			goto out;
		}
		memcpy(sign_public, hs->peer_sign, 32);
	} else {
		if (!hs->lookup || hs->lookup(hs->lookup_ctx, id, sign_public) != 0) {
			rc = LINK_ERR_UNKNOWN_PEER;
			snprintf(hs->peer_id, sizeof(hs->peer_id), "%s", id);
			goto out;
		}
	}
	const char *responder = hs->initiator ? id : hs->self_id;
	size_t tn = signed_transcript(hs, !hs->initiator, id, responder, transcript);
	if (crypto_sign_verify_detached(auth->signature.data, transcript, tn, sign_public) != 0) {
		rc = LINK_ERR_BAD_SIGNATURE;
		goto out;
	}
	snprintf(hs->peer_id, sizeof(hs->peer_id), "%s", id);
	rc = 0;
out:
	if (auth)
		anosip__v1__handshake_auth__free_unpacked(auth, NULL);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int link_handshake_write_1(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE])
{
	if (!hs->initiator || hs->step != 0)
		return LINK_ERR_STATE;
	memcpy(out, hs->eph_public, 32);
	/* Random filler: the frame looks like every other frame. */
	randombytes_buf(out + 32, LINK_FRAME_SIZE - 32);
	hs->step = 1;
	return 0;
}

int link_handshake_read_1(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE])
{
	if (hs->initiator || hs->step != 0)
		return LINK_ERR_STATE;
	memcpy(hs->peer_eph, in, 32);
	int rc = derive_chaining_key(hs);
	if (rc < 0)
		return rc;
	hs->step = 1;
	return 0;
}

int link_handshake_write_2(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE])
{
	if (hs->initiator || hs->step != 1 || !hs->keys)
		return LINK_ERR_STATE;
	memcpy(out, hs->eph_public, 32);
	int rc = seal_auth(hs, out + 32, M2_PLAIN);
	if (rc < 0)
		return rc;
	hs->step = 2;
	return 0;
}

int link_handshake_read_2(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE])
{
	if (!hs->initiator || hs->step != 1)
		return LINK_ERR_STATE;
	memcpy(hs->peer_eph, in, 32);
	int rc = derive_chaining_key(hs);
	if (rc < 0)
		return rc;
	rc = open_auth(hs, in + 32, M2_SEALED);
	if (rc < 0)
		return rc;
	hs->step = 2;
	return 0;
}

int link_handshake_write_3(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE])
{
	if (!hs->initiator || hs->step != 2)
		return LINK_ERR_STATE;
	int rc = seal_auth(hs, out, M3_PLAIN);
	if (rc < 0)
		return rc;
	hs->step = 3;
	return 0;
}

int link_handshake_read_3(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE])
{
	if (hs->initiator || hs->step != 2)
		return LINK_ERR_STATE;
	int rc = open_auth(hs, in, LINK_FRAME_SIZE);
	if (rc < 0)
		return rc;
	hs->step = 3;
	return 0;
}

int link_handshake_finish(struct link_handshake *hs, struct link_session *s)
{
	if (hs->step != 3)
		return LINK_ERR_STATE;
	memset(s, 0, sizeof(*s));
	derive_key(hs, hs->initiator ? KEY_DATA_I2R : KEY_DATA_R2I, s->tx_key);
	derive_key(hs, hs->initiator ? KEY_DATA_R2I : KEY_DATA_I2R, s->rx_key);
	link_handshake_wipe(hs);
	return 0;
}
