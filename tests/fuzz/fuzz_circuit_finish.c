/* Fuzzes circ_client_finish (circuit/create.c), what a ua runs on the
 * Created cell that comes back through its portal: anyone on the path can
 * answer in the lighthouse's place, only the lighthouse can answer right.
 *
 * The ua is the harness's fixed client (fuzz_circuit_client: the fixed x,
 * lighthouse beta); the fixed lighthouse answers with the fixed y. The
 * first byte picks a mode (modulo 3); the rest is the data:
 *   0  raw: the data is an encoded Created (undecodable data is skipped,
 *      as the node's decoder would drop it before the ua sees it);
 *   1  sealed: the data is the CreateConfirm plaintext; the harness makes
 *      the Created the lighthouse would (Y, auth, the confirm sealed under
 *      the confirm key), with its own key derivation (docs/protocol.md
 *      4.1), so the decoding of the confirm runs;
 *   2  lighthouse: the data is a CreateConfirm (undecodable data is
 *      skipped) that the real lighthouse side, circ_server_accept, sends in
 *      answer to a real request of the fixed ua (opened once with
 *      circ_server_open); its unknown fields are dropped, as the
 *      lighthouse builds its confirm from fields.
 *
 * Oracles. In modes 0 and 1 the answer is worked out on our own: refused
 * as unauthenticated (CIRC_ERR_AUTH) unless Y and auth are 32 bytes, the
 * sealed confirm at least a tag, Y is not a low-order point, auth is the
 * one our derivation gives and the confirm opens under our confirm key;
 * then refused as undecodable exactly when the confirm does not decode
 * (our own decoding), otherwise accepted with the forward and backward
 * keys of our derivation, fresh counters, and the confirm that was sealed
 * (compared field by field and by re-encoding). A refusal hands out no
 * confirm and leaves the keys wiped. In mode 2 the ua must accept, with the
 * lighthouse's keys and the certificate and binding_expires_s it sent.
 * In every mode the ua's state is wiped afterwards. */
#include "tests/fuzz/harness.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed ua's request, opened once by the lighthouse (mode 2). */
static Anosip__V1__CreateRequest *request;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	struct fuzz_create c = {
	    .version = 1,
	    .nickname = FUZZ_NICKNAME,
	    .nickname_public = f->nickname.pub.sign,
	    .sent_unix_ms = FUZZ_NOW_MS,
	    .proof_lighthouse = FUZZ_LIGHTHOUSE_ID,
	    .signer = &f->nickname,
	};
	fuzz_circuit_x(c.client_public);
	size_t len, sealed_len;
	uint8_t *plain = fuzz_create_request(&c, &len);
	uint8_t *sealed = plain ? malloc(len + crypto_box_SEALBYTES) : NULL;
	if (!sealed)
		fuzz_fail("out of memory");
	sealed_len = fuzz_seal_fixed(plain, len, f->responder.pub.kx, sealed);
	if (circ_server_open(&f->responder, FUZZ_LIGHTHOUSE_ID, sealed, sealed_len, FUZZ_NOW_MS,
			     &request) != 0)
		fuzz_fail("the lighthouse refuses the fixed ua's request");
	free(plain);
	free(sealed);
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

static uint8_t *pack_confirm(const Anosip__V1__CreateConfirm *c, size_t *len)
{
	*len = anosip__v1__create_confirm__get_packed_size(c);
	uint8_t *out = malloc(*len ? *len : 1);
	if (!out)
		fuzz_fail("out of memory");
	if (anosip__v1__create_confirm__pack(c, out) != *len)
		fuzz_fail("CreateConfirm packed size disagrees with pack");
	return out;
}

/* Two decoded confirms are the same message: same fields, same encoding. */
static int same_confirm(const Anosip__V1__CreateConfirm *a, const Anosip__V1__CreateConfirm *b)
{
	if (a->binding_expires_s != b->binding_expires_s ||
	    a->certificate.len != b->certificate.len ||
	    (a->certificate.len &&
	     memcmp(a->certificate.data, b->certificate.data, a->certificate.len) != 0))
		return 0;
	size_t a_len, b_len;
	uint8_t *pa = pack_confirm(a, &a_len), *pb = pack_confirm(b, &b_len);
	int same = a_len == b_len && memcmp(pa, pb, a_len) == 0;
	free(pa);
	free(pb);
	return same;
}

/* circ_client_finish on created by the fixed ua, against our own reading. */
static void finish_checked(const Anosip__V1__Created *created)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	/* What the answer must be. */
	int expect = CIRC_ERR_AUTH;
	struct fuzz_circuit_keys ours;
	Anosip__V1__CreateConfirm *mine = NULL;
	uint8_t s1[32], s2[32], x[32];
	fuzz_circuit_x(x);
	if (created->server_public.len == 32 && created->auth.len == 32 &&
	    created->sealed.len >= crypto_aead_chacha20poly1305_ietf_ABYTES &&
	    crypto_scalarmult(s1, f->circuit_x_secret, created->server_public.data) == 0 &&
	    crypto_scalarmult(s2, f->circuit_x_secret, f->responder.pub.kx) == 0) {
		fuzz_circuit_derive(s1, s2, FUZZ_LIGHTHOUSE_ID, f->responder.pub.kx, x,
				    created->server_public.data, &ours);
		size_t plain_len = created->sealed.len - crypto_aead_chacha20poly1305_ietf_ABYTES;
		uint8_t *plain = malloc(plain_len ? plain_len : 1);
		if (!plain)
			fuzz_fail("out of memory");
		if (memcmp(ours.auth, created->auth.data, 32) == 0 &&
		    crypto_aead_chacha20poly1305_ietf_decrypt(
			plain, NULL, NULL, created->sealed.data, created->sealed.len, NULL, 0,
			nonce, ours.confirm) == 0) {
			mine = anosip__v1__create_confirm__unpack(NULL, plain_len, plain);
			expect = mine ? 0 : CIRC_ERR_DECODE;
		}
		free(plain);
	}

	struct circ_client cc;
	struct circ_keys keys;
	Anosip__V1__CreateConfirm *got = NULL;
	fuzz_circuit_client(&cc);
	memset(&keys, 0xee, sizeof(keys));
	int rc = circ_client_finish(&cc, created, &keys, &got);
	if (!all_zero(&cc, sizeof(cc)))
		fuzz_fail("circ_client_finish left the ephemeral secret behind");
	if (rc != expect)
		fuzz_fail("circ_client_finish's answer is not the expected one");
	if (rc != 0) {
		if (got)
			fuzz_fail("circ_client_finish refused but handed out a confirm");
		if (!all_zero(&keys, sizeof(keys)))
			fuzz_fail("circ_client_finish refused but left keys behind");
		return;
	}
	if (!got)
		fuzz_fail("circ_client_finish accepted without a confirm");
	if (memcmp(keys.forward, ours.forward, 32) != 0 ||
	    memcmp(keys.backward, ours.backward, 32) != 0 || keys.is_lighthouse || keys.sent ||
	    keys.received)
		fuzz_fail("circ_client_finish derived other keys than docs/protocol.md 4.1");
	if (!same_confirm(got, mine))
		fuzz_fail("circ_client_finish opened another confirm than was sealed");
	fuzz_walk_message(&got->base);
	anosip__v1__create_confirm__free_unpacked(got, NULL);
	anosip__v1__create_confirm__free_unpacked(mine, NULL);
	sodium_memzero(&ours, sizeof(ours));
}

static void run_raw(const uint8_t *data, size_t size)
{
	Anosip__V1__Created *created = anosip__v1__created__unpack(NULL, size, data);
	if (!created)
		return;
	finish_checked(created);
	anosip__v1__created__free_unpacked(created, NULL);
}

static void run_sealed(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *packed = fuzz_created(data, size, &len);
	if (!packed)
		fuzz_fail("out of memory");
	Anosip__V1__Created *created = anosip__v1__created__unpack(NULL, len, packed);
	if (!created)
		fuzz_fail("the harness's Created does not decode");
	finish_checked(created);
	anosip__v1__created__free_unpacked(created, NULL);
	free(packed);
}

static void run_lighthouse(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__CreateConfirm *decoded = anosip__v1__create_confirm__unpack(NULL, size, data);
	if (!decoded)
		return;
	Anosip__V1__CreateConfirm confirm = *decoded;
	confirm.base.n_unknown_fields = 0;
	confirm.base.unknown_fields = NULL;

	Anosip__V1__Created created;
	struct circ_keys lk, ck;
	if (circ_server_accept(&f->responder, FUZZ_LIGHTHOUSE_ID, request, &confirm, &created,
			       &lk) != 0)
		fuzz_fail("circ_server_accept refused the fixed ua's request");
	struct circ_client cc;
	fuzz_circuit_client(&cc);
	Anosip__V1__CreateConfirm *got = NULL;
	if (circ_client_finish(&cc, &created, &ck, &got) != 0 || !got)
		fuzz_fail("circ_client_finish refused the lighthouse's real answer");
	if (!all_zero(&cc, sizeof(cc)))
		fuzz_fail("circ_client_finish left the ephemeral secret behind");
	if (memcmp(ck.forward, lk.forward, 32) != 0 || memcmp(ck.backward, lk.backward, 32) != 0)
		fuzz_fail("ua and lighthouse derived different circuit keys");
	if (got->binding_expires_s != confirm.binding_expires_s ||
	    got->certificate.len != confirm.certificate.len ||
	    (got->certificate.len &&
	     memcmp(got->certificate.data, confirm.certificate.data, got->certificate.len) != 0))
		fuzz_fail("the ua got another certificate than the lighthouse sent");
	anosip__v1__create_confirm__free_unpacked(got, NULL);
	circ_created_free(&created);
	circ_keys_wipe(&lk);
	circ_keys_wipe(&ck);
	anosip__v1__create_confirm__free_unpacked(decoded, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 3;
	data++;
	size--;
	switch (mode) {
	case 0:
		run_raw(data, size);
		break;
	case 1:
		run_sealed(data, size);
		break;
	default:
		run_lighthouse(data, size);
		break;
	}
	return 0;
}
