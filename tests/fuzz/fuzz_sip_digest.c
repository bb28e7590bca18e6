/* Fuzzes digest authentication (sip/digest.c): reading an Authorization
 * (libosip2's reader under sip_credentials_parse), checking a response,
 * and checking nonces.
 *
 * The first byte picks a mode, the rest is the data:
 *   0  header: the data is the value of an Authorization header, set on a
 *      fixed REGISTER with libosip2's own setter (so values sip_parse
 *      would refuse, CR and LF included, reach the reader too);
 *   1  message: the data is put into a REGISTER as its Authorization line
 *      and the whole message goes through sip_parse;
 *   2  nonce: issued and checking time (8 bytes each, little-endian),
 *      then a nonce text: a nonce made at the first time must be judged
 *      fresh or stale at the second exactly by the rules, and the text
 *      must be refused as forged (the key is the harness's);
 *   3  challenge: the data is realm and nonce (split at the first NUL)
 *      for sip_digest_challenge.
 * Credentials that parse must hold their invariants (every field set,
 * nc 8 hex digits, response of the algorithm's length) and are verified
 * against a fixed HA1 for the method; a response that verifies must be
 * the one an independent computation gives. */
#include "tests/fuzz/harness.h"

#include "sip/sip.h"

#include <osipparser2/osip_md5.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REALM "anosip"
#define PASSWORD "s3cret"
#define MESSAGE_HEAD                                                                               \
	"REGISTER sip:anosip.test SIP/2.0\r\n"                                                     \
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfuzz\r\n"                                        \
	"From: <sip:" FUZZ_NICKNAME "@anosip.test>;tag=1\r\n"                                      \
	"To: <sip:" FUZZ_NICKNAME "@anosip.test>\r\n"                                              \
	"Call-ID: fuzz\r\nCSeq: 2 REGISTER\r\n"
#define MESSAGE_TAIL "Content-Length: 0\r\n\r\n"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures(); /* sodium_init */
	sip_init();
	return 0;
}

static const uint8_t *nonce_key(void)
{
	static uint8_t key[32];
	memset(key, 0x4e, sizeof(key));
	return key;
}

/* hex(H(text)) the way a client computes it, not through sip/digest.c. */
static void client_hash(enum sip_digest_algorithm alg, const char *text, char *out)
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

static void check_credentials(const osip_message_t *m)
{
	struct sip_credentials c;
	if (sip_credentials_parse(m, &c) != 0) {
		if (c.username || c.response || c.nonce)
			fuzz_fail("sip_credentials_parse failed but left fields set");
		return;
	}
	size_t hlen = c.algorithm == SIP_DIGEST_MD5 ? 16 : 32;
	if (!c.username || !c.realm || !c.nonce || !c.uri || !c.cnonce || !c.qop || !c.nc ||
	    !c.response || strlen(c.nc) != 8 || strlen(c.response) != 2 * hlen ||
	    strcmp(c.qop, "auth") != 0)
		fuzz_fail("sip_credentials_parse accepted incomplete credentials");
	(void)sip_nonce_check(nonce_key(), REALM, c.nonce, FUZZ_NOW_S);

	uint8_t ha1[32];
	sip_digest_ha1(c.algorithm, c.username, REALM, PASSWORD, ha1);
	int rc = sip_digest_verify(&c, "REGISTER", ha1);

	/* The response the client should have sent. */
	char ha1_hex[65], ha2_hex[65], want[65];
	size_t n1 = strlen(c.uri) + 16, n2 = strlen(c.nonce) + strlen(c.cnonce) + 200;
	char *a2 = malloc(n1), *kd = malloc(n2);
	if (!a2 || !kd)
		fuzz_fail("out of memory");
	sodium_bin2hex(ha1_hex, 2 * hlen + 1, ha1, hlen);
	snprintf(a2, n1, "REGISTER:%s", c.uri);
	client_hash(c.algorithm, a2, ha2_hex);
	snprintf(kd, n2, "%s:%s:%s:%s:auth:%s", ha1_hex, c.nonce, c.nc, c.cnonce, ha2_hex);
	client_hash(c.algorithm, kd, want);
	if ((rc == 0) != (strcasecmp(want, c.response) == 0))
		fuzz_fail("sip_digest_verify disagrees with the RFC 7616 computation");
	free(a2);
	free(kd);
	sip_credentials_free(&c);
}

static void run_header(const char *value)
{
	osip_message_t *m = NULL;
	const char text[] = MESSAGE_HEAD MESSAGE_TAIL;
	if (sip_parse(text, sizeof(text) - 1, &m) != 0)
		fuzz_fail("the fixed REGISTER does not parse");
	if (osip_message_set_authorization(m, value) == 0)
		check_credentials(m);
	osip_message_free(m);
}

static void run_message(const uint8_t *data, size_t size)
{
	static const char head[] = MESSAGE_HEAD "Authorization: ";
	static const char tail[] = "\r\n" MESSAGE_TAIL;
	size_t len = sizeof(head) - 1 + size + sizeof(tail) - 1;
	char *text = malloc(len);
	if (!text)
		return;
	memcpy(text, head, sizeof(head) - 1);
	if (size)
		memcpy(text + sizeof(head) - 1, data, size);
	memcpy(text + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	osip_message_t *m = NULL;
	if (sip_parse(text, len, &m) == 0)
		check_credentials(m);
	osip_message_free(m);
	free(text);
}

static void run_nonce(const uint8_t *data, size_t size)
{
	uint8_t issued_le[8], now_le[8];
	fuzz_take(&data, &size, issued_le, sizeof(issued_le));
	fuzz_take(&data, &size, now_le, sizeof(now_le));
	uint64_t issued = fuzz_le(issued_le, 8), now = fuzz_le(now_le, 8);

	/* A nonce we made: fresh or stale exactly by the rules. */
	char made[96];
	sip_nonce_make(nonce_key(), REALM, issued, made, sizeof(made));
	int want = (issued > now && issued - now > 30) ||
			   (issued <= now && now - issued > SIP_NONCE_LIFETIME_S)
		       ? SIP_ERR_STALE
		       : 0;
	if (sip_nonce_check(nonce_key(), REALM, made, now) != want)
		fuzz_fail("sip_nonce_check misjudged the age of a genuine nonce");
	if (sip_nonce_check(nonce_key(), "other", made, now) != SIP_ERR_AUTH)
		fuzz_fail("a nonce passed for another realm");

	/* Anything else is a forgery (no one here knows the key). */
	char *text = malloc(size + 1);
	if (!text)
		return;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	if (strcmp(text, made) != 0 &&
	    sip_nonce_check(nonce_key(), REALM, text, now) != SIP_ERR_AUTH)
		fuzz_fail("sip_nonce_check accepted a nonce the key did not make");
	free(text);
}

static void run_challenge(size_t size, const char *text)
{
	const char *realm = text;
	size_t rlen = strlen(text);
	const char *nonce = rlen < size ? text + rlen + 1 : "";
	for (int stale = 0; stale < 2; stale++) {
		char *out = NULL;
		int rc = sip_digest_challenge(stale ? SIP_DIGEST_SHA256 : SIP_DIGEST_MD5, realm,
					      nonce, stale, &out);
		if (rc == 0 && (!out || strpbrk(out, "\r\n")))
			fuzz_fail("a challenge holds a line break");
		if (rc != 0 && out)
			fuzz_fail("a failed challenge left output");
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] & 3;
	data++;
	size--;
	/* The string readers need a terminated copy. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	switch (mode) {
	case 0:
		run_header(text);
		break;
	case 1:
		run_message(data, size);
		break;
	case 2:
		run_nonce(data, size);
		break;
	case 3:
		run_challenge(size, text);
		break;
	}
	free(text);
	return 0;
}
