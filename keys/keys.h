/* keys: a node's (or the authority's) long-term key pair and its files.
 *
 * A key pair is an Ed25519 signing key and an X25519 key-agreement key.
 * PREFIX.key holds the secrets (binary, mode 0600, refused when group- or
 * world-readable); PREFIX.pub holds the public halves as INI text that
 * operators paste into a topology file. */
#ifndef ANOSIP_KEYS_H
#define ANOSIP_KEYS_H

#include <stdint.h>

#define KEYS_SIGN_PUBLIC 32
#define KEYS_SIGN_SECRET 64
#define KEYS_KX_PUBLIC 32
#define KEYS_KX_SECRET 32

struct keys_public {
	uint8_t sign[KEYS_SIGN_PUBLIC];
	uint8_t kx[KEYS_KX_PUBLIC];
};

struct keys_pair {
	struct keys_public pub;
	uint8_t sign_secret[KEYS_SIGN_SECRET];
	uint8_t kx_secret[KEYS_KX_SECRET];
};

/* Fills a fresh key pair. keys_wipe() when done with any key pair. */
int keys_generate(struct keys_pair *k);
void keys_wipe(struct keys_pair *k);

/* Writes PREFIX.key (0600) and PREFIX.pub (0644). */
int keys_save(const char *prefix, const struct keys_pair *k);

/* Reads a secret key file; fails with -EPERM if its mode lets others read it,
 * -EINVAL if it is not a key file. */
int keys_load_secret(const char *path, struct keys_pair *k);

/* Reads a .pub file. */
int keys_load_public(const char *path, struct keys_public *out);

/* The .pub text for a public key (caller's buffer of KEYS_PUBLIC_TEXT_MAX). */
#define KEYS_PUBLIC_TEXT_MAX 256
void keys_public_text(const struct keys_public *pub, char *out);

#endif
