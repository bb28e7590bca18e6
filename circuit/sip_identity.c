/* SIP response identity (docs/protocol.md §6): the callee's ua signs its
 * answer to an INVITE with its nickname key and seals its direct contact
 * to the caller's nickname key, so the lighthouses in between can neither
 * read where the callee is nor forge an answer in its name. */
#include "circuit/circuit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIP_RESPONSE_CONTEXT "anosip-sip-response-v1"

int circ_certificate_verify_any(const uint8_t *signed_cert, size_t len, circ_lighthouse_key_fn fn,
				void *ctx, uint64_t now_unix, Anosip__V1__Certificate **cert)
{
	/* The certificate names its lighthouse; decode it (unverified) only
	 * to find which key to check it with. */
	Anosip__V1__SignedCertificate *sc =
	    anosip__v1__signed_certificate__unpack(NULL, len, signed_cert);
	if (!sc)
		return CIRC_ERR_DECODE;
	Anosip__V1__Certificate *unverified =
	    anosip__v1__certificate__unpack(NULL, sc->certificate.len, sc->certificate.data);
	anosip__v1__signed_certificate__free_unpacked(sc, NULL);
	if (!unverified)
		return CIRC_ERR_DECODE;
	uint8_t key[32];
	int rc = unverified->lighthouse ? fn(ctx, unverified->lighthouse, key) : -ENOENT;
	anosip__v1__certificate__free_unpacked(unverified, NULL);
	if (rc < 0)
		return CIRC_ERR_PROOF;
	return circ_certificate_verify(signed_cert, len, key, now_unix, cert);
}

/* context || SHA-256(message) || SHA-256(certificate) || sealed_contact */
static void signed_input(const uint8_t *message, size_t message_len, const uint8_t *cert,
			 size_t cert_len, const uint8_t *sealed, size_t sealed_len,
			 uint8_t digest[crypto_hash_sha256_BYTES])
{
	uint8_t part[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)SIP_RESPONSE_CONTEXT,
				  sizeof(SIP_RESPONSE_CONTEXT) - 1);
	crypto_hash_sha256(part, message, message_len);
	crypto_hash_sha256_update(&st, part, sizeof(part));
	crypto_hash_sha256(part, cert, cert_len);
	crypto_hash_sha256_update(&st, part, sizeof(part));
	crypto_hash_sha256_update(&st, sealed, sealed_len);
	crypto_hash_sha256_final(&st, digest);
}

int circ_sip_response_sign(const struct keys_pair *callee, const uint8_t *callee_cert,
			   size_t callee_cert_len, const uint8_t caller_sign_public[32],
			   const uint8_t *message, size_t message_len, const char *contact,
			   uint8_t **out, size_t *out_len)
{
	uint8_t *sealed = NULL, *packed = NULL;
	size_t sealed_len = 0;
	int rc = -EINVAL;
	if (!callee_cert || !callee_cert_len)
		return -EINVAL;
	if (contact) {
		size_t clen = strlen(contact);
		uint8_t caller_kx[crypto_box_PUBLICKEYBYTES];
		if (!caller_sign_public || clen == 0 || clen > CIRC_CONTACT_MAX ||
		    crypto_sign_ed25519_pk_to_curve25519(caller_kx, caller_sign_public) != 0)
			goto fail;
		sealed_len = clen + crypto_box_SEALBYTES;
		rc = -ENOMEM;
		if (!(sealed = malloc(sealed_len)))
			goto fail;
		crypto_box_seal(sealed, (const uint8_t *)contact, clen, caller_kx);
	}
	uint8_t digest[crypto_hash_sha256_BYTES], signature[crypto_sign_BYTES];
	signed_input(message, message_len, callee_cert, callee_cert_len, sealed, sealed_len,
		     digest);
	crypto_sign_detached(signature, NULL, digest, sizeof(digest), callee->sign_secret);

	Anosip__V1__SignedSipResponse r = ANOSIP__V1__SIGNED_SIP_RESPONSE__INIT;
	r.certificate.data = (uint8_t *)callee_cert;
	r.certificate.len = callee_cert_len;
	r.sealed_contact.data = sealed;
	r.sealed_contact.len = sealed_len;
	r.signature.data = signature;
	r.signature.len = sizeof(signature);
	size_t len = anosip__v1__signed_sip_response__get_packed_size(&r);
	rc = -ENOMEM;
	if (!(packed = malloc(len)))
		goto fail;
	anosip__v1__signed_sip_response__pack(&r, packed);
	*out = packed;
	*out_len = len;
	packed = NULL;
	rc = 0;
fail:
	free(sealed);
	free(packed);
	return rc;
}

int circ_sip_response_open(const uint8_t *signed_response, size_t len, const uint8_t *message,
			   size_t message_len, const struct keys_pair *caller,
			   circ_lighthouse_key_fn fn, void *ctx, uint64_t now_unix,
			   char callee[CIRC_NICKNAME_MAX + 1], uint8_t callee_public[32],
			   char **contact)
{
	int rc = CIRC_ERR_DECODE;
	Anosip__V1__Certificate *cert = NULL;
	uint8_t *plain = NULL;
	*contact = NULL;
	Anosip__V1__SignedSipResponse *r =
	    anosip__v1__signed_sip_response__unpack(NULL, len, signed_response);
	if (!r || r->signature.len != crypto_sign_BYTES)
		goto fail;
	if ((rc = circ_certificate_verify_any(r->certificate.data, r->certificate.len, fn, ctx,
					      now_unix, &cert)) < 0)
		goto fail;
	uint8_t digest[crypto_hash_sha256_BYTES];
	signed_input(message, message_len, r->certificate.data, r->certificate.len,
		     r->sealed_contact.data, r->sealed_contact.len, digest);
	rc = CIRC_ERR_PROOF;
	if (crypto_sign_verify_detached(r->signature.data, digest, sizeof(digest),
					cert->nickname_public.data) != 0)
		goto fail;
	if (r->sealed_contact.len) {
		uint8_t kx_secret[crypto_box_SECRETKEYBYTES], kx_public[crypto_box_PUBLICKEYBYTES];
		size_t plain_len = r->sealed_contact.len - crypto_box_SEALBYTES;
		rc = CIRC_ERR_SEALED;
		if (r->sealed_contact.len <= crypto_box_SEALBYTES || plain_len > CIRC_CONTACT_MAX)
			goto fail;
		rc = -ENOMEM;
		if (!(plain = malloc(plain_len + 1)))
			goto fail;
		crypto_sign_ed25519_sk_to_curve25519(kx_secret, caller->sign_secret);
		crypto_scalarmult_base(kx_public, kx_secret);
		int opened = crypto_box_seal_open(plain, r->sealed_contact.data,
						  r->sealed_contact.len, kx_public, kx_secret);
		sodium_memzero(kx_secret, sizeof(kx_secret));
		rc = CIRC_ERR_SEALED;
		if (opened != 0 || memchr(plain, 0, plain_len))
			goto fail;
		plain[plain_len] = 0;
		*contact = (char *)plain;
		plain = NULL;
	}
	snprintf(callee, CIRC_NICKNAME_MAX + 1, "%s", cert->nickname);
	if (callee_public)
		memcpy(callee_public, cert->nickname_public.data, 32);
	rc = 0;
fail:
	free(plain);
	if (cert)
		anosip__v1__certificate__free_unpacked(cert, NULL);
	if (r)
		anosip__v1__signed_sip_response__free_unpacked(r, NULL);
	return rc;
}
