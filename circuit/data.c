/* DATA cells and nickname certificates.
 *
 * A DATA cell is counter (8 bytes, big-endian) || ChaCha20-Poly1305-IETF
 * with nonce 0^4 || counter. Counters start at 1 and only grow: a cell
 * whose counter is not above the newest accepted is a replay (or came out
 * of order) and is refused; a lost cell costs nothing but itself. */
#include "circuit/circuit.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_BYTES 8
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES

static void nonce_for(uint64_t counter, uint8_t nonce[12])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

int circ_data_seal(struct circ_keys *k, const uint8_t *plain, size_t len, uint8_t **sealed,
		   size_t *sealed_len)
{
	if (len > CIRC_DATA_MAX)
		return CIRC_ERR_TOO_LARGE;
	if (k->sent == UINT64_MAX)
		return CIRC_ERR_TOO_LARGE; /* never reuse a nonce */
	uint8_t *out = malloc(COUNTER_BYTES + len + TAG);
	if (!out)
		return -ENOMEM;
	uint64_t counter = ++k->sent;
	uint8_t nonce[12];
	nonce_for(counter, nonce);
	memcpy(out, nonce + 4, COUNTER_BYTES);
	const uint8_t *key = k->is_lighthouse ? k->backward : k->forward;
	crypto_aead_chacha20poly1305_ietf_encrypt(out + COUNTER_BYTES, NULL, plain, len, NULL, 0,
						  NULL, nonce, key);
	*sealed = out;
	*sealed_len = COUNTER_BYTES + len + TAG;
	return 0;
}

int circ_data_open(struct circ_keys *k, const uint8_t *sealed, size_t sealed_len, uint8_t **plain,
		   size_t *plain_len)
{
	if (sealed_len < COUNTER_BYTES + TAG)
		return CIRC_ERR_SEALED;
	if (sealed_len > COUNTER_BYTES + CIRC_DATA_MAX + TAG)
		return CIRC_ERR_TOO_LARGE;
	uint64_t counter = 0;
	for (int i = 0; i < COUNTER_BYTES; i++)
		counter = counter << 8 | sealed[i];
	if (counter <= k->received)
		return CIRC_ERR_REPLAY;
	uint8_t nonce[12];
	nonce_for(counter, nonce);
	size_t len = sealed_len - COUNTER_BYTES - TAG;
	uint8_t *out = malloc(len ? len : 1);
	if (!out)
		return -ENOMEM;
	const uint8_t *key = k->is_lighthouse ? k->forward : k->backward;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, sealed + COUNTER_BYTES,
						      sealed_len - COUNTER_BYTES, NULL, 0, nonce,
						      key) != 0) {
		free(out);
		return CIRC_ERR_SEALED;
	}
	/* Only an authentic cell moves the window. */
	k->received = counter;
	*plain = out;
	*plain_len = len;
	return 0;
}

static const char cert_context[] = "anosip-cert-v1";

static uint8_t *cert_signed_input(const uint8_t *cert, size_t len, size_t *out_len)
{
	return util_with_context(cert_context, cert, len, out_len);
}

int circ_certificate_sign(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
			  const char *nickname, const uint8_t nickname_public[32],
			  uint64_t issued_unix, uint64_t expires_unix, uint8_t **out,
			  size_t *out_len)
{
	if (!circ_nickname_valid(nickname))
		return CIRC_ERR_NICKNAME;
	Anosip__V1__Certificate c = ANOSIP__V1__CERTIFICATE__INIT;
	c.nickname = (char *)nickname;
	c.nickname_public.data = (uint8_t *)nickname_public;
	c.nickname_public.len = 32;
	c.lighthouse = (char *)lighthouse_id;
	c.issued_unix = issued_unix;
	c.expires_unix = expires_unix;
	size_t len = anosip__v1__certificate__get_packed_size(&c);
	uint8_t *body = malloc(len ? len : 1);
	size_t m_len;
	uint8_t *m = NULL;
	int rc = -ENOMEM;
	if (!body)
		goto out;
	anosip__v1__certificate__pack(&c, body);
	m = cert_signed_input(body, len, &m_len);
	if (!m)
		goto out;
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, m, m_len, lighthouse_keys->sign_secret);
	Anosip__V1__SignedCertificate sc = ANOSIP__V1__SIGNED_CERTIFICATE__INIT;
	sc.certificate.data = body;
	sc.certificate.len = len;
	sc.signature.data = sig;
	sc.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_certificate__get_packed_size(&sc);
	*out = malloc(*out_len);
	if (!*out)
		goto out;
	anosip__v1__signed_certificate__pack(&sc, *out);
	rc = 0;
out:
	free(body);
	free(m);
	return rc;
}

int circ_certificate_verify(const uint8_t *signed_cert, size_t len,
			    const uint8_t lighthouse_sign[32], uint64_t now_unix,
			    Anosip__V1__Certificate **cert_out)
{
	int rc = CIRC_ERR_DECODE;
	uint8_t *m = NULL;
	Anosip__V1__Certificate *cert = NULL;
	Anosip__V1__SignedCertificate *sc =
	    anosip__v1__signed_certificate__unpack(NULL, len, signed_cert);
	if (!sc || sc->signature.len != crypto_sign_BYTES)
		goto out;
	size_t m_len;
	m = cert_signed_input(sc->certificate.data, sc->certificate.len, &m_len);
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	if (crypto_sign_verify_detached(sc->signature.data, m, m_len, lighthouse_sign) != 0) {
		rc = CIRC_ERR_PROOF;
		goto out;
	}
	cert = anosip__v1__certificate__unpack(NULL, sc->certificate.len, sc->certificate.data);
	if (!cert || !cert->nickname || !circ_nickname_valid(cert->nickname) ||
	    cert->nickname_public.len != 32 || !cert->lighthouse)
		goto out;
	/* Five minutes of clock skew between lighthouse and ua are forgiven. */
	if (now_unix + 300 < cert->issued_unix || now_unix >= cert->expires_unix) {
		rc = CIRC_ERR_STALE;
		goto out;
	}
	*cert_out = cert;
	cert = NULL;
	rc = 0;
out:
	if (cert)
		anosip__v1__certificate__free_unpacked(cert, NULL);
	if (sc)
		anosip__v1__signed_certificate__free_unpacked(sc, NULL);
	free(m);
	return rc;
}
