/* Fuzzes what lighthouses and uas decode from each other about calls, and
 * the caller's check of the callee's signed answer:
 *  - CircuitMessage (proto/circuit.proto), inside every DATA cell: a
 *    lighthouse decodes it from any ua (lh_on_data in
 *    lighthouse/circuits.c: echo, sip, password, iddir_query), a ua from
 *    its lighthouse (on_data in ua/ua.c: echo_reply, sip, password_answer,
 *    iddir_answer);
 *  - SipRouted (proto/routed.proto), from another lighthouse
 *    (lh_sip_on_routed in lighthouse/sip.c);
 *  - IdDirEnvelope (proto/iddir.proto), the ID Directory's answer to a
 *    lighthouse (lh_iddir_on_answer in lighthouse/iddir_relay.c) and a
 *    lighthouse's query to the directory (iddir/iddir.c);
 *  - circ_sip_response_open (circuit/sip_identity.c), the caller's ua on a
 *    SignedSipResponse that came from the callee through two lighthouses.
 *
 * The caller is the fixed ua (fixtures.nickname, "mother"); the callee is
 * FUZZ_CALLEE (fixtures.callee) homed on gamma; the lighthouse-key lookup
 * knows beta and gamma; the clock reads FUZZ_NOW_S. The first byte picks a
 * mode (modulo 3); the rest is the data:
 *   0  decoders: the data to each of the three decoders. A SipMessage's or
 *      a SipRouted's signed_response then goes to circ_sip_response_open
 *      with that message's text and its caller_certificate to
 *      circ_certificate_verify_any, as ua/sip_proxy.c and ua/sip_callee.c
 *      run them;
 *   1  raw: the data is a SignedSipResponse answering FUZZ_SIP_302;
 *   2  real: a 6-byte header (corruption, certificate, position as 16
 *      bits LE, flags, flip mask), then the SIP text up to a NUL byte,
 *      then the contact (none without that NUL byte). The answer carries
 *      the certificate the header picks (the callee's, or one that is
 *      stale, for an unknown lighthouse, signed by the wrong one, for
 *      another key, with an invalid nickname, or not a certificate), is
 *      signed by the callee's key and seals the contact to the caller,
 *      made by the harness from docs/protocol.md §6.4 (flags bit 0 clear)
 *      or by circ_sip_response_sign (set); then the header's corruption:
 *      a byte of the signature, certificate, message or sealed contact
 *      flipped, another caller's key, a clock outside the certificate, a
 *      signature of the wrong length, the encoding cut short, signed by
 *      the caller's key, an oversized contact, or another valid
 *      certificate put in after signing. Flags bit 1 set: no callee key
 *      wanted.
 *
 * Oracles.
 *  - Decoders: the tree passes fuzz_walk_message; decode, encode (A),
 *    decode A, encode (B): A = B, and the second decoding has the same
 *    fields as the first, compared through the descriptors (messages with
 *    a field numbered 0 are left out, as in fuzz_link_message). What the
 *    handlers rely on without testing holds: a CircuitMessage's body_case
 *    has its message (ua.c reads m->echo_reply->sequence); strings are
 *    never NULL; a SipRouted's response is 0 or 1 (lh_sip_on_routed
 *    compares it with !sip_is_request); a SipPassword that
 *    lh_sip_on_password stores has 16 or 0 and 32 bytes to read. What a
 *    lighthouse relays decodes unchanged at the far end: the echo reply
 *    (echo_reply = m->echo), a response going on as a SipRouted, a
 *    SipRouted going down as a SipMessage, a query going on as an
 *    IdDirEnvelope, the directory's answer going down.
 *  - circ_sip_response_open: its answer is worked out on our own, in the
 *    order of docs/protocol.md §6.4: DECODE (the response or the
 *    certificate or its body does not decode, a signature not 64 bytes,
 *    an invalid nickname or a key not 32 bytes), PROOF (an unknown
 *    lighthouse, a certificate not signed by its lighthouse, a response
 *    not signed by the certificate's key), STALE (certificate issued more
 *    than 300 s ahead or expired), SEALED (a contact of 48 bytes or less
 *    sealed, over CIRC_CONTACT_MAX, not opening under the caller's key, or
 *    holding a NUL); otherwise accepted with the certificate's nickname
 *    and key and the contact we open. A refusal hands out nothing: no
 *    contact, the callee and its key left as they were. An accepted
 *    callee is a nickname that fits its array and a contact fits the
 *    ua's "<%s>" line (CIRC_CONTACT_MAX + 8).
 *  - Real mode: accepted exactly when nothing was corrupted, and then the
 *    callee, its key and the contact are the ones signed.
 *    circ_sip_response_sign refuses exactly an empty or oversized contact
 *    and otherwise makes what the rule says (the certificate given, a
 *    signature by the signer over our own digest, the contact sealed to
 *    the caller). */
#include "tests/fuzz/harness.h"

#include "iddir.pb-c.h"
#include "routed.pb-c.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CERT_CONTEXT "anosip-cert-v1"
#define UNKNOWN_LIGHTHOUSE "delta"

/* --- fixed setup, made once --- */

/* The certificates the real mode's header picks from. */
enum cert_kind {
	CERT_CALLEE,	   /* the callee's, from gamma (fuzz_callee_certificate) */
	CERT_BETA,	   /* the callee's too, had it been homed on beta */
	CERT_EXPIRED,	   /* expires_unix is now: stale */
	CERT_AHEAD,	   /* issued 301 s from now: stale */
	CERT_UNKNOWN_LH,   /* names a lighthouse the lookup does not know */
	CERT_WRONG_LH,	   /* names gamma, signed by beta */
	CERT_OTHER_KEY,	   /* the callee's nickname with the caller's key */
	CERT_BAD_NICKNAME, /* "Father!", signed by gamma */
	CERT_GARBAGE,	   /* not a SignedCertificate */
	CERT_KINDS
};

/* What a caller needs to open a contact: its keys and their X25519 form. */
struct caller {
	const struct keys_pair *keys;
	uint8_t kx_public[32], kx_secret[32];
};

static struct {
	uint8_t *cert[CERT_KINDS];
	size_t cert_len[CERT_KINDS];
	struct caller caller; /* the fixed ua */
	struct caller other;  /* gamma's node key, as a caller who was not asked */
} fixed;

static uint8_t *make_certificate(const struct keys_pair *signer, const char *nickname,
				 const uint8_t key[32], const char *lighthouse, uint64_t issued,
				 uint64_t expires, size_t *len)
{
	Anosip__V1__Certificate c = ANOSIP__V1__CERTIFICATE__INIT;
	uint8_t body[256];
	c.nickname = (char *)nickname;
	c.nickname_public.data = (uint8_t *)key;
	c.nickname_public.len = 32;
	c.lighthouse = (char *)lighthouse;
	c.issued_unix = issued;
	c.expires_unix = expires;
	if (anosip__v1__certificate__get_packed_size(&c) > sizeof(body))
		fuzz_fail("a fixed certificate does not fit");
	uint8_t *out =
	    fuzz_sign_certificate(signer, body, anosip__v1__certificate__pack(&c, body), len);
	if (!out)
		fuzz_fail("out of memory");
	return out;
}

static void make_caller(const struct keys_pair *keys, struct caller *c)
{
	c->keys = keys;
	if (crypto_sign_ed25519_sk_to_curve25519(c->kx_secret, keys->sign_secret) != 0)
		fuzz_fail("a caller's key does not convert");
	crypto_scalarmult_base(c->kx_public, c->kx_secret);
}

static void setup(void)
{
	static int ready;
	if (ready)
		return;
	const struct fuzz_fixtures *f = fuzz_fixtures();
	const uint8_t *callee = f->callee.pub.sign;
	size_t len;
	const uint8_t *cert = fuzz_callee_certificate(&len);
	if (!(fixed.cert[CERT_CALLEE] = malloc(len)))
		fuzz_fail("out of memory");
	memcpy(fixed.cert[CERT_CALLEE], cert, len);
	fixed.cert_len[CERT_CALLEE] = len;
#define CERT(kind, signer, nick, key, lh, iss, exp)                                                \
	fixed.cert[kind] = make_certificate(signer, nick, key, lh, iss, exp, &fixed.cert_len[kind])
	CERT(CERT_BETA, &f->responder, FUZZ_CALLEE, callee, FUZZ_RESPONDER_ID, FUZZ_CERT_ISSUED,
	     FUZZ_CERT_EXPIRES);
	CERT(CERT_EXPIRED, &f->third, FUZZ_CALLEE, callee, FUZZ_CALLEE_LIGHTHOUSE, FUZZ_CERT_ISSUED,
	     FUZZ_NOW_S);
	CERT(CERT_AHEAD, &f->third, FUZZ_CALLEE, callee, FUZZ_CALLEE_LIGHTHOUSE, FUZZ_NOW_S + 301,
	     FUZZ_CERT_EXPIRES);
	CERT(CERT_UNKNOWN_LH, &f->third, FUZZ_CALLEE, callee, UNKNOWN_LIGHTHOUSE, FUZZ_CERT_ISSUED,
	     FUZZ_CERT_EXPIRES);
	CERT(CERT_WRONG_LH, &f->responder, FUZZ_CALLEE, callee, FUZZ_CALLEE_LIGHTHOUSE,
	     FUZZ_CERT_ISSUED, FUZZ_CERT_EXPIRES);
	CERT(CERT_OTHER_KEY, &f->third, FUZZ_CALLEE, f->nickname.pub.sign, FUZZ_CALLEE_LIGHTHOUSE,
	     FUZZ_CERT_ISSUED, FUZZ_CERT_EXPIRES);
	CERT(CERT_BAD_NICKNAME, &f->third, "Father!", callee, FUZZ_CALLEE_LIGHTHOUSE,
	     FUZZ_CERT_ISSUED, FUZZ_CERT_EXPIRES);
#undef CERT
	static const char garbage[] = "not a certificate";
	if (!(fixed.cert[CERT_GARBAGE] = malloc(sizeof(garbage) - 1)))
		fuzz_fail("out of memory");
	memcpy(fixed.cert[CERT_GARBAGE], garbage, sizeof(garbage) - 1);
	fixed.cert_len[CERT_GARBAGE] = sizeof(garbage) - 1;
	make_caller(&f->nickname, &fixed.caller);
	make_caller(&f->third, &fixed.other);
	ready = 1;
}

/* The lighthouses whose keys the caller's ua knows (its directory). */
static const uint8_t *lighthouse_key(const char *id)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	if (strcmp(id, FUZZ_RESPONDER_ID) == 0)
		return f->responder.pub.sign;
	if (strcmp(id, FUZZ_CALLEE_LIGHTHOUSE) == 0)
		return f->third.pub.sign;
	return NULL;
}

static int lookup(void *ctx, const char *id, uint8_t sign_public[32])
{
	const uint8_t *key = lighthouse_key(id);
	if (!key)
		return -ENOENT;
	memcpy(sign_public, key, 32);
	return 0;
}

/* --- our own verdicts --- */

static int signed_with_context(const char *context, const uint8_t *m, size_t len,
			       const uint8_t sig[64], const uint8_t key[32])
{
	size_t n;
	uint8_t *in = util_with_context(context, m, len, &n);
	if (!in)
		fuzz_fail("out of memory");
	int ok = crypto_sign_verify_detached(sig, in, n, key) == 0;
	free(in);
	return ok;
}

/* circ_certificate_verify_any's answer, worked out from docs/protocol.md
 * §4.1 and §6.4: the body decodes before its lighthouse's key is looked
 * up. On 0, *out is the certificate (the caller frees it). */
static int expected_certificate(const uint8_t *in, size_t len, uint64_t now,
				Anosip__V1__Certificate **out)
{
	*out = NULL;
	Anosip__V1__SignedCertificate *sc = anosip__v1__signed_certificate__unpack(NULL, len, in);
	if (!sc)
		return CIRC_ERR_DECODE;
	Anosip__V1__Certificate *c =
	    anosip__v1__certificate__unpack(NULL, sc->certificate.len, sc->certificate.data);
	const uint8_t *key = c && c->lighthouse ? lighthouse_key(c->lighthouse) : NULL;
	int rc;
	if (!c)
		rc = CIRC_ERR_DECODE;
	else if (!key)
		rc = CIRC_ERR_PROOF;
	else if (sc->signature.len != crypto_sign_BYTES)
		rc = CIRC_ERR_DECODE;
	else if (!signed_with_context(CERT_CONTEXT, sc->certificate.data, sc->certificate.len,
				      sc->signature.data, key))
		rc = CIRC_ERR_PROOF;
	else if (!c->nickname || !fuzz_nickname_ok(c->nickname) || c->nickname_public.len != 32)
		rc = CIRC_ERR_DECODE;
	else if (c->issued_unix > now + 300 || c->expires_unix <= now)
		rc = CIRC_ERR_STALE;
	else
		rc = 0;
	anosip__v1__signed_certificate__free_unpacked(sc, NULL);
	if (rc == 0)
		*out = c;
	else if (c)
		anosip__v1__certificate__free_unpacked(c, NULL);
	return rc;
}

struct verdict {
	int rc;
	char callee[CIRC_NICKNAME_MAX + 1];
	uint8_t callee_public[32];
	char *contact; /* malloc'd; NULL when none was sealed */
	size_t contact_len;
};

/* circ_sip_response_open's answer, worked out on our own. */
static void expected(const uint8_t *in, size_t len, const uint8_t *message, size_t message_len,
		     const struct caller *caller, uint64_t now, struct verdict *v)
{
	Anosip__V1__Certificate *c = NULL;
	uint8_t digest[32];
	memset(v, 0, sizeof(*v));
	v->rc = CIRC_ERR_DECODE;
	Anosip__V1__SignedSipResponse *r = anosip__v1__signed_sip_response__unpack(NULL, len, in);
	if (!r || r->signature.len != crypto_sign_BYTES)
		goto out;
	if ((v->rc = expected_certificate(r->certificate.data, r->certificate.len, now, &c)) != 0)
		goto out;
	fuzz_sip_response_digest(message, message_len, r->certificate.data, r->certificate.len,
				 r->sealed_contact.data, r->sealed_contact.len, digest);
	v->rc = CIRC_ERR_PROOF;
	if (crypto_sign_verify_detached(r->signature.data, digest, sizeof(digest),
					c->nickname_public.data) != 0)
		goto out;
	if (r->sealed_contact.len) {
		size_t n = r->sealed_contact.len - crypto_box_SEALBYTES;
		v->rc = CIRC_ERR_SEALED;
		if (r->sealed_contact.len <= crypto_box_SEALBYTES || n > CIRC_CONTACT_MAX)
			goto out;
		char *plain = malloc(n + 1);
		if (!plain)
			fuzz_fail("out of memory");
		if (crypto_box_seal_open((uint8_t *)plain, r->sealed_contact.data,
					 r->sealed_contact.len, caller->kx_public,
					 caller->kx_secret) != 0 ||
		    memchr(plain, 0, n)) {
			free(plain);
			goto out;
		}
		plain[n] = 0;
		v->contact = plain;
		v->contact_len = n;
	}
	snprintf(v->callee, sizeof(v->callee), "%s", c->nickname);
	memcpy(v->callee_public, c->nickname_public.data, 32);
	v->rc = 0;
out:
	if (c)
		anosip__v1__certificate__free_unpacked(c, NULL);
	if (r)
		anosip__v1__signed_sip_response__free_unpacked(r, NULL);
}

static int is_error(int rc)
{
	return rc == CIRC_ERR_DECODE || rc == CIRC_ERR_PROOF || rc == CIRC_ERR_STALE ||
	       rc == CIRC_ERR_SEALED;
}

/* Runs circ_sip_response_open and holds it to our verdict; on 0, got is
 * what it handed out (got->contact is the caller's to free). */
static int open_checked(const uint8_t *in, size_t len, const uint8_t *message, size_t message_len,
			const struct caller *caller, uint64_t now, int want_public,
			struct verdict *got)
{
	struct verdict want;
	expected(in, len, message, message_len, caller, now, &want);
	memset(got, 0x5a, sizeof(*got));
	uint8_t untouched[sizeof(got->callee) + sizeof(got->callee_public)];
	memset(untouched, 0x5a, sizeof(untouched));
	got->contact = (char *)untouched; /* must become NULL or the contact */
	got->rc = circ_sip_response_open(in, len, message, message_len, caller->keys, lookup, NULL,
					 now, got->callee, want_public ? got->callee_public : NULL,
					 &got->contact);
	if (got->rc != want.rc)
		fuzz_fail("circ_sip_response_open's answer is not the expected one");
	if (got->rc != 0) {
		if (!is_error(got->rc))
			fuzz_fail("circ_sip_response_open: an undocumented error");
		if (got->contact)
			fuzz_fail("circ_sip_response_open refused but handed out a contact");
		if (memcmp(got->callee, untouched, sizeof(got->callee)) != 0 ||
		    memcmp(got->callee_public, untouched, sizeof(got->callee_public)) != 0)
			fuzz_fail("circ_sip_response_open refused but wrote a callee");
		return got->rc;
	}
	if (!memchr(got->callee, 0, sizeof(got->callee)) || strcmp(got->callee, want.callee) != 0 ||
	    !fuzz_nickname_ok(got->callee))
		fuzz_fail("circ_sip_response_open accepted another callee than the certificate's");
	if (want_public ? memcmp(got->callee_public, want.callee_public, 32) != 0
			: memcmp(got->callee_public, untouched, 32) != 0)
		fuzz_fail("circ_sip_response_open handed out another key than the certificate's");
	if (!got->contact != !want.contact)
		fuzz_fail("circ_sip_response_open: a contact where none was sealed, or none");
	if (got->contact) {
		got->contact_len = strlen(got->contact);
		if (got->contact_len != want.contact_len ||
		    memcmp(got->contact, want.contact, want.contact_len) != 0 ||
		    got->contact_len > CIRC_CONTACT_MAX)
			fuzz_fail("circ_sip_response_open opened another contact than was sealed");
	}
	free(want.contact);
	return 0;
}

/* --- mode 0: decoders --- */

/* The size of one value of a field's type in its C struct. */
static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static int same_message(const ProtobufCMessage *a, const ProtobufCMessage *b);

static int same_value(const ProtobufCFieldDescriptor *f, const char *x, const char *y)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *p = *(const ProtobufCMessage *const *)x;
		const ProtobufCMessage *q = *(const ProtobufCMessage *const *)y;
		return (!p && !q) || (p && q && same_message(p, q));
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *p = *(const char *const *)x, *q = *(const char *const *)y;
		return strcmp(p ? p : "", q ? q : "") == 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *p = (const ProtobufCBinaryData *)x;
		const ProtobufCBinaryData *q = (const ProtobufCBinaryData *)y;
		return p->len == q->len && (!p->len || memcmp(p->data, q->data, p->len) == 0);
	}
	default:
		return memcmp(x, y, value_size(f)) == 0;
	}
}

/* Field by field through the descriptors, unknown fields included. */
static int same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	const ProtobufCMessageDescriptor *d = a->descriptor;
	const char *x = (const char *)a, *y = (const char *)b;
	if (b->descriptor != d || a->n_unknown_fields != b->n_unknown_fields)
		return 0;
	for (unsigned i = 0; i < a->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *u = &a->unknown_fields[i];
		const ProtobufCMessageUnknownField *v = &b->unknown_fields[i];
		if (u->tag != v->tag || u->wire_type != v->wire_type || u->len != v->len ||
		    (u->len && memcmp(u->data, v->data, u->len) != 0))
			return 0;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t cx = *(const uint32_t *)(x + f->quantifier_offset);
			if (cx != *(const uint32_t *)(y + f->quantifier_offset))
				return 0;
			if (cx == f->id && !same_value(f, x + f->offset, y + f->offset))
				return 0;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(x + f->quantifier_offset);
			if (n != *(const size_t *)(y + f->quantifier_offset))
				return 0;
			const char *p = *(const char *const *)(x + f->offset);
			const char *q = *(const char *const *)(y + f->offset);
			for (size_t k = 0; k < n; k++)
				if (!same_value(f, p + k * value_size(f), q + k * value_size(f)))
					return 0;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
			protobuf_c_boolean has =
			    *(const protobuf_c_boolean *)(x + f->quantifier_offset);
			if (has != *(const protobuf_c_boolean *)(y + f->quantifier_offset))
				return 0;
			if (!has)
				continue;
		}
		if (!same_value(f, x + f->offset, y + f->offset))
			return 0;
	}
	return 1;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (!buf)
		fuzz_fail("out of memory");
	if (protobuf_c_message_pack(m, buf) != *len)
		fuzz_fail("a message's packed size disagrees with pack");
	return buf;
}

/* Encodes m, decodes it, and the result must equal m. Returns A. */
static uint8_t *round_trip(const ProtobufCMessage *m, size_t *len, const char *what)
{
	uint8_t *a = pack(m, len);
	ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, *len, a);
	if (!again)
		fuzz_fail(what);
	if (fuzz_walk_message(again))
		fuzz_fail("a re-encoded message holds a field numbered 0");
	if (!same_message(m, again))
		fuzz_fail(what);
	protobuf_c_message_free_unpacked(again, NULL);
	return a;
}

/* Decode, encode (A), decode, encode (B): A = B, same fields. */
static void repack(const ProtobufCMessage *m)
{
	size_t a_len, b_len;
	uint8_t *a = round_trip(m, &a_len, "a message decodes to other fields after a re-encode");
	ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, a_len, a);
	if (!again)
		fuzz_fail("a re-encoded message does not decode");
	uint8_t *b = pack(again, &b_len);
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fuzz_fail("a message re-encodes differently after a decode");
	protobuf_c_message_free_unpacked(again, NULL);
	free(a);
	free(b);
}

static void relayed(const ProtobufCMessage *m, const char *what)
{
	size_t len;
	free(round_trip(m, &len, what));
}

/* The caller's ua on an answer (ua/sip_proxy.c), the callee's ua on a
 * caller's certificate (ua/sip_callee.c). */
static void sip_consumers(ProtobufCBinaryData message, ProtobufCBinaryData signed_response,
			  ProtobufCBinaryData caller_cert)
{
	if (signed_response.len) {
		struct verdict got;
		if (open_checked(signed_response.data, signed_response.len, message.data,
				 message.len, &fixed.caller, FUZZ_NOW_S, 1, &got) == 0)
			free(got.contact);
	}
	if (caller_cert.len) {
		Anosip__V1__Certificate *mine, *cert = NULL;
		int want =
		    expected_certificate(caller_cert.data, caller_cert.len, FUZZ_NOW_S, &mine);
		int rc = circ_certificate_verify_any(caller_cert.data, caller_cert.len, lookup,
						     NULL, FUZZ_NOW_S, &cert);
		if (rc != want)
			fuzz_fail("circ_certificate_verify_any's answer is not the expected one");
		if (rc != 0 && cert)
			fuzz_fail(
			    "circ_certificate_verify_any refused but handed out a certificate");
		if (rc == 0) {
			if (!cert || !same_message(&cert->base, &mine->base))
				fuzz_fail("circ_certificate_verify_any accepted other fields");
			anosip__v1__certificate__free_unpacked(cert, NULL);
			anosip__v1__certificate__free_unpacked(mine, NULL);
		}
	}
}

static void envelope_consumers(const Anosip__V1__IdDirEnvelope *e)
{
	if (!e->error || !e->directory)
		fuzz_fail("a decoded IdDirEnvelope has a NULL string");
}

static void circuit_message_consumers(const Anosip__V1__CircuitMessage *m)
{
	const void *member;
	switch (m->body_case) {
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY__NOT_SET:
		return;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO:
		member = m->echo;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY:
		member = m->echo_reply;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP:
		member = m->sip;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD:
		member = m->password;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD_ANSWER:
		member = m->password_answer;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY:
		member = m->iddir_query;
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER:
		member = m->iddir_answer;
		break;
	default:
		fuzz_fail("a CircuitMessage's body_case is none of its bodies");
	}
	if (!member)
		fuzz_fail("a CircuitMessage's body_case is set without its message");
	switch (m->body_case) {
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP:
		sip_consumers(m->sip->message, m->sip->signed_response, m->sip->caller_certificate);
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD: {
		const Anosip__V1__SipPassword *p = m->password;
		if (!p->realm)
			fuzz_fail("a decoded SipPassword has a NULL realm");
		/* lh_sip_on_password's test, then what it stores. */
		if (p->ha1_sha256.len == 32 && (p->ha1_md5.len == 16 || p->ha1_md5.len == 0) &&
		    (!p->ha1_sha256.data || (p->ha1_md5.len && !p->ha1_md5.data)))
			fuzz_fail("a SipPassword the lighthouse stores has no hashes to read");
		break;
	}
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD_ANSWER:
		if (!m->password_answer->realm)
			fuzz_fail("a decoded SipPasswordAnswer has a NULL realm");
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY:
		envelope_consumers(m->iddir_query);
		break;
	case ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER:
		envelope_consumers(m->iddir_answer);
		break;
	default:
		break;
	}
}

/* What the lighthouse sends on for a message from a ua. */
static void circuit_message_relays(const Anosip__V1__CircuitMessage *m)
{
	if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO) {
		Anosip__V1__CircuitMessage reply = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
		reply.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY;
		reply.echo_reply = m->echo;
		relayed(&reply.base, "an echo reply does not reach the ua as it was sent");
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP) {
		/* A callee's answer, on to the caller's lighthouse. */
		Anosip__V1__SipRouted r = ANOSIP__V1__SIP_ROUTED__INIT;
		r.transaction = m->sip->transaction;
		r.response = 1;
		r.message = m->sip->message;
		r.signed_response = m->sip->signed_response;
		relayed(&r.base, "a SIP answer does not reach the next lighthouse as it was sent");
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY) {
		Anosip__V1__IdDirEnvelope fwd = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
		fwd.request_id = m->iddir_query->request_id ^ 0x5555;
		fwd.sealed = m->iddir_query->sealed;
		fwd.error = (char *)"";
		relayed(&fwd.base, "a query does not reach the ID Directory as it was sent");
	}
}

static void sip_routed_checks(const Anosip__V1__SipRouted *r, int relay)
{
	if (r->response != 0 && r->response != 1)
		fuzz_fail("a decoded SipRouted's response is neither 0 nor 1");
	sip_consumers(r->message, r->signed_response, r->caller_certificate);
	if (!relay)
		return;
	/* send_sip_down: down the callee's (or the caller's) circuit. */
	Anosip__V1__SipMessage sm = ANOSIP__V1__SIP_MESSAGE__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	sm.message = r->message;
	sm.transaction = r->transaction ^ 0x5555;
	sm.caller_certificate = r->caller_certificate;
	sm.signed_response = r->signed_response;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP;
	m.sip = &sm;
	relayed(&m.base, "a routed SIP message does not reach the ua as it was sent");
}

static void envelope_checks(const Anosip__V1__IdDirEnvelope *e, int relay)
{
	envelope_consumers(e);
	if (!relay)
		return;
	/* answer_down: the directory's answer down the asking circuit. */
	Anosip__V1__IdDirEnvelope down = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	down.request_id = e->request_id ^ 0x5555;
	down.sealed = e->sealed;
	down.error = e->error;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER;
	m.iddir_answer = &down;
	relayed(&m.base, "the ID Directory's answer does not reach the ua as it was sent");
}

static void decode(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
	if (!m)
		return;
	/* With a field numbered 0 somewhere (docs/robustness.md, finding 2)
	 * nothing that re-encodes is compared. */
	int relay = !fuzz_walk_message(m);
	if (d == &anosip__v1__circuit_message__descriptor) {
		circuit_message_consumers((const Anosip__V1__CircuitMessage *)m);
		if (relay)
			circuit_message_relays((const Anosip__V1__CircuitMessage *)m);
	} else if (d == &anosip__v1__sip_routed__descriptor) {
		sip_routed_checks((const Anosip__V1__SipRouted *)m, relay);
	} else {
		envelope_checks((const Anosip__V1__IdDirEnvelope *)m, relay);
	}
	if (relay)
		repack(m);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* --- mode 1: raw --- */

static void run_raw(const uint8_t *data, size_t size)
{
	struct verdict got;
	if (open_checked(data, size, (const uint8_t *)FUZZ_SIP_302, strlen(FUZZ_SIP_302),
			 &fixed.caller, FUZZ_NOW_S, 1, &got) == 0)
		free(got.contact);
}

/* --- mode 2: real --- */

enum corruption {
	NONE,
	FLIP_SIGNATURE,
	FLIP_CERTIFICATE,
	CHANGE_MESSAGE,
	CHANGE_CONTACT, /* a byte of the sealed contact, or one added */
	OTHER_CALLER,	/* only matters with a contact */
	CLOCK,		/* after the certificate expired, or long before it was issued */
	SIGNATURE_LENGTH,
	TRUNCATE,
	SIGNED_BY_CALLER,
	OVERSIZED_CONTACT,
	SWAP_CERTIFICATE, /* another valid certificate, after signing */
	CORRUPTIONS
};

/* The parts of a SignedSipResponse, each in a buffer of its own. */
struct response {
	uint8_t *cert, *sealed, sig[crypto_sign_BYTES];
	size_t cert_len, sealed_len, sig_len;
};

static void take_parts(const uint8_t *enc, size_t len, struct response *p)
{
	Anosip__V1__SignedSipResponse *r = anosip__v1__signed_sip_response__unpack(NULL, len, enc);
	if (!r || r->signature.len != crypto_sign_BYTES || !r->certificate.len)
		fuzz_fail("a signed response we made does not decode");
	p->cert_len = r->certificate.len;
	p->sealed_len = r->sealed_contact.len;
	p->sig_len = r->signature.len;
	p->cert = malloc(p->cert_len);
	p->sealed = malloc(p->sealed_len ? p->sealed_len : 1);
	if (!p->cert || !p->sealed)
		fuzz_fail("out of memory");
	memcpy(p->cert, r->certificate.data, p->cert_len);
	if (p->sealed_len)
		memcpy(p->sealed, r->sealed_contact.data, p->sealed_len);
	memcpy(p->sig, r->signature.data, p->sig_len);
	anosip__v1__signed_sip_response__free_unpacked(r, NULL);
}

static uint8_t *pack_parts(const struct response *p, size_t *len)
{
	Anosip__V1__SignedSipResponse r = ANOSIP__V1__SIGNED_SIP_RESPONSE__INIT;
	r.certificate.data = p->cert;
	r.certificate.len = p->cert_len;
	r.sealed_contact.data = p->sealed;
	r.sealed_contact.len = p->sealed_len;
	r.signature.data = (uint8_t *)p->sig;
	r.signature.len = p->sig_len;
	return pack(&r.base, len);
}

/* circ_sip_response_sign must refuse exactly an empty or oversized
 * contact, and otherwise follow the rule. Returns the encoding or NULL. */
static uint8_t *sign_checked(const struct keys_pair *signer, const uint8_t *cert, size_t cert_len,
			     const uint8_t *message, size_t message_len, const char *contact,
			     size_t *len)
{
	uint8_t *out = NULL, digest[32];
	size_t clen = contact ? strlen(contact) : 0;
	int rc = circ_sip_response_sign(signer, cert, cert_len, fixed.caller.keys->pub.sign,
					message, message_len, contact, &out, len);
	if (contact && (clen == 0 || clen > CIRC_CONTACT_MAX)) {
		if (rc != -EINVAL || out)
			fuzz_fail("circ_sip_response_sign took an empty or oversized contact");
		return NULL;
	}
	if (rc != 0 || !out)
		fuzz_fail("circ_sip_response_sign refused a good answer");
	Anosip__V1__SignedSipResponse *r = anosip__v1__signed_sip_response__unpack(NULL, *len, out);
	if (!r || r->certificate.len != cert_len || memcmp(r->certificate.data, cert, cert_len) ||
	    r->signature.len != crypto_sign_BYTES)
		fuzz_fail("circ_sip_response_sign made another certificate or signature");
	fuzz_sip_response_digest(message, message_len, cert, cert_len, r->sealed_contact.data,
				 r->sealed_contact.len, digest);
	if (crypto_sign_verify_detached(r->signature.data, digest, 32, signer->pub.sign) != 0)
		fuzz_fail("circ_sip_response_sign's signature is not the rule's");
	if (r->sealed_contact.len != (contact ? clen + crypto_box_SEALBYTES : 0))
		fuzz_fail("circ_sip_response_sign sealed another contact");
	if (contact) {
		uint8_t *plain = malloc(clen);
		if (!plain)
			fuzz_fail("out of memory");
		if (crypto_box_seal_open(plain, r->sealed_contact.data, r->sealed_contact.len,
					 fixed.caller.kx_public, fixed.caller.kx_secret) != 0 ||
		    memcmp(plain, contact, clen) != 0)
			fuzz_fail("circ_sip_response_sign sealed another contact");
		free(plain);
	}
	anosip__v1__signed_sip_response__free_unpacked(r, NULL);
	return out;
}

static void run_real(const uint8_t *data, size_t size)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t h[6];
	fuzz_take(&data, &size, h, sizeof(h));
	enum corruption what = h[0] % 16 < CORRUPTIONS ? (enum corruption)(h[0] % 16) : NONE;
	enum cert_kind kind = h[1] % 16 < CERT_KINDS ? (enum cert_kind)(h[1] % 16) : CERT_CALLEE;
	size_t pos = (size_t)fuzz_le(h + 2, 2);
	int by_sign = h[4] & 1, want_public = !(h[4] & 2);
	uint8_t mask = h[5] ? h[5] : 1;

	/* The SIP text, with room for a byte more; the contact, as a string
	 * too, with room for the oversized one. */
	const uint8_t *nul = memchr(data, 0, size);
	size_t message_len = nul ? (size_t)(nul - data) : size;
	size_t contact_len = nul ? size - message_len - 1 : 0;
	int has_contact = nul != NULL || what == OVERSIZED_CONTACT;
	uint8_t *message = malloc(message_len + 1);
	char *contact = malloc(contact_len + CIRC_CONTACT_MAX + 64 + 1);
	if (!message || !contact)
		fuzz_fail("out of memory");
	if (message_len)
		memcpy(message, data, message_len);
	if (contact_len)
		memcpy(contact, nul + 1, contact_len);
	if (what == OVERSIZED_CONTACT && contact_len <= CIRC_CONTACT_MAX) {
		size_t want = CIRC_CONTACT_MAX + 1 + pos % 64;
		memset(contact + contact_len, 'a', want - contact_len);
		contact_len = want;
	}
	contact[contact_len] = 0;
	/* circ_sip_response_sign takes a string: the contact ends at a NUL. */
	if (by_sign)
		contact_len = strlen(contact);

	const struct keys_pair *signer = what == SIGNED_BY_CALLER ? &f->nickname : &f->callee;
	const uint8_t *cert_key =
	    kind == CERT_OTHER_KEY ? f->nickname.pub.sign : f->callee.pub.sign;
	int bad = kind != CERT_CALLEE && kind != CERT_BETA && kind != CERT_OTHER_KEY;
	bad |= memcmp(signer->pub.sign, cert_key, 32) != 0;
	bad |= has_contact && (contact_len == 0 || contact_len > CIRC_CONTACT_MAX ||
			       memchr(contact, 0, contact_len));
	bad |= what != NONE && what != OTHER_CALLER && what != SIGNED_BY_CALLER &&
	       what != OVERSIZED_CONTACT;
	bad |= what == OTHER_CALLER && has_contact;

	struct response p;
	struct verdict got;
	size_t len;
	uint8_t *enc;
	if (by_sign)
		enc = sign_checked(signer, fixed.cert[kind], fixed.cert_len[kind], message,
				   message_len, has_contact ? contact : NULL, &len);
	else if (!(enc = fuzz_sign_sip_response(signer, fixed.cert[kind], fixed.cert_len[kind],
						f->nickname.pub.sign, message, message_len,
						has_contact ? (const uint8_t *)contact : NULL,
						contact_len, &len)))
		fuzz_fail("out of memory");
	if (!enc)
		goto done;
	take_parts(enc, len, &p);
	free(enc);

	const struct caller *caller = what == OTHER_CALLER ? &fixed.other : &fixed.caller;
	uint64_t now = FUZZ_NOW_S;
	switch (what) {
	case FLIP_SIGNATURE:
		p.sig[pos % p.sig_len] ^= mask;
		break;
	case FLIP_CERTIFICATE:
		p.cert[pos % p.cert_len] ^= mask;
		break;
	case CHANGE_MESSAGE:
		if (message_len)
			message[pos % message_len] ^= mask;
		else
			message[message_len++] = mask;
		break;
	case CHANGE_CONTACT:
		if (p.sealed_len) {
			p.sealed[pos % p.sealed_len] ^= mask;
		} else {
			free(p.sealed);
			p.sealed_len = crypto_box_SEALBYTES + 1 + pos % 64;
			if (!(p.sealed = malloc(p.sealed_len)))
				fuzz_fail("out of memory");
			memset(p.sealed, mask, p.sealed_len);
		}
		break;
	case CLOCK:
		now = mask & 1 ? FUZZ_CERT_EXPIRES + pos : FUZZ_CERT_ISSUED - 301 - pos;
		break;
	case SIGNATURE_LENGTH:
		p.sig_len = pos % crypto_sign_BYTES;
		break;
	case SWAP_CERTIFICATE: {
		enum cert_kind other = kind == CERT_CALLEE ? CERT_BETA : CERT_CALLEE;
		free(p.cert);
		p.cert_len = fixed.cert_len[other];
		if (!(p.cert = malloc(p.cert_len)))
			fuzz_fail("out of memory");
		memcpy(p.cert, fixed.cert[other], p.cert_len);
		break;
	}
	default:
		break;
	}
	enc = pack_parts(&p, &len);
	if (what == TRUNCATE)
		len = pos % len;

	int rc = open_checked(enc, len, message, message_len, caller, now, want_public, &got);
	if (bad && rc == 0)
		fuzz_fail("circ_sip_response_open accepted a corrupted answer");
	if (!bad && rc != 0)
		fuzz_fail("circ_sip_response_open refused a genuine answer");
	if (rc == 0) {
		if (strcmp(got.callee, FUZZ_CALLEE) != 0 ||
		    (want_public && memcmp(got.callee_public, cert_key, 32) != 0))
			fuzz_fail("circ_sip_response_open accepted another callee than was signed");
		if (!has_contact != !got.contact ||
		    (got.contact && (got.contact_len != contact_len ||
				     memcmp(got.contact, contact, contact_len) != 0)))
			fuzz_fail("circ_sip_response_open opened another contact than was signed");
		free(got.contact);
	}
	free(enc);
	free(p.cert);
	free(p.sealed);
done:
	free(message);
	free(contact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	int mode = data[0] % 3;
	data++;
	size--;
	switch (mode) {
	case 0:
		decode(&anosip__v1__circuit_message__descriptor, data, size);
		decode(&anosip__v1__sip_routed__descriptor, data, size);
		decode(&anosip__v1__id_dir_envelope__descriptor, data, size);
		break;
	case 1:
		run_raw(data, size);
		break;
	default:
		run_real(data, size);
		break;
	}
	return 0;
}
