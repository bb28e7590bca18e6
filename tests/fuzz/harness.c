/* Shared fixtures for the libFuzzer targets; see harness.h. */
#include "tests/fuzz/harness.h"

#include "directory.pb-c.h"
#include "routed.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fuzz_fixtures fixtures;
static int fixtures_ready;
static struct topo *topology;

/* A key pair from a one-byte label, the same on every run. */
static void fixed_pair(uint8_t label, struct keys_pair *k)
{
	uint8_t seed[32];
	memset(seed, label, sizeof(seed));
	crypto_sign_seed_keypair(k->pub.sign, k->sign_secret, seed);
	memset(k->kx_secret, label ^ 0x5a, sizeof(k->kx_secret));
	crypto_scalarmult_base(k->pub.kx, k->kx_secret);
}

const struct fuzz_fixtures *fuzz_fixtures(void)
{
	if (fixtures_ready)
		return &fixtures;
	if (sodium_init() < 0)
		fuzz_fail("sodium_init");
	fixed_pair(0x11, &fixtures.initiator);
	fixed_pair(0x22, &fixtures.responder);
	fixed_pair(0x33, &fixtures.authority);
	fixed_pair(0x77, &fixtures.third);
	memset(fixtures.session_key, 0x44, sizeof(fixtures.session_key));
	memset(fixtures.initiator_eph_secret, 0x55, sizeof(fixtures.initiator_eph_secret));
	memset(fixtures.responder_eph_secret, 0x66, sizeof(fixtures.responder_eph_secret));
	fixtures_ready = 1;
	return &fixtures;
}

int fuzz_peer_lookup(void *ctx, const char *id, uint8_t sign_public[32])
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	if (strcmp(id, FUZZ_INITIATOR_ID) == 0) {
		memcpy(sign_public, f->initiator.pub.sign, 32);
		return 0;
	}
	if (strcmp(id, FUZZ_RESPONDER_ID) == 0) {
		memcpy(sign_public, f->responder.pub.sign, 32);
		return 0;
	}
	return -1;
}

static void fix_ephemeral(struct link_handshake *hs, const uint8_t secret[32])
{
	memcpy(hs->eph_secret, secret, 32);
	crypto_scalarmult_base(hs->eph_public, hs->eph_secret);
}

void fuzz_initiator(struct link_handshake *hs, int anonymous)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	link_handshake_initiator(hs, anonymous ? NULL : &f->initiator,
				 anonymous ? NULL : FUZZ_INITIATOR_ID, FUZZ_RESPONDER_ID,
				 f->responder.pub.sign);
	fix_ephemeral(hs, f->initiator_eph_secret);
}

void fuzz_responder(struct link_handshake *hs, int allow_anonymous)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	link_handshake_responder(hs, &f->responder, FUZZ_RESPONDER_ID, fuzz_peer_lookup, NULL,
				 allow_anonymous);
	fix_ephemeral(hs, f->responder_eph_secret);
}

void fuzz_handshake_key(const uint8_t chaining_key[32], int which, uint8_t key[32])
{
	static const char context[crypto_kdf_CONTEXTBYTES] = {'a', 'n', 'o', 's',
							      'l', 'i', 'n', 'k'};
	crypto_kdf_derive_from_key(key, 32, (uint64_t)which, context, chaining_key);
}

void fuzz_frame_nonce(uint64_t counter, uint8_t nonce[12])
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void fuzz_seal_frame(const uint8_t key[32], uint64_t counter, const uint8_t plain[FUZZ_FRAME_PLAIN],
		     uint8_t out[LINK_FRAME_SIZE])
{
	uint8_t nonce[12];
	fuzz_frame_nonce(counter, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, FUZZ_FRAME_PLAIN, NULL, 0, NULL,
						  nonce, key);
}

uint8_t *fuzz_sign_directory(const uint8_t *body, size_t len, size_t *out_len)
{
	static const char context[] = "anosip-directory-v1";
	const size_t ctx = sizeof(context) - 1;
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t sig[crypto_sign_BYTES];
	uint8_t *m = malloc(ctx + len);
	if (!m)
		return NULL;
	memcpy(m, context, ctx);
	if (len)
		memcpy(m + ctx, body, len);
	crypto_sign_detached(sig, NULL, m, ctx + len, f->authority.sign_secret);
	free(m);

	Anosip__V1__SignedDirectory sd;
	anosip__v1__signed_directory__init(&sd);
	sd.directory.data = (uint8_t *)body;
	sd.directory.len = len;
	sd.signature.data = sig;
	sd.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_directory__get_packed_size(&sd);
	uint8_t *out = malloc(*out_len ? *out_len : 1);
	if (out)
		anosip__v1__signed_directory__pack(&sd, out);
	return out;
}

const struct keys_pair *fuzz_node_keys(int index)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	switch (index) {
	case 0:
		return &f->responder;
	case 1:
		return &f->initiator;
	case 2:
		return &f->third;
	}
	fuzz_fail("fuzz_node_keys: no such node");
}

const struct topo *fuzz_topology(void)
{
	static const char *const ids[FUZZ_TOPO_NODES] = {FUZZ_RESPONDER_ID, FUZZ_INITIATOR_ID,
							 FUZZ_THIRD_ID};
	if (topology)
		return topology;
	struct topo_entry e[FUZZ_TOPO_NODES];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < FUZZ_TOPO_NODES; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "%s", ids[i]);
		snprintf(e[i].address, sizeof(e[i].address), "127.0.0.1:%d", 7000 + i);
		snprintf(e[i].parent, sizeof(e[i].parent), "%s", i ? ids[0] : "");
		e[i].keys = fuzz_node_keys(i)->pub;
	}
	char err[256];
	if (topo_build(e, FUZZ_TOPO_NODES, 1, &topology, err, sizeof(err)) != 0)
		fuzz_fail(err);
	for (int i = 0; i < FUZZ_TOPO_NODES; i++)
		if (topo_find(topology, ids[i]) != i)
			fuzz_fail("the fixed topology is not in directory order");
	return topology;
}

uint8_t *fuzz_sign_routed(const struct keys_pair *signer, const char *dest_id, const uint8_t *body,
			  size_t len, size_t *out_len)
{
	static const char context[] = "anosip-routed-v1";
	const size_t ctx = sizeof(context) - 1, id = strlen(dest_id);
	uint8_t sig[crypto_sign_BYTES];
	uint8_t *m = malloc(ctx + 1 + id + len);
	if (!m)
		return NULL;
	memcpy(m, context, ctx);
	m[ctx] = (uint8_t)id;
	memcpy(m + ctx + 1, dest_id, id);
	if (len)
		memcpy(m + ctx + 1 + id, body, len);
	crypto_sign_detached(sig, NULL, m, ctx + 1 + id + len, signer->sign_secret);
	free(m);

	Anosip__V1__RoutedSigned rs;
	anosip__v1__routed_signed__init(&rs);
	rs.body.data = (uint8_t *)body;
	rs.body.len = len;
	rs.signature.data = sig;
	rs.signature.len = sizeof(sig);
	*out_len = anosip__v1__routed_signed__get_packed_size(&rs);
	uint8_t *out = malloc(*out_len ? *out_len : 1);
	if (out)
		anosip__v1__routed_signed__pack(&rs, out);
	return out;
}

void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz invariant broken: %s\n", what);
	abort();
}
