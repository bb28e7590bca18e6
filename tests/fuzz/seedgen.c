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
#include "sip/sip.h"
#include "util/util.h"

#include <endian.h>
#include <osipparser2/osip_md5.h>

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

/* --- fuzz_sim_input --- */

static void sim_input_corpus(void)
{
	static const char *const seeds[][2] = {
	    {"population", "4x6\n[n4]\nn1 = 3\nn2 = 1\n[n9]\nn3 = 2\n"},
	    {"options", "zipf:1.2\n[n5]\nn1 = 1\n"},
	    {"class", "40:portals\n; comment\n[n12]\nn3 = 7\n"},
	    {"levels", "2,5,1\n[n4]\nn1 = 0\n"},
	    {"bad", "0.25:routers\n[n1]\nn2 = x\n"},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		put("fuzz_sim_input", seeds[i][0], 0, 0, (const uint8_t *)seeds[i][1],
		    strlen(seeds[i][1]));
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
	size_t sealed_len = fuzz_seal_fixed(inner, inner_len, self_kx, sealed);
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

/* --- fuzz_circuit_create --- */

/* put() with a prefix: mode byte, then head, then data. */
static void put2(const char *target, const char *name, uint8_t mode, const void *head,
		 size_t head_len, const void *data, size_t len)
{
	uint8_t *buf = malloc(head_len + len + 1);
	if (!buf)
		fuzz_fail("out of memory");
	if (head_len)
		memcpy(buf, head, head_len);
	if (len)
		memcpy(buf + head_len, data, len);
	put(target, name, mode, 1, buf, head_len + len);
	free(buf);
}

/* A CreateRequest of the fixed ua (x, the nickname key), proof really
 * signed; *len is its length. */
static uint8_t *fixed_request(const char *nickname, uint64_t sent, int sign_up, size_t *len)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	struct fuzz_create c = {
	    .version = 1,
	    .nickname = nickname,
	    .nickname_public = f->nickname.pub.sign,
	    .sent_unix_ms = sent,
	    .sign_up = sign_up,
	    .proof_lighthouse = FUZZ_LIGHTHOUSE_ID,
	    .signer = &f->nickname,
	};
	fuzz_circuit_x(c.client_public);
	uint8_t *r = fuzz_create_request(&c, len);
	if (!r)
		fuzz_fail("fuzz_create_request");
	return r;
}

/* The request padded with an unknown bytes field (number 15) to exactly
 * want bytes. */
static uint8_t *padded_request(size_t want)
{
	size_t len;
	uint8_t *r = fixed_request(FUZZ_NICKNAME, FUZZ_NOW_MS, 1, &len);
	uint8_t *out = malloc(want);
	if (!out || want < len + 4)
		fuzz_fail("padded_request");
	memcpy(out, r, len);
	size_t pad = want - len - 3; /* tag, two length bytes */
	out[len] = 15 << 3 | 2;
	out[len + 1] = (uint8_t)(0x80 | (pad & 0x7f));
	out[len + 2] = (uint8_t)(pad >> 7);
	memset(out + len + 3, 'p', pad);
	free(r);
	return out;
}

/* fuzz_circuit_create mode 2: the 49-byte header, then tail. */
static void signed_seed(const char *name, uint8_t flags, int64_t sent_offset, const uint8_t *key,
			const char *tail, size_t tail_len)
{
	uint8_t head[49];
	memset(head, 0, sizeof(head));
	head[0] = flags;
	uint64_t off = htole64((uint64_t)sent_offset);
	memcpy(head + 5, &off, 8);
	if (key)
		memcpy(head + 13, key, 32);
	uint32_t expires = htole32(3600);
	memcpy(head + 45, &expires, 4);
	put2("fuzz_circuit_create", name, 2, head, sizeof(head), tail, tail_len);
}

static void circuit_create_corpus(void)
{
	const uint8_t *lh_kx = fuzz_fixtures()->responder.pub.kx;
	uint8_t sealed[FUZZ_CREATE_MAX_SEALED + 64];
	size_t len;

	/* Mode 0 and 1: the fixed ua's request, sealed and as plaintext. */
	uint8_t *r = fixed_request(FUZZ_NICKNAME, FUZZ_NOW_MS, 0, &len);
	size_t sealed_len = fuzz_seal_fixed(r, len, lh_kx, sealed);
	put("fuzz_circuit_create", "raw-request", 0, 1, sealed, sealed_len);
	put("fuzz_circuit_create", "sealed-request", 1, 1, r, len);
	free(r);
	r = fixed_request("a.b_c-9", FUZZ_NOW_MS - 60000, 1, &len);
	put("fuzz_circuit_create", "sealed-sign-up-60s-old", 1, 1, r, len);
	free(r);
	r = fixed_request(FUZZ_NICKNAME, FUZZ_NOW_MS + 60001, 0, &len);
	put("fuzz_circuit_create", "sealed-from-the-future", 1, 1, r, len);
	free(r);
	/* The largest request that opens, and one byte more. */
	size_t most = FUZZ_CREATE_MAX_SEALED - crypto_box_SEALBYTES;
	r = padded_request(most);
	put("fuzz_circuit_create", "sealed-largest", 1, 1, r, most);
	free(r);
	r = padded_request(most + 1);
	put("fuzz_circuit_create", "sealed-one-too-large", 1, 1, r, most + 1);
	free(r);

	/* Mode 2: chosen fields, really signed. */
	static const char tail[] = "mother\0a certificate";
	signed_seed("signed-valid", 0, 0, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-sign-up", 1, -60000, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-proof-for-gamma", 4, 0, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-by-another-key", 8, 0, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-carries-another-key", 16, 0, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-another-account", 8 | 16, 0, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-stale", 0, -60001, NULL, tail, sizeof(tail) - 1);
	signed_seed("signed-bad-nickname", 0, 0, NULL, "Mother\0", 7);
	char longest[64 + 1];
	memset(longest, 'n', 64);
	longest[64] = 0;
	signed_seed("signed-nickname-64", 0, 0, NULL, longest, 64);
	signed_seed("signed-nickname-63", 0, 0, NULL, longest, 63);
	/* X itself: the identity (all zeros) and a point of order 8. */
	uint8_t x[32], key[32];
	fuzz_circuit_x(x);
	memcpy(key, x, 32);
	signed_seed("signed-x-zero", 2, 0, key, tail, sizeof(tail) - 1);
	static const uint8_t order8[32] = {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae,
					   0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
					   0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
					   0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
	for (int i = 0; i < 32; i++)
		key[i] = x[i] ^ order8[i];
	signed_seed("signed-x-order-8", 2, 0, key, tail, sizeof(tail) - 1);
	uint8_t head[49];
	memset(head, 0, sizeof(head));
	head[1] = 3; /* version 2 */
	put2("fuzz_circuit_create", "signed-version-2", 2, head, sizeof(head), tail,
	     sizeof(tail) - 1);

	/* Mode 3: the product's own client. */
	static const uint8_t up = 1, down = 0;
	put2("fuzz_circuit_create", "product-mother", 3, &down, 1, "mother", 6);
	put2("fuzz_circuit_create", "product-sign-up-63", 3, &up, 1, longest, 63);
	put2("fuzz_circuit_create", "product-invalid", 3, &down, 1, "moth er", 7);
}

/* --- fuzz_circuit_finish --- */

/* A real certificate of the fixed ua, as the lighthouse makes it. */
static uint8_t *fixed_certificate(uint64_t issued, uint64_t expires, size_t *len)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t *out;
	if (circ_certificate_sign(&f->responder, FUZZ_LIGHTHOUSE_ID, FUZZ_NICKNAME,
				  f->nickname.pub.sign, issued, expires, &out, len) != 0)
		fuzz_fail("circ_certificate_sign");
	return out;
}

static void circuit_finish_corpus(void)
{
	size_t cert_len, len;
	uint8_t *cert = fixed_certificate(FUZZ_NOW_S - 3600, FUZZ_NOW_S + 30 * 86400, &cert_len);
	Anosip__V1__CreateConfirm c;
	anosip__v1__create_confirm__init(&c);
	c.certificate.data = cert;
	c.certificate.len = cert_len;
	c.binding_expires_s = 3600;
	uint8_t confirm[512];
	if (anosip__v1__create_confirm__get_packed_size(&c) > sizeof(confirm))
		fuzz_fail("confirm seed too large");
	size_t confirm_len = anosip__v1__create_confirm__pack(&c, confirm);
	free(cert);

	uint8_t *created = fuzz_created(confirm, confirm_len, &len);
	put("fuzz_circuit_finish", "raw-created", 0, 1, created, len);
	free(created);
	created = fuzz_created(confirm, 0, &len);
	put("fuzz_circuit_finish", "raw-created-empty-confirm", 0, 1, created, len);
	/* The same with Y the identity (a low-order point). */
	Anosip__V1__Created *cd = anosip__v1__created__unpack(NULL, len, created);
	if (!cd || cd->server_public.len != 32)
		fuzz_fail("our Created does not decode");
	memset(cd->server_public.data, 0, 32);
	uint8_t buf[256];
	size_t n = anosip__v1__created__pack(cd, buf);
	put("fuzz_circuit_finish", "raw-created-zero-y", 0, 1, buf, n);
	anosip__v1__created__free_unpacked(cd, NULL);
	free(created);

	put("fuzz_circuit_finish", "sealed-confirm", 1, 1, confirm, confirm_len);
	static const uint8_t bad[] = {0x0a, 0x10, 'c', 'u', 't'};
	put("fuzz_circuit_finish", "sealed-undecodable", 1, 1, bad, sizeof(bad));
	put("fuzz_circuit_finish", "lighthouse-confirm", 2, 1, confirm, confirm_len);
	put("fuzz_circuit_finish", "lighthouse-empty", 2, 1, confirm, 0);
}

/* --- fuzz_circuit_data --- */

static size_t record(uint8_t *out, const uint8_t *data, size_t len)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	memcpy(out + 2, data, len);
	return 2 + len;
}

static void circuit_data_corpus(void)
{
	struct circ_keys ua, lh;
	memset(&ua, 0, sizeof(ua));
	memset(ua.forward, 0xf0, 32);
	memset(ua.backward, 0xb0, 32);
	lh = ua;
	lh.is_lighthouse = 1;
	uint8_t buf[2048];
	uint8_t *cells[3];
	size_t cell_len[3];

	/* Mode 0: three cells from each side, then the second again. */
	for (int side = 0; side < 2; side++) {
		struct circ_keys *tx = side ? &ua : &lh;
		static const char *const text[3] = {"one", "", "three: a longer one"};
		size_t n = 0;
		buf[n++] = (uint8_t)side;
		memset(buf + n, 0, 8);
		n += 8;
		for (int i = 0; i < 3; i++) {
			if (circ_data_seal(tx, (const uint8_t *)text[i], strlen(text[i]), &cells[i],
					   &cell_len[i]) != 0)
				fuzz_fail("circ_data_seal");
			n += record(buf + n, cells[i], cell_len[i]);
		}
		n += record(buf + n, cells[1], cell_len[1]);
		put("fuzz_circuit_data", side ? "raw-cells-to-lighthouse" : "raw-cells-to-ua", 0, 1,
		    buf, n);
		for (int i = 0; i < 3; i++)
			free(cells[i]);
	}
	/* The window at its end: a cell with counter 2^64 - 1. */
	lh.sent = UINT64_MAX - 1;
	if (circ_data_seal(&lh, (const uint8_t *)"last", 4, &cells[0], &cell_len[0]) != 0)
		fuzz_fail("circ_data_seal");
	size_t n = 0;
	buf[n++] = 0;
	memset(buf + n, 0xff, 8);
	buf[n + 7] = 0xfe;
	n += 8;
	n += record(buf + n, cells[0], cell_len[0]);
	n += record(buf + n, cells[0], cell_len[0]);
	put("fuzz_circuit_data", "raw-last-counter", 0, 1, buf, n);
	free(cells[0]);
	/* A cell claiming 65535 bytes: over CIRC_DATA_MAX. */
	static const uint8_t huge[] = {0,    0, 0, 0, 0, 0, 0, 0, 0, 0xff,
				       0xff, 0, 0, 0, 0, 0, 0, 0, 1};
	put("fuzz_circuit_data", "raw-too-large", 0, 1, huge, sizeof(huge));

	/* Mode 1: start counter, then (control, record) pairs. */
	n = 0;
	memset(buf, 0, 8);
	n = 8;
	static const struct {
		uint8_t ctl;
		const char *text;
	} steps[] = {{0, "hello"}, {1, "world"}, {2, "lost"}, {4, "late"}, {1 | 4, "again"}};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		buf[n++] = steps[i].ctl;
		n += record(buf + n, (const uint8_t *)steps[i].text, strlen(steps[i].text));
	}
	/* CIRC_DATA_MAX and one more, as records that repeat their bytes. */
	buf[n++] = 1;
	buf[n++] = CIRC_DATA_MAX >> 8;
	buf[n++] = CIRC_DATA_MAX & 0xff;
	buf[n++] = 'm';
	put("fuzz_circuit_data", "round-trip", 1, 1, buf, n);
	static const uint8_t over[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, CIRC_DATA_MAX >> 8, 1, 'o'};
	put("fuzz_circuit_data", "round-trip-too-large", 1, 1, over, sizeof(over));
	static const uint8_t high[] = {0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0,    0,	   1,	 'a',  1,    0,	   1,	 'b'};
	put("fuzz_circuit_data", "round-trip-high-counters", 1, 1, high, sizeof(high));
	/* The last counter, then one cell too many each way. */
	static const uint8_t last[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
				       0,    0,	   1,	 'a',  0,    0,	   1,	 'b',
				       1,    0,	   1,	 'c',  1,    0,	   1,	 'd'};
	put("fuzz_circuit_data", "round-trip-last-counter", 1, 1, last, sizeof(last));
}

/* --- fuzz_certificate --- */

static size_t certificate_body(const char *nickname, const char *lighthouse, uint64_t issued,
			       uint64_t expires, uint8_t *out)
{
	Anosip__V1__Certificate c;
	anosip__v1__certificate__init(&c);
	c.nickname = (char *)nickname;
	c.nickname_public.data = (uint8_t *)fuzz_fixtures()->nickname.pub.sign;
	c.nickname_public.len = 32;
	c.lighthouse = (char *)lighthouse;
	c.issued_unix = issued;
	c.expires_unix = expires;
	return anosip__v1__certificate__pack(&c, out);
}

static void round_trip_seed(const char *name, int64_t issued, int64_t expires, const char *tail,
			    size_t tail_len)
{
	uint8_t head[49];
	memset(head, 0, sizeof(head));
	memcpy(head + 1, fuzz_fixtures()->nickname.pub.sign, 32);
	uint64_t v = htole64((uint64_t)issued);
	memcpy(head + 33, &v, 8);
	v = htole64((uint64_t)expires);
	memcpy(head + 41, &v, 8);
	put2("fuzz_certificate", name, 2, head, sizeof(head), tail, tail_len);
}

static void certificate_corpus(void)
{
	const uint64_t day = 86400;
	size_t len;
	uint8_t *cert = fixed_certificate(FUZZ_NOW_S - day, FUZZ_NOW_S + 29 * day, &len);
	put("fuzz_certificate", "raw-valid", 0, 1, cert, len);
	free(cert);
	cert = fixed_certificate(FUZZ_NOW_S - 31 * day, FUZZ_NOW_S, &len);
	put("fuzz_certificate", "raw-expired-now", 0, 1, cert, len);
	free(cert);
	cert = fixed_certificate(FUZZ_NOW_S + 300, FUZZ_NOW_S + 30 * day, &len);
	put("fuzz_certificate", "raw-issued-in-300s", 0, 1, cert, len);
	free(cert);

	uint8_t body[256];
	len =
	    certificate_body(FUZZ_NICKNAME, FUZZ_LIGHTHOUSE_ID, FUZZ_NOW_S, FUZZ_NOW_S + day, body);
	put("fuzz_certificate", "body-valid", 1, 1, body, len);
	len = certificate_body(FUZZ_NICKNAME, FUZZ_LIGHTHOUSE_ID, FUZZ_NOW_S + 301,
			       FUZZ_NOW_S + day, body);
	put("fuzz_certificate", "body-issued-in-301s", 1, 1, body, len);
	len = certificate_body("Mother", FUZZ_LIGHTHOUSE_ID, FUZZ_NOW_S, FUZZ_NOW_S + day, body);
	put("fuzz_certificate", "body-bad-nickname", 1, 1, body, len);
	put("fuzz_certificate", "body-empty", 1, 1, body, 0);

	static const char tail[] = "mother\0beta";
	round_trip_seed("round-trip", 0, 0, tail, sizeof(tail) - 1);
	round_trip_seed("round-trip-expired", 0, -(int64_t)(30 * day), tail, sizeof(tail) - 1);
	round_trip_seed("round-trip-issued-in-301s", 301, 0, tail, sizeof(tail) - 1);
	round_trip_seed("round-trip-bad-nickname", 0, 0, "-\0", 2);
}

/* --- fuzz_ua_config --- */

static void ua_config_corpus(void)
{
	text_seed("fuzz_ua_config", "minimal",
		  "[ua]\nnickname = mother\nkey = mother.key\nlighthouse = node-1\n"
		  "portals = node-4\ndirectory = directory.bin\nauthority = authority.pub\n"
		  "control = mother.sock\n");
	text_seed("fuzz_ua_config", "full",
		  "; every key there is\r\n"
		  "[ua]\r\n"
		  "nickname = a.b_c-9\r\n"
		  "key = /home/m/.anosip/mother.key\r\n"
		  "lighthouse = node-1\r\n"
		  "portals = node-4 node-5,node-6\r\n"
		  "directory = ../shared/directory.bin\r\n"
		  "authority: /etc/anosip/authority.pub\r\n"
		  "control = /run/anosip/mother.sock ; inline comment\r\n"
		  "sign_up = no\r\n"
		  "log_level = debug\r\n");
	text_seed("fuzz_ua_config", "eight-portals",
		  "[ua]\nnickname = m\nkey = k\nlighthouse = l\n"
		  "portals = p1 p2 p3 p4 p5 p6 p7 p8\ndirectory = d\nauthority = a\ncontrol = c\n"
		  "sign_up = yes\n");
	text_seed(
	    "fuzz_ua_config", "nine-portals",
	    "[ua]\nnickname = m\nkey = k\nlighthouse = l\n"
	    "portals = p1 p2 p3 p4 p5 p6 p7 p8 p9\ndirectory = d\nauthority = a\ncontrol = c\n");
	text_seed("fuzz_ua_config", "node-section",
		  "[node]\nid = alpha\n[ua]\nnickname = Mother\n");
}

/* --- fuzz_home --- */

static void home_corpus(void)
{
	uint8_t buf[256];
	Anosip__V1__HomeClaim c;
	anosip__v1__home_claim__init(&c);
	c.nickname = FUZZ_NICKNAME;
	c.request_id = 0x0123456789abcdefull;
	put("fuzz_home", "claim", 0, 0, buf, anosip__v1__home_claim__pack(&c, buf));
	Anosip__V1__HomeQuery q;
	anosip__v1__home_query__init(&q);
	q.nickname = "a.b_c-9";
	q.request_id = 7;
	put("fuzz_home", "query", 0, 0, buf, anosip__v1__home_query__pack(&q, buf));
	Anosip__V1__HomeAnswer a;
	anosip__v1__home_answer__init(&a);
	a.request_id = 0x0123456789abcdefull;
	a.nickname = FUZZ_NICKNAME;
	a.lighthouse = FUZZ_LIGHTHOUSE_ID;
	a.claim_accepted = 1;
	put("fuzz_home", "answer-accepted", 0, 0, buf, anosip__v1__home_answer__pack(&a, buf));
	a.lighthouse = "";
	a.claim_accepted = 0;
	put("fuzz_home", "answer-homed-nowhere", 0, 0, buf, anosip__v1__home_answer__pack(&a, buf));
}

/* --- fuzz_sip_parse, fuzz_sip_digest --- */

#define SEED_SDP                                                                                   \
	"v=0\r\no=- 1893204455 2947189122 IN IP4 192.168.1.23\r\ns=-\r\n"                          \
	"c=IN IP4 192.168.1.23\r\nt=0 0\r\na=tool:baresip 1.0.0\r\n"                               \
	"m=audio 10554 RTP/AVP 0 8 101\r\n"

/* A message with its Content-Length worked out. */
static void sip_seed(const char *name, const char *head, const char *body)
{
	char buf[4096];
	int n =
	    snprintf(buf, sizeof(buf), "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body), body);
	put("fuzz_sip_parse", name, 0, 0, (const uint8_t *)buf, (size_t)n);
}

static void sip_parse_corpus(void)
{
	sip_seed("baresip-register",
		 "REGISTER sip:anosip.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.168.1.23:5062;branch=z9hG4bK3f1a8c;rport=5062;"
		 "received=10.0.0.7\r\n"
		 "Contact: \"Alice\" <sip:alice-0x559fd85f7a40@192.168.1.23:5062;transport=udp>;"
		 "expires=600\r\n"
		 "Max-Forwards: 70\r\nTo: <sip:alice@anosip.test>\r\n"
		 "From: <sip:alice@anosip.test>;tag=7c2a9e51b0d4f3e8\r\n"
		 "Call-ID: 4b1e8f2a6c3d9e07@192.168.1.23\r\nCSeq: 2 REGISTER\r\n"
		 "User-Agent: baresip v1.0.0 (x86_64/linux)\r\n"
		 "Authorization: Digest username=\"alice\",realm=\"anosip\",nonce=\"abc\","
		 "uri=\"sip:anosip.test\",response=\"0123456789abcdef0123456789abcdef\","
		 "algorithm=MD5,cnonce=\"0a4f113b\",qop=auth,nc=00000001\r\n"
		 "Allow: INVITE,ACK,BYE,CANCEL,OPTIONS\r\nExpires: 600\r\n",
		 "");
	sip_seed("sipp-invite",
		 "INVITE sip:mother@127.0.0.1:5060 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0\r\n"
		 "From: sipp <sip:sipp@127.0.0.1:5061>;tag=1234SIPpTag001\r\n"
		 "To: mother <sip:mother@127.0.0.1:5060>\r\nCall-ID: 1-2345@127.0.0.1\r\n"
		 "CSeq: 1 INVITE\r\nContact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\n"
		 "Subject: Performance Test\r\nContent-Type: application/sdp\r\n",
		 SEED_SDP);
	sip_seed("baresip-ok",
		 "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP anosip.invalid;branch=z9hG4bKpeer\r\n"
		 "Record-Route: <sip:10.1.2.3;lr>\r\nFrom: <sip:mother@anosip.test>;tag=a\r\n"
		 "To: <sip:alice@anosip.test>;tag=8a1f0e77\r\nCall-ID: x@anosip.invalid\r\n"
		 "CSeq: 1 INVITE\r\nServer: baresip v1.0.0 (x86_64/linux)\r\n"
		 "Contact: <sip:alice-0x559fd85f7a40@192.168.1.23:5062>\r\n"
		 "Retry-After: 120 (in a meeting);duration=60\r\nContent-Type: application/sdp\r\n",
		 SEED_SDP);
	sip_seed("challenge",
		 "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
		 "From: <sip:alice@anosip.test>;tag=1\r\nTo: <sip:alice@anosip.test>;tag=2\r\n"
		 "Call-ID: c\r\nCSeq: 1 REGISTER\r\nMin-Expires: 60\r\n"
		 "WWW-Authenticate: Digest realm=\"anosip\", nonce=\"n1\", algorithm=SHA-256, "
		 "qop=\"auth\"\r\n"
		 "WWW-Authenticate: Digest realm=\"anosip\", nonce=\"n1\", algorithm=MD5, "
		 "qop=\"auth\", stale=true\r\n",
		 "");
	sip_seed(
	    "compact-options",
	    "OPTIONS sip:mother@anosip.test SIP/2.0\r\nv: SIP/2.0/TCP h.example;branch=z9hG4bKc\r\n"
	    "f: \"mother\" <sip:mother@anosip.test>;tag=1\r\nt: <sip:mother@anosip.test>\r\n"
	    "i: abc\r\nCSeq: 7 OPTIONS\r\nm: <sip:a@h.example>;expires=30\r\ns: hi, there\r\n"
	    "k: path\r\n",
	    "");
	sip_seed("bye-rtp-stat",
		 "BYE sip:mother@anosip.invalid SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.168.1.23:5062;branch=z9hG4bKb;rport\r\n"
		 "Max-Forwards: 70\r\nTo: <sip:mother@anosip.test>;tag=x\r\n"
		 "From: <sip:alice@anosip.test>;tag=y\r\nCall-ID: z@192.168.1.23\r\nCSeq: 3 BYE\r\n"
		 "X-RTP-Stat: PS=120,OS=19200,PR=118,RA=192.168.1.23:10554\r\n"
		 "Route: <sip:127.0.0.1:5070;lr>\r\n",
		 "");
	sip_seed("register-star",
		 "REGISTER sip:anosip.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs\r\n"
		 "From: <sip:alice@anosip.test>;tag=1\r\nTo: <sip:alice@anosip.test>\r\n"
		 "Call-ID: c\r\nCSeq: 3 REGISTER\r\nContact: *\r\nExpires: 0\r\n",
		 "");
	sip_seed("multipart",
		 "INVITE sip:mother@anosip.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKm\r\n"
		 "From: <sip:alice@anosip.test>;tag=1\r\nTo: <sip:mother@anosip.test>\r\n"
		 "Call-ID: c\r\nCSeq: 1 INVITE\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed;boundary=unique\r\n",
		 "\r\n--unique\r\nContent-Type: application/sdp\r\n\r\n" SEED_SDP
		 "\r\n--unique\r\nContent-Type: text/plain\r\n\r\nhello\r\n--unique--\r\n");
	text_seed("fuzz_sip_parse", "keep-alive", "\r\n\r\n");
	text_seed("fuzz_sip_parse", "injection",
		  "OPTIONS sip:m@a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
		  "From: <sip:a@b>;tag=1\r\nTo: <sip:m@a>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
		  "Subject: hi\nVia: SIP/2.0/UDP evil;branch=z9hG4bKe\r\n\r\n");

	/* Over SIP_MESSAGE_MAX by its body: answered with 513. */
	static char big[SIP_MESSAGE_MAX + 512];
	int n = snprintf(
	    big, sizeof(big),
	    "MESSAGE sip:mother@anosip.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKl\r\n"
	    "From: <sip:alice@anosip.test>;tag=1\r\nTo: <sip:mother@anosip.test>\r\n"
	    "Call-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\n\r\n",
	    SIP_MESSAGE_MAX);
	memset(big + n, 'x', sizeof(big) - (size_t)n);
	put("fuzz_sip_parse", "too-large", 0, 0, (const uint8_t *)big, sizeof(big));
}

/* hex(H(text)), as the client computes it. */
static void digest_hex(enum sip_digest_algorithm alg, const char *text, char *out)
{
	uint8_t h[32];
	size_t n = alg == SIP_DIGEST_MD5 ? 16 : 32;
	if (alg == SIP_DIGEST_MD5) {
		osip_MD5_CTX ctx;
		osip_MD5Init(&ctx);
		osip_MD5Update(&ctx, (unsigned char *)text, (unsigned)strlen(text));
		osip_MD5Final(h, &ctx);
	} else {
		crypto_hash_sha256(h, (const uint8_t *)text, strlen(text));
	}
	sodium_bin2hex(out, 2 * n + 1, h, n);
}

/* An Authorization for FUZZ_NICKNAME in realm "anosip" with the harness's
 * password "s3cret", right for REGISTER. */
static void digest_credentials(enum sip_digest_algorithm alg, char *out, size_t len)
{
	char ha1[65], ha2[65], kd[512], response[65];
	const char *nonce = "Y2hlY2tlZC1ieS10aGUtaGFybmVzcw", *cnonce = "0a4f113b";
	snprintf(kd, sizeof(kd), "%s:anosip:s3cret", FUZZ_NICKNAME);
	digest_hex(alg, kd, ha1);
	digest_hex(alg, "REGISTER:sip:anosip.test", ha2);
	snprintf(kd, sizeof(kd), "%s:%s:00000001:%s:auth:%s", ha1, nonce, cnonce, ha2);
	digest_hex(alg, kd, response);
	snprintf(out, len,
		 "Digest username=\"%s\", realm=\"anosip\", nonce=\"%s\", uri=\"sip:anosip.test\", "
		 "response=\"%s\", algorithm=%s, cnonce=\"%s\", qop=auth, nc=00000001",
		 FUZZ_NICKNAME, nonce, response, alg == SIP_DIGEST_MD5 ? "MD5" : "SHA-256", cnonce);
}

static void sip_digest_corpus(void)
{
	char auth[1024];
	digest_credentials(SIP_DIGEST_MD5, auth, sizeof(auth));
	put("fuzz_sip_digest", "header-md5", 0, 1, (const uint8_t *)auth, strlen(auth));
	put("fuzz_sip_digest", "message-md5", 1, 1, (const uint8_t *)auth, strlen(auth));
	digest_credentials(SIP_DIGEST_SHA256, auth, sizeof(auth));
	put("fuzz_sip_digest", "header-sha256", 0, 1, (const uint8_t *)auth, strlen(auth));
	put("fuzz_sip_digest", "message-sha256", 1, 1, (const uint8_t *)auth, strlen(auth));
	static const char no_alg[] =
	    "Digest username=\"al\\\"ice\", realm=\"anosip\", nonce=\"n\", uri=\"sip:a\", "
	    "response=\"0123456789abcdef0123456789abcdef\", cnonce=\"c\", qop=\"auth\", "
	    "nc=00000001";
	put("fuzz_sip_digest", "header-quoted", 0, 1, (const uint8_t *)no_alg, sizeof(no_alg) - 1);
	static const char basic[] = "Basic YWxpY2U6czNjcmV0";
	put("fuzz_sip_digest", "header-basic", 0, 1, (const uint8_t *)basic, sizeof(basic) - 1);

	/* Issued and checking times (little-endian), then a nonce text. */
	uint8_t times[16 + 75];
	uint64_t issued = FUZZ_NOW_S;
	const int64_t ages[] = {0, SIP_NONCE_LIFETIME_S, SIP_NONCE_LIFETIME_S + 1, -30, -31};
	const char *names[] = {"nonce-fresh", "nonce-last-second", "nonce-stale", "nonce-future-30",
			       "nonce-future-31"};
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		uint64_t now = issued + (uint64_t)ages[i];
		for (int b = 0; b < 8; b++) {
			times[b] = (uint8_t)(issued >> (8 * b));
			times[8 + b] = (uint8_t)(now >> (8 * b));
		}
		memset(times + 16, 'A', 75);
		put("fuzz_sip_digest", names[i], 2, 1, times, sizeof(times));
	}
	static const char challenge[] = "anosip\0Y2hlY2tlZC1ieS10aGUtaGFybmVzcw";
	put("fuzz_sip_digest", "challenge", 3, 1, (const uint8_t *)challenge,
	    sizeof(challenge) - 1);
}

/* --- fuzz_iddir --- */

/* An IdDirQuery of the fixed ua for gamma; *len is its length. */
static uint8_t *iddir_query(Anosip__V1__IdDirOp op, size_t *len)
{
	static uint8_t nonce[16] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
	static char *readers[] = {(char *)"bob", (char *)"carol"};
	Anosip__V1__IdDirQuery q = ANOSIP__V1__ID_DIR_QUERY__INIT;
	q.op = op;
	q.asker = (char *)FUZZ_NICKNAME;
	q.directory = (char *)FUZZ_THIRD_ID;
	q.sent_unix_ms = FUZZ_NOW_MS;
	q.nonce.data = nonce;
	q.nonce.len = sizeof(nonce);
	if (op == ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ)
		q.nickname = (char *)"bob";
	if (op == ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH) {
		q.real_id = (char *)"Zo\xc3\xab Mother <mother@example.org>";
		q.policy = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST;
		q.readers = readers;
		q.n_readers = 2;
	}
	*len = anosip__v1__id_dir_query__get_packed_size(&q);
	uint8_t *out = malloc(*len + 1);
	if (!out)
		fuzz_fail("out of memory");
	anosip__v1__id_dir_query__pack(&q, out);
	return out;
}

/* signer signs context || body; the two fields of a Signed* message. */
static uint8_t *iddir_signed(const struct keys_pair *signer, const char *context,
			     const uint8_t *body, size_t len, int with_cert, size_t *out_len)
{
	size_t m_len, cert_len = 0;
	uint8_t *m = util_with_context(context, body, len, &m_len), sig[64], *cert = NULL;
	if (!m)
		fuzz_fail("out of memory");
	crypto_sign_detached(sig, NULL, m, m_len, signer->sign_secret);
	free(m);
	uint8_t *out;
	if (with_cert) {
		cert = fixed_certificate(FUZZ_NOW_S - 3600, FUZZ_NOW_S + 30 * 86400, &cert_len);
		Anosip__V1__SignedIdDirQuery sq = ANOSIP__V1__SIGNED_ID_DIR_QUERY__INIT;
		sq.query.data = (uint8_t *)body;
		sq.query.len = len;
		sq.certificate.data = cert;
		sq.certificate.len = cert_len;
		sq.signature.data = sig;
		sq.signature.len = sizeof(sig);
		*out_len = anosip__v1__signed_id_dir_query__get_packed_size(&sq);
		if (!(out = malloc(*out_len)))
			fuzz_fail("out of memory");
		anosip__v1__signed_id_dir_query__pack(&sq, out);
	} else {
		Anosip__V1__SignedIdDirResult sr = ANOSIP__V1__SIGNED_ID_DIR_RESULT__INIT;
		sr.result.data = (uint8_t *)body;
		sr.result.len = len;
		sr.signature.data = sig;
		sr.signature.len = sizeof(sig);
		*out_len = anosip__v1__signed_id_dir_result__get_packed_size(&sr);
		if (!(out = malloc(*out_len)))
			fuzz_fail("out of memory");
		anosip__v1__signed_id_dir_result__pack(&sr, out);
	}
	free(cert);
	return out;
}

static void iddir_corpus(void)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	static const char *names[] = {"read", "publish", "revoke", "log"};
	char name[64];
	for (int op = 1; op <= 4; op++) {
		size_t len, signed_len;
		uint8_t *q = iddir_query((Anosip__V1__IdDirOp)op, &len);
		snprintf(name, sizeof(name), "query-%s", names[op - 1]);
		put("fuzz_iddir", name, 3, 1, q, len);
		uint8_t *sq =
		    iddir_signed(&f->nickname, "anosip-iddir-query-v1", q, len, 1, &signed_len);
		snprintf(name, sizeof(name), "signed-query-%s", names[op - 1]);
		put("fuzz_iddir", name, 2, 1, sq, signed_len);
		uint8_t *sealed = malloc(signed_len + crypto_box_SEALBYTES);
		if (!sealed)
			fuzz_fail("out of memory");
		fuzz_seal_fixed(sq, signed_len, f->third.pub.kx, sealed);
		snprintf(name, sizeof(name), "sealed-query-%s", names[op - 1]);
		put("fuzz_iddir", name, 0, 1, sealed, signed_len + crypto_box_SEALBYTES);
		free(sealed);
		free(sq);
		free(q);
	}

	/* Results: a READ answer and a LOG, for a zero query hash. */
	static uint8_t hash[32];
	Anosip__V1__IdDirLogEntry e = ANOSIP__V1__ID_DIR_LOG_ENTRY__INIT, *ep = &e;
	e.reader = (char *)"bob";
	e.at_unix = FUZZ_NOW_S;
	e.granted = 1;
	for (int i = 0; i < 2; i++) {
		Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
		r.query_hash.data = hash;
		r.query_hash.len = sizeof(hash);
		r.ok = 1;
		if (i == 0) {
			r.nickname = (char *)"bob";
			r.real_id = (char *)"Robert Tables";
		} else {
			r.log = &ep;
			r.n_log = 1;
		}
		size_t len = anosip__v1__id_dir_result__get_packed_size(&r), signed_len;
		uint8_t *body = malloc(len + 1);
		if (!body)
			fuzz_fail("out of memory");
		anosip__v1__id_dir_result__pack(&r, body);
		snprintf(name, sizeof(name), "result-%s", i ? "log" : "read");
		put2("fuzz_iddir", name, 5, hash, sizeof(hash), body, len);
		uint8_t *sr =
		    iddir_signed(&f->third, "anosip-iddir-result-v1", body, len, 0, &signed_len);
		snprintf(name, sizeof(name), "signed-result-%s", i ? "log" : "read");
		put("fuzz_iddir", name, 4, 1, sr, signed_len);
		uint8_t kx[32], *sealed = malloc(signed_len + crypto_box_SEALBYTES);
		if (!sealed || crypto_sign_ed25519_pk_to_curve25519(kx, f->nickname.pub.sign) != 0)
			fuzz_fail("sealing to the ua");
		fuzz_seal_fixed(sr, signed_len, kx, sealed);
		snprintf(name, sizeof(name), "sealed-result-%s", i ? "log" : "read");
		put("fuzz_iddir", name, 1, 1, sealed, signed_len + crypto_box_SEALBYTES);
		free(sealed);
		free(sr);
		free(body);
	}
}

/* --- fuzz_circuit_message --- */

static void circuit_message_seed(const char *name, const ProtobufCMessage *m)
{
	uint8_t buf[4096];
	if (protobuf_c_message_get_packed_size(m) > sizeof(buf))
		fuzz_fail("a circuit message seed does not fit");
	put("fuzz_circuit_message", name, 0, 1, buf, protobuf_c_message_pack(m, buf));
}

/* The callee's lighthouse, for checking the seeds. */
static int callee_lighthouse(void *ctx, const char *id, uint8_t sign_public[32])
{
	if (strcmp(id, FUZZ_CALLEE_LIGHTHOUSE) != 0)
		return -1;
	memcpy(sign_public, fuzz_fixtures()->third.pub.sign, 32);
	return 0;
}

/* The callee's genuine answer to FUZZ_SIP_302 (a decline without a
 * contact), checked here with circ_sip_response_open so the seed is one
 * that passes. *len is its length. */
static uint8_t *signed_302(int with_contact, size_t *len)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	size_t cert_len;
	const uint8_t *cert = fuzz_callee_certificate(&cert_len);
	const char *contact = with_contact ? FUZZ_SIP_CONTACT : NULL;
	uint8_t *r = fuzz_sign_sip_response(
	    &f->callee, cert, cert_len, f->nickname.pub.sign, (const uint8_t *)FUZZ_SIP_302,
	    strlen(FUZZ_SIP_302), (const uint8_t *)contact, contact ? strlen(contact) : 0, len);
	char callee[CIRC_NICKNAME_MAX + 1], *opened = NULL;
	if (!r ||
	    circ_sip_response_open(r, *len, (const uint8_t *)FUZZ_SIP_302, strlen(FUZZ_SIP_302),
				   &f->nickname, callee_lighthouse, NULL, FUZZ_NOW_S, callee, NULL,
				   &opened) != 0 ||
	    strcmp(callee, FUZZ_CALLEE) != 0 || !opened != !contact ||
	    (contact && strcmp(opened, contact) != 0))
		fuzz_fail("the genuine signed response does not open");
	free(opened);
	return r;
}

static void circuit_message_corpus(void)
{
	static const char invite[] =
	    "INVITE sip:father@anosip SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP anosip.invalid;branch=z9hG4bK1\r\n"
	    "From: <sip:mother@anosip>;tag=1\r\nTo: <sip:father@anosip>\r\n"
	    "Call-ID: 1@anosip.invalid\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <sip:mother@anosip.invalid>\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n";
	static uint8_t payload[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static uint8_t md5[16], sha256[32], sealed[80];
	memset(md5, 0x31, sizeof(md5));
	memset(sha256, 0x32, sizeof(sha256));
	memset(sealed, 0x33, sizeof(sealed));
	size_t cert_len, signed_len, decline_len;
	const uint8_t *cert = fuzz_callee_certificate(&cert_len);
	uint8_t *signed_response = signed_302(1, &signed_len);
	uint8_t *decline = signed_302(0, &decline_len);

	/* Mode 0: every body of a CircuitMessage, a SipRouted each way and
	 * the two IdDirEnvelopes. */
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	Anosip__V1__Echo echo = ANOSIP__V1__ECHO__INIT;
	echo.sequence = 7;
	echo.payload.data = payload;
	echo.payload.len = sizeof(payload);
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO;
	m.echo = &echo;
	circuit_message_seed("echo", &m.base);
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY;
	m.echo_reply = &echo;
	circuit_message_seed("echo-reply", &m.base);

	Anosip__V1__SipMessage sm = ANOSIP__V1__SIP_MESSAGE__INIT;
	sm.message.data = (uint8_t *)invite;
	sm.message.len = strlen(invite);
	sm.transaction = 42;
	sm.caller_certificate.data = (uint8_t *)cert;
	sm.caller_certificate.len = cert_len;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP;
	m.sip = &sm;
	circuit_message_seed("sip-invite", &m.base);
	sm.message.data = (uint8_t *)FUZZ_SIP_302;
	sm.message.len = strlen(FUZZ_SIP_302);
	sm.caller_certificate.len = 0;
	sm.signed_response.data = signed_response;
	sm.signed_response.len = signed_len;
	circuit_message_seed("sip-302-signed", &m.base);

	Anosip__V1__SipPassword pw = ANOSIP__V1__SIP_PASSWORD__INIT;
	pw.ha1_md5.data = md5;
	pw.ha1_md5.len = sizeof(md5);
	pw.ha1_sha256.data = sha256;
	pw.ha1_sha256.len = sizeof(sha256);
	pw.realm = (char *)"anosip";
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD;
	m.password = &pw;
	circuit_message_seed("password", &m.base);
	Anosip__V1__SipPasswordAnswer pa = ANOSIP__V1__SIP_PASSWORD_ANSWER__INIT;
	pa.stored = 1;
	pa.realm = (char *)"anosip";
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD_ANSWER;
	m.password_answer = &pa;
	circuit_message_seed("password-answer", &m.base);

	Anosip__V1__IdDirEnvelope e = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	e.request_id = 9;
	e.sealed.data = sealed;
	e.sealed.len = sizeof(sealed);
	e.directory = (char *)FUZZ_THIRD_ID;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY;
	m.iddir_query = &e;
	circuit_message_seed("iddir-query", &m.base);
	circuit_message_seed("envelope-query", &e.base);
	e.directory = (char *)"";
	e.error = (char *)"the ID Directory did not answer";
	e.sealed.len = 0;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER;
	m.iddir_answer = &e;
	circuit_message_seed("iddir-answer-error", &m.base);
	circuit_message_seed("envelope-answer-error", &e.base);

	Anosip__V1__SipRouted r = ANOSIP__V1__SIP_ROUTED__INIT;
	r.transaction = 43;
	r.message.data = (uint8_t *)invite;
	r.message.len = strlen(invite);
	r.caller_certificate.data = (uint8_t *)cert;
	r.caller_certificate.len = cert_len;
	circuit_message_seed("routed-invite", &r.base);
	r.response = 1;
	r.message.data = (uint8_t *)FUZZ_SIP_302;
	r.message.len = strlen(FUZZ_SIP_302);
	r.caller_certificate.len = 0;
	r.signed_response.data = signed_response;
	r.signed_response.len = signed_len;
	circuit_message_seed("routed-302-signed", &r.base);

	/* Mode 1: the genuine answers themselves. */
	put("fuzz_circuit_message", "raw-302-signed", 1, 1, signed_response, signed_len);
	put("fuzz_circuit_message", "raw-decline-signed", 1, 1, decline, decline_len);

	/* Mode 2: a genuine 302 made by the harness and by
	 * circ_sip_response_sign, a decline, and each corruption once. */
	size_t text_len = strlen(FUZZ_SIP_302), contact_len = strlen(FUZZ_SIP_CONTACT);
	uint8_t *body = malloc(text_len + 1 + contact_len);
	if (!body)
		fuzz_fail("out of memory");
	memcpy(body, FUZZ_SIP_302, text_len);
	body[text_len] = 0;
	memcpy(body + text_len + 1, FUZZ_SIP_CONTACT, contact_len);
	static const char *const corruptions[] = {"none",
						  "flip-signature",
						  "flip-certificate",
						  "change-message",
						  "change-contact",
						  "other-caller",
						  "clock",
						  "signature-length",
						  "truncate",
						  "signed-by-caller",
						  "oversized-contact",
						  "swap-certificate"};
	char name[64];
	for (int by_sign = 0; by_sign < 2; by_sign++)
		for (uint8_t c = 0; c < sizeof(corruptions) / sizeof(corruptions[0]); c++) {
			uint8_t head[6] = {c, 0, 17, 0, (uint8_t)by_sign, 0x40};
			snprintf(name, sizeof(name), "real-%s-%s", by_sign ? "sign" : "harness",
				 corruptions[c]);
			put2("fuzz_circuit_message", name, 2, head, sizeof(head), body,
			     text_len + 1 + contact_len);
		}
	uint8_t head[6] = {0, 0, 0, 0, 0, 0};
	put2("fuzz_circuit_message", "real-harness-decline", 2, head, sizeof(head), body, text_len);
	for (uint8_t kind = 1; kind < 9; kind++) {
		head[1] = kind;
		snprintf(name, sizeof(name), "real-harness-certificate-%u", kind);
		put2("fuzz_circuit_message", name, 2, head, sizeof(head), body,
		     text_len + 1 + contact_len);
	}
	free(body);
	free(signed_response);
	free(decline);
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
	circuit_create_corpus();
	circuit_finish_corpus();
	circuit_data_corpus();
	certificate_corpus();
	ua_config_corpus();
	home_corpus();
	sip_parse_corpus();
	sip_digest_corpus();
	iddir_corpus();
	sim_input_corpus();
	circuit_message_corpus();
	return 0;
}
