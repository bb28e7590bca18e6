/* Writes the seed corpus of the fuzz targets: small valid inputs made with
 * the project's own encoders and the fixtures of harness.c, so the fuzzer
 * starts from messages that pass every check. Run through
 * `scripts/fuzz.sh seeds`; the output is committed under tests/fuzz/corpus.
 * Usage: seedgen OUTDIR (OUTDIR/<target>/ must exist). */
#include "tests/fuzz/harness.h"

#include "directory.pb-c.h"
#include "keys/keys.h"
#include "link.pb-c.h"
#include "routed.pb-c.h"
#include "util/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;

static void put(const char *target, const char *name, uint8_t mode, int with_mode,
		const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || (with_mode && fputc(mode, f) == EOF) || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Length without the trailing zero padding (the targets pad again). */
static size_t trimmed(const uint8_t *p, size_t len)
{
	while (len > 0 && p[len - 1] == 0)
		len--;
	return len;
}

/* --- fuzz_frame --- */

static void frame_seeds(const char *name, const ProtobufCMessage *m)
{
	uint8_t msg[2048], wire[8 * LINK_FRAME_SIZE], plain[FUZZ_FRAME_PLAIN];
	uint8_t sealed[sizeof(wire)], compact[sizeof(wire)];
	char file[64];
	size_t len = protobuf_c_message_pack(m, msg);
	struct link_session s;
	memset(&s, 0, sizeof(s));
	memcpy(s.tx_key, fuzz_fixtures()->session_key, 32);
	long w = link_seal_message(&s, msg, len, wire, sizeof(wire));
	if (w < 0)
		fuzz_fail("link_seal_message");
	snprintf(file, sizeof(file), "raw-%s", name);
	put("fuzz_frame", file, 0, 1, wire, (size_t)w);

	/* The same frames opened again: their plaintexts, in full for mode 1
	 * (the last one trimmed) and as header + payload for mode 2. */
	size_t n_sealed = 0, n_compact = 0;
	size_t frames = (size_t)w / LINK_FRAME_SIZE;
	for (size_t f = 0; f < frames; f++) {
		uint8_t nonce[12];
		fuzz_frame_nonce(f, nonce);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(
			plain, NULL, NULL, wire + f * LINK_FRAME_SIZE, LINK_FRAME_SIZE, NULL, 0,
			nonce, s.tx_key) != 0)
			fuzz_fail("cannot open our own frame");
		size_t keep = f + 1 == frames ? trimmed(plain, sizeof(plain)) : sizeof(plain);
		memcpy(sealed + n_sealed, plain, keep);
		n_sealed += keep;
		/* Compact records carry at most 255 payload bytes; the rest of
		 * a longer chunk becomes zeros. */
		size_t chunk = (size_t)plain[1] << 8 | plain[2];
		size_t k = chunk < 255 ? chunk : 255;
		memcpy(compact + n_compact, plain, LINK_FRAME_HEADER);
		compact[n_compact + LINK_FRAME_HEADER] = (uint8_t)k;
		memcpy(compact + n_compact + LINK_FRAME_HEADER + 1, plain + LINK_FRAME_HEADER, k);
		n_compact += LINK_FRAME_HEADER + 1 + k;
	}
	snprintf(file, sizeof(file), "sealed-%s", name);
	put("fuzz_frame", file, 1, 1, sealed, n_sealed);
	snprintf(file, sizeof(file), "compact-%s", name);
	put("fuzz_frame", file, 2, 1, compact, n_compact);
	snprintf(file, sizeof(file), "roundtrip-%s", name);
	put("fuzz_frame", file, 3, 1, msg, len);
	link_session_wipe(&s);
}

static void frame_corpus(void)
{
	Anosip__V1__Keepalive ka;
	anosip__v1__keepalive__init(&ka);
	ka.sequence = 7;
	Anosip__V1__LinkMessage lm;
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	lm.keepalive = &ka;
	frame_seeds("keepalive", &lm.base);

	/* Two frames: a Discard just over one frame's payload. */
	uint8_t filler[LINK_FRAME_PAYLOAD + 40];
	memset(filler, 'x', sizeof(filler));
	Anosip__V1__Discard dc;
	anosip__v1__discard__init(&dc);
	dc.data.data = filler;
	dc.data.len = sizeof(filler);
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD;
	lm.discard = &dc;
	frame_seeds("discard", &lm.base);

	uint8_t box[48];
	memset(box, 0xb0, sizeof(box));
	Anosip__V1__Routed r;
	anosip__v1__routed__init(&r);
	r.destination = "beta";
	r.hop_limit = 8;
	r.sealed.data = box;
	r.sealed.len = sizeof(box);
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	lm.routed = &r;
	frame_seeds("routed", &lm.base);

	/* Fragment chains at the LINK_MESSAGE_MAX bound, as compact records
	 * without payload: exactly LINK_MESSAGE_MAX bytes, then one more. */
	uint8_t chain[4 * (LINK_FRAMES_MAX + 1)];
	for (int over = 0; over <= 1; over++) {
		size_t left = LINK_MESSAGE_MAX + (size_t)over, n = 0;
		while (left > 0) {
			size_t chunk = left < LINK_FRAME_PAYLOAD ? left : LINK_FRAME_PAYLOAD;
			left -= chunk;
			chain[n++] = left ? 0x01 : 0x00;
			chain[n++] = (uint8_t)(chunk >> 8);
			chain[n++] = (uint8_t)chunk;
			chain[n++] = 0;
		}
		put("fuzz_frame", over ? "compact-oversize" : "compact-max", 2, 1, chain, n);
	}
}

/* --- fuzz_handshake --- */

static void handshake_corpus(int anonymous)
{
	struct link_handshake ini, res;
	uint8_t m1[LINK_FRAME_SIZE], m2[LINK_FRAME_SIZE], m3[LINK_FRAME_SIZE];
	uint8_t plain[FUZZ_M3_PLAIN], key[32];
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t opts = anonymous ? 0xc0 : 0;

	fuzz_initiator(&ini, anonymous);
	fuzz_responder(&res, anonymous);
	if (link_handshake_write_1(&ini, m1) != 0 || link_handshake_read_1(&res, m1) != 0 ||
	    link_handshake_write_2(&res, m2) != 0 || link_handshake_read_2(&ini, m2) != 0 ||
	    link_handshake_write_3(&ini, m3) != 0)
		fuzz_fail("the fixed handshake does not run");
	if (!anonymous) {
		/* Message 1's filler is random; only its key matters. */
		put("fuzz_handshake", "raw-m1", 0, 1, m1, 32);
		put("fuzz_handshake", "raw-m2", 1, 1, m2, sizeof(m2));
		put("fuzz_handshake", "raw-m3", 2, 1, m3, sizeof(m3));
	}
	fuzz_handshake_key(res.chaining_key, FUZZ_KEY_HS_R2I, key);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(
		plain, NULL, NULL, m2 + 32, LINK_FRAME_SIZE - 32, NULL, 0, zero_nonce, key) != 0)
		fuzz_fail("the harness derives another responder->initiator key");
	put("fuzz_handshake", anonymous ? "sealed-m2-anonymous" : "sealed-m2", 3 | opts, 1, plain,
	    trimmed(plain, FUZZ_M2_PLAIN));
	fuzz_handshake_key(res.chaining_key, FUZZ_KEY_HS_I2R, key);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, m3, LINK_FRAME_SIZE, NULL,
						      0, zero_nonce, key) != 0)
		fuzz_fail("the harness derives another initiator->responder key");
	put("fuzz_handshake", anonymous ? "sealed-m3-anonymous" : "sealed-m3", 4 | opts, 1, plain,
	    trimmed(plain, FUZZ_M3_PLAIN));
	if (link_handshake_read_3(&res, m3) != 0)
		fuzz_fail("the fixed handshake does not complete");
	link_handshake_wipe(&ini);
	link_handshake_wipe(&res);
}

/* --- fuzz_directory and fuzz_description --- */

struct seed_node {
	const char *id, *address, *parent, *roles[2];
};

static void directory_seed(const char *name, const struct seed_node *nodes, int n)
{
	Anosip__V1__DirectoryNode dn[8], *ptrs[8];
	uint8_t keys[8][64];
	char *roles[8][2];
	for (int i = 0; i < n; i++) {
		anosip__v1__directory_node__init(&dn[i]);
		dn[i].id = (char *)nodes[i].id;
		dn[i].address = (char *)nodes[i].address;
		dn[i].parent = (char *)nodes[i].parent;
		for (int r = 0; r < 2 && nodes[i].roles[r]; r++)
			roles[i][dn[i].n_roles++] = (char *)nodes[i].roles[r];
		dn[i].roles = roles[i];
		memset(keys[i], 0x10 + i, sizeof(keys[i]));
		dn[i].sign_public.data = keys[i];
		dn[i].sign_public.len = 32;
		dn[i].kx_public.data = keys[i] + 32;
		dn[i].kx_public.len = 32;
		ptrs[i] = &dn[i];
	}
	Anosip__V1__Directory d;
	anosip__v1__directory__init(&d);
	d.version = 1;
	d.serial = 42;
	d.created_unix = 1700000000;
	d.n_nodes = (size_t)n;
	d.nodes = ptrs;
	uint8_t body[4096];
	size_t body_len = anosip__v1__directory__pack(&d, body);
	size_t file_len;
	uint8_t *file = fuzz_sign_directory(body, body_len, &file_len);
	if (!file)
		fuzz_fail("fuzz_sign_directory");
	char fname[64];
	snprintf(fname, sizeof(fname), "signed-%s", name);
	put("fuzz_directory", fname, 0, 1, file, file_len);
	snprintf(fname, sizeof(fname), "body-%s", name);
	put("fuzz_directory", fname, 1, 1, body, body_len);
	free(file);
}

static void directory_corpus(void)
{
	static const struct seed_node one[] = {
	    {"root", "127.0.0.1:7000", "", {"lighthouse", "iddir"}},
	};
	static const struct seed_node three[] = {
	    {"root", "127.0.0.1:7000", "", {"lighthouse", NULL}},
	    {"p1", "127.0.0.1:7001", "root", {"portal", NULL}},
	    {"p2", "[::1]:7002", "root", {"portal", "lookup"}},
	};
	/* A root, three children in a ring, two grandchildren under each of two. */
	static const struct seed_node tree[] = {
	    {"r", "10.0.0.1:5060", "", {"lighthouse", NULL}},
	    {"a", "10.0.0.2:5060", "r", {NULL, NULL}},
	    {"b", "10.0.0.3:5060", "r", {"lookup", NULL}},
	    {"c", "10.0.0.4:5060", "r", {NULL, NULL}},
	    {"a.1", "10.0.1.1:5060", "a", {"portal", NULL}},
	    {"a.2", "10.0.1.2:5060", "a", {"portal", NULL}},
	    {"c_1", "[fe80::1]:5060", "c", {"portal", NULL}},
	    {"c-2", "10.0.3.2:5060", "c", {"portal", NULL}},
	};
	directory_seed("one", one, 1);
	directory_seed("three", three, 3);
	directory_seed("tree", tree, 8);
}

static void description_corpus(void)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	char pub[KEYS_PUBLIC_TEXT_MAX];
	keys_public_text(&f->initiator.pub, pub);
	put("fuzz_description", "pub", 0, 0, (const uint8_t *)pub, strlen(pub));

	char sign[2 * 32 + 1], kx[2 * 32 + 1];
	util_hex_encode(f->responder.pub.sign, 32, sign);
	util_hex_encode(f->responder.pub.kx, 32, kx);
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "; a root and two portals\n"
			 "[directory]\nserial = 5\n\n"
			 "[node root]\naddress = 127.0.0.1:7000\nroles = lighthouse, iddir\n"
			 "sign_public = %s\nkx_public = %s\n\n"
			 "[node p1]\naddress = 127.0.0.1:7001\nparent = root\nroles = portal\n"
			 "sign_public = %s\nkx_public = %s\n\n"
			 "[node p2]\naddress = [::1]:7002\nparent = root\nroles = router\n"
			 "sign_public = %s\nkx_public = %s\n",
			 sign, kx, sign, kx, sign, kx);
	put("fuzz_description", "three-nodes", 0, 0, (const uint8_t *)text, (size_t)n);
	n = snprintf(text, sizeof(text),
		     "[node solo]\naddress = 10.1.2.3:5060\nroles = lighthouse lookup\n"
		     "sign_public = %s\nkx_public = %s\n"
		     "[keys]\nsign_public = %s\nkx_public = %s\n",
		     sign, kx, sign, kx);
	put("fuzz_description", "solo-and-keys", 0, 0, (const uint8_t *)text, (size_t)n);
}

/* --- fuzz_routed --- */

static void routed_corpus(void)
{
	uint8_t ping_buf[64], body_buf[256], signed_buf[512], routed_buf[256];
	Anosip__V1__Ping p;
	anosip__v1__ping__init(&p);
	p.sent_mono_ns = 123456789012ull;
	p.hops_forward = 3;
	size_t ping_len = anosip__v1__ping__pack(&p, ping_buf);
	put("fuzz_routed", "ping", 0, 0, ping_buf, ping_len);

	Anosip__V1__RoutedBody b;
	anosip__v1__routed_body__init(&b);
	b.source = "alpha";
	b.type = ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PING;
	b.message_id = 0x0123456789abcdefull;
	b.sent_unix_ms = 1700000000000ull;
	b.hop_limit = 16;
	b.payload.data = ping_buf;
	b.payload.len = ping_len;
	size_t body_len = anosip__v1__routed_body__pack(&b, body_buf);
	put("fuzz_routed", "body-ping", 0, 0, body_buf, body_len);

	uint8_t sig[64];
	memset(sig, 0x5e, sizeof(sig));
	Anosip__V1__RoutedSigned s;
	anosip__v1__routed_signed__init(&s);
	s.body.data = body_buf;
	s.body.len = body_len;
	s.signature.data = sig;
	s.signature.len = sizeof(sig);
	size_t signed_len = anosip__v1__routed_signed__pack(&s, signed_buf);
	put("fuzz_routed", "signed-ping", 0, 0, signed_buf, signed_len);

	uint8_t box[80];
	memset(box, 0xb0, sizeof(box));
	Anosip__V1__Routed r;
	anosip__v1__routed__init(&r);
	r.destination = "beta";
	r.hop_limit = 16;
	r.sealed.data = box;
	r.sealed.len = sizeof(box);
	size_t routed_len = anosip__v1__routed__pack(&r, routed_buf);
	put("fuzz_routed", "routed", 0, 0, routed_buf, routed_len);
}

/* --- fuzz_routed_open --- */

/* crypto_box_seal with a fixed ephemeral key in place of a random one, so
 * the seed is the same on every run: the ephemeral public key, then
 * crypto_box_easy under the nonce BLAKE2b-192(ephemeral pk || recipient pk). */
static size_t seal_fixed(const uint8_t *m, size_t len, const uint8_t pk[32], uint8_t *out)
{
	uint8_t seed[crypto_box_SEEDBYTES], esk[crypto_box_SECRETKEYBYTES];
	uint8_t nonce[crypto_box_NONCEBYTES], both[64];
	memset(seed, 0x99, sizeof(seed));
	crypto_box_seed_keypair(out, esk, seed);
	memcpy(both, out, 32);
	memcpy(both + 32, pk, 32);
	crypto_generichash(nonce, sizeof(nonce), both, sizeof(both), NULL, 0);
	if (crypto_box_easy(out + crypto_box_PUBLICKEYBYTES, m, len, nonce, pk, esk) != 0)
		fuzz_fail("crypto_box_easy");
	return len + crypto_box_SEALBYTES;
}

/* An encoded RoutedBody from the topology's node source, with a Ping. */
static size_t routed_body(int source, Anosip__V1__RoutedType type, uint8_t *out)
{
	uint8_t ping_buf[64];
	Anosip__V1__Ping p;
	anosip__v1__ping__init(&p);
	p.sent_mono_ns = 987654321ull;
	size_t ping_len = anosip__v1__ping__pack(&p, ping_buf);
	Anosip__V1__RoutedBody b;
	anosip__v1__routed_body__init(&b);
	b.source = (char *)fuzz_topology()->nodes[source].id;
	b.type = type;
	b.message_id = 0x1122334455667788ull;
	b.sent_unix_ms = 1700000000000ull;
	b.hop_limit = 64;
	b.payload.data = ping_buf;
	b.payload.len = ping_len;
	return anosip__v1__routed_body__pack(&b, out);
}

static void routed_open_corpus(void)
{
	const struct topo *t = fuzz_topology();
	const char *self_id = t->nodes[FUZZ_TOPO_SELF].id;
	const uint8_t *self_kx = fuzz_node_keys(FUZZ_TOPO_SELF)->pub.kx;
	uint8_t body[256], sealed[512];
	char name[64];

	/* Mode 2: a body from each node, signed by it (accepted), and alpha's
	 * body signed by gamma (a bad signature). */
	for (int i = 0; i < FUZZ_TOPO_NODES; i++) {
		size_t len = routed_body(i, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PING, body);
		snprintf(name, sizeof(name), "signed-from-%s", t->nodes[i].id);
		put("fuzz_routed_open", name, (uint8_t)(2 | i << 2), 1, body, len);
	}
	size_t body_len = routed_body(1, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD, body);
	put("fuzz_routed_open", "signed-wrong-signer", 2 | 2 << 2, 1, body, body_len);

	/* Modes 1 and 0: alpha's body really signed, as plaintext and sealed. */
	size_t inner_len;
	uint8_t *inner = fuzz_sign_routed(fuzz_node_keys(1), self_id, body, body_len, &inner_len);
	if (!inner || inner_len + crypto_box_SEALBYTES > sizeof(sealed))
		fuzz_fail("fuzz_sign_routed");
	put("fuzz_routed_open", "plain-from-alpha", 1, 1, inner, inner_len);
	size_t sealed_len = seal_fixed(inner, inner_len, self_kx, sealed);
	uint8_t check[512];
	if (crypto_box_seal_open(check, sealed, sealed_len, self_kx,
				 fuzz_node_keys(FUZZ_TOPO_SELF)->kx_secret) != 0 ||
	    memcmp(check, inner, inner_len) != 0)
		fuzz_fail("seal_fixed does not make a sealed box");
	put("fuzz_routed_open", "sealed-from-alpha", 0, 1, sealed, sealed_len);
	free(inner);

	/* Mode 3: type, hop limit (little-endian), payload. */
	static const uint8_t ping[] = {1, 64, 0, 0, 0, 0x08, 0xb1, 0x68, 0xde, 0x3a};
	put("fuzz_routed_open", "round-trip-ping-from-alpha", 3 | 1 << 2, 1, ping, sizeof(ping));
	uint8_t discard[5 + 300];
	memset(discard, 'd', sizeof(discard));
	discard[0] = 3;
	discard[1] = 1;
	discard[2] = discard[3] = discard[4] = 0;
	put("fuzz_routed_open", "round-trip-discard-from-gamma", 3 | 2 << 2, 1, discard,
	    sizeof(discard));
	static const uint8_t self_empty[] = {0, 0xff, 0xff, 0xff, 0xff};
	put("fuzz_routed_open", "round-trip-empty-from-beta", 3, 1, self_empty, sizeof(self_empty));
}

/* --- fuzz_link_message --- */

static void link_message_seed(const char *name, const Anosip__V1__LinkMessage *m)
{
	uint8_t buf[1024];
	if (anosip__v1__link_message__get_packed_size(m) > sizeof(buf))
		fuzz_fail("link message seed too large");
	size_t len = anosip__v1__link_message__pack(m, buf);
	put("fuzz_link_message", name, 0, 0, buf, len);
}

static void link_message_corpus(void)
{
	Anosip__V1__LinkMessage lm;
	Anosip__V1__Keepalive ka;
	anosip__v1__keepalive__init(&ka);
	ka.sequence = 300;
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	lm.keepalive = &ka;
	link_message_seed("keepalive", &lm);

	uint8_t filler[100];
	memset(filler, 'x', sizeof(filler));
	Anosip__V1__Discard dc;
	anosip__v1__discard__init(&dc);
	dc.data.data = filler;
	dc.data.len = sizeof(filler);
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD;
	lm.discard = &dc;
	link_message_seed("discard", &lm);

	uint8_t box[96];
	memset(box, 0xb0, sizeof(box));
	Anosip__V1__Routed r;
	anosip__v1__routed__init(&r);
	r.destination = "gamma";
	r.hop_limit = 64;
	r.sealed.data = box;
	r.sealed.len = sizeof(box);
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	lm.routed = &r;
	link_message_seed("routed", &lm);

	/* Cells (proto/circuit.proto), as a portal gets them from a ua. */
	Anosip__V1__Create cr;
	anosip__v1__create__init(&cr);
	cr.lighthouse = "beta";
	cr.sealed.data = box;
	cr.sealed.len = sizeof(box);
	Anosip__V1__Cell cell;
	anosip__v1__cell__init(&cell);
	cell.circuit_id = 7;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATE;
	cell.create = &cr;
	anosip__v1__link_message__init(&lm);
	lm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_CELL;
	lm.cell = &cell;
	link_message_seed("cell-create", &lm);

	Anosip__V1__Created cd;
	anosip__v1__created__init(&cd);
	cd.server_public.data = box;
	cd.server_public.len = 32;
	cd.auth.data = box + 32;
	cd.auth.len = 32;
	cd.sealed.data = box + 64;
	cd.sealed.len = 32;
	anosip__v1__cell__init(&cell);
	cell.circuit_id = 7;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATED;
	cell.created = &cd;
	link_message_seed("cell-created", &lm);

	Anosip__V1__CellData data;
	anosip__v1__cell_data__init(&data);
	data.sealed.data = filler;
	data.sealed.len = sizeof(filler);
	anosip__v1__cell__init(&cell);
	cell.circuit_id = 0x80000001u;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &data;
	link_message_seed("cell-data", &lm);

	Anosip__V1__Destroy ds;
	anosip__v1__destroy__init(&ds);
	ds.reason = ANOSIP__V1__DESTROY_REASON__DESTROY_PROTOCOL;
	anosip__v1__cell__init(&cell);
	cell.circuit_id = 7;
	cell.body_case = ANOSIP__V1__CELL__BODY_DESTROY;
	cell.destroy = &ds;
	link_message_seed("cell-destroy", &lm);
}

/* --- fuzz_config --- */

static void text_seed(const char *target, const char *name, const char *text)
{
	put(target, name, 0, 0, (const uint8_t *)text, strlen(text));
}

static void config_corpus(void)
{
	text_seed("fuzz_config", "minimal",
		  "[node]\nid = alpha\nkey = alpha.key\ndirectory = directory.bin\n"
		  "authority = authority.pub\ncontrol = alpha.sock\n");
	text_seed("fuzz_config", "full",
		  "; every key there is\n"
		  "[node]\n"
		  "id = p1-portal_2\n"
		  "key = /etc/anosip/p1.key\n"
		  "directory = ../shared/directory.bin\n"
		  "authority = /etc/anosip/authority.pub\n"
		  "control = /run/anosip/p1.sock\n"
		  "listen = 127.0.0.1:7001\n"
		  "log_level = debug\n"
		  "\n"
		  "[link]\n"
		  "keepalive_ms = 250\n"
		  "dead_ms = 1500\n"
		  "handshake_timeout_ms = 2000\n"
		  "reconnect_min_ms = 50\n"
		  "reconnect_max_ms = 8000\n"
		  "max_pending_handshakes = 16\n"
		  "max_queue_bytes = 1048576\n");
	text_seed("fuzz_config", "ipv6-comments",
		  "# a lookup node\r\n"
		  "[node]\r\n"
		  "id = lookup ; inline comment\r\n"
		  "key: lookup.key\r\n"
		  "directory = d.bin\r\n"
		  "authority = a.pub\r\n"
		  "control = l.sock\r\n"
		  "listen = [::1]:7002\r\n"
		  "log_level = warn\r\n");
	text_seed("fuzz_config", "bad-timing",
		  "[node]\nid = x\nkey = k\ndirectory = d\nauthority = a\ncontrol = c\n"
		  "[link]\nkeepalive_ms = 5000\ndead_ms = 5000\n");
}

/* --- fuzz_control --- */

static void control_corpus(void)
{
	text_seed("fuzz_control", "status", "status\n");
	text_seed("fuzz_control", "ping", "ping gamma 3 64\n");
	text_seed("fuzz_control", "send-routed", "send-routed\tbeta 1000 512\r\n");
	text_seed("fuzz_control", "eight-words", " a b c d e f g h ");
	text_seed("fuzz_control", "nine-words", "a b c d e f g h i\n");
	text_seed("fuzz_control", "blank", " \t\r\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seedgen OUTDIR\n");
		return 2;
	}
	out_dir = argv[1];
	fuzz_fixtures();
	frame_corpus();
	handshake_corpus(0);
	handshake_corpus(1);
	directory_corpus();
	description_corpus();
	routed_corpus();
	routed_open_corpus();
	link_message_corpus();
	config_corpus();
	control_corpus();
	return 0;
}
