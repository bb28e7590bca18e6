/* Shared fixtures for the libFuzzer targets and the seed generator.
 *
 * Every key here is derived from a fixed seed, so a crash input replays
 * the same way on any machine and the committed seed corpus (made by
 * seedgen.c from these same fixtures) stays valid. Nothing in here keeps
 * state between inputs: the fixtures are computed once and only read. */
#ifndef ANOSIP_FUZZ_HARNESS_H
#define ANOSIP_FUZZ_HARNESS_H

#include "keys/keys.h"
#include "link/link.h"
#include "topo/topo.h"

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

/* Aborts with a message: a broken invariant is a finding, like a crash. */
void fuzz_fail(const char *what) __attribute__((noreturn));

#endif
