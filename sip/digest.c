/* Digest authentication (RFC 7616 with RFC 8760's SHA-256): HA1s,
 * stateless nonces, challenges, and checking an Authorization. MD5 comes
 * from libosipparser2 because libsodium has none (and SIPp 3.6 and baresip
 * 1.0 speak only MD5 digest); everything else is libsodium. */
#include "sip/sip_private.h"

#include <errno.h>
#include <osipparser2/osip_md5.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A nonce is base64url (no padding) of: issued time (8 bytes, big-endian),
 * 16 random bytes, HMAC-SHA256(key, time || random || realm). */
#define NONCE_TIME 8
#define NONCE_RANDOM 16
#define NONCE_HEAD (NONCE_TIME + NONCE_RANDOM)
#define NONCE_RAW (NONCE_HEAD + crypto_auth_hmacsha256_BYTES)
#define NONCE_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NONCE_TEXT (sodium_base64_ENCODED_LEN(NONCE_RAW, NONCE_VARIANT) - 1)
/* Clocks disagree a little; a nonce from further ahead was not ours. */
#define NONCE_FUTURE_S 30

/* No credential field is longer than this in practice. */
#define FIELD_MAX 512

/* H(parts[0] || parts[1] || ...), 16 or 32 bytes. */
static void digest_hash(enum sip_digest_algorithm alg, const char *const *parts, size_t n,
			uint8_t *out)
{
	if (alg == SIP_DIGEST_MD5) {
		osip_MD5_CTX md5;
		osip_MD5Init(&md5);
		for (size_t i = 0; i < n; i++)
			osip_MD5Update(&md5, (unsigned char *)parts[i], (unsigned)strlen(parts[i]));
		osip_MD5Final(out, &md5);
		sodium_memzero(&md5, sizeof(md5));
	} else {
		crypto_hash_sha256_state sha;
		crypto_hash_sha256_init(&sha);
		for (size_t i = 0; i < n; i++)
			crypto_hash_sha256_update(&sha, (const unsigned char *)parts[i],
						  strlen(parts[i]));
		crypto_hash_sha256_final(&sha, out);
		sodium_memzero(&sha, sizeof(sha));
	}
}

static size_t digest_len(enum sip_digest_algorithm alg)
{
	return alg == SIP_DIGEST_MD5 ? SIP_HA1_MD5_LEN : SIP_HA1_SHA256_LEN;
}

void sip_digest_ha1(enum sip_digest_algorithm alg, const char *username, const char *realm,
		    const char *password, uint8_t *out)
{
	const char *parts[5] = {username, ":", realm, ":", password};
	digest_hash(alg, parts, 5, out);
}

/* --- nonces --- */

static void nonce_mac(const uint8_t key[32], const uint8_t head[NONCE_HEAD], const char *realm,
		      uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, head, NONCE_HEAD);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)realm, strlen(realm));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

void sip_nonce_make(const uint8_t key[32], const char *realm, uint64_t now_unix, char *out,
		    size_t out_len)
{
	uint8_t raw[NONCE_RAW];
	if (out_len < NONCE_TEXT + 1) {
		if (out_len)
			out[0] = '\0';
		return;
	}
	for (int i = 0; i < NONCE_TIME; i++)
		raw[i] = (uint8_t)(now_unix >> (8 * (NONCE_TIME - 1 - i)));
	randombytes_buf(raw + NONCE_TIME, NONCE_RANDOM);
	nonce_mac(key, raw, realm ? realm : "", raw + NONCE_HEAD);
	sodium_bin2base64(out, out_len, raw, sizeof(raw), NONCE_VARIANT);
}

int sip_nonce_check(const uint8_t key[32], const char *realm, const char *nonce, uint64_t now_unix)
{
	uint8_t raw[NONCE_RAW], mac[crypto_auth_hmacsha256_BYTES];
	size_t bin_len = 0;
	if (!nonce || strnlen(nonce, NONCE_TEXT + 1) != NONCE_TEXT)
		return SIP_ERR_AUTH;
	/* libsodium refuses non-canonical base64 (stray bits), so one nonce
	 * has one spelling. */
	if (sodium_base642bin(raw, sizeof(raw), nonce, NONCE_TEXT, NULL, &bin_len, NULL,
			      NONCE_VARIANT) != 0 ||
	    bin_len != sizeof(raw))
		return SIP_ERR_AUTH;
	nonce_mac(key, raw, realm ? realm : "", mac);
	if (sodium_memcmp(mac, raw + NONCE_HEAD, sizeof(mac)) != 0)
		return SIP_ERR_AUTH;
	uint64_t issued = 0;
	for (int i = 0; i < NONCE_TIME; i++)
		issued = issued << 8 | raw[i];
	if (issued > now_unix && issued - now_unix > NONCE_FUTURE_S)
		return SIP_ERR_STALE;
	if (issued <= now_unix && now_unix - issued > SIP_NONCE_LIFETIME_S)
		return SIP_ERR_STALE;
	return 0;
}

/* --- challenges --- */

/* A value we put between quotes: no quote, backslash or control byte. */
static int quotable(const char *s)
{
	if (!s)
		return 0;
	size_t n = strnlen(s, FIELD_MAX + 1);
	if (n == 0 || n > FIELD_MAX || !sip_utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int sip_digest_challenge(enum sip_digest_algorithm alg, const char *realm, const char *nonce,
			 int stale, char **out)
{
	*out = NULL;
	if ((alg != SIP_DIGEST_MD5 && alg != SIP_DIGEST_SHA256) || !quotable(realm) ||
	    !quotable(nonce))
		return SIP_ERR_INVALID;
	const char *fmt = "Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s";
	const char *name = alg == SIP_DIGEST_MD5 ? "MD5" : "SHA-256";
	const char *tail = stale ? ", stale=true" : "";
	int n = snprintf(NULL, 0, fmt, realm, nonce, name, tail);
	if (n < 0)
		return SIP_ERR_INVALID;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	snprintf(s, (size_t)n + 1, fmt, realm, nonce, name, tail);
	*out = s;
	return 0;
}

/* --- credentials --- */

/* The value of one auth-param as libosip2 left it (quotes included),
 * unquoted into a malloc'd string; NULL when absent, empty, too long,
 * badly quoted or holding control bytes. */
static char *unquote(const char *v)
{
	if (!v)
		return NULL;
	size_t n = strnlen(v, FIELD_MAX + 3);
	if (n == 0 || n > FIELD_MAX + 2)
		return NULL;
	int quoted = v[0] == '"';
	if (quoted && (n < 2 || v[n - 1] != '"'))
		return NULL;
	const char *p = quoted ? v + 1 : v, *end = quoted ? v + n - 1 : v + n;
	char *s = malloc(n + 1), *w = s;
	if (!s)
		return NULL;
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (quoted && c == '\\') {
			if (++p == end)
				goto bad;
			c = (unsigned char)*p;
		} else if (c == '"' || (!quoted && (c == '\\' || c == ' ' || c == '\t'))) {
			goto bad;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		*w++ = (char)c;
	}
	*w = '\0';
	if (w == s || (size_t)(w - s) > FIELD_MAX || !sip_utf8_valid(s, (size_t)(w - s)))
		goto bad;
	return s;
bad:
	free(s);
	return NULL;
}

static int all_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

void sip_credentials_free(struct sip_credentials *c)
{
	if (!c)
		return;
	free(c->username);
	free(c->realm);
	free(c->nonce);
	free(c->uri);
	free(c->response);
	free(c->qop);
	free(c->nc);
	free(c->cnonce);
	memset(c, 0, sizeof(*c));
}

int sip_credentials_parse(const osip_message_t *m, struct sip_credentials *c)
{
	memset(c, 0, sizeof(*c));
	if (!m)
		return SIP_ERR_AUTH;
	osip_authorization_t *a = NULL;
	/* The macro takes the list by a non-const pointer; nothing is written. */
	if (osip_message_get_authorization((osip_message_t *)m, 0, &a) < 0 || !a || !a->auth_type ||
	    strcasecmp(a->auth_type, "Digest") != 0)
		return SIP_ERR_AUTH;

	c->username = unquote(a->username);
	c->realm = unquote(a->realm);
	c->nonce = unquote(a->nonce);
	c->uri = unquote(a->uri);
	c->response = unquote(a->response);
	c->qop = unquote(a->message_qop);
	c->nc = unquote(a->nonce_count);
	c->cnonce = unquote(a->cnonce);
	if (!c->username || !c->realm || !c->nonce || !c->uri || !c->response || !c->qop ||
	    !c->nc || !c->cnonce)
		goto bad;

	/* RFC 7616 §3.4: no algorithm means MD5. The -sess variants and
	 * anything else are not offered, so not accepted. */
	char *alg = a->algorithm ? unquote(a->algorithm) : NULL;
	if (a->algorithm && !alg)
		goto bad;
	if (!alg || strcasecmp(alg, "MD5") == 0)
		c->algorithm = SIP_DIGEST_MD5;
	else if (strcasecmp(alg, "SHA-256") == 0)
		c->algorithm = SIP_DIGEST_SHA256;
	else {
		free(alg);
		goto bad;
	}
	free(alg);

	if (strcmp(c->qop, "auth") != 0 || !all_hex(c->nc, 8) ||
	    !all_hex(c->response, 2 * digest_len(c->algorithm)))
		goto bad;
	return 0;
bad:
	sip_credentials_free(c);
	return SIP_ERR_AUTH;
}

int sip_digest_verify(const struct sip_credentials *c, const char *method, const uint8_t *ha1)
{
	if (!c || !method || !ha1 || !c->uri || !c->nonce || !c->nc || !c->cnonce || !c->qop ||
	    !c->response || (c->algorithm != SIP_DIGEST_MD5 && c->algorithm != SIP_DIGEST_SHA256))
		return SIP_ERR_AUTH;
	size_t hlen = digest_len(c->algorithm);
	uint8_t got[SIP_HA1_SHA256_LEN], want[SIP_HA1_SHA256_LEN], ha2[SIP_HA1_SHA256_LEN];
	char ha1_hex[2 * SIP_HA1_SHA256_LEN + 1], ha2_hex[2 * SIP_HA1_SHA256_LEN + 1];
	size_t bin_len = 0;
	if (strcmp(c->qop, "auth") != 0 || !all_hex(c->response, 2 * hlen) ||
	    sodium_hex2bin(got, sizeof(got), c->response, 2 * hlen, NULL, &bin_len, NULL) != 0 ||
	    bin_len != hlen)
		return SIP_ERR_AUTH;

	/* RFC 7616 §3.4.3: HA2 = H(method ":" uri); response = H(hex(HA1) ":"
	 * nonce ":" nc ":" cnonce ":" qop ":" hex(HA2)), hex in lower case. */
	const char *a2[3] = {method, ":", c->uri};
	digest_hash(c->algorithm, a2, 3, ha2);
	sodium_bin2hex(ha1_hex, sizeof(ha1_hex), ha1, hlen);
	sodium_bin2hex(ha2_hex, sizeof(ha2_hex), ha2, hlen);
	const char *kd[11] = {ha1_hex,	 ":", c->nonce, ":", c->nc,  ":",
			      c->cnonce, ":", c->qop,	":", ha2_hex};
	digest_hash(c->algorithm, kd, 11, want);
	int rc = sodium_memcmp(want, got, hlen) == 0 ? 0 : SIP_ERR_AUTH;
	sodium_memzero(ha1_hex, sizeof(ha1_hex));
	sodium_memzero(want, sizeof(want));
	return rc;
}
