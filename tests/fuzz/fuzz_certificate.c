/* Fuzzes circ_certificate_verify (circuit/data.c), what a ua runs on the
 * certificate in its lighthouse's CreateConfirm (and, with issue 4, what
 * callers will run on a certificate shown to them), and the
 * circ_certificate_sign -> circ_certificate_verify round trip.
 *
 * The lighthouse is beta of the harness (the responder's keys); the clock
 * reads FUZZ_NOW_S. The first byte picks a mode (modulo 3); the rest is
 * the data:
 *   0  raw: the data is an encoded SignedCertificate;
 *   1  signed: the data is the Certificate body, which the harness really
 *      signs with beta's key ("anosip-cert-v1" || body, the rule of
 *      docs/protocol.md 4.1), so decoding and the checks past the
 *      signature run;
 *   2  round trip: a 49-byte header (flags, unused for now; the nickname
 *      key, 32 bytes; issued_unix and expires_unix, 8 bytes LE each, added
 *      to FUZZ_NOW_S and to FUZZ_NOW_S + 30 days), then the nickname up to
 *      a NUL byte, then the lighthouse's id; circ_certificate_sign with
 *      beta's key.
 *
 * Oracles. The answer of circ_certificate_verify is worked out on our own:
 * undecodable (CIRC_ERR_DECODE) if the SignedCertificate does not decode or
 * its signature is not 64 bytes; a bad signature (CIRC_ERR_PROOF) if the
 * signature does not verify under beta's key over our own signed input;
 * undecodable if the body does not decode, has no valid nickname, a
 * nickname key that is not 32 bytes or no lighthouse; stale
 * (CIRC_ERR_STALE) if issued more than 300 s after now or expired at or
 * before now; otherwise accepted, with the fields we decoded. A refusal
 * hands out nothing. Whatever verifies under beta's key must not verify
 * under alpha's. In mode 2 circ_certificate_sign must refuse exactly the
 * invalid nicknames, and what it signs must verify as above with the
 * fields given. */
#include "tests/fuzz/harness.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define THIRTY_DAYS (30ull * 24 * 3600)

/* Our own verdict on an encoded SignedCertificate checked with key; *body
 * is our decoding of the certificate when the signature verifies. */
static int expected(const uint8_t *in, size_t len, const uint8_t key[32],
		    Anosip__V1__Certificate **body)
{
	static const char context[] = "anosip-cert-v1";
	const size_t ctx = sizeof(context) - 1;
	*body = NULL;
	Anosip__V1__SignedCertificate *sc = anosip__v1__signed_certificate__unpack(NULL, len, in);
	if (!sc)
		return CIRC_ERR_DECODE;
	int rc = CIRC_ERR_DECODE;
	if (sc->signature.len != crypto_sign_BYTES)
		goto out;
	uint8_t *m = malloc(ctx + sc->certificate.len);
	if (!m)
		fuzz_fail("out of memory");
	memcpy(m, context, ctx);
	if (sc->certificate.len)
		memcpy(m + ctx, sc->certificate.data, sc->certificate.len);
	int good =
	    crypto_sign_verify_detached(sc->signature.data, m, ctx + sc->certificate.len, key) == 0;
	free(m);
	if (!good) {
		rc = CIRC_ERR_PROOF;
		goto out;
	}
	Anosip__V1__Certificate *c =
	    anosip__v1__certificate__unpack(NULL, sc->certificate.len, sc->certificate.data);
	if (!c)
		goto out;
	*body = c;
	if (!c->nickname || !fuzz_nickname_ok(c->nickname) || c->nickname_public.len != 32 ||
	    !c->lighthouse)
		goto out;
	if (c->issued_unix > FUZZ_NOW_S + 300 || c->expires_unix <= FUZZ_NOW_S) {
		rc = CIRC_ERR_STALE;
		goto out;
	}
	rc = 0;
out:
	anosip__v1__signed_certificate__free_unpacked(sc, NULL);
	return rc;
}

static int same_cert(const Anosip__V1__Certificate *a, const Anosip__V1__Certificate *b)
{
	return strcmp(a->nickname, b->nickname) == 0 && strcmp(a->lighthouse, b->lighthouse) == 0 &&
	       a->nickname_public.len == b->nickname_public.len &&
	       memcmp(a->nickname_public.data, b->nickname_public.data, a->nickname_public.len) ==
		   0 &&
	       a->issued_unix == b->issued_unix && a->expires_unix == b->expires_unix;
}

/* circ_certificate_verify with beta's key against our verdict, and with
 * alpha's (which never signs). Returns the verdict; on 0 *out is the
 * certificate (the caller frees it). */
static int verify_checked(const uint8_t *in, size_t len, Anosip__V1__Certificate **out)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	Anosip__V1__Certificate *mine, *cert = NULL;
	int expect = expected(in, len, f->responder.pub.sign, &mine);
	int rc = circ_certificate_verify(in, len, f->responder.pub.sign, FUZZ_NOW_S, &cert);
	if (rc != expect)
		fuzz_fail("circ_certificate_verify's answer is not the expected one");
	if (rc != 0 && cert)
		fuzz_fail("circ_certificate_verify refused but handed out a certificate");
	if (rc == 0) {
		if (!cert || !same_cert(cert, mine))
			fuzz_fail("circ_certificate_verify accepted other fields than were signed");
		fuzz_walk_message(&cert->base);
	}
	if (mine)
		anosip__v1__certificate__free_unpacked(mine, NULL);

	Anosip__V1__Certificate *other = NULL;
	int rc_other = circ_certificate_verify(in, len, f->initiator.pub.sign, FUZZ_NOW_S, &other);
	if (rc_other == 0 || other)
		fuzz_fail("a certificate verified under a key that did not sign it");
	if (rc == 0 && rc_other != CIRC_ERR_PROOF)
		fuzz_fail("another key's refusal is not a bad signature");
	*out = cert;
	return rc;
}

static void verify_and_free(const uint8_t *in, size_t len)
{
	Anosip__V1__Certificate *cert;
	if (verify_checked(in, len, &cert) == 0)
		anosip__v1__certificate__free_unpacked(cert, NULL);
}

static void run_signed(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *sc = fuzz_sign_certificate(&fuzz_fixtures()->responder, data, size, &len);
	if (!sc)
		fuzz_fail("out of memory");
	verify_and_free(sc, len);
	free(sc);
}

static void run_round_trip(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t flags, key[32], issued[8], expires[8];
	fuzz_take(&data, &size, &flags, 1);
	fuzz_take(&data, &size, key, sizeof(key));
	fuzz_take(&data, &size, issued, sizeof(issued));
	fuzz_take(&data, &size, expires, sizeof(expires));
	const uint8_t *nul = memchr(data, 0, size);
	size_t nick_len = nul ? (size_t)(nul - data) : size;
	size_t lh_len = nul ? size - nick_len - 1 : 0;
	char *nickname = malloc(nick_len + 1), *lighthouse = malloc(lh_len + 1);
	if (!nickname || !lighthouse)
		fuzz_fail("out of memory");
	memcpy(nickname, data, nick_len);
	nickname[nick_len] = 0;
	if (lh_len)
		memcpy(lighthouse, nul + 1, lh_len);
	lighthouse[lh_len] = 0;
	uint64_t iss = FUZZ_NOW_S + fuzz_le(issued, 8);
	uint64_t exp = FUZZ_NOW_S + THIRTY_DAYS + fuzz_le(expires, 8);

	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = circ_certificate_sign(&f->responder, lighthouse, nickname, key, iss, exp, &out,
				       &out_len);
	if (!fuzz_nickname_ok(nickname)) {
		if (rc != CIRC_ERR_NICKNAME)
			fuzz_fail("circ_certificate_sign signed an invalid nickname");
		goto done;
	}
	if (rc != 0)
		fuzz_fail("circ_certificate_sign failed on a valid nickname");
	Anosip__V1__Certificate *cert;
	int v = verify_checked(out, out_len, &cert);
	int fresh = iss <= FUZZ_NOW_S + 300 && exp > FUZZ_NOW_S;
	if (v != (fresh ? 0 : CIRC_ERR_STALE))
		fuzz_fail("a certificate circ_certificate_sign made does not verify as it should");
	if (v == 0) {
		if (strcmp(cert->nickname, nickname) != 0 ||
		    strcmp(cert->lighthouse, lighthouse) != 0 || cert->issued_unix != iss ||
		    cert->expires_unix != exp || memcmp(cert->nickname_public.data, key, 32) != 0)
			fuzz_fail("sign -> verify changed the certificate");
		anosip__v1__certificate__free_unpacked(cert, NULL);
	}
	free(out);
done:
	free(nickname);
	free(lighthouse);
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
		verify_and_free(data, size);
		break;
	case 1:
		run_signed(data, size);
		break;
	default:
		run_round_trip(data, size);
		break;
	}
	return 0;
}
