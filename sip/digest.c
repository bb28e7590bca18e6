/* Digest authentication (RFC 7616 with RFC 8760's SHA-256): HA1s,
 * stateless nonces, challenges, and checking an Authorization. MD5 comes
 * from libosipparser2 (libsodium has none); everything else is libsodium. */
#include "sip/sip.h"

#include <osipparser2/osip_md5.h>
#include <sodium.h>
#include <string.h>

void sip_digest_ha1(enum sip_digest_algorithm alg, const char *username, const char *realm,
		    const char *password, uint8_t *out)
{
	const char *parts[5] = {username, ":", realm, ":", password};
	if (alg == SIP_DIGEST_MD5) {
		osip_MD5_CTX md5;
		osip_MD5Init(&md5);
		for (int i = 0; i < 5; i++)
			osip_MD5Update(&md5, (unsigned char *)parts[i], (unsigned)strlen(parts[i]));
		osip_MD5Final(out, &md5);
		sodium_memzero(&md5, sizeof(md5));
	} else {
		crypto_hash_sha256_state sha;
		crypto_hash_sha256_init(&sha);
		for (int i = 0; i < 5; i++)
			crypto_hash_sha256_update(&sha, (const unsigned char *)parts[i],
						  strlen(parts[i]));
		crypto_hash_sha256_final(&sha, out);
		sodium_memzero(&sha, sizeof(sha));
	}
}
