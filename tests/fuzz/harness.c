/* Shared fixtures for the libFuzzer targets; see harness.h. */
#include "tests/fuzz/harness.h"

#include "circuit.pb-c.h"
#include "directory.pb-c.h"
#include "routed.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fuzz_fixtures fixtures;
static int fixtures_ready;
static struct topo *topology;

/* Public values that follow from the fixed secrets, worked out once: each
 * is a scalar multiplication, and doing them per input would spend most of
 * an execution on the harness rather than on the code under test. */
static struct {
	uint8_t initiator_eph_public[32];
	uint8_t responder_eph_public[32];
	uint8_t circuit_x_public[32];
	uint8_t circuit_y_public[32];
	struct fuzz_circuit_keys circuit_keys;
} derived;

static void derive_fixed(void)
{
	uint8_t s1[32], s2[32];
	crypto_scalarmult_base(derived.initiator_eph_public, fixtures.initiator_eph_secret);
	crypto_scalarmult_base(derived.responder_eph_public, fixtures.responder_eph_secret);
	crypto_scalarmult_base(derived.circuit_x_public, fixtures.circuit_x_secret);
	crypto_scalarmult_base(derived.circuit_y_public, fixtures.circuit_y_secret);
	if (crypto_scalarmult(s1, fixtures.circuit_y_secret, derived.circuit_x_public) != 0 ||
	    crypto_scalarmult(s2, fixtures.responder.kx_secret, derived.circuit_x_public) != 0)
		fuzz_fail("the fixed circuit keys do not agree");
	fuzz_circuit_derive(s1, s2, FUZZ_LIGHTHOUSE_ID, fixtures.responder.pub.kx,
			    derived.circuit_x_public, derived.circuit_y_public,
			    &derived.circuit_keys);
}

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
	fixed_pair(0x88, &fixtures.nickname);
	memset(fixtures.circuit_x_secret, 0x9a, sizeof(fixtures.circuit_x_secret));
	memset(fixtures.circuit_y_secret, 0xab, sizeof(fixtures.circuit_y_secret));
	fixed_pair(0xcc, &fixtures.callee);
	derive_fixed();
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

static void fix_ephemeral(struct link_handshake *hs, const uint8_t secret[32],
			  const uint8_t public[32])
{
	memcpy(hs->eph_secret, secret, 32);
	memcpy(hs->eph_public, public, 32);
}

void fuzz_initiator(struct link_handshake *hs, int anonymous)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	link_handshake_initiator(hs, anonymous ? NULL : &f->initiator,
				 anonymous ? NULL : FUZZ_INITIATOR_ID, FUZZ_RESPONDER_ID,
				 f->responder.pub.sign);
	fix_ephemeral(hs, f->initiator_eph_secret, derived.initiator_eph_public);
}

void fuzz_responder(struct link_handshake *hs, int allow_anonymous)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	link_handshake_responder(hs, &f->responder, FUZZ_RESPONDER_ID, fuzz_peer_lookup, NULL,
				 allow_anonymous);
	fix_ephemeral(hs, f->responder_eph_secret, derived.responder_eph_public);
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

void fuzz_take(const uint8_t **data, size_t *size, void *out, size_t len)
{
	size_t n = *size < len ? *size : len;
	memset(out, 0, len);
	if (n)
		memcpy(out, *data, n);
	*data += n;
	*size -= n;
}

uint64_t fuzz_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int fuzz_write_temp(const char *what, const uint8_t *data, size_t size, char path[64])
{
	/* tmpfs when there is one: creating and removing a file per input on
	 * a disk file system cost more than the parsing it fed. */
	static const char *dir;
	if (!dir)
		dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(path, 64, "%s/anosip-fuzz-%.20s-XXXXXX", dir, what);
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(fd, data + done, size - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(path);
			return -1;
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

/* Deeper nesting than any message of proto/ has. */
#define WALK_DEPTH_MAX 16

static volatile uint8_t sink;

static void touch(const uint8_t *p, size_t len)
{
	if (len && !p)
		fuzz_fail("a field claims a length but has no data");
	for (size_t i = 0; i < len; i++)
		sink ^= p[i];
}

/* Whether field f of m may be read: a oneof member only when its case is
 * set (the members share storage); any other field always, though a
 * message field may still be NULL. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	return 1;
}

/* The oneof cases of m name fields of m that belong to that oneof. */
static void check_oneofs(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		uint32_t c = *(const uint32_t *)(base + f->quantifier_offset);
		if (c == 0)
			continue;
		const ProtobufCFieldDescriptor *g = protobuf_c_message_descriptor_get_field(d, c);
		if (!g || !(g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
		    g->quantifier_offset != f->quantifier_offset)
			fuzz_fail("a oneof case is not one of the oneof's fields");
	}
}

static int walk(const ProtobufCMessage *m, int depth)
{
	if (depth > WALK_DEPTH_MAX)
		fuzz_fail("decoded messages nest deeper than proto/ allows");
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	int field_zero = 0;
	if (m->n_unknown_fields && !m->unknown_fields)
		fuzz_fail("a message claims unknown fields but has none");
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		touch(m->unknown_fields[i].data, m->unknown_fields[i].len);
		if (m->unknown_fields[i].tag == 0)
			field_zero = 1;
	}
	check_oneofs(m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!present(m, f))
			continue;
		size_t n = 1;
		const char *at = base + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			at = *(const char *const *)at;
			if (n && !at)
				fuzz_fail("a repeated field claims elements but has none");
		}
		for (size_t k = 0; k < n; k++) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessage *sub =
				    ((const ProtobufCMessage *const *)at)[k];
				if (!sub) {
					if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
						fuzz_fail("a oneof case is set without its member");
					continue;
				}
				field_zero |= walk(sub, depth + 1);
			} else if (f->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = ((const char *const *)at)[k];
				if (s)
					touch((const uint8_t *)s, strlen(s) + 1);
			} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
				const ProtobufCBinaryData *b =
				    &((const ProtobufCBinaryData *)at)[k];
				touch(b->data, b->len);
			}
		}
	}
	return field_zero;
}

int fuzz_walk_message(const ProtobufCMessage *m)
{
	return walk(m, 0);
}

/* The sealing key pair is fixed, so per recipient the box's shared key is
 * too: kept for the few recipients the targets use (two scalar
 * multiplications saved per input; crypto_box_easy is beforenm + afternm). */
struct seal_key {
	uint8_t pk[32];
	uint8_t shared[crypto_box_BEFORENMBYTES];
};

static const uint8_t *seal_shared_key(const uint8_t pk[32], const uint8_t esk[32])
{
	static struct seal_key keys[8];
	static size_t used;
	for (size_t i = 0; i < used; i++)
		if (memcmp(keys[i].pk, pk, 32) == 0)
			return keys[i].shared;
	/* Past the cache (no target seals to more than two keys today) the
	 * last slot is worked out again each time rather than kept. */
	struct seal_key *k = used < 8 ? &keys[used++] : &keys[7];
	memcpy(k->pk, pk, 32);
	if (crypto_box_beforenm(k->shared, pk, esk) != 0)
		fuzz_fail("fuzz_seal_fixed: a recipient key without a shared key");
	return k->shared;
}

size_t fuzz_seal_fixed(const uint8_t *m, size_t len, const uint8_t pk[32], uint8_t *out)
{
	static uint8_t epk[crypto_box_PUBLICKEYBYTES], esk[crypto_box_SECRETKEYBYTES];
	static int ready;
	uint8_t nonce[crypto_box_NONCEBYTES], both[64];
	if (!ready) {
		uint8_t seed[crypto_box_SEEDBYTES];
		memset(seed, 0x99, sizeof(seed));
		crypto_box_seed_keypair(epk, esk, seed);
		ready = 1;
	}
	memcpy(out, epk, 32);
	memcpy(both, epk, 32);
	memcpy(both + 32, pk, 32);
	crypto_generichash(nonce, sizeof(nonce), both, sizeof(both), NULL, 0);
	if (crypto_box_easy_afternm(out + crypto_box_PUBLICKEYBYTES, m, len, nonce,
				    seal_shared_key(pk, esk)) != 0)
		fuzz_fail("crypto_box_easy");
	return len + crypto_box_SEALBYTES;
}

/* --- circuits --- */

int fuzz_nickname_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

uint8_t *fuzz_create_transcript(const char *lighthouse_id, const uint8_t client_public[32],
				uint64_t sent_unix_ms, const char *nickname, size_t *len)
{
	static const char context[] = "anosip-create-v1";
	const size_t ctx = sizeof(context) - 1, id = strlen(lighthouse_id), nick = strlen(nickname);
	uint8_t *t = malloc(ctx + 1 + id + 32 + 8 + 1 + nick);
	if (!t)
		return NULL;
	size_t n = 0;
	memcpy(t, context, ctx);
	n += ctx;
	t[n++] = (uint8_t)id;
	memcpy(t + n, lighthouse_id, id);
	n += id;
	memcpy(t + n, client_public, 32);
	n += 32;
	for (int i = 7; i >= 0; i--)
		t[n++] = (uint8_t)(sent_unix_ms >> (8 * i));
	t[n++] = (uint8_t)nick;
	memcpy(t + n, nickname, nick);
	*len = n + nick;
	return t;
}

uint8_t *fuzz_create_request(const struct fuzz_create *c, size_t *len)
{
	size_t tn;
	uint8_t proof[crypto_sign_BYTES];
	uint8_t *t = fuzz_create_transcript(c->proof_lighthouse, c->client_public, c->sent_unix_ms,
					    c->nickname, &tn);
	if (!t)
		return NULL;
	crypto_sign_detached(proof, NULL, t, tn, c->signer->sign_secret);
	free(t);

	Anosip__V1__CreateRequest req;
	anosip__v1__create_request__init(&req);
	req.version = c->version;
	req.client_public.data = (uint8_t *)c->client_public;
	req.client_public.len = 32;
	req.nickname = (char *)c->nickname;
	req.nickname_public.data = (uint8_t *)c->nickname_public;
	req.nickname_public.len = 32;
	req.sent_unix_ms = c->sent_unix_ms;
	req.sign_up = c->sign_up != 0;
	req.proof.data = proof;
	req.proof.len = sizeof(proof);
	*len = anosip__v1__create_request__get_packed_size(&req);
	uint8_t *out = malloc(*len ? *len : 1);
	if (out && anosip__v1__create_request__pack(&req, out) != *len)
		fuzz_fail("CreateRequest packed size disagrees with pack");
	return out;
}

void fuzz_circuit_derive(const uint8_t s1[32], const uint8_t s2[32], const char *lighthouse_id,
			 const uint8_t lighthouse_kx[32], const uint8_t x_pub[32],
			 const uint8_t y_pub[32], struct fuzz_circuit_keys *k)
{
	static const char master_context[] = "anosip-circuit-v1";
	static const char auth_context[] = "anosip-circuit-auth";
	static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'a', 'n', 'o', 's',
								  'c', 'i', 'r', 'c'};
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
	crypto_kdf_derive_from_key(k->forward, 32, 1, kdf_context, master);
	crypto_kdf_derive_from_key(k->backward, 32, 2, kdf_context, master);
	crypto_kdf_derive_from_key(k->confirm, 32, 3, kdf_context, master);
	crypto_kdf_derive_from_key(auth_key, 32, 4, kdf_context, master);
	crypto_generichash_init(&st, auth_key, sizeof(auth_key), 32);
	crypto_generichash_update(&st, (const uint8_t *)auth_context, sizeof(auth_context) - 1);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, y_pub, 32);
	crypto_generichash_final(&st, k->auth, 32);
}

void fuzz_circuit_x(uint8_t x_pub[32])
{
	fuzz_fixtures();
	memcpy(x_pub, derived.circuit_x_public, 32);
}

void fuzz_circuit_y(uint8_t y_pub[32])
{
	fuzz_fixtures();
	memcpy(y_pub, derived.circuit_y_public, 32);
}

void fuzz_circuit_client(struct circ_client *cc)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	memset(cc, 0, sizeof(*cc));
	memcpy(cc->eph_secret, f->circuit_x_secret, 32);
	fuzz_circuit_x(cc->eph_public);
	snprintf(cc->lighthouse_id, sizeof(cc->lighthouse_id), "%s", FUZZ_LIGHTHOUSE_ID);
	memcpy(cc->lighthouse_kx, f->responder.pub.kx, 32);
}

void fuzz_circuit_fixed_keys(struct fuzz_circuit_keys *k)
{
	fuzz_fixtures();
	*k = derived.circuit_keys;
}

uint8_t *fuzz_created(const uint8_t *plain, size_t len, size_t *out_len)
{
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	struct fuzz_circuit_keys k;
	uint8_t y[32];
	fuzz_circuit_fixed_keys(&k);
	fuzz_circuit_y(y);
	size_t sealed_len = len + crypto_aead_chacha20poly1305_ietf_ABYTES;
	uint8_t *sealed = malloc(sealed_len);
	if (!sealed)
		return NULL;
	crypto_aead_chacha20poly1305_ietf_encrypt(sealed, NULL, plain, len, NULL, 0, NULL, nonce,
						  k.confirm);
	Anosip__V1__Created c;
	anosip__v1__created__init(&c);
	c.server_public.data = y;
	c.server_public.len = 32;
	c.auth.data = k.auth;
	c.auth.len = 32;
	c.sealed.data = sealed;
	c.sealed.len = sealed_len;
	*out_len = anosip__v1__created__get_packed_size(&c);
	uint8_t *out = malloc(*out_len);
	if (out)
		anosip__v1__created__pack(&c, out);
	free(sealed);
	return out;
}

uint8_t *fuzz_sign_certificate(const struct keys_pair *signer, const uint8_t *body, size_t len,
			       size_t *out_len)
{
	static const char context[] = "anosip-cert-v1";
	const size_t ctx = sizeof(context) - 1;
	uint8_t sig[crypto_sign_BYTES];
	uint8_t *m = malloc(ctx + len);
	if (!m)
		return NULL;
	memcpy(m, context, ctx);
	if (len)
		memcpy(m + ctx, body, len);
	crypto_sign_detached(sig, NULL, m, ctx + len, signer->sign_secret);
	free(m);

	Anosip__V1__SignedCertificate sc;
	anosip__v1__signed_certificate__init(&sc);
	sc.certificate.data = (uint8_t *)body;
	sc.certificate.len = len;
	sc.signature.data = sig;
	sc.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_certificate__get_packed_size(&sc);
	uint8_t *out = malloc(*out_len ? *out_len : 1);
	if (out)
		anosip__v1__signed_certificate__pack(&sc, out);
	return out;
}

/* --- SIP response identity --- */

const uint8_t *fuzz_callee_certificate(size_t *len)
{
	static uint8_t *cert;
	static size_t cert_len;
	if (!cert) {
		const struct fuzz_fixtures *f = fuzz_fixtures();
		Anosip__V1__Certificate c = ANOSIP__V1__CERTIFICATE__INIT;
		c.nickname = (char *)FUZZ_CALLEE;
		c.nickname_public.data = (uint8_t *)f->callee.pub.sign;
		c.nickname_public.len = 32;
		c.lighthouse = (char *)FUZZ_CALLEE_LIGHTHOUSE;
		c.issued_unix = FUZZ_CERT_ISSUED;
		c.expires_unix = FUZZ_CERT_EXPIRES;
		uint8_t body[256];
		if (anosip__v1__certificate__get_packed_size(&c) > sizeof(body))
			fuzz_fail("the callee's certificate does not fit");
		size_t body_len = anosip__v1__certificate__pack(&c, body);
		if (!(cert = fuzz_sign_certificate(&f->third, body, body_len, &cert_len)))
			fuzz_fail("out of memory");
	}
	*len = cert_len;
	return cert;
}

/* The X25519 key of an Ed25519 key, for the last key asked about: the
 * targets seal to one caller, and the conversion is a square root. */
static int caller_kx(const uint8_t sign_public[32], uint8_t kx[32])
{
	static uint8_t last_sign[32], last_kx[32];
	static int have;
	if (!have || memcmp(last_sign, sign_public, 32) != 0) {
		if (crypto_sign_ed25519_pk_to_curve25519(last_kx, sign_public) != 0)
			return -1;
		memcpy(last_sign, sign_public, 32);
		have = 1;
	}
	memcpy(kx, last_kx, 32);
	return 0;
}

void fuzz_sip_response_digest(const uint8_t *message, size_t message_len, const uint8_t *cert,
			      size_t cert_len, const uint8_t *sealed, size_t sealed_len,
			      uint8_t digest[32])
{
	static const char context[] = "anosip-sip-response-v1";
	uint8_t part[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)context, sizeof(context) - 1);
	crypto_hash_sha256(part, message, message_len);
	crypto_hash_sha256_update(&st, part, sizeof(part));
	crypto_hash_sha256(part, cert, cert_len);
	crypto_hash_sha256_update(&st, part, sizeof(part));
	crypto_hash_sha256_update(&st, sealed, sealed_len);
	crypto_hash_sha256_final(&st, digest);
}

uint8_t *fuzz_sign_sip_response(const struct keys_pair *signer, const uint8_t *cert,
				size_t cert_len, const uint8_t caller_sign_public[32],
				const uint8_t *message, size_t message_len, const uint8_t *contact,
				size_t contact_len, size_t *out_len)
{
	uint8_t kx[32], digest[crypto_hash_sha256_BYTES];
	uint8_t sig[crypto_sign_BYTES], *sealed = NULL, *out = NULL;
	size_t sealed_len = 0;
	if (contact) {
		if (caller_kx(caller_sign_public, kx) != 0 ||
		    !(sealed = malloc(contact_len + crypto_box_SEALBYTES)))
			return NULL;
		sealed_len = fuzz_seal_fixed(contact, contact_len, kx, sealed);
	}
	fuzz_sip_response_digest(message, message_len, cert, cert_len, sealed, sealed_len, digest);
	crypto_sign_detached(sig, NULL, digest, sizeof(digest), signer->sign_secret);

	Anosip__V1__SignedSipResponse r = ANOSIP__V1__SIGNED_SIP_RESPONSE__INIT;
	r.certificate.data = (uint8_t *)cert;
	r.certificate.len = cert_len;
	r.sealed_contact.data = sealed;
	r.sealed_contact.len = sealed_len;
	r.signature.data = sig;
	r.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_sip_response__get_packed_size(&r);
	if ((out = malloc(*out_len)))
		anosip__v1__signed_sip_response__pack(&r, out);
	free(sealed);
	return out;
}

void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz invariant broken: %s\n", what);
	abort();
}
