/* evil-peer: speaks the link protocol as a (stolen-key) neighbour, then
 * misbehaves, so integration tests can check that a node drops, counts and
 * closes — and that its other links are untouched.
 *
 *   evil-peer --dir TESTBED --as NODE --to NODE --attack NAME [--key FILE]
 *
 * --key signs the handshake with another key file than TESTBED/NODE.key
 * (an impostor); --as may then name a node that is not in the directory.
 *
 * Attacks: forged (random frame), replay (a valid frame sent twice),
 * truncated (half a frame, then close), oversize (continuation frames past
 * LINK_MESSAGE_MAX), badproto (a sealed message that is not a LinkMessage),
 * hoplimit (a routed message with hop limit 1 for a far node; the link
 * stays), unknownfield (a Routed carrying a field numbered 0), none
 * (handshake only). Exits 0 when the node closed the link
 * (or, for hoplimit/none, kept it), 1 otherwise. */
#include "keys/keys.h"
#include "link.pb-c.h"
#include "link/link.h"
#include "topo/topo.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads exactly len bytes within timeout_ms; 0 ok, -1 closed or error,
 * -2 timeout. */
static int read_exact(int fd, uint8_t *p, size_t len, int timeout_ms)
{
	while (len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, timeout_ms);
		if (pr == 0)
			return -2;
		if (pr < 0)
			return -1;
		ssize_t r = read(fd, p, len);
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Waits for the peer to close: 1 closed, 0 still open after timeout_ms. Frames
 * it sends meanwhile (keepalives) are read and ignored. */
static int wait_closed(int fd, int timeout_ms)
{
	uint8_t buf[4096];
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	while (util_now_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 100);
		if (pr > 0) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				return 1;
		}
	}
	return 0;
}

static void seal_raw(struct link_session *s, const uint8_t *plain, uint8_t out[LINK_FRAME_SIZE])
{
	uint8_t nonce[12] = {0};
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(s->tx_counter >> (8 * i));
	s->tx_counter++;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, LINK_FRAME_SIZE - LINK_TAG_SIZE,
						  NULL, 0, NULL, nonce, s->tx_key);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *as = NULL, *to = NULL, *attack = NULL, *key = NULL;
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'}, {"as", required_argument, NULL, 'a'},
	    {"to", required_argument, NULL, 't'},  {"attack", required_argument, NULL, 'k'},
	    {"key", required_argument, NULL, 'K'}, {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "d:a:t:k:K:", longopts, NULL)) != -1) {
		if (opt == 'd')
			dir = optarg;
		else if (opt == 'a')
			as = optarg;
		else if (opt == 't')
			to = optarg;
		else if (opt == 'k')
			attack = optarg;
		else if (opt == 'K')
			key = optarg;
	}
	if (!dir || !as || !to || !attack) {
		fprintf(stderr,
			"usage: evil-peer --dir TESTBED --as NODE --to NODE --attack NAME\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	char path[4096], err[512];
	struct keys_public auth;
	struct keys_pair keys;
	struct topo *t;
	snprintf(path, sizeof(path), "%s/authority.pub", dir);
	if (keys_load_public(path, &auth) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/directory.bin", dir);
	if (topo_directory_load(path, auth.sign, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (key)
		snprintf(path, sizeof(path), "%s", key);
	else
		snprintf(path, sizeof(path), "%s/%s.key", dir, as);
	if (keys_load_secret(path, &keys) < 0) {
		fprintf(stderr, "cannot load %s\n", path);
		return 2;
	}
	int target = topo_find(t, to);
	if (target < 0)
		return 2;
	struct sockaddr_storage addr;
	util_parse_address(t->nodes[target].address, &addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(struct sockaddr_in)) < 0) {
		perror("connect");
		return 2;
	}

	struct link_handshake hs;
	struct link_session s;
	uint8_t frame[LINK_FRAME_SIZE];
	link_handshake_initiator(&hs, &keys, as, to, t->nodes[target].keys.sign);
	link_handshake_write_1(&hs, frame);
	if (write_all(fd, frame, sizeof(frame)) < 0 || read_exact(fd, frame, sizeof(frame), 5000) ||
	    link_handshake_read_2(&hs, frame) < 0 || link_handshake_write_3(&hs, frame) < 0 ||
	    write_all(fd, frame, sizeof(frame)) < 0 || link_handshake_finish(&hs, &s) < 0) {
		fprintf(stderr, "evil-peer: handshake failed\n");
		return 1;
	}
	if (strcmp(attack, "impostor") == 0) {
		/* The node must refuse us after message 3: it closes. */
		int closed = wait_closed(fd, 3000);
		printf("evil-peer: impostor: node %s the link\n", closed ? "closed" : "kept");
		close(fd);
		keys_wipe(&keys);
		topo_free(t);
		return closed ? 0 : 1;
	}

	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	Anosip__V1__Keepalive ka = ANOSIP__V1__KEEPALIVE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	m.keepalive = &ka;
	uint8_t msg[64];
	size_t msg_len = anosip__v1__link_message__pack(&m, msg);
	uint8_t plain[LINK_FRAME_SIZE - LINK_TAG_SIZE];
	int expect_close = 1;

	if (strcmp(attack, "forged") == 0) {
		randombytes_buf(frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "replay") == 0) {
		link_seal_message(&s, msg, msg_len, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "truncated") == 0) {
		link_seal_message(&s, msg, msg_len, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame) / 2);
		shutdown(fd, SHUT_WR);
	} else if (strcmp(attack, "oversize") == 0) {
		/* Continuation frames, each full, never ending the message. */
		for (int i = 0; i <= LINK_FRAMES_MAX + 1; i++) {
			memset(plain, 0, sizeof(plain));
			plain[0] = 0x01; /* MORE */
			plain[1] = LINK_FRAME_PAYLOAD >> 8;
			plain[2] = LINK_FRAME_PAYLOAD & 0xff;
			seal_raw(&s, plain, frame);
			if (write_all(fd, frame, sizeof(frame)) < 0)
				break;
		}
	} else if (strcmp(attack, "badproto") == 0) {
		uint8_t junk[40];
		memset(junk, 0xff, sizeof(junk)); /* an endless varint: never decodes */
		link_seal_message(&s, junk, sizeof(junk), frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "hoplimit") == 0) {
		/* A routed message for the node farthest away, with one hop left. */
		int far = 0;
		for (int i = 0; i < t->n; i++)
			if (t->nodes[i].depth > t->nodes[far].depth)
				far = i;
		Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
		uint8_t sealed[100];
		randombytes_buf(sealed, sizeof(sealed));
		r.destination = t->nodes[far].id;
		r.hop_limit = 1;
		r.sealed.data = sealed;
		r.sealed.len = sizeof(sealed);
		Anosip__V1__LinkMessage rm = ANOSIP__V1__LINK_MESSAGE__INIT;
		rm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
		rm.routed = &r;
		uint8_t buf[512];
		size_t len = anosip__v1__link_message__pack(&rm, buf);
		uint8_t frames[2 * LINK_FRAME_SIZE];
		long w = link_seal_message(&s, buf, len, frames, sizeof(frames));
		write_all(fd, frames, (size_t)w);
		expect_close = 0;
	} else if (strcmp(attack, "unknownfield") == 0) {
		/* A Routed with a field numbered 0 in a two-byte tag: it decodes,
		 * but re-encoding it would produce bytes no node reads. The node
		 * must refuse it rather than forward it. */
		Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
		uint8_t inner[256], outer[300], frames[2 * LINK_FRAME_SIZE];
		r.destination = t->nodes[0].id;
		r.hop_limit = 5;
		size_t n = anosip__v1__routed__pack(&r, inner);
		inner[n++] = 0x80;
		inner[n++] = 0x00;
		inner[n++] = 0x00;
		outer[0] = 0x12; /* LinkMessage.routed, length-delimited */
		outer[1] = (uint8_t)n;
		memcpy(outer + 2, inner, n);
		long w = link_seal_message(&s, outer, n + 2, frames, sizeof(frames));
		write_all(fd, frames, (size_t)w);
	} else if (strcmp(attack, "none") == 0) {
		expect_close = 0;
	} else {
		fprintf(stderr, "evil-peer: unknown attack %s\n", attack);
		return 2;
	}
	int closed = wait_closed(fd, expect_close ? 3000 : 1000);
	printf("evil-peer: attack %s: node %s the link\n", attack, closed ? "closed" : "kept");
	close(fd);
	link_session_wipe(&s);
	keys_wipe(&keys);
	topo_free(t);
	return closed == expect_close ? 0 : 1;
}
