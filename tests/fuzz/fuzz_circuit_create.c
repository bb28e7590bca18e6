/* Fuzzes circ_server_open (circuit/create.c), what a lighthouse runs on the
 * sealed part of every CREATE cell, which any ua can send it through any
 * portal, and what follows an accepted request: circ_server_accept and, at
 * the ua, circ_client_finish.
 *
 * The lighthouse is beta of the harness (FUZZ_LIGHTHOUSE_ID, the
 * responder's keys); its clock reads FUZZ_NOW_MS. The first byte picks a
 * mode (bits 0-1); the rest is the data:
 *   0  raw: the data is Create.sealed, as it comes off the network;
 *   1  sealed: the data is the CreateRequest plaintext, which the harness
 *      seals to beta (fuzz_seal_fixed), so decoding and the version, key
 *      length, nickname, time window and proof checks run;
 *   2  signed: the data chooses the fields of a request whose proof the
 *      harness really signs (the transcript of docs/protocol.md 4.1), so
 *      the path past the proof runs. A 49-byte header, all zeros meaning a
 *      valid request from the fixed ua:
 *        flags      bit 0 sign_up; bit 1 the 32 key bytes are X itself
 *                   (any point, low-order ones included) rather than x;
 *                   bit 2 the proof names gamma, not beta; bit 3 the proof
 *                   is signed by alpha's key; bit 4 the request carries
 *                   alpha's public key as nickname_public (so bits 3 and 4
 *                   together are a valid request of another key)
 *        version    4 bytes LE, XORed with 1
 *        sent       8 bytes LE, added to FUZZ_NOW_MS
 *        key        32 bytes, XORed with the fixed x (or X, bit 1)
 *        expires    4 bytes LE, the confirm's binding_expires_s
 *      then the nickname up to a NUL byte, then the confirm's certificate;
 *   3  product: circ_client_create (random x, the real clock) with the
 *      data's nickname after a byte whose bit 0 is sign_up; the request is
 *      opened at the real clock.
 *
 * Oracles. The answer of circ_server_open is worked out on our own from
 * the rules of docs/protocol.md 4.1 (opens, decodes, version 1, 32-byte
 * keys and 64-byte proof, a nickname, sent_unix_ms within 60 s, the proof
 * verifies over our own transcript): accepted exactly when no rule is
 * broken, otherwise refused for one of the broken rules (the order of the
 * checks is the product's to choose); a refusal hands out no request, an
 * accepted one is the request sent, field by field. In mode 2 the proof's
 * verdict is also known in advance from the flags. An accepted request is
 * answered with circ_server_accept (a fixed CreateConfirm, the chosen one
 * in mode 2), which must refuse exactly when X is a low-order point and
 * otherwise give a Created of the right sizes (a refusal leaves nothing
 * behind: no Created, wiped keys). When x is known (every
 * mode but 2 with bit 1), circ_client_finish on that Created must accept,
 * derive the same forward and backward keys as the lighthouse and as our
 * own derivation, open the confirm that was sent and wipe its state; then
 * one DATA cell each way must open on the other side. */
#include "tests/fuzz/harness.h"

#include "util/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rules circ_server_open applies, as bits. */
enum {
	R_SEALED = 1 << 0,
	R_DECODE = 1 << 1,
	R_VERSION = 1 << 2,
	R_NICKNAME = 1 << 3,
	R_STALE = 1 << 4,
	R_PROOF = 1 << 5,
};

static int rule_of(int rc)
{
	switch (rc) {
	case CIRC_ERR_SEALED:
		return R_SEALED;
	case CIRC_ERR_DECODE:
		return R_DECODE;
	case CIRC_ERR_VERSION:
		return R_VERSION;
	case CIRC_ERR_NICKNAME:
		return R_NICKNAME;
	case CIRC_ERR_STALE:
		return R_STALE;
	case CIRC_ERR_PROOF:
		return R_PROOF;
	}
	fuzz_fail("circ_server_open refused for a reason it does not have");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	return 0;
}

/* The rules a request plaintext breaks when opened at now; *decoded is our
 * own decoding (the caller frees it) or NULL. */
static int broken_rules(const uint8_t *plain, size_t len, uint64_t now,
			Anosip__V1__CreateRequest **decoded, int *proof_ok)
{
	*decoded = NULL;
	*proof_ok = -1;
	Anosip__V1__CreateRequest *r = anosip__v1__create_request__unpack(NULL, len, plain);
	if (!r)
		return R_DECODE;
	*decoded = r;
	int broken = 0;
	if (r->version != 1)
		broken |= R_VERSION;
	int sizes_ok = r->client_public.len == 32 && r->nickname_public.len == 32 &&
		       r->proof.len == crypto_sign_BYTES;
	if (!sizes_ok || !r->nickname)
		broken |= R_DECODE;
	if (!r->nickname)
		return broken;
	if (!fuzz_nickname_ok(r->nickname))
		broken |= R_NICKNAME;
	uint64_t age = now > r->sent_unix_ms ? now - r->sent_unix_ms : r->sent_unix_ms - now;
	if (age > 60000)
		broken |= R_STALE;
	if (sizes_ok) {
		size_t tn;
		uint8_t *t = fuzz_create_transcript(FUZZ_LIGHTHOUSE_ID, r->client_public.data,
						    r->sent_unix_ms, r->nickname, &tn);
		if (!t)
			fuzz_fail("out of memory");
		*proof_ok =
		    crypto_sign_verify_detached(r->proof.data, t, tn, r->nickname_public.data) == 0;
		free(t);
		if (!*proof_ok)
			broken |= R_PROOF;
	}
	return broken;
}

static int same_bytes(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* circ_server_open must agree with the rules; returns its request. */
static Anosip__V1__CreateRequest *open_checked(const uint8_t *sealed, size_t sealed_len,
					       uint64_t now, int broken,
					       const Anosip__V1__CreateRequest *expect)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__CreateRequest *req = NULL;
	int rc = circ_server_open(&f->responder, FUZZ_LIGHTHOUSE_ID, sealed, sealed_len, now, &req);
	if (rc != 0) {
		if (req)
			fuzz_fail("circ_server_open refused but handed out a request");
		if (!(rule_of(rc) & broken))
			fuzz_fail("circ_server_open refused for a rule the request keeps");
		return NULL;
	}
	if (!req)
		fuzz_fail("circ_server_open accepted without a request");
	if (broken)
		fuzz_fail("circ_server_open accepted a request that breaks a rule");
	if (req->version != expect->version || req->sent_unix_ms != expect->sent_unix_ms ||
	    req->sign_up != expect->sign_up || strcmp(req->nickname, expect->nickname) != 0 ||
	    !same_bytes(&req->client_public, &expect->client_public) ||
	    !same_bytes(&req->nickname_public, &expect->nickname_public) ||
	    !same_bytes(&req->proof, &expect->proof))
		fuzz_fail("circ_server_open accepted another request than the one sent");
	return req;
}

/* Opens a sealed request, working out the expected answer from what it
 * opens to (if it does). */
static Anosip__V1__CreateRequest *open_sealed(const uint8_t *sealed, size_t len, uint64_t now,
					      int *proof_ok)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__CreateRequest *expect = NULL;
	int broken = R_SEALED;
	*proof_ok = -1;
	if (len >= crypto_box_SEALBYTES && len <= FUZZ_CREATE_MAX_SEALED) {
		size_t plain_len = len - crypto_box_SEALBYTES;
		uint8_t *plain = malloc(plain_len ? plain_len : 1);
		if (!plain)
			fuzz_fail("out of memory");
		if (crypto_box_seal_open(plain, sealed, len, f->responder.pub.kx,
					 f->responder.kx_secret) == 0)
			broken = broken_rules(plain, plain_len, now, &expect, proof_ok);
		free(plain);
	}
	Anosip__V1__CreateRequest *req = open_checked(sealed, len, now, broken, expect);
	if (expect)
		anosip__v1__create_request__free_unpacked(expect, NULL);
	return req;
}

static int all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

/* One DATA cell from a to b must open to what was sealed. */
static void data_once(struct circ_keys *a, struct circ_keys *b, const char *text)
{
	uint8_t *sealed, *plain;
	size_t sealed_len, plain_len;
	size_t n = strlen(text);
	if (circ_data_seal(a, (const uint8_t *)text, n, &sealed, &sealed_len) != 0)
		fuzz_fail("circ_data_seal failed on a fresh circuit");
	if (circ_data_open(b, sealed, sealed_len, &plain, &plain_len) != 0 || plain_len != n ||
	    memcmp(plain, text, n) != 0)
		fuzz_fail("a DATA cell does not cross a circuit both sides built");
	free(plain);
	free(sealed);
}

/* After an accepted request: the lighthouse answers, and when client (the
 * ua's state for this request) is known the ua must agree. */
static void answer(const Anosip__V1__CreateRequest *req, const struct circ_client *client,
		   const Anosip__V1__CreateConfirm *confirm)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t s[32];
	int low_order = crypto_scalarmult(s, f->responder.kx_secret, req->client_public.data) != 0;

	Anosip__V1__Created created;
	struct circ_keys lk;
	int rc = circ_server_accept(&f->responder, FUZZ_LIGHTHOUSE_ID, req, confirm, &created, &lk);
	if (rc != 0) {
		if (!low_order || rc != CIRC_ERR_DECODE)
			fuzz_fail("circ_server_accept refused a request with a usable key");
		if (created.server_public.data || created.auth.data || created.sealed.data)
			fuzz_fail("circ_server_accept refused but filled the Created");
		if (!all_zero(&lk, sizeof(lk)))
			fuzz_fail("circ_server_accept refused but left keys behind");
		return;
	}
	if (low_order)
		fuzz_fail("circ_server_accept answered a low-order X");
	size_t confirm_len = anosip__v1__create_confirm__get_packed_size(confirm);
	if (created.server_public.len != 32 || created.auth.len != 32 ||
	    created.sealed.len != confirm_len + crypto_aead_chacha20poly1305_ietf_ABYTES)
		fuzz_fail("circ_server_accept's Created has the wrong sizes");
	if (!lk.is_lighthouse || lk.sent || lk.received)
		fuzz_fail("circ_server_accept's keys are not a fresh lighthouse side");

	if (client) {
		/* Our own derivation, from the ua's side. */
		struct fuzz_circuit_keys ours;
		uint8_t s1[32], s2[32];
		if (crypto_scalarmult(s1, client->eph_secret, created.server_public.data) != 0 ||
		    crypto_scalarmult(s2, client->eph_secret, f->responder.pub.kx) != 0)
			fuzz_fail("the lighthouse's Y is a low-order point");
		fuzz_circuit_derive(s1, s2, FUZZ_LIGHTHOUSE_ID, f->responder.pub.kx,
				    client->eph_public, created.server_public.data, &ours);
		if (memcmp(ours.forward, lk.forward, 32) != 0 ||
		    memcmp(ours.backward, lk.backward, 32) != 0 ||
		    memcmp(ours.auth, created.auth.data, 32) != 0)
			fuzz_fail("the lighthouse's keys are not those of docs/protocol.md 4.1");

		struct circ_client cc = *client;
		struct circ_keys ck;
		Anosip__V1__CreateConfirm *got = NULL;
		if (circ_client_finish(&cc, &created, &ck, &got) != 0 || !got)
			fuzz_fail("circ_client_finish refused the lighthouse's answer");
		if (!all_zero(&cc, sizeof(cc)))
			fuzz_fail("circ_client_finish left the ephemeral secret behind");
		if (ck.is_lighthouse || ck.sent || ck.received ||
		    memcmp(ck.forward, lk.forward, 32) != 0 ||
		    memcmp(ck.backward, lk.backward, 32) != 0)
			fuzz_fail("ua and lighthouse derived different circuit keys");
		if (got->binding_expires_s != confirm->binding_expires_s ||
		    !same_bytes(&got->certificate, &confirm->certificate))
			fuzz_fail("the ua opened another confirm than the lighthouse sent");
		anosip__v1__create_confirm__free_unpacked(got, NULL);
		data_once(&ck, &lk, "forward");
		data_once(&lk, &ck, "backward");
		circ_keys_wipe(&ck);
	}
	circ_created_free(&created);
	circ_keys_wipe(&lk);
}

static void fixed_confirm(Anosip__V1__CreateConfirm *c)
{
	static uint8_t cert[] = "a certificate";
	anosip__v1__create_confirm__init(c);
	c->certificate.data = cert;
	c->certificate.len = sizeof(cert) - 1;
	c->binding_expires_s = 3600;
}

static void run_raw(const uint8_t *data, size_t size)
{
	int proof_ok;
	Anosip__V1__CreateRequest *req = open_sealed(data, size, FUZZ_NOW_MS, &proof_ok);
	if (req)
		anosip__v1__create_request__free_unpacked(req, NULL);
}

/* Seals plain to beta; the caller frees the result. */
static uint8_t *seal(const uint8_t *plain, size_t len, size_t *out_len)
{
	uint8_t *sealed = malloc(len + crypto_box_SEALBYTES);
	if (!sealed)
		fuzz_fail("out of memory");
	*out_len = fuzz_seal_fixed(plain, len, fuzz_fixtures()->responder.pub.kx, sealed);
	return sealed;
}

static void run_sealed(const uint8_t *data, size_t size)
{
	size_t len;
	int proof_ok;
	uint8_t *sealed = seal(data, size, &len);
	Anosip__V1__CreateRequest *req = open_sealed(sealed, len, FUZZ_NOW_MS, &proof_ok);
	free(sealed);
	if (!req)
		return;
	/* The fixed ua's X: we know x. */
	uint8_t x[32];
	fuzz_circuit_x(x);
	struct circ_client cc;
	fuzz_circuit_client(&cc);
	Anosip__V1__CreateConfirm confirm;
	fixed_confirm(&confirm);
	answer(req, memcmp(req->client_public.data, x, 32) == 0 ? &cc : NULL, &confirm);
	anosip__v1__create_request__free_unpacked(req, NULL);
}

static void run_signed(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t flags, version[4], sent[8], key[32], expires[4];
	fuzz_take(&data, &size, &flags, 1);
	fuzz_take(&data, &size, version, sizeof(version));
	fuzz_take(&data, &size, sent, sizeof(sent));
	fuzz_take(&data, &size, key, sizeof(key));
	fuzz_take(&data, &size, expires, sizeof(expires));
	const uint8_t *nul = memchr(data, 0, size);
	size_t nick_len = nul ? (size_t)(nul - data) : size;
	char *nickname = malloc(nick_len + 1);
	if (!nickname)
		fuzz_fail("out of memory");
	memcpy(nickname, data, nick_len);
	nickname[nick_len] = 0;
	const uint8_t *cert = nul ? nul + 1 : data + size;
	size_t cert_len = nul ? size - nick_len - 1 : 0;

	struct circ_client cc;
	fuzz_circuit_client(&cc);
	struct fuzz_create c = {
	    .version = 1 ^ (uint32_t)fuzz_le(version, 4),
	    .nickname = nickname,
	    .nickname_public = flags & 16 ? f->initiator.pub.sign : f->nickname.pub.sign,
	    .sent_unix_ms = FUZZ_NOW_MS + fuzz_le(sent, 8),
	    .sign_up = flags & 1,
	    .proof_lighthouse = flags & 4 ? FUZZ_THIRD_ID : FUZZ_LIGHTHOUSE_ID,
	    .signer = flags & 8 ? &f->initiator : &f->nickname,
	};
	int known = !(flags & 2);
	for (int i = 0; i < 32; i++)
		key[i] ^= known ? cc.eph_secret[i] : cc.eph_public[i];
	if (known) {
		memcpy(cc.eph_secret, key, 32);
		crypto_scalarmult_base(cc.eph_public, cc.eph_secret);
		memcpy(c.client_public, cc.eph_public, 32);
	} else {
		memcpy(c.client_public, key, 32);
	}

	size_t plain_len, len;
	uint8_t *plain = fuzz_create_request(&c, &plain_len);
	if (!plain)
		fuzz_fail("out of memory");
	uint8_t *sealed = seal(plain, plain_len, &len);
	free(plain);
	int proof_ok;
	Anosip__V1__CreateRequest *req = open_sealed(sealed, len, FUZZ_NOW_MS, &proof_ok);
	free(sealed);
	/* Known in advance: the proof verifies exactly when it names beta and
	 * the key that signed it is the one the request carries. */
	int should = !(flags & 4) && !!(flags & 8) == !!(flags & 16);
	if (proof_ok >= 0 && proof_ok != should)
		fuzz_fail("a really signed proof does not verify as it should");
	if (req) {
		Anosip__V1__CreateConfirm confirm;
		anosip__v1__create_confirm__init(&confirm);
		confirm.certificate.data = (uint8_t *)cert;
		confirm.certificate.len = cert_len;
		confirm.binding_expires_s = (uint32_t)fuzz_le(expires, 4);
		answer(req, known ? &cc : NULL, &confirm);
		anosip__v1__create_request__free_unpacked(req, NULL);
	}
	free(nickname);
}

static void run_product(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t flags;
	fuzz_take(&data, &size, &flags, 1);
	char *nickname = malloc(size + 1);
	if (!nickname)
		fuzz_fail("out of memory");
	if (size)
		memcpy(nickname, data, size);
	nickname[size] = 0;

	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	int rc = circ_client_create(&cc, &f->nickname, nickname, FUZZ_LIGHTHOUSE_ID,
				    f->responder.pub.kx, flags & 1, &sealed, &len);
	if (!fuzz_nickname_ok(nickname)) {
		if (rc != CIRC_ERR_NICKNAME)
			fuzz_fail("circ_client_create took an invalid nickname");
		free(nickname);
		return;
	}
	if (rc != 0)
		fuzz_fail("circ_client_create failed on a valid nickname");
	if (memcmp(cc.lighthouse_kx, f->responder.pub.kx, 32) != 0 ||
	    strcmp(cc.lighthouse_id, FUZZ_LIGHTHOUSE_ID) != 0)
		fuzz_fail("circ_client_create kept another lighthouse");
	uint8_t x[32];
	crypto_scalarmult_base(x, cc.eph_secret);
	if (memcmp(x, cc.eph_public, 32) != 0)
		fuzz_fail("circ_client_create's X is not x's");

	Anosip__V1__CreateRequest *req = NULL;
	rc = circ_server_open(&f->responder, FUZZ_LIGHTHOUSE_ID, sealed, len, util_wall_ms(), &req);
	free(sealed);
	if (rc != 0)
		fuzz_fail("circ_server_open refused what circ_client_create made");
	if (req->version != 1 || strcmp(req->nickname, nickname) != 0 ||
	    req->sign_up != (flags & 1) || req->client_public.len != 32 ||
	    memcmp(req->client_public.data, cc.eph_public, 32) != 0 ||
	    memcmp(req->nickname_public.data, f->nickname.pub.sign, 32) != 0)
		fuzz_fail("circ_server_open opened another request than circ_client_create made");
	Anosip__V1__CreateConfirm confirm;
	fixed_confirm(&confirm);
	answer(req, &cc, &confirm);
	anosip__v1__create_request__free_unpacked(req, NULL);
	sodium_memzero(&cc, sizeof(cc));
	free(nickname);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] & 3;
	data++;
	size--;
	switch (mode) {
	case 0:
		run_raw(data, size);
		break;
	case 1:
		run_sealed(data, size);
		break;
	case 2:
		run_signed(data, size);
		break;
	default:
		run_product(data, size);
		break;
	}
	return 0;
}
