#include "keys/keys.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Secret file layout: magic, Ed25519 seed, X25519 secret. Fixed length, so
 * reading it needs no parser beyond the length check. */
static const char secret_magic[8] = {'A', 'N', 'O', 'S', 'I', 'P', 'K', '1'};
#define SECRET_FILE_LEN (8 + 32 + KEYS_KX_SECRET)

int keys_generate(struct keys_pair *k)
{
	if (sodium_init() < 0)
		return -EIO;
	crypto_sign_keypair(k->pub.sign, k->sign_secret);
	crypto_box_keypair(k->pub.kx, k->kx_secret);
	return 0;
}

void keys_wipe(struct keys_pair *k)
{
	sodium_memzero(k, sizeof(*k));
}

void keys_public_text(const struct keys_public *pub, char *out)
{
	char sign_hex[2 * KEYS_SIGN_PUBLIC + 1], kx_hex[2 * KEYS_KX_PUBLIC + 1];
	util_hex_encode(pub->sign, sizeof(pub->sign), sign_hex);
	util_hex_encode(pub->kx, sizeof(pub->kx), kx_hex);
	snprintf(out, KEYS_PUBLIC_TEXT_MAX,
		 "# anosip public keys\n[keys]\nsign_public = %s\nkx_public = %s\n", sign_hex,
		 kx_hex);
}

int keys_save(const char *prefix, const struct keys_pair *k)
{
	char path[4096];
	uint8_t secret[SECRET_FILE_LEN];
	int err;

	memcpy(secret, secret_magic, 8);
	/* libsodium's Ed25519 secret key is seed || public key. */
	memcpy(secret + 8, k->sign_secret, 32);
	memcpy(secret + 40, k->kx_secret, KEYS_KX_SECRET);
	if (snprintf(path, sizeof(path), "%s.key", prefix) >= (int)sizeof(path)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	err = util_write_file(path, secret, sizeof(secret), 0600);
	if (err < 0)
		goto out;

	char text[KEYS_PUBLIC_TEXT_MAX];
	keys_public_text(&k->pub, text);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	err = util_write_file(path, text, strlen(text), 0644);
out:
	sodium_memzero(secret, sizeof(secret));
	return err;
}

int keys_load_secret(const char *path, struct keys_pair *k)
{
	uint8_t buf[SECRET_FILE_LEN + 1];
	size_t len = 0;
	int err;
	/* The mode is checked on the file we read, not on a name that could
	 * point elsewhere by the time we open it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (st.st_mode & 077) {
		err = -EPERM;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != SECRET_FILE_LEN) {
		err = -EINVAL;
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (sodium_init() < 0) {
		err = -EIO;
		goto out;
	}
	if (len != SECRET_FILE_LEN || memcmp(buf, secret_magic, 8) != 0) {
		err = -EINVAL;
		goto out;
	}
	crypto_sign_seed_keypair(k->pub.sign, k->sign_secret, buf + 8);
	memcpy(k->kx_secret, buf + 40, KEYS_KX_SECRET);
	crypto_scalarmult_base(k->pub.kx, k->kx_secret);
	err = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return err;
}

struct public_parse {
	struct keys_public *out;
	int have_sign, have_kx, bad;
};

static int public_handler(void *user, const char *section, const char *name, const char *value)
{
	struct public_parse *p = user;
	if (strcmp(section, "keys") != 0)
		return 1;
	if (strcmp(name, "sign_public") == 0) {
		p->have_sign = util_hex_decode(value, p->out->sign, KEYS_SIGN_PUBLIC) == 0;
		p->bad |= !p->have_sign;
	} else if (strcmp(name, "kx_public") == 0) {
		p->have_kx = util_hex_decode(value, p->out->kx, KEYS_KX_PUBLIC) == 0;
		p->bad |= !p->have_kx;
	}
	return 1;
}

int keys_load_public(const char *path, struct keys_public *out)
{
	struct public_parse p = {.out = out};
	int r = ini_parse(path, public_handler, &p);
	if (r == -1)
		return -ENOENT;
	if (r != 0 || p.bad || !p.have_sign || !p.have_kx)
		return -EINVAL;
	return 0;
}
