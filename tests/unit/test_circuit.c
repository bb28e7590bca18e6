/* circuit: the end-to-end cryptography of a circuit (docs/protocol.md §4) —
 * the CREATE/CREATED handshake and what it refuses, DATA cells with their
 * replay window, and nickname certificates. Where it matters the bytes are
 * rebuilt here from the protocol text alone, so a change on both sides of
 * the code that drifts from the spec is caught too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "circuit/circuit.h"
#include "keys/keys.h"
#include "tests/unit/suites.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LH_ID "lh-1"
#define OTHER_LH_ID "lh-2"
#define NICK "alice"
#define CELL_OVERHEAD (8 + crypto_aead_chacha20poly1305_ietf_ABYTES)

/* A lighthouse and a nickname, plus a stranger of each. */
struct fixture {
	struct keys_pair lh, other_lh, nick, other_nick;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || keys_generate(&f->lh) != 0 || keys_generate(&f->other_lh) != 0 ||
	    keys_generate(&f->nick) != 0 || keys_generate(&f->other_nick) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	keys_wipe(&f->lh);
	keys_wipe(&f->other_lh);
	keys_wipe(&f->nick);
	keys_wipe(&f->other_nick);
	free(f);
	return 0;
}

static int all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

static void put_be64(uint8_t *out, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* The CreateConfirm a lighthouse sends: a certificate for NICK it signed. */
struct confirm {
	Anosip__V1__CreateConfirm msg;
	uint8_t *cert;
	size_t cert_len;
};

static void confirm_make(struct fixture *f, struct confirm *c)
{
	uint64_t now = util_wall_ms() / 1000;
	anosip__v1__create_confirm__init(&c->msg);
	assert_int_equal(circ_certificate_sign(&f->lh, LH_ID, NICK, f->nick.pub.sign, now,
					       now + 30 * 86400, &c->cert, &c->cert_len),
			 0);
	c->msg.certificate.data = c->cert;
	c->msg.certificate.len = c->cert_len;
	c->msg.binding_expires_s = 3600;
}

static void confirm_free(struct confirm *c)
{
	free(c->cert);
	c->cert = NULL;
}

/* The lighthouse's half: open the request, answer it. */
static void lighthouse_answer(struct fixture *f, const uint8_t *sealed, size_t len,
			      Anosip__V1__Created *created, struct circ_keys *keys)
{
	Anosip__V1__CreateRequest *req = NULL;
	struct confirm c;
	assert_int_equal(circ_server_open(&f->lh, LH_ID, sealed, len, util_wall_ms(), &req), 0);
	assert_non_null(req);
	confirm_make(f, &c);
	assert_int_equal(circ_server_accept(&f->lh, LH_ID, req, &c.msg, created, keys), 0);
	confirm_free(&c);
	anosip__v1__create_request__free_unpacked(req, NULL);
}

/* A whole handshake: ua and lighthouse end with their circuit keys. */
static void handshake(struct fixture *f, struct circ_keys *ua, struct circ_keys *lh)
{
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	Anosip__V1__Created created;
	Anosip__V1__CreateConfirm *confirm = NULL;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	lighthouse_answer(f, sealed, len, &created, lh);
	free(sealed);
	assert_int_equal(circ_client_finish(&cc, &created, ua, &confirm), 0);
	assert_non_null(confirm);
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	circ_created_free(&created);
}

/* --- the request, rebuilt from §4.1 --- */

static size_t spec_transcript(const char *lh_id, const uint8_t x_pub[32], uint64_t sent_ms,
			      const char *nickname, uint8_t *out)
{
	static const char ctx[] = "anosip-create-v1";
	size_t n = 0;
	memcpy(out, ctx, strlen(ctx));
	n += strlen(ctx);
	out[n++] = (uint8_t)strlen(lh_id);
	memcpy(out + n, lh_id, strlen(lh_id));
	n += strlen(lh_id);
	memcpy(out + n, x_pub, 32);
	n += 32;
	put_be64(out + n, sent_ms);
	n += 8;
	out[n++] = (uint8_t)strlen(nickname);
	memcpy(out + n, nickname, strlen(nickname));
	return n + strlen(nickname);
}

/* Seals an encoded request to seal_to; *len gets the sealed length. */
static uint8_t *seal_request(const Anosip__V1__CreateRequest *req, const uint8_t seal_to[32],
			     size_t *len)
{
	size_t plain_len = anosip__v1__create_request__get_packed_size(req);
	uint8_t *plain = malloc(plain_len ? plain_len : 1);
	uint8_t *out = malloc(plain_len + crypto_box_SEALBYTES);
	assert_non_null(plain);
	assert_non_null(out);
	anosip__v1__create_request__pack(req, plain);
	assert_int_equal(crypto_box_seal(out, plain, plain_len, seal_to), 0);
	free(plain);
	*len = plain_len + crypto_box_SEALBYTES;
	return out;
}

/* A request exactly as §4.1 says, with every part chosen by the caller:
 * the proof is made by signer over (proof_lh_id, x_pub, sent_ms, nickname)
 * and the whole is sealed to seal_to. */
struct spec_request {
	uint32_t version;
	const uint8_t *x_pub;
	const char *nickname;
	const uint8_t *nickname_public;
	uint64_t sent_ms;
	int sign_up;
	const char *proof_lh_id;
	const uint8_t *signer; /* Ed25519 secret */
	const uint8_t *seal_to;
};

static uint8_t *spec_request_build(const struct spec_request *s, size_t *len)
{
	uint8_t transcript[256], proof[crypto_sign_BYTES];
	size_t tn = spec_transcript(s->proof_lh_id, s->x_pub, s->sent_ms, s->nickname, transcript);
	crypto_sign_detached(proof, NULL, transcript, tn, s->signer);
	Anosip__V1__CreateRequest req = ANOSIP__V1__CREATE_REQUEST__INIT;
	req.version = s->version;
	req.client_public.data = (uint8_t *)s->x_pub;
	req.client_public.len = 32;
	req.nickname = (char *)s->nickname;
	req.nickname_public.data = (uint8_t *)s->nickname_public;
	req.nickname_public.len = 32;
	req.sent_unix_ms = s->sent_ms;
	req.sign_up = s->sign_up != 0;
	req.proof.data = proof;
	req.proof.len = sizeof(proof);
	return seal_request(&req, s->seal_to, len);
}

/* A well-formed request for LH_ID from NICK, sent now, to be varied. */
static struct spec_request spec_default(struct fixture *f, const uint8_t x_pub[32])
{
	struct spec_request s = {
	    .version = CIRC_VERSION,
	    .x_pub = x_pub,
	    .nickname = NICK,
	    .nickname_public = f->nick.pub.sign,
	    .sent_ms = util_wall_ms(),
	    .sign_up = 0,
	    .proof_lh_id = LH_ID,
	    .signer = f->nick.sign_secret,
	    .seal_to = f->lh.pub.kx,
	};
	return s;
}

/* Opens a request sealed to the fixture's lighthouse, as a router cannot. */
static Anosip__V1__CreateRequest *peek_request(struct fixture *f, const uint8_t *sealed, size_t len)
{
	assert_true(len >= crypto_box_SEALBYTES);
	uint8_t *plain = malloc(len - crypto_box_SEALBYTES + 1);
	assert_non_null(plain);
	assert_int_equal(crypto_box_seal_open(plain, sealed, len, f->lh.pub.kx, f->lh.kx_secret),
			 0);
	Anosip__V1__CreateRequest *req =
	    anosip__v1__create_request__unpack(NULL, len - crypto_box_SEALBYTES, plain);
	free(plain);
	assert_non_null(req);
	return req;
}

/* circ_server_open's verdict on a sealed request, at now_ms. */
static int server_verdict(struct fixture *f, const char *lh_id, const uint8_t *sealed, size_t len,
			  uint64_t now_ms)
{
	Anosip__V1__CreateRequest *req = NULL;
	int rc = circ_server_open(&f->lh, lh_id, sealed, len, now_ms, &req);
	if (rc == 0) {
		assert_non_null(req);
		anosip__v1__create_request__free_unpacked(req, NULL);
	} else {
		assert_null(req);
	}
	return rc;
}

/* A real client request, opened, changed by `edit` and sealed again to the
 * right lighthouse: the verdict on the edited request. */
typedef void (*request_edit)(Anosip__V1__CreateRequest *m, void *arg);

static int verdict_after_edit(struct fixture *f, request_edit edit, void *arg)
{
	struct circ_client cc;
	uint8_t *sealed = NULL, *resealed;
	size_t len = 0, relen = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	Anosip__V1__CreateRequest *req = peek_request(f, sealed, len);
	Anosip__V1__CreateRequest m = *req; /* shallow: edits never free */
	edit(&m, arg);
	resealed = seal_request(&m, f->lh.pub.kx, &relen);
	uint64_t sent = req->sent_unix_ms;
	anosip__v1__create_request__free_unpacked(req, NULL);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));
	int rc = server_verdict(f, LH_ID, resealed, relen, sent);
	free(resealed);
	return rc;
}

/* --- handshake --- */

static void test_handshake_keys_match(void **state)
{
	struct fixture *f = *state;
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 1, &sealed, &len), 0);
	assert_non_null(sealed);

	Anosip__V1__CreateRequest *req = NULL;
	assert_int_equal(circ_server_open(&f->lh, LH_ID, sealed, len, util_wall_ms(), &req), 0);
	assert_int_equal(req->version, CIRC_VERSION);
	assert_string_equal(req->nickname, NICK);
	assert_memory_equal(req->nickname_public.data, f->nick.pub.sign, 32);
	assert_memory_equal(req->client_public.data, cc.eph_public, 32);
	assert_true(req->sign_up);

	struct confirm c;
	confirm_make(f, &c);
	Anosip__V1__Created created;
	struct circ_keys lh, ua;
	assert_int_equal(circ_server_accept(&f->lh, LH_ID, req, &c.msg, &created, &lh), 0);
	assert_int_equal(created.server_public.len, 32);
	assert_int_equal(created.auth.len, 32);
	assert_true(lh.is_lighthouse);

	Anosip__V1__CreateConfirm *confirm = NULL;
	memset(&ua, 0xaa, sizeof(ua));
	assert_int_equal(circ_client_finish(&cc, &created, &ua, &confirm), 0);
	assert_true(all_zero(&cc, sizeof(cc))); /* the ephemeral secret is gone */
	assert_false(ua.is_lighthouse);
	assert_memory_equal(ua.forward, lh.forward, 32);
	assert_memory_equal(ua.backward, lh.backward, 32);
	assert_memory_not_equal(ua.forward, ua.backward, 32);
	assert_int_equal(ua.sent, 0);
	assert_int_equal(ua.received, 0);
	assert_int_equal(lh.sent, 0);
	assert_int_equal(lh.received, 0);

	/* The confirm arrives intact and its certificate verifies. */
	assert_int_equal(confirm->binding_expires_s, 3600);
	assert_int_equal(confirm->certificate.len, c.cert_len);
	assert_memory_equal(confirm->certificate.data, c.cert, c.cert_len);
	Anosip__V1__Certificate *cert = NULL;
	assert_int_equal(circ_certificate_verify(confirm->certificate.data,
						 confirm->certificate.len, f->lh.pub.sign,
						 util_wall_ms() / 1000, &cert),
			 0);
	assert_string_equal(cert->nickname, NICK);
	assert_string_equal(cert->lighthouse, LH_ID);
	anosip__v1__certificate__free_unpacked(cert, NULL);

	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	anosip__v1__create_request__free_unpacked(req, NULL);
	confirm_free(&c);
	circ_created_free(&created);
	assert_null(created.server_public.data);
	free(sealed);
	circ_keys_wipe(&ua);
	circ_keys_wipe(&lh);
	assert_true(all_zero(&ua, sizeof(ua)));
}

/* One cell from `from` to `to`, checked to arrive unchanged. */
static void send_one(struct circ_keys *from, struct circ_keys *to, const uint8_t *msg, size_t len)
{
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;
	assert_int_equal(circ_data_seal(from, msg, len, &sealed, &sealed_len), 0);
	assert_int_equal(sealed_len, len + CELL_OVERHEAD);
	assert_int_equal(get_be64(sealed), from->sent);
	assert_int_equal(circ_data_open(to, sealed, sealed_len, &plain, &plain_len), 0);
	assert_int_equal(plain_len, len);
	if (len)
		assert_memory_equal(plain, msg, len);
	assert_int_equal(to->received, from->sent);
	free(sealed);
	free(plain);
}

static void test_handshake_data_both_directions(void **state)
{
	struct fixture *f = *state;
	struct circ_keys ua, lh;
	handshake(f, &ua, &lh);
	uint8_t msg[1024];
	for (int i = 0; i < 300; i++) {
		size_t len = (size_t)(i * 37) % sizeof(msg);
		for (size_t j = 0; j < len; j++)
			msg[j] = (uint8_t)(i + j);
		if (i % 3 != 2)
			send_one(&ua, &lh, msg, len);
		if (i % 2 == 0)
			send_one(&lh, &ua, msg, len);
	}
	assert_int_equal(ua.sent, 200);
	assert_int_equal(lh.received, 200);
	assert_int_equal(lh.sent, 150);
	assert_int_equal(ua.received, 150);
	circ_keys_wipe(&ua);
	circ_keys_wipe(&lh);
}

/* §4.1 and §4.2 recomputed from the ua's ephemeral secret: the keys, the
 * auth, the confirm's sealing and a DATA cell's layout. */
static void test_handshake_matches_spec(void **state)
{
	struct fixture *f = *state;
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	uint8_t x[32], x_pub[32];
	memcpy(x, cc.eph_secret, 32);
	memcpy(x_pub, cc.eph_public, 32);

	/* The proof is over the transcript of §4.1. */
	Anosip__V1__CreateRequest *req = peek_request(f, sealed, len);
	uint8_t transcript[256];
	size_t tn = spec_transcript(LH_ID, x_pub, req->sent_unix_ms, NICK, transcript);
	assert_int_equal(req->proof.len, crypto_sign_BYTES);
	assert_int_equal(
	    crypto_sign_verify_detached(req->proof.data, transcript, tn, f->nick.pub.sign), 0);
	anosip__v1__create_request__free_unpacked(req, NULL);

	Anosip__V1__Created created;
	struct circ_keys lh;
	lighthouse_answer(f, sealed, len, &created, &lh);
	free(sealed);
	const uint8_t *y_pub = created.server_public.data;

	uint8_t s1[32], s2[32], master[32], k[4][32], auth[32];
	assert_int_equal(crypto_scalarmult(s1, x, y_pub), 0);
	assert_int_equal(crypto_scalarmult(s2, x, f->lh.pub.kx), 0);
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"anosip-circuit-v1", 17);
	crypto_generichash_update(&st, s1, 32);
	crypto_generichash_update(&st, s2, 32);
	crypto_generichash_update(&st, (const uint8_t *)LH_ID, strlen(LH_ID));
	crypto_generichash_update(&st, f->lh.pub.kx, 32);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, y_pub, 32);
	crypto_generichash_final(&st, master, 32);
	for (int i = 0; i < 4; i++)
		crypto_kdf_derive_from_key(k[i], 32, (uint64_t)i + 1, "anoscirc", master);
	crypto_generichash_init(&st, k[3], 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)"anosip-circuit-auth", 19);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, y_pub, 32);
	crypto_generichash_final(&st, auth, 32);

	assert_memory_equal(lh.forward, k[0], 32);
	assert_memory_equal(lh.backward, k[1], 32);
	assert_memory_equal(created.auth.data, auth, 32);

	/* The confirm: AEAD under the confirm key with a zero nonce. */
	static const uint8_t zero_nonce[12];
	size_t conf_len = created.sealed.len - crypto_aead_chacha20poly1305_ietf_ABYTES;
	uint8_t *conf = malloc(conf_len + 1);
	assert_non_null(conf);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(
			     conf, NULL, NULL, created.sealed.data, created.sealed.len, NULL, 0,
			     zero_nonce, k[2]),
			 0);
	Anosip__V1__CreateConfirm *confirm =
	    anosip__v1__create_confirm__unpack(NULL, conf_len, conf);
	assert_non_null(confirm);
	assert_int_equal(confirm->binding_expires_s, 3600);
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	free(conf);

	/* DATA from the lighthouse: BE64(counter) || AEAD(backward, 0^4 || BE64(counter)). */
	static const uint8_t hello[] = "hello, ua";
	uint8_t *cell = NULL, plain[sizeof(hello)], nonce[12] = {0};
	size_t cell_len = 0;
	assert_int_equal(circ_data_seal(&lh, hello, sizeof(hello), &cell, &cell_len), 0);
	assert_int_equal(get_be64(cell), 1);
	put_be64(nonce + 4, 1);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(
			     plain, NULL, NULL, cell + 8, cell_len - 8, NULL, 0, nonce, k[1]),
			 0);
	assert_memory_equal(plain, hello, sizeof(hello));
	free(cell);

	/* And the ua gets the same keys. */
	struct circ_keys ua;
	Anosip__V1__CreateConfirm *got = NULL;
	assert_int_equal(circ_client_finish(&cc, &created, &ua, &got), 0);
	assert_memory_equal(ua.forward, k[0], 32);
	assert_memory_equal(ua.backward, k[1], 32);
	anosip__v1__create_confirm__free_unpacked(got, NULL);
	circ_created_free(&created);
	circ_keys_wipe(&ua);
	circ_keys_wipe(&lh);
	sodium_memzero(x, sizeof(x));
}

/* Two handshakes between the same static keys share nothing. */
static void test_handshake_forward_secrecy(void **state)
{
	struct fixture *f = *state;
	struct circ_keys ua1, lh1, ua2, lh2;
	handshake(f, &ua1, &lh1);
	handshake(f, &ua2, &lh2);
	assert_memory_equal(ua1.forward, lh1.forward, 32);
	assert_memory_equal(ua2.forward, lh2.forward, 32);
	assert_memory_not_equal(ua1.forward, ua2.forward, 32);
	assert_memory_not_equal(ua1.backward, ua2.backward, 32);
	assert_memory_not_equal(ua1.forward, ua2.backward, 32);

	/* A cell of one circuit does not open on the other. */
	uint8_t *cell = NULL, *plain = NULL;
	size_t cell_len = 0, plain_len = 0;
	assert_int_equal(circ_data_seal(&ua1, (const uint8_t *)"x", 1, &cell, &cell_len), 0);
	assert_int_equal(circ_data_open(&lh2, cell, cell_len, &plain, &plain_len), CIRC_ERR_SEALED);
	assert_null(plain);
	assert_int_equal(lh2.received, 0);
	free(cell);
	circ_keys_wipe(&ua1);
	circ_keys_wipe(&lh1);
	circ_keys_wipe(&ua2);
	circ_keys_wipe(&lh2);
}

/* Each client request picks a fresh X. */
static void test_create_fresh_ephemeral(void **state)
{
	struct fixture *f = *state;
	struct circ_client a, b;
	uint8_t *sa = NULL, *sb = NULL;
	size_t la = 0, lb = 0;
	assert_int_equal(circ_client_create(&a, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sa, &la),
			 0);
	assert_int_equal(circ_client_create(&b, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sb, &lb),
			 0);
	assert_memory_not_equal(a.eph_public, b.eph_public, 32);
	assert_memory_not_equal(a.eph_secret, b.eph_secret, 32);
	assert_string_equal(a.lighthouse_id, LH_ID);
	assert_memory_equal(a.lighthouse_kx, f->lh.pub.kx, 32);
	free(sa);
	free(sb);
	sodium_memzero(&a, sizeof(a));
	sodium_memzero(&b, sizeof(b));
}

/* --- what the lighthouse refuses --- */

/* A request built here from the spec is accepted: the baseline for the
 * refusals below, which each change one thing. */
static void test_open_spec_request(void **state)
{
	struct fixture *f = *state;
	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	struct spec_request s = spec_default(f, x_pub);
	s.sign_up = 1;
	size_t len = 0;
	uint8_t *sealed = spec_request_build(&s, &len);
	Anosip__V1__CreateRequest *req = NULL;
	assert_int_equal(circ_server_open(&f->lh, LH_ID, sealed, len, s.sent_ms, &req), 0);
	assert_string_equal(req->nickname, NICK);
	assert_true(req->sign_up);
	assert_int_equal(req->sent_unix_ms, s.sent_ms);
	assert_memory_equal(req->client_public.data, x_pub, 32);
	anosip__v1__create_request__free_unpacked(req, NULL);
	free(sealed);
}

static void test_open_sealed_to_another_lighthouse(void **state)
{
	struct fixture *f = *state;
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->other_lh.pub.kx, 0, &sealed, &len),
	    0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, util_wall_ms()), CIRC_ERR_SEALED);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));

	/* Built from the spec, with everything else right. */
	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	struct spec_request s = spec_default(f, x_pub);
	s.seal_to = f->other_lh.pub.kx;
	sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, s.sent_ms), CIRC_ERR_SEALED);
	free(sealed);
}

static void test_open_garbage(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[600];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	uint64_t now = util_wall_ms();
	assert_int_equal(server_verdict(f, LH_ID, junk, 0, now), CIRC_ERR_SEALED);
	assert_int_equal(server_verdict(f, LH_ID, junk, crypto_box_SEALBYTES - 1, now),
			 CIRC_ERR_SEALED);
	assert_int_equal(server_verdict(f, LH_ID, junk, crypto_box_SEALBYTES, now),
			 CIRC_ERR_SEALED);
	assert_int_equal(server_verdict(f, LH_ID, junk, sizeof(junk), now), CIRC_ERR_SEALED);

	/* A real request cut short, or with one byte flipped anywhere. */
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len - 1, now), CIRC_ERR_SEALED);
	for (size_t i = 0; i < len; i++) {
		sealed[i] ^= 0x01;
		assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), CIRC_ERR_SEALED);
		sealed[i] ^= 0x01;
	}
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), 0);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));

	/* Opens, but is no CreateRequest. */
	uint8_t *box = malloc(sizeof(junk) + crypto_box_SEALBYTES);
	assert_non_null(box);
	memset(junk, 0xff, sizeof(junk));
	crypto_box_seal(box, junk, sizeof(junk), f->lh.pub.kx);
	assert_int_equal(server_verdict(f, LH_ID, box, sizeof(junk) + crypto_box_SEALBYTES, now),
			 CIRC_ERR_DECODE);
	free(box);
}

static void test_open_proof_by_another_key(void **state)
{
	struct fixture *f = *state;
	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	/* Signed by another nickname key, claiming this nickname's key. */
	struct spec_request s = spec_default(f, x_pub);
	s.signer = f->other_nick.sign_secret;
	size_t len = 0;
	uint8_t *sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, s.sent_ms), CIRC_ERR_PROOF);
	free(sealed);

	/* Signed by this key but claiming another. */
	s = spec_default(f, x_pub);
	s.nickname_public = f->other_nick.pub.sign;
	sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, s.sent_ms), CIRC_ERR_PROOF);
	free(sealed);
}

static void edit_flip_proof(Anosip__V1__CreateRequest *m, void *arg)
{
	static uint8_t proof[crypto_sign_BYTES];
	size_t at = *(size_t *)arg;
	memcpy(proof, m->proof.data, sizeof(proof));
	proof[at] ^= 0x80;
	m->proof.data = proof;
}

static void edit_nickname_public(Anosip__V1__CreateRequest *m, void *arg)
{
	m->nickname_public.data = arg;
}

static void edit_client_public(Anosip__V1__CreateRequest *m, void *arg)
{
	m->client_public.data = arg;
}

static void edit_nickname(Anosip__V1__CreateRequest *m, void *arg)
{
	m->nickname = arg;
}

static void edit_sent(Anosip__V1__CreateRequest *m, void *arg)
{
	m->sent_unix_ms += *(int64_t *)arg;
}

static void edit_version(Anosip__V1__CreateRequest *m, void *arg)
{
	m->version = *(uint32_t *)arg;
}

static void edit_lengths(Anosip__V1__CreateRequest *m, void *arg)
{
	switch (*(int *)arg) {
	case 0:
		m->client_public.len = 31;
		break;
	case 1:
		m->nickname_public.len = 31;
		break;
	case 2:
		m->proof.len = crypto_sign_BYTES - 1;
		break;
	case 3:
		m->client_public.len = 0;
		m->client_public.data = NULL;
		break;
	}
}

/* A real request re-sealed with its proof, key, X, nickname or time
 * changed: the proof binds them all. */
static void test_open_tampered_proof(void **state)
{
	struct fixture *f = *state;
	size_t at[] = {0, 31, 63};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		assert_int_equal(verdict_after_edit(f, edit_flip_proof, &at[i]), CIRC_ERR_PROOF);
	assert_int_equal(verdict_after_edit(f, edit_nickname_public, f->other_nick.pub.sign),
			 CIRC_ERR_PROOF);
	uint8_t other_x[32], other_secret[32];
	crypto_box_keypair(other_x, other_secret);
	assert_int_equal(verdict_after_edit(f, edit_client_public, other_x), CIRC_ERR_PROOF);
	assert_int_equal(verdict_after_edit(f, edit_nickname, "mallory"), CIRC_ERR_PROOF);
	int64_t shift = 1;
	assert_int_equal(verdict_after_edit(f, edit_sent, &shift), CIRC_ERR_PROOF);
}

/* The proof names the lighthouse: a request for one is no good at another. */
static void test_open_wrong_lighthouse_id(void **state)
{
	struct fixture *f = *state;
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	uint64_t now = util_wall_ms();
	assert_int_equal(server_verdict(f, OTHER_LH_ID, sealed, len, now), CIRC_ERR_PROOF);
	assert_int_equal(server_verdict(f, "lh-1.", sealed, len, now), CIRC_ERR_PROOF);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), 0);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));

	/* A request for lh-2 that reached lh-1's key. */
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, OTHER_LH_ID, f->lh.pub.kx, 0, &sealed, &len),
	    0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), CIRC_ERR_PROOF);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));
}

/* sent_unix_ms within 60 s of the lighthouse's clock, either way. */
static void test_open_time_window(void **state)
{
	struct fixture *f = *state;
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	Anosip__V1__CreateRequest *req = peek_request(f, sealed, len);
	uint64_t sent = req->sent_unix_ms;
	anosip__v1__create_request__free_unpacked(req, NULL);

	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent), 0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent + 60000), 0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent - 60000), 0);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent + 60001), CIRC_ERR_STALE);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent - 60001), CIRC_ERR_STALE);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent + 61000), CIRC_ERR_STALE);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, sent - 61000), CIRC_ERR_STALE);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, 0), CIRC_ERR_STALE);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, UINT64_MAX), CIRC_ERR_STALE);
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));

	/* A properly signed request from far in the future or the past. */
	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	struct spec_request s = spec_default(f, x_pub);
	uint64_t now = s.sent_ms;
	s.sent_ms = now + 61000;
	sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), CIRC_ERR_STALE);
	free(sealed);
	s.sent_ms = now - 61000;
	sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, now), CIRC_ERR_STALE);
	free(sealed);
}

static void test_open_version(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 2;
	assert_int_equal(verdict_after_edit(f, edit_version, &v), CIRC_ERR_VERSION);
	v = 0;
	assert_int_equal(verdict_after_edit(f, edit_version, &v), CIRC_ERR_VERSION);

	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	struct spec_request s = spec_default(f, x_pub);
	s.version = 2;
	size_t len = 0;
	uint8_t *sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, s.sent_ms), CIRC_ERR_VERSION);
	free(sealed);
}

static void test_nickname_invalid(void **state)
{
	struct fixture *f = *state;
	char longest[CIRC_NICKNAME_MAX + 2];
	memset(longest, 'a', sizeof(longest));
	longest[CIRC_NICKNAME_MAX] = '\0';
	assert_true(circ_nickname_valid(longest));
	assert_true(circ_nickname_valid("a.b_c-9"));

	const char *bad[] = {"", "Alice", "a b", "al/ice", "al\xc3\xa9"};
	struct circ_client cc;
	uint8_t *sealed = NULL;
	size_t len = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(circ_nickname_valid(bad[i]));
		assert_int_equal(circ_client_create(&cc, &f->nick, bad[i], LH_ID, f->lh.pub.kx, 0,
						    &sealed, &len),
				 CIRC_ERR_NICKNAME);
		assert_null(sealed);
	}
	longest[CIRC_NICKNAME_MAX] = 'a';
	longest[CIRC_NICKNAME_MAX + 1] = '\0';
	assert_false(circ_nickname_valid(longest));
	assert_false(circ_nickname_valid(NULL));
	assert_int_equal(
	    circ_client_create(&cc, &f->nick, longest, LH_ID, f->lh.pub.kx, 0, &sealed, &len),
	    CIRC_ERR_NICKNAME);
	assert_null(sealed);

	/* The lighthouse checks it too, before anything else costs it. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verdict_after_edit(f, edit_nickname, (void *)bad[i]),
				 CIRC_ERR_NICKNAME);
	assert_int_equal(verdict_after_edit(f, edit_nickname, longest), CIRC_ERR_NICKNAME);

	/* Even when properly signed. */
	uint8_t x_pub[32], x[32];
	crypto_box_keypair(x_pub, x);
	struct spec_request s = spec_default(f, x_pub);
	s.nickname = "Alice";
	sealed = spec_request_build(&s, &len);
	assert_int_equal(server_verdict(f, LH_ID, sealed, len, s.sent_ms), CIRC_ERR_NICKNAME);
	free(sealed);
}

static void test_open_bad_lengths(void **state)
{
	struct fixture *f = *state;
	for (int which = 0; which < 4; which++)
		assert_int_equal(verdict_after_edit(f, edit_lengths, &which), CIRC_ERR_DECODE);
}

/* An X of low order gives no shared secret: the lighthouse cannot answer. */
static void test_accept_low_order_point(void **state)
{
	struct fixture *f = *state;
	static const uint8_t zero[32];
	struct spec_request s = spec_default(f, zero);
	size_t len = 0;
	uint8_t *sealed = spec_request_build(&s, &len);
	Anosip__V1__CreateRequest *req = NULL;
	assert_int_equal(circ_server_open(&f->lh, LH_ID, sealed, len, s.sent_ms, &req), 0);
	struct confirm c;
	confirm_make(f, &c);
	Anosip__V1__Created created;
	struct circ_keys keys;
	memset(&keys, 0, sizeof(keys));
	assert_int_equal(circ_server_accept(&f->lh, LH_ID, req, &c.msg, &created, &keys),
			 CIRC_ERR_DECODE);
	assert_null(created.server_public.data);
	assert_null(created.auth.data);
	assert_null(created.sealed.data);
	assert_true(all_zero(&keys, sizeof(keys)));
	circ_created_free(&created);
	confirm_free(&c);
	anosip__v1__create_request__free_unpacked(req, NULL);
	free(sealed);
}

/* --- what the ua refuses --- */

/* A client mid-handshake and the lighthouse's honest answer. */
struct pending {
	struct circ_client cc;
	Anosip__V1__Created created;
	struct circ_keys lh;
};

static void pending_start(struct fixture *f, struct pending *p)
{
	uint8_t *sealed = NULL;
	size_t len = 0;
	assert_int_equal(
	    circ_client_create(&p->cc, &f->nick, NICK, LH_ID, f->lh.pub.kx, 0, &sealed, &len), 0);
	lighthouse_answer(f, sealed, len, &p->created, &p->lh);
	free(sealed);
}

static void pending_end(struct pending *p)
{
	circ_created_free(&p->created);
	circ_keys_wipe(&p->lh);
	sodium_memzero(&p->cc, sizeof(p->cc));
}

/* circ_client_finish on a Created; on refusal the keys and the client
 * state must be wiped and no confirm handed out. */
static int finish_verdict(struct circ_client *cc, const Anosip__V1__Created *created)
{
	struct circ_keys keys;
	memset(&keys, 0xaa, sizeof(keys));
	Anosip__V1__CreateConfirm *confirm = NULL;
	int rc = circ_client_finish(cc, created, &keys, &confirm);
	assert_true(all_zero(cc, sizeof(*cc)));
	if (rc == 0) {
		assert_non_null(confirm);
		anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	} else {
		assert_null(confirm);
		assert_true(all_zero(&keys, sizeof(keys)));
	}
	circ_keys_wipe(&keys);
	return rc;
}

static void test_finish_flipped_auth(void **state)
{
	struct fixture *f = *state;
	for (size_t at = 0; at < 32; at += 31) {
		struct pending p;
		pending_start(f, &p);
		p.created.auth.data[at] ^= 0x01;
		assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
		pending_end(&p);
	}
	/* The same answer untouched is fine: the check is not spuriously strict. */
	struct pending p;
	pending_start(f, &p);
	assert_int_equal(finish_verdict(&p.cc, &p.created), 0);
	pending_end(&p);
}

static void test_finish_foreign_server_public(void **state)
{
	struct fixture *f = *state;
	struct pending a, b;
	pending_start(f, &a);
	pending_start(f, &b);
	/* a's answer with b's Y. */
	uint8_t *saved = a.created.server_public.data;
	a.created.server_public.data = b.created.server_public.data;
	assert_int_equal(finish_verdict(&a.cc, &a.created), CIRC_ERR_AUTH);
	a.created.server_public.data = saved;
	/* b's whole (authentic) answer delivered to a's client: a replayed
	 * or misrouted Created. */
	pending_end(&a);
	pending_start(f, &a);
	assert_int_equal(finish_verdict(&a.cc, &b.created), CIRC_ERR_AUTH);
	pending_end(&a);
	pending_end(&b);
}

static void test_finish_tampered_confirm(void **state)
{
	struct fixture *f = *state;
	struct pending p;
	pending_start(f, &p);
	size_t n = p.created.sealed.len;
	for (size_t at = 0; at < n; at++) {
		struct circ_client saved = p.cc;
		p.created.sealed.data[at] ^= 0x20;
		assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
		p.created.sealed.data[at] ^= 0x20;
		p.cc = saved;
	}
	/* Cut short, or shorter than a tag. */
	struct circ_client saved = p.cc;
	p.created.sealed.len = n - 1;
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	p.cc = saved;
	p.created.sealed.len = crypto_aead_chacha20poly1305_ietf_ABYTES - 1;
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	p.cc = saved;
	p.created.sealed.len = n;
	assert_int_equal(finish_verdict(&p.cc, &p.created), 0);
	sodium_memzero(&saved, sizeof(saved));
	pending_end(&p);
}

static void test_finish_malformed(void **state)
{
	struct fixture *f = *state;
	struct pending p;
	pending_start(f, &p);
	struct circ_client saved = p.cc;

	p.created.server_public.len = 31;
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	p.created.server_public.len = 32;
	p.cc = saved;

	p.created.auth.len = 31;
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	p.created.auth.len = 32;
	p.cc = saved;

	/* A low-order Y makes the shared secret all zero: refused. */
	uint8_t y[32];
	memcpy(y, p.created.server_public.data, 32);
	memset(p.created.server_public.data, 0, 32);
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	memcpy(p.created.server_public.data, y, 32);
	p.cc = saved;

	/* An empty Created. */
	Anosip__V1__Created empty = ANOSIP__V1__CREATED__INIT;
	assert_int_equal(finish_verdict(&p.cc, &empty), CIRC_ERR_AUTH);
	p.cc = saved;

	assert_int_equal(finish_verdict(&p.cc, &p.created), 0);
	sodium_memzero(&saved, sizeof(saved));
	pending_end(&p);
}

/* The lighthouse's answer only authenticates with its own static key: a
 * client that sealed to an impostor's key and got an answer made with the
 * real one (or the other way round) refuses it. */
static void test_finish_other_static_key(void **state)
{
	struct fixture *f = *state;
	struct pending p;
	pending_start(f, &p);
	memcpy(p.cc.lighthouse_kx, f->other_lh.pub.kx, 32);
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	pending_end(&p);
	pending_start(f, &p);
	snprintf(p.cc.lighthouse_id, sizeof(p.cc.lighthouse_id), "%s", OTHER_LH_ID);
	assert_int_equal(finish_verdict(&p.cc, &p.created), CIRC_ERR_AUTH);
	pending_end(&p);
}

/* --- DATA --- */

struct circuit_pair {
	struct circ_keys ua, lh;
};

static void pair_make(struct fixture *f, struct circuit_pair *c)
{
	handshake(f, &c->ua, &c->lh);
}

static void pair_free(struct circuit_pair *c)
{
	circ_keys_wipe(&c->ua);
	circ_keys_wipe(&c->lh);
}

static uint8_t *seal(struct circ_keys *k, const char *text, size_t *len)
{
	uint8_t *out = NULL;
	assert_int_equal(circ_data_seal(k, (const uint8_t *)text, strlen(text), &out, len), 0);
	return out;
}

/* circ_data_open's verdict; on success the text must be `expect`. */
static int open_verdict(struct circ_keys *k, const uint8_t *cell, size_t len, const char *expect)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc = circ_data_open(k, cell, len, &plain, &plain_len);
	if (rc == 0) {
		assert_non_null(plain);
		if (expect) {
			assert_int_equal(plain_len, strlen(expect));
			assert_memory_equal(plain, expect, plain_len);
		}
		free(plain);
	} else {
		assert_null(plain);
	}
	return rc;
}

static void test_data_replay(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t len;
	uint8_t *cell = seal(&c.ua, "once", &len);
	assert_int_equal(open_verdict(&c.lh, cell, len, "once"), 0);
	assert_int_equal(open_verdict(&c.lh, cell, len, NULL), CIRC_ERR_REPLAY);
	assert_int_equal(open_verdict(&c.lh, cell, len, NULL), CIRC_ERR_REPLAY);
	assert_int_equal(c.lh.received, 1);
	free(cell);
	/* The other direction too. */
	cell = seal(&c.lh, "back", &len);
	assert_int_equal(open_verdict(&c.ua, cell, len, "back"), 0);
	assert_int_equal(open_verdict(&c.ua, cell, len, NULL), CIRC_ERR_REPLAY);
	free(cell);
	pair_free(&c);
}

static void test_data_older_after_newer(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t l1, l2;
	uint8_t *c1 = seal(&c.lh, "first", &l1);
	uint8_t *c2 = seal(&c.lh, "second", &l2);
	assert_int_equal(open_verdict(&c.ua, c2, l2, "second"), 0);
	assert_int_equal(open_verdict(&c.ua, c1, l1, NULL), CIRC_ERR_REPLAY);
	assert_int_equal(c.ua.received, 2);
	free(c1);
	free(c2);
	pair_free(&c);
}

static void test_data_lost_cell(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t l1, l2, l3, l4;
	uint8_t *c1 = seal(&c.ua, "one", &l1);
	uint8_t *c2 = seal(&c.ua, "two", &l2);
	uint8_t *c3 = seal(&c.ua, "three", &l3);
	uint8_t *c4 = seal(&c.ua, "four", &l4);
	assert_int_equal(open_verdict(&c.lh, c1, l1, "one"), 0);
	/* c2 is lost */
	assert_int_equal(open_verdict(&c.lh, c3, l3, "three"), 0);
	assert_int_equal(open_verdict(&c.lh, c4, l4, "four"), 0);
	/* ... and when it turns up late, it is refused. */
	assert_int_equal(open_verdict(&c.lh, c2, l2, NULL), CIRC_ERR_REPLAY);
	free(c1);
	free(c2);
	free(c3);
	free(c4);
	pair_free(&c);
}

/* Any flipped bit is refused and leaves the window where it was, so the
 * genuine cell still opens; a forged high counter cannot block the circuit. */
static void test_data_tampered(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t l1, l2;
	uint8_t *c1 = seal(&c.ua, "hello", &l1);
	uint8_t *c2 = seal(&c.ua, "world", &l2);
	assert_int_equal(open_verdict(&c.lh, c1, l1, "hello"), 0);
	for (size_t at = 0; at < l2; at++)
		for (int bit = 0; bit < 8; bit++) {
			c2[at] ^= (uint8_t)(1u << bit);
			int rc = open_verdict(&c.lh, c2, l2, NULL);
			/* Counter 2 -> 0 is a replay; every other change does
			 * not authenticate (counter 3, 6, ... included). */
			if (at == 7 && bit == 1)
				assert_int_equal(rc, CIRC_ERR_REPLAY);
			else
				assert_int_equal(rc, CIRC_ERR_SEALED);
			assert_int_equal(c.lh.received, 1);
			c2[at] ^= (uint8_t)(1u << bit);
		}
	/* A forged far-future counter. */
	uint8_t saved[8];
	memcpy(saved, c2, 8);
	put_be64(c2, UINT64_MAX);
	assert_int_equal(open_verdict(&c.lh, c2, l2, NULL), CIRC_ERR_SEALED);
	assert_int_equal(c.lh.received, 1);
	memcpy(c2, saved, 8);
	assert_int_equal(open_verdict(&c.lh, c2, l2, "world"), 0);
	assert_int_equal(c.lh.received, 2);
	free(c1);
	free(c2);
	pair_free(&c);
}

/* A cell comes back to the side that sealed it: it does not open there
 * (tried before that side has received anything, so the replay check
 * cannot be what stops it), and the window does not move. */
static void test_data_reflected(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t ua_len, lh_len;
	uint8_t *from_ua = seal(&c.ua, "mine", &ua_len);
	uint8_t *from_lh = seal(&c.lh, "yours", &lh_len);
	assert_int_equal(open_verdict(&c.ua, from_ua, ua_len, NULL), CIRC_ERR_SEALED);
	assert_int_equal(open_verdict(&c.lh, from_lh, lh_len, NULL), CIRC_ERR_SEALED);
	assert_int_equal(c.ua.received, 0);
	assert_int_equal(c.lh.received, 0);
	assert_int_equal(open_verdict(&c.lh, from_ua, ua_len, "mine"), 0);
	assert_int_equal(open_verdict(&c.ua, from_lh, lh_len, "yours"), 0);
	free(from_ua);
	free(from_lh);
	pair_free(&c);
}

static void test_data_sizes(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	uint8_t *msg = malloc(CIRC_DATA_MAX);
	assert_non_null(msg);
	for (size_t i = 0; i < CIRC_DATA_MAX; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	size_t sizes[] = {0, 1, 2, 15, 16, 17, 1000, CIRC_DATA_MAX - 1, CIRC_DATA_MAX};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		send_one(&c.ua, &c.lh, msg, sizes[i]);
		send_one(&c.lh, &c.ua, msg, sizes[i]);
	}
	/* An empty message with no buffer at all. */
	send_one(&c.ua, &c.lh, NULL, 0);
	free(msg);
	pair_free(&c);
}

static void test_data_too_large(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	uint8_t *msg = calloc(1, CIRC_DATA_MAX + 2);
	assert_non_null(msg);
	uint8_t *cell = NULL;
	size_t len = 0;
	assert_int_equal(circ_data_seal(&c.ua, msg, CIRC_DATA_MAX + 1, &cell, &len),
			 CIRC_ERR_TOO_LARGE);
	assert_null(cell);
	assert_int_equal(c.ua.sent, 0); /* no counter spent */
	assert_int_equal(circ_data_seal(&c.ua, msg, SIZE_MAX, &cell, &len), CIRC_ERR_TOO_LARGE);
	assert_null(cell);

	/* An oversized cell on the way in is refused before any work. */
	uint8_t *big = calloc(1, CIRC_DATA_MAX + 1 + CELL_OVERHEAD);
	assert_non_null(big);
	put_be64(big, 1);
	assert_int_equal(open_verdict(&c.lh, big, CIRC_DATA_MAX + 1 + CELL_OVERHEAD, NULL),
			 CIRC_ERR_TOO_LARGE);
	assert_int_equal(c.lh.received, 0);
	free(big);

	/* The next cell still uses counter 1 and opens. */
	send_one(&c.ua, &c.lh, msg, CIRC_DATA_MAX);
	assert_int_equal(c.ua.sent, 1);
	free(msg);
	pair_free(&c);
}

static void test_data_truncated(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	size_t len;
	uint8_t *cell = seal(&c.ua, "a message of some length", &len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(open_verdict(&c.lh, cell, n, NULL), CIRC_ERR_SEALED);
	assert_int_equal(c.lh.received, 0);
	assert_int_equal(open_verdict(&c.lh, cell, len, "a message of some length"), 0);
	free(cell);

	/* Header-only cells of exactly the minimum size that do not authenticate. */
	uint8_t minimal[CELL_OVERHEAD] = {0};
	put_be64(minimal, 5);
	assert_int_equal(open_verdict(&c.lh, minimal, sizeof(minimal), NULL), CIRC_ERR_SEALED);
	assert_int_equal(c.lh.received, 1);
	pair_free(&c);
}

/* Counter 0 is never sent: a cell carrying it is refused. */
static void test_data_counter_zero(void **state)
{
	struct fixture *f = *state;
	struct circuit_pair c;
	pair_make(f, &c);
	uint8_t cell[CELL_OVERHEAD + 4] = {0};
	uint8_t nonce[12] = {0};
	crypto_aead_chacha20poly1305_ietf_encrypt(cell + 8, NULL, (const uint8_t *)"zero", 4, NULL,
						  0, NULL, nonce, c.ua.forward);
	assert_int_equal(open_verdict(&c.lh, cell, sizeof(cell), NULL), CIRC_ERR_REPLAY);
	pair_free(&c);
}

/* --- certificates --- */

#define NOW 1700000000ull
#define DAY 86400ull

static uint8_t *cert_sign(struct fixture *f, uint64_t issued, uint64_t expires, size_t *len)
{
	uint8_t *out = NULL;
	assert_int_equal(circ_certificate_sign(&f->lh, LH_ID, NICK, f->nick.pub.sign, issued,
					       expires, &out, len),
			 0);
	assert_non_null(out);
	return out;
}

static int cert_verdict(const uint8_t *signed_cert, size_t len, const uint8_t key[32], uint64_t now)
{
	Anosip__V1__Certificate *cert = NULL;
	int rc = circ_certificate_verify(signed_cert, len, key, now, &cert);
	if (rc == 0) {
		assert_non_null(cert);
		anosip__v1__certificate__free_unpacked(cert, NULL);
	} else {
		assert_null(cert);
	}
	return rc;
}

static void test_cert_round_trip(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *sc = cert_sign(f, NOW, NOW + 30 * DAY, &len);
	Anosip__V1__Certificate *cert = NULL;
	assert_int_equal(circ_certificate_verify(sc, len, f->lh.pub.sign, NOW + DAY, &cert), 0);
	assert_string_equal(cert->nickname, NICK);
	assert_int_equal(cert->nickname_public.len, 32);
	assert_memory_equal(cert->nickname_public.data, f->nick.pub.sign, 32);
	assert_string_equal(cert->lighthouse, LH_ID);
	assert_int_equal(cert->issued_unix, NOW);
	assert_int_equal(cert->expires_unix, NOW + 30 * DAY);
	anosip__v1__certificate__free_unpacked(cert, NULL);

	/* Signed as §4.1 says: Ed25519 over "anosip-cert-v1" || Certificate. */
	Anosip__V1__SignedCertificate *parsed =
	    anosip__v1__signed_certificate__unpack(NULL, len, sc);
	assert_non_null(parsed);
	size_t m_len = 14 + parsed->certificate.len;
	uint8_t *m = malloc(m_len);
	assert_non_null(m);
	memcpy(m, "anosip-cert-v1", 14);
	memcpy(m + 14, parsed->certificate.data, parsed->certificate.len);
	assert_int_equal(parsed->signature.len, crypto_sign_BYTES);
	assert_int_equal(
	    crypto_sign_verify_detached(parsed->signature.data, m, m_len, f->lh.pub.sign), 0);
	free(m);
	anosip__v1__signed_certificate__free_unpacked(parsed, NULL);
	free(sc);
}

static void test_cert_wrong_key(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *sc = cert_sign(f, NOW, NOW + DAY, &len);
	assert_int_equal(cert_verdict(sc, len, f->other_lh.pub.sign, NOW), CIRC_ERR_PROOF);
	assert_int_equal(cert_verdict(sc, len, f->nick.pub.sign, NOW), CIRC_ERR_PROOF);
	/* Any changed byte of the signed bytes: refused. */
	for (size_t at = 0; at < len; at++) {
		sc[at] ^= 0x04;
		int rc = cert_verdict(sc, len, f->lh.pub.sign, NOW);
		assert_true(rc < 0);
		sc[at] ^= 0x04;
	}
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW), 0);
	free(sc);
}

static void test_cert_expired(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *sc = cert_sign(f, NOW, NOW + 30 * DAY, &len);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW + 30 * DAY - 1), 0);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW + 30 * DAY), CIRC_ERR_STALE);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW + 31 * DAY), CIRC_ERR_STALE);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, UINT64_MAX / 2), CIRC_ERR_STALE);
	free(sc);
}

static void test_cert_not_yet_valid(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *sc = cert_sign(f, NOW, NOW + DAY, &len);
	/* Five minutes of skew are forgiven, not more. */
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW - 300), 0);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW - 301), CIRC_ERR_STALE);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW - DAY), CIRC_ERR_STALE);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, 0), CIRC_ERR_STALE);
	free(sc);
}

static void test_cert_garbage(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[200];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 97 + 1);
	assert_true(cert_verdict(junk, sizeof(junk), f->lh.pub.sign, NOW) < 0);
	assert_true(cert_verdict(junk, 0, f->lh.pub.sign, NOW) < 0);
	memset(junk, 0xff, sizeof(junk));
	assert_true(cert_verdict(junk, sizeof(junk), f->lh.pub.sign, NOW) < 0);
	size_t len;
	uint8_t *sc = cert_sign(f, NOW, NOW + DAY, &len);
	for (size_t n = 0; n < len; n++)
		assert_true(cert_verdict(sc, n, f->lh.pub.sign, NOW) < 0);
	free(sc);
}

/* Signed by the lighthouse's key, but not a usable certificate. */
static uint8_t *sign_body(struct fixture *f, const Anosip__V1__Certificate *c, size_t *len)
{
	size_t body_len = anosip__v1__certificate__get_packed_size(c);
	uint8_t *m = malloc(14 + body_len + 1);
	assert_non_null(m);
	memcpy(m, "anosip-cert-v1", 14);
	anosip__v1__certificate__pack(c, m + 14);
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, m, 14 + body_len, f->lh.sign_secret);
	Anosip__V1__SignedCertificate sc = ANOSIP__V1__SIGNED_CERTIFICATE__INIT;
	sc.certificate.data = m + 14;
	sc.certificate.len = body_len;
	sc.signature.data = sig;
	sc.signature.len = sizeof(sig);
	*len = anosip__v1__signed_certificate__get_packed_size(&sc);
	uint8_t *out = malloc(*len);
	assert_non_null(out);
	anosip__v1__signed_certificate__pack(&sc, out);
	free(m);
	return out;
}

static void test_cert_signed_but_malformed(void **state)
{
	struct fixture *f = *state;
	Anosip__V1__Certificate c = ANOSIP__V1__CERTIFICATE__INIT;
	c.nickname = NICK;
	c.nickname_public.data = f->nick.pub.sign;
	c.nickname_public.len = 32;
	c.lighthouse = LH_ID;
	c.issued_unix = NOW;
	c.expires_unix = NOW + DAY;
	size_t len;
	uint8_t *sc = sign_body(f, &c, &len); /* the control: well formed */
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW), 0);
	free(sc);

	c.nickname = "Not Valid";
	sc = sign_body(f, &c, &len);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW), CIRC_ERR_DECODE);
	free(sc);
	c.nickname = "";
	sc = sign_body(f, &c, &len);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW), CIRC_ERR_DECODE);
	free(sc);
	c.nickname = NICK;

	c.nickname_public.len = 31;
	sc = sign_body(f, &c, &len);
	assert_int_equal(cert_verdict(sc, len, f->lh.pub.sign, NOW), CIRC_ERR_DECODE);
	free(sc);
	c.nickname_public.len = 32;

	/* A body that is no Certificate at all. */
	uint8_t bad_body[] = {0xff, 0xff, 0xff};
	uint8_t m[14 + sizeof(bad_body)], sig[crypto_sign_BYTES];
	memcpy(m, "anosip-cert-v1", 14);
	memcpy(m + 14, bad_body, sizeof(bad_body));
	crypto_sign_detached(sig, NULL, m, sizeof(m), f->lh.sign_secret);
	Anosip__V1__SignedCertificate s = ANOSIP__V1__SIGNED_CERTIFICATE__INIT;
	s.certificate.data = bad_body;
	s.certificate.len = sizeof(bad_body);
	s.signature.data = sig;
	s.signature.len = sizeof(sig);
	uint8_t packed[128];
	len = anosip__v1__signed_certificate__get_packed_size(&s);
	assert_true(len <= sizeof(packed));
	anosip__v1__signed_certificate__pack(&s, packed);
	assert_int_equal(cert_verdict(packed, len, f->lh.pub.sign, NOW), CIRC_ERR_DECODE);
	/* A short signature. */
	s.signature.len = sizeof(sig) - 1;
	len = anosip__v1__signed_certificate__get_packed_size(&s);
	anosip__v1__signed_certificate__pack(&s, packed);
	assert_int_equal(cert_verdict(packed, len, f->lh.pub.sign, NOW), CIRC_ERR_DECODE);
}

static void test_cert_sign_invalid_nickname(void **state)
{
	struct fixture *f = *state;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(circ_certificate_sign(&f->lh, LH_ID, "Bad Nick", f->nick.pub.sign, NOW,
					       NOW + DAY, &out, &len),
			 CIRC_ERR_NICKNAME);
	assert_null(out);
	assert_int_equal(
	    circ_certificate_sign(&f->lh, LH_ID, "", f->nick.pub.sign, NOW, NOW + DAY, &out, &len),
	    CIRC_ERR_NICKNAME);
	assert_null(out);
}

static void test_strerror(void **state)
{
	(void)state;
	int errs[] = {CIRC_ERR_SEALED, CIRC_ERR_DECODE,	   CIRC_ERR_VERSION,
		      CIRC_ERR_PROOF,  CIRC_ERR_STALE,	   CIRC_ERR_AUTH,
		      CIRC_ERR_REPLAY, CIRC_ERR_TOO_LARGE, CIRC_ERR_NICKNAME};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *s = circ_strerror(errs[i]);
		assert_non_null(s);
		assert_string_not_equal(s, "error");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, circ_strerror(errs[j]));
	}
	assert_string_equal(circ_strerror(0), "ok");
	assert_string_equal(circ_strerror(-1), "error");
}

/* --- SIP response identity --- */

static int key_of(void *ctx, const char *id, uint8_t sign_public[32])
{
	struct fixture *f = ctx;
	if (strcmp(id, LH_ID) != 0)
		return -ENOENT;
	memcpy(sign_public, f->lh.pub.sign, 32);
	return 0;
}

static const char RESPONSE[] = "SIP/2.0 302 Moved Temporarily\r\nCSeq: 1 INVITE\r\n\r\n";

/* The callee (NICK, f->nick) answers the caller (f->other_nick). */
static uint8_t *sign_response(struct fixture *f, const char *contact, size_t *len)
{
	size_t cert_len;
	uint8_t *cert = cert_sign(f, NOW, NOW + 30 * DAY, &cert_len), *out = NULL;
	assert_int_equal(circ_sip_response_sign(&f->nick, cert, cert_len, f->other_nick.pub.sign,
						(const uint8_t *)RESPONSE, sizeof(RESPONSE) - 1,
						contact, &out, len),
			 0);
	free(cert);
	return out;
}

static int open_response(struct fixture *f, const uint8_t *r, size_t len, const char *message,
			 const struct keys_pair *caller, char **contact)
{
	char callee[CIRC_NICKNAME_MAX + 1] = "";
	uint8_t callee_public[32];
	int rc = circ_sip_response_open(r, len, (const uint8_t *)message, strlen(message), caller,
					key_of, f, NOW + DAY, callee, callee_public, contact);
	if (rc == 0)
		assert_memory_equal(callee_public, f->nick.pub.sign, 32);
	if (rc == 0)
		assert_string_equal(callee, NICK);
	else
		assert_null(*contact);
	return rc;
}

static void test_sip_response_round_trip(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *contact = NULL;
	uint8_t *r = sign_response(f, "sip:0123@192.0.2.7:5070", &len);
	/* The contact is sealed: not in the clear on the wire. */
	assert_null(memmem(r, len, "192.0.2.7", 9));
	assert_int_equal(open_response(f, r, len, RESPONSE, &f->other_nick, &contact), 0);
	assert_string_equal(contact, "sip:0123@192.0.2.7:5070");
	free(contact);
	free(r);
	/* A decline carries no contact. */
	r = sign_response(f, NULL, &len);
	assert_int_equal(open_response(f, r, len, RESPONSE, &f->other_nick, &contact), 0);
	assert_null(contact);
	free(r);
}

static void test_sip_response_forged(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *contact = NULL;
	uint8_t *r = sign_response(f, "sip:0123@192.0.2.7:5070", &len);
	/* Another message under the same signature (a lighthouse turning a
	 * decline into a redirect, or the other way round). */
	assert_int_equal(
	    open_response(f, r, len, "SIP/2.0 603 Decline\r\n\r\n", &f->other_nick, &contact),
	    CIRC_ERR_PROOF);
	/* Only the caller opens the contact. */
	assert_int_equal(open_response(f, r, len, RESPONSE, &f->lh, &contact), CIRC_ERR_SEALED);
	/* Any flipped byte breaks it. */
	for (size_t i = 0; i < len; i += 7) {
		r[i] ^= 0x20;
		assert_true(open_response(f, r, len, RESPONSE, &f->other_nick, &contact) < 0);
		r[i] ^= 0x20;
	}
	assert_true(open_response(f, r, len / 2, RESPONSE, &f->other_nick, &contact) < 0);
	free(r);
	/* Signed by a key the certificate does not name. */
	size_t cert_len;
	uint8_t *cert = cert_sign(f, NOW, NOW + 30 * DAY, &cert_len);
	assert_int_equal(circ_sip_response_sign(&f->other_nick, cert, cert_len,
						f->other_nick.pub.sign, (const uint8_t *)RESPONSE,
						sizeof(RESPONSE) - 1, NULL, &r, &len),
			 0);
	assert_int_equal(open_response(f, r, len, RESPONSE, &f->other_nick, &contact),
			 CIRC_ERR_PROOF);
	free(r);
	free(cert);
	/* A certificate from a lighthouse we do not know. */
	uint8_t *foreign = NULL;
	assert_int_equal(circ_certificate_sign(&f->other_lh, "node-9", NICK, f->nick.pub.sign, NOW,
					       NOW + DAY, &foreign, &cert_len),
			 0);
	assert_int_equal(circ_sip_response_sign(&f->nick, foreign, cert_len, f->other_nick.pub.sign,
						(const uint8_t *)RESPONSE, sizeof(RESPONSE) - 1,
						NULL, &r, &len),
			 0);
	assert_int_equal(open_response(f, r, len, RESPONSE, &f->other_nick, &contact),
			 CIRC_ERR_PROOF);
	free(r);
	free(foreign);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_handshake_keys_match),
    T(test_handshake_data_both_directions),
    T(test_handshake_matches_spec),
    T(test_handshake_forward_secrecy),
    T(test_create_fresh_ephemeral),
    T(test_open_spec_request),
    T(test_open_sealed_to_another_lighthouse),
    T(test_open_garbage),
    T(test_open_proof_by_another_key),
    T(test_open_tampered_proof),
    T(test_open_wrong_lighthouse_id),
    T(test_open_time_window),
    T(test_open_version),
    T(test_nickname_invalid),
    T(test_open_bad_lengths),
    T(test_accept_low_order_point),
    T(test_finish_flipped_auth),
    T(test_finish_foreign_server_public),
    T(test_finish_tampered_confirm),
    T(test_finish_malformed),
    T(test_finish_other_static_key),
    T(test_data_replay),
    T(test_data_older_after_newer),
    T(test_data_lost_cell),
    T(test_data_tampered),
    T(test_data_reflected),
    T(test_data_sizes),
    T(test_data_too_large),
    T(test_data_truncated),
    T(test_data_counter_zero),
    T(test_cert_round_trip),
    T(test_cert_wrong_key),
    T(test_cert_expired),
    T(test_cert_not_yet_valid),
    T(test_cert_garbage),
    T(test_cert_signed_but_malformed),
    T(test_cert_sign_invalid_nickname),
    T(test_sip_response_round_trip),
    T(test_sip_response_forged),
    cmocka_unit_test(test_strerror),
};

int test_circuit_suite(void)
{
	return cmocka_run_group_tests_name("circuit", tests, NULL, NULL);
}

int test_circuit_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
