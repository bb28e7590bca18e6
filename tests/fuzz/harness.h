/* Shared fixtures for the libFuzzer targets and the seed generator.
 *
 * Every key here is derived from a fixed seed, so a crash input replays
 * the same way on any machine and the committed seed corpus (made by
 * seedgen.c from these same fixtures) stays valid. Nothing in here keeps
 * state between inputs: the fixtures are computed once and only read. */
#ifndef ANOSIP_FUZZ_HARNESS_H
#define ANOSIP_FUZZ_HARNESS_H

#include "circuit/circuit.h"
#include "keys/keys.h"
#include "link/link.h"
#include "topo/topo.h"

#include <protobuf-c/protobuf-c.h>

#include <stddef.h>
#include <stdint.h>

/* The two nodes of the handshake fixtures and the directory authority. */
#define FUZZ_INITIATOR_ID "alpha"
#define FUZZ_RESPONDER_ID "beta"
/* A third node, for the routed fixtures' topology. */
#define FUZZ_THIRD_ID "gamma"

struct fuzz_fixtures {
	struct keys_pair initiator;
	struct keys_pair responder;
	struct keys_pair authority;
	struct keys_pair third;
	uint8_t session_key[32];	  /* the rx key of fuzz_frame's session */
	uint8_t initiator_eph_secret[32]; /* replaces the handshake's random one */
	uint8_t responder_eph_secret[32];
	struct keys_pair nickname;    /* a ua's nickname key (circuits) */
	uint8_t circuit_x_secret[32]; /* the ua's ephemeral x of a circuit */
	uint8_t circuit_y_secret[32]; /* the lighthouse's ephemeral y */
	struct keys_pair callee;      /* the nickname key of the ua called (SIP) */
};

/* Initialises libsodium and the fixtures once; aborts if that fails. */
const struct fuzz_fixtures *fuzz_fixtures(void);

/* link_peer_lookup_fn for the responder: knows "alpha" and "beta". */
int fuzz_peer_lookup(void *ctx, const char *id, uint8_t sign_public[32]);

/* Handshake states with the fixed ephemeral keys in place of random ones.
 * anonymous: the initiator has no keys (a ua); allow_anonymous: the
 * responder admits such initiators. */
void fuzz_initiator(struct link_handshake *hs, int anonymous);
void fuzz_responder(struct link_handshake *hs, int allow_anonymous);

/* The handshake keys of link/handshake.c: crypto_kdf_derive_from_key with
 * context "anoslink" from the chaining key, id 1 initiator->responder and
 * 2 responder->initiator. Handshake messages are sealed with a zero nonce. */
#define FUZZ_KEY_HS_I2R 1
#define FUZZ_KEY_HS_R2I 2
void fuzz_handshake_key(const uint8_t chaining_key[32], int which, uint8_t key[32]);

/* Plaintext sizes of handshake messages 2 and 3 (see link/handshake.c). */
#define FUZZ_M2_PLAIN (LINK_FRAME_SIZE - 32 - LINK_TAG_SIZE)
#define FUZZ_M3_PLAIN (LINK_FRAME_SIZE - LINK_TAG_SIZE)

/* Frame plaintext (flags, length, payload) and the frame nonce of
 * link/frame.c: the 64-bit counter little-endian after four zero bytes. */
#define FUZZ_FRAME_PLAIN (LINK_FRAME_SIZE - LINK_TAG_SIZE)
void fuzz_frame_nonce(uint64_t counter, uint8_t nonce[12]);

/* Seals one frame plaintext the way link_seal_message does. */
void fuzz_seal_frame(const uint8_t key[32], uint64_t counter, const uint8_t plain[FUZZ_FRAME_PLAIN],
		     uint8_t out[LINK_FRAME_SIZE]);

/* The directory signature rule of topo/directory.c: Ed25519 by the
 * authority over "anosip-directory-v1" || body. Returns an encoded
 * SignedDirectory in a malloc'd buffer the caller frees, or NULL. */
uint8_t *fuzz_sign_directory(const uint8_t *body, size_t len, size_t *out_len);

/* The routed fixtures' topology, built once with topo_build: "beta" (the
 * responder's keys) is the root, "alpha" (the initiator's) and "gamma" (the
 * third pair) its children, in that order. Routed messages are addressed
 * to beta; keys of node i are fuzz_node_keys(i). */
#define FUZZ_TOPO_NODES 3
#define FUZZ_TOPO_SELF 0 /* beta */
const struct topo *fuzz_topology(void);
const struct keys_pair *fuzz_node_keys(int index);

/* The routed signature rule of router/routed.c: Ed25519 by the source over
 * "anosip-routed-v1" || (uint8)strlen(dest_id) || dest_id || body. Returns
 * an encoded RoutedSigned in a malloc'd buffer the caller frees, or NULL. */
uint8_t *fuzz_sign_routed(const struct keys_pair *signer, const char *dest_id, const uint8_t *body,
			  size_t len, size_t *out_len);

/* Copies the next len bytes of the input to out and moves past them; what
 * the input lacks is zeros. Targets read their fixed-size headers so. */
void fuzz_take(const uint8_t **data, size_t *size, void *out, size_t len);
/* The n-byte little-endian number at p (n <= 8). */
uint64_t fuzz_le(const uint8_t *p, int n);

/* Writes data to a fresh file under /dev/shm (tmpfs; /tmp without it;
 * mkstemp, named after what, at most 20 characters) for the targets whose
 * parser reads a path; path is then its name, which the caller unlinks. Returns 0, or -1 on failure
 * (nothing is left behind). */
int fuzz_write_temp(const char *what, const uint8_t *data, size_t size, char path[64]);

/* Walks a decoded message through its descriptors and checks it is what
 * code reading it without checks relies on: a oneof case is one of its
 * fields and has its member; every string, bytes and unknown field that
 * claims content has it, and all of it is read byte by byte (so ASan sees
 * an overrun); nesting stays within 16. Returns 1 if some message in the
 * tree kept an unknown field numbered 0, which libprotobuf-c 1.4.1 takes
 * from a non-canonical tag ("80 00") and re-encodes as a tag it refuses
 * (docs/robustness.md, finding 2). */
int fuzz_walk_message(const ProtobufCMessage *m);

/* crypto_box_seal with a fixed ephemeral key in place of a random one, so
 * the output is the same on every run: the ephemeral public key, then
 * crypto_box_easy under the nonce BLAKE2b-192(ephemeral pk || recipient
 * pk). out holds len + crypto_box_SEALBYTES bytes; returns that length. */
size_t fuzz_seal_fixed(const uint8_t *m, size_t len, const uint8_t pk[32], uint8_t *out);

/* --- circuits (circuit/, docs/protocol.md section 4) ---
 * The lighthouse is beta (the responder's keys), the ua's nickname key is
 * fixtures.nickname, the ephemeral keys are the fixed x and y, and the
 * clock is fixed. Everything below is our own reading of the protocol,
 * written from docs/protocol.md, not a call into circuit/. */
#define FUZZ_LIGHTHOUSE_ID FUZZ_RESPONDER_ID
#define FUZZ_NICKNAME "mother"
#define FUZZ_NOW_MS 1700000000000ull
#define FUZZ_NOW_S (FUZZ_NOW_MS / 1000)
#define FUZZ_CREATE_MAX_SEALED 4096 /* the largest Create.sealed circ_server_open opens */
/* The ua a call goes to (fixtures.callee's key), homed on gamma. */
#define FUZZ_CALLEE "father"
#define FUZZ_CALLEE_LIGHTHOUSE FUZZ_THIRD_ID

/* 1 if name is a nickname: 1 to 63 of [a-z0-9._-]. */
int fuzz_nickname_ok(const char *name);

/* What the nickname key signs in a CreateRequest: "anosip-create-v1" ||
 * (uint8)len || lighthouse_id || X || BE64(sent_unix_ms) || (uint8)len ||
 * nickname. malloc'd; NULL when out of memory. */
uint8_t *fuzz_create_transcript(const char *lighthouse_id, const uint8_t client_public[32],
				uint64_t sent_unix_ms, const char *nickname, size_t *len);

/* A CreateRequest whose proof is really signed by signer over the
 * transcript naming proof_lighthouse (the fields as given, nickname_public
 * included, so they may disagree). Returns the encoding, malloc'd. */
struct fuzz_create {
	uint32_t version;
	uint8_t client_public[32];
	const char *nickname;
	const uint8_t *nickname_public; /* 32 bytes */
	uint64_t sent_unix_ms;
	int sign_up;
	const char *proof_lighthouse;
	const struct keys_pair *signer;
};
uint8_t *fuzz_create_request(const struct fuzz_create *c, size_t *len);

/* The four keys of a circuit: master = BLAKE2b-256("anosip-circuit-v1" ||
 * s1 || s2 || lighthouse_id || B || X || Y); forward, backward, confirm and
 * the auth key by crypto_kdf (context "anoscirc", ids 1..4); auth =
 * BLAKE2b-256(key = auth key, "anosip-circuit-auth" || X || Y). */
struct fuzz_circuit_keys {
	uint8_t forward[32], backward[32], confirm[32], auth[32];
};
void fuzz_circuit_derive(const uint8_t s1[32], const uint8_t s2[32], const char *lighthouse_id,
			 const uint8_t lighthouse_kx[32], const uint8_t x_pub[32],
			 const uint8_t y_pub[32], struct fuzz_circuit_keys *k);

/* The fixed client's ephemeral public key X and the fixed lighthouse's Y. */
void fuzz_circuit_x(uint8_t x_pub[32]);
void fuzz_circuit_y(uint8_t y_pub[32]);

/* The ua's state after circ_client_create, with the fixed x: ready for
 * circ_client_finish (which wipes it, so make one per call). */
void fuzz_circuit_client(struct circ_client *cc);

/* The keys the lighthouse beta derives for the fixed x and the fixed y. */
void fuzz_circuit_fixed_keys(struct fuzz_circuit_keys *k);

/* An encoded Created as beta would answer the fixed client with the fixed
 * y: Y, auth and AEAD(confirm key, nonce 0, plain). malloc'd. */
uint8_t *fuzz_created(const uint8_t *plain, size_t len, size_t *out_len);

/* The certificate signature rule of circuit/data.c: Ed25519 by signer over
 * "anosip-cert-v1" || body. Returns an encoded SignedCertificate, malloc'd. */
uint8_t *fuzz_sign_certificate(const struct keys_pair *signer, const uint8_t *body, size_t len,
			       size_t *out_len);

/* --- SIP response identity (docs/protocol.md §6.4) ---
 * The callee "father" has fixtures.callee's key and is homed on gamma; the
 * caller is the fixed ua (fixtures.nickname). */

/* The callee's SignedCertificate: FUZZ_CALLEE with fixtures.callee's key
 * and lighthouse gamma, valid from FUZZ_CERT_ISSUED to FUZZ_CERT_EXPIRES,
 * signed with gamma's key by fuzz_sign_certificate. Made once; do not
 * free it. */
#define FUZZ_CERT_ISSUED (FUZZ_NOW_S - 3600)
#define FUZZ_CERT_EXPIRES (FUZZ_NOW_S + 30ull * 24 * 3600)
const uint8_t *fuzz_callee_certificate(size_t *len);

/* A 302 of the callee's ua and the direct contact it carries sealed. */
#define FUZZ_SIP_302                                                                               \
	"SIP/2.0 302 Moved Temporarily\r\n"                                                        \
	"Via: SIP/2.0/UDP anosip.invalid;branch=z9hG4bK0000000000000001\r\n"                       \
	"From: <sip:mother@anosip>;tag=1\r\nTo: <sip:father@anosip>;tag=2\r\n"                     \
	"Call-ID: 1@anosip.invalid\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
#define FUZZ_SIP_CONTACT "sip:0123456789abcdef0123456789abcdef@127.0.0.1:5070"

/* What the callee signs in a SignedSipResponse, written out here from the
 * wire format rather than taken from circuit/sip_identity.c, so that a
 * change to what the code signs is a finding. */
void fuzz_sip_response_digest(const uint8_t *message, size_t message_len, const uint8_t *cert,
			      size_t cert_len, const uint8_t *sealed, size_t sealed_len,
			      uint8_t digest[32]);

/* The callee's signed answer by the rule of docs/protocol.md §6.4:
 * sealed_contact = the contact sealed to the caller's nickname key as
 * X25519 (fuzz_seal_fixed, so the output is the same on every run; no
 * contact when contact is NULL, an empty one sealed when contact_len is
 * 0); signature = Ed25519 by signer over SHA-256("anosip-sip-response-v1"
 * || SHA-256(message) || SHA-256(certificate) || sealed_contact). Returns
 * an encoded SignedSipResponse, malloc'd, or NULL (out of memory, or a
 * caller key that is not a point). */
uint8_t *fuzz_sign_sip_response(const struct keys_pair *signer, const uint8_t *cert,
				size_t cert_len, const uint8_t caller_sign_public[32],
				const uint8_t *message, size_t message_len, const uint8_t *contact,
				size_t contact_len, size_t *out_len);

/* Aborts with a message: a broken invariant is a finding, like a crash. */
void fuzz_fail(const char *what) __attribute__((noreturn));

#endif
