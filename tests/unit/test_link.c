/* link: the handshake (who may talk, and on which keys) and the frame codec
 * (fixed-size sealed frames; anything forged, replayed, reordered or
 * oversized is refused). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "keys/keys.h"
#include "link/link.h"
#include "tests/unit/suites.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME LINK_FRAME_SIZE
#define PLAIN (LINK_FRAME_SIZE - LINK_TAG_SIZE)

/* --- handshake --- */

/* Two nodes that know each other, and a stranger. */
struct fixture {
	struct keys_pair alpha, beta, stranger;
	int lookups;
	int refuse; /* the lookup turns everyone away */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || keys_generate(&f->alpha) || keys_generate(&f->beta) ||
	    keys_generate(&f->stranger))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	keys_wipe(&f->alpha);
	keys_wipe(&f->beta);
	keys_wipe(&f->stranger);
	free(f);
	return 0;
}

/* The responder's directory: it accepts "alpha" only. */
static int lookup(void *ctx, const char *id, uint8_t sign_public[32])
{
	struct fixture *f = ctx;
	f->lookups++;
	if (f->refuse || strcmp(id, "alpha") != 0)
		return -1;
	memcpy(sign_public, f->alpha.pub.sign, 32);
	return 0;
}

/* One handshake in flight: both sides and the three messages. */
struct exchange {
	struct link_handshake i, r;
	uint8_t m1[FRAME], m2[FRAME], m3[FRAME];
};

/* alpha dials beta (expecting `peer_id` with key `peer_sign`). */
static void start(struct fixture *f, struct exchange *x, const struct keys_pair *initiator_keys,
		  const char *peer_id, const uint8_t *peer_sign, int allow_anonymous)
{
	memset(x, 0, sizeof(*x));
	f->lookups = 0;
	link_handshake_initiator(&x->i, initiator_keys, initiator_keys ? "alpha" : NULL, peer_id,
				 peer_sign);
	link_handshake_responder(&x->r, &f->beta, "beta", lookup, f, allow_anonymous);
}

/* Runs messages 1 and 2; returns what the initiator made of message 2. */
static int through_2(struct exchange *x)
{
	assert_int_equal(link_handshake_write_1(&x->i, x->m1), 0);
	assert_int_equal(link_handshake_read_1(&x->r, x->m1), 0);
	assert_int_equal(link_handshake_write_2(&x->r, x->m2), 0);
	return link_handshake_read_2(&x->i, x->m2);
}

/* The whole handshake; returns what the responder made of message 3. */
static int through_3(struct exchange *x)
{
	assert_int_equal(through_2(x), 0);
	assert_int_equal(link_handshake_write_3(&x->i, x->m3), 0);
	return link_handshake_read_3(&x->r, x->m3);
}

static void finish(struct exchange *x, struct link_session *si, struct link_session *sr)
{
	assert_int_equal(link_handshake_finish(&x->i, si), 0);
	assert_int_equal(link_handshake_finish(&x->r, sr), 0);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1664525u + 1013904223u;
		buf[i] = (uint8_t)(seed >> 24);
	}
}

/* Sends one message from tx to rx and checks it arrives intact. */
static void send_one(struct link_session *tx, struct link_session *rx, size_t len, uint32_t seed)
{
	size_t frames = link_frames_for(len);
	uint8_t *msg = malloc(len ? len : 1);
	uint8_t *wire = malloc(frames * FRAME);
	assert_non_null(msg);
	assert_non_null(wire);
	fill(msg, len, seed);
	long n = link_seal_message(tx, msg, len, wire, frames * FRAME);
	if (n != (long)(frames * FRAME))
		fail_msg("sealing %zu bytes gave %ld, want %zu frames", len, n, frames);
	const uint8_t *got = NULL;
	size_t got_len = 0;
	for (size_t k = 0; k < frames; k++) {
		int rc = link_open_frame(rx, wire + k * FRAME, &got, &got_len);
		int want = k + 1 == frames ? 1 : 0;
		if (rc != want)
			fail_msg("%zu bytes, frame %zu of %zu: open gave %d (%s)", len, k + 1,
				 frames, rc, link_strerror(rc));
	}
	assert_int_equal(got_len, len);
	if (len)
		assert_memory_equal(got, msg, len);
	free(msg);
	free(wire);
}

static void test_handshake_and_messages_both_ways(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	struct link_session si, sr;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_3(&x), 0);
	finish(&x, &si, &sr);
	assert_string_equal(x.i.peer_id, "beta");
	assert_string_equal(x.r.peer_id, "alpha");
	assert_int_equal(f->lookups, 1);
	/* Each side's send key is the other's receive key, and they differ. */
	assert_memory_equal(si.tx_key, sr.rx_key, 32);
	assert_memory_equal(si.rx_key, sr.tx_key, 32);
	assert_memory_not_equal(si.tx_key, si.rx_key, 32);
	/* The handshake's secrets are gone. */
	static const uint8_t zero[32];
	assert_memory_equal(x.i.eph_secret, zero, 32);
	assert_memory_equal(x.r.eph_secret, zero, 32);
	assert_memory_equal(x.i.chaining_key, zero, 32);
	assert_memory_equal(x.r.chaining_key, zero, 32);

	static const size_t sizes[] = {0, 1, 100, LINK_FRAME_PAYLOAD, 3000, 1};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		send_one(&si, &sr, sizes[k], (uint32_t)k);
		send_one(&sr, &si, sizes[k] + 7, (uint32_t)k + 100);
	}
	send_one(&si, &sr, 20, 1);
	send_one(&si, &sr, 20, 2);
	send_one(&sr, &si, 20, 3);
	link_session_wipe(&si);
	link_session_wipe(&sr);
	assert_null(si.partial);
}

static void test_handshake_unknown_initiator(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	f->refuse = 1;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_3(&x), LINK_ERR_UNKNOWN_PEER);
	f->refuse = 0;
	struct link_session s;
	assert_int_equal(link_handshake_finish(&x.r, &s), LINK_ERR_STATE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

/* An initiator with valid keys that the responder's directory lacks. */
static void test_handshake_stranger_refused(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	memset(&x, 0, sizeof(x));
	link_handshake_initiator(&x.i, &f->stranger, "stranger", "beta", f->beta.pub.sign);
	link_handshake_responder(&x.r, &f->beta, "beta", lookup, f, 0);
	assert_int_equal(through_3(&x), LINK_ERR_UNKNOWN_PEER);
	/* Claiming to be alpha with the stranger's key fails the signature. */
	link_handshake_initiator(&x.i, &f->stranger, "alpha", "beta", f->beta.pub.sign);
	link_handshake_responder(&x.r, &f->beta, "beta", lookup, f, 0);
	assert_int_equal(through_3(&x), LINK_ERR_BAD_SIGNATURE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

static void test_handshake_wrong_responder_key(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	start(f, &x, &f->alpha, "beta", f->stranger.pub.sign, 0);
	assert_int_equal(through_2(&x), LINK_ERR_BAD_SIGNATURE);
	assert_int_equal(link_handshake_write_3(&x.i, x.m3), LINK_ERR_STATE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

static void test_handshake_wrong_responder_id(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	start(f, &x, &f->alpha, "gamma", f->beta.pub.sign, 0);
	assert_int_equal(through_2(&x), LINK_ERR_WRONG_PEER);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

/* Every single-bit change to message 2 is caught by the initiator. */
static void test_handshake_message_2_tampered(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(link_handshake_write_1(&x.i, x.m1), 0);
	assert_int_equal(link_handshake_read_1(&x.r, x.m1), 0);
	assert_int_equal(link_handshake_write_2(&x.r, x.m2), 0);
	for (int bit = 0; bit < FRAME * 8; bit++) {
		struct link_handshake i = x.i;
		x.m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = link_handshake_read_2(&i, x.m2);
		x.m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != LINK_ERR_AUTH)
			fail_msg("message 2, bit %d flipped: %d (%s)", bit, rc, link_strerror(rc));
		link_handshake_wipe(&i);
	}
	/* The untouched message still works. */
	assert_int_equal(link_handshake_read_2(&x.i, x.m2), 0);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

/* Every single-bit change to message 3 is caught by the responder. */
static void test_handshake_message_3_tampered(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_2(&x), 0);
	assert_int_equal(link_handshake_write_3(&x.i, x.m3), 0);
	for (int bit = 0; bit < FRAME * 8; bit++) {
		struct link_handshake r = x.r;
		x.m3[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = link_handshake_read_3(&r, x.m3);
		x.m3[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (rc != LINK_ERR_AUTH)
			fail_msg("message 3, bit %d flipped: %d (%s)", bit, rc, link_strerror(rc));
		link_handshake_wipe(&r);
	}
	assert_int_equal(link_handshake_read_3(&x.r, x.m3), 0);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

/* Message 1 replayed into a second responder: the responder's fresh
 * ephemeral key makes a second, unrelated session, and messages of one
 * handshake do not fit the other. */
static void test_handshake_replayed_message_1(void **state)
{
	struct fixture *f = *state;
	struct exchange a, b;
	start(f, &a, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(link_handshake_write_1(&a.i, a.m1), 0);
	/* b is a copy of the same initiator, its message 1 replayed. */
	memset(&b, 0, sizeof(b));
	b.i = a.i;
	memcpy(b.m1, a.m1, FRAME);
	link_handshake_responder(&b.r, &f->beta, "beta", lookup, f, 0);
	assert_int_equal(link_handshake_read_1(&a.r, a.m1), 0);
	assert_int_equal(link_handshake_read_1(&b.r, b.m1), 0);
	assert_int_equal(link_handshake_write_2(&a.r, a.m2), 0);
	assert_int_equal(link_handshake_write_2(&b.r, b.m2), 0);
	assert_memory_not_equal(a.m2, b.m2, 32);
	assert_int_equal(link_handshake_read_2(&a.i, a.m2), 0);
	assert_int_equal(link_handshake_read_2(&b.i, b.m2), 0);
	assert_int_equal(link_handshake_write_3(&a.i, a.m3), 0);
	assert_int_equal(link_handshake_write_3(&b.i, b.m3), 0);
	/* Crossed message 3s are refused. */
	struct link_handshake cross = b.r;
	assert_int_equal(link_handshake_read_3(&cross, a.m3), LINK_ERR_AUTH);
	link_handshake_wipe(&cross);
	assert_int_equal(link_handshake_read_3(&a.r, a.m3), 0);
	assert_int_equal(link_handshake_read_3(&b.r, b.m3), 0);
	struct link_session ai, ar, bi, br;
	finish(&a, &ai, &ar);
	finish(&b, &bi, &br);
	assert_memory_not_equal(ai.tx_key, bi.tx_key, 32);
	assert_memory_not_equal(ai.rx_key, bi.rx_key, 32);
	assert_memory_not_equal(ai.tx_key, bi.rx_key, 32);
	/* A frame of session a means nothing in session b. */
	uint8_t wire[FRAME];
	const uint8_t *msg;
	size_t len;
	assert_int_equal(link_seal_message(&ai, (const uint8_t *)"hi", 2, wire, FRAME), FRAME);
	assert_int_equal(link_open_frame(&br, wire, &msg, &len), LINK_ERR_AUTH);
	assert_int_equal(link_open_frame(&ar, wire, &msg, &len), 1);
	link_session_wipe(&ai);
	link_session_wipe(&ar);
	link_session_wipe(&bi);
	link_session_wipe(&br);
}

/* Two handshakes between the same nodes never share keys. */
static void test_handshake_fresh_keys_each_time(void **state)
{
	struct fixture *f = *state;
	struct exchange a, b;
	struct link_session ai, ar, bi, br;
	start(f, &a, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_3(&a), 0);
	finish(&a, &ai, &ar);
	start(f, &b, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_3(&b), 0);
	finish(&b, &bi, &br);
	assert_memory_not_equal(a.m1, b.m1, 32);
	assert_memory_not_equal(ai.tx_key, bi.tx_key, 32);
	assert_memory_not_equal(ai.rx_key, bi.rx_key, 32);
	link_session_wipe(&ai);
	link_session_wipe(&ar);
	link_session_wipe(&bi);
	link_session_wipe(&br);
}

/* A low-order ephemeral key (here all zeros) gives no shared secret. */
static void test_handshake_low_order_key_refused(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	memset(x.m1, 0, FRAME);
	assert_int_equal(link_handshake_read_1(&x.r, x.m1), LINK_ERR_AUTH);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

static void test_handshake_anonymous_initiator(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	struct link_session si, sr;
	/* Refused where anonymous initiators are not allowed... */
	f->lookups = 0;
	start(f, &x, NULL, "beta", f->beta.pub.sign, 0);
	assert_int_equal(through_3(&x), LINK_ERR_UNKNOWN_PEER);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
	/* ...accepted where they are, without asking the directory. */
	start(f, &x, NULL, "beta", f->beta.pub.sign, 1);
	assert_int_equal(through_3(&x), 0);
	assert_int_equal(f->lookups, 0);
	finish(&x, &si, &sr);
	assert_string_equal(x.r.peer_id, "");
	assert_string_equal(x.i.peer_id, "beta");
	send_one(&si, &sr, 1000, 5);
	send_one(&sr, &si, 10, 6);
	link_session_wipe(&si);
	link_session_wipe(&sr);
	/* The anonymous side still checks the responder. */
	start(f, &x, NULL, "beta", f->stranger.pub.sign, 1);
	assert_int_equal(through_2(&x), LINK_ERR_BAD_SIGNATURE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

static void test_handshake_steps_out_of_order(void **state)
{
	struct fixture *f = *state;
	struct exchange x;
	struct link_session s;
	start(f, &x, &f->alpha, "beta", f->beta.pub.sign, 0);
	assert_int_equal(link_handshake_read_1(&x.i, x.m1), LINK_ERR_STATE);
	assert_int_equal(link_handshake_write_2(&x.i, x.m2), LINK_ERR_STATE);
	assert_int_equal(link_handshake_write_1(&x.r, x.m1), LINK_ERR_STATE);
	assert_int_equal(link_handshake_write_2(&x.r, x.m2), LINK_ERR_STATE);
	assert_int_equal(link_handshake_read_3(&x.r, x.m3), LINK_ERR_STATE);
	assert_int_equal(link_handshake_write_3(&x.i, x.m3), LINK_ERR_STATE);
	assert_int_equal(link_handshake_finish(&x.i, &s), LINK_ERR_STATE);
	assert_int_equal(link_handshake_write_1(&x.i, x.m1), 0);
	assert_int_equal(link_handshake_write_1(&x.i, x.m1), LINK_ERR_STATE);
	assert_int_equal(link_handshake_read_1(&x.r, x.m1), 0);
	assert_int_equal(link_handshake_read_1(&x.r, x.m1), LINK_ERR_STATE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
	/* A responder without keys cannot answer. */
	link_handshake_initiator(&x.i, &f->alpha, "alpha", "beta", f->beta.pub.sign);
	link_handshake_responder(&x.r, NULL, "beta", lookup, f, 1);
	assert_int_equal(link_handshake_write_1(&x.i, x.m1), 0);
	assert_int_equal(link_handshake_read_1(&x.r, x.m1), 0);
	assert_int_equal(link_handshake_write_2(&x.r, x.m2), LINK_ERR_STATE);
	link_handshake_wipe(&x.i);
	link_handshake_wipe(&x.r);
}

static void test_strerror(void **state)
{
	(void)state;
	static const int codes[] = {
	    LINK_OK,	      LINK_ERR_AUTH,	     LINK_ERR_FORMAT,	     LINK_ERR_OVERSIZE,
	    LINK_ERR_VERSION, LINK_ERR_UNKNOWN_PEER, LINK_ERR_BAD_SIGNATURE, LINK_ERR_WRONG_PEER,
	    LINK_ERR_STATE};
	const char *unknown = link_strerror(12345);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_non_null(link_strerror(codes[i]));
		assert_string_not_equal(link_strerror(codes[i]), unknown);
	}
}

/* --- frames --- */

/* Two ends of a link with fixed keys: a sends with k1, b with k2. */
static void session_pair(struct link_session *a, struct link_session *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < 32; i++) {
		a->tx_key[i] = b->rx_key[i] = (uint8_t)(i + 1);
		a->rx_key[i] = b->tx_key[i] = (uint8_t)(0xA0 ^ i);
	}
}

static void test_frames_for(void **state)
{
	(void)state;
	assert_int_equal(LINK_FRAME_PAYLOAD, 493);
	assert_int_equal(link_frames_for(0), 1);
	assert_int_equal(link_frames_for(1), 1);
	assert_int_equal(link_frames_for(LINK_FRAME_PAYLOAD - 1), 1);
	assert_int_equal(link_frames_for(LINK_FRAME_PAYLOAD), 1);
	assert_int_equal(link_frames_for(LINK_FRAME_PAYLOAD + 1), 2);
	assert_int_equal(link_frames_for(2 * LINK_FRAME_PAYLOAD), 2);
	assert_int_equal(link_frames_for(2 * LINK_FRAME_PAYLOAD + 1), 3);
	assert_int_equal(link_frames_for(LINK_MESSAGE_MAX), LINK_FRAMES_MAX);
}

static void test_round_trip_every_small_size(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	for (size_t len = 0; len <= 3 * LINK_FRAME_PAYLOAD + 1; len++)
		send_one(&a, &b, len, (uint32_t)len);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void test_round_trip_large_sizes(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	static const size_t sizes[] = {4096,
				       10000,
				       LINK_MESSAGE_MAX - LINK_FRAME_PAYLOAD,
				       LINK_MESSAGE_MAX - 1,
				       LINK_MESSAGE_MAX,
				       17,
				       LINK_MESSAGE_MAX};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		send_one(&a, &b, sizes[i], (uint32_t)i);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void test_fragment_boundaries(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	static const size_t sizes[] = {LINK_FRAME_PAYLOAD - 1, LINK_FRAME_PAYLOAD,
				       LINK_FRAME_PAYLOAD + 1, 2 * LINK_FRAME_PAYLOAD - 1,
				       2 * LINK_FRAME_PAYLOAD, 2 * LINK_FRAME_PAYLOAD + 1,
				       LINK_MESSAGE_MAX - 1};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* The seal writes exactly the frames it promises, no more. */
		size_t frames = link_frames_for(sizes[i]);
		size_t cap = (frames + 1) * FRAME;
		uint8_t *msg = calloc(1, sizes[i]);
		uint8_t *wire = malloc(cap);
		assert_non_null(msg);
		assert_non_null(wire);
		memset(wire, 0x5A, cap);
		assert_int_equal(link_seal_message(&a, msg, sizes[i], wire, cap), frames * FRAME);
		for (size_t k = frames * FRAME; k < cap; k++)
			assert_int_equal(wire[k], 0x5A);
		/* Too little room is refused before anything is written. */
		uint64_t counter = a.tx_counter;
		assert_int_equal(link_seal_message(&a, msg, sizes[i], wire, frames * FRAME - 1),
				 LINK_ERR_STATE);
		assert_int_equal(a.tx_counter, counter);
		free(msg);
		free(wire);
	}
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void test_seal_oversize(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	size_t cap = (LINK_FRAMES_MAX + 2) * FRAME;
	uint8_t *msg = calloc(1, LINK_MESSAGE_MAX + 1);
	uint8_t *wire = malloc(cap);
	assert_non_null(msg);
	assert_non_null(wire);
	assert_int_equal(link_seal_message(&a, msg, LINK_MESSAGE_MAX + 1, wire, cap),
			 LINK_ERR_OVERSIZE);
	assert_int_equal(a.tx_counter, 0);
	assert_int_equal(link_seal_message(&a, msg, LINK_MESSAGE_MAX, wire, cap),
			 LINK_FRAMES_MAX * FRAME);
	free(msg);
	free(wire);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

/* Seals a 3-frame message; the caller frees *wire. */
static size_t seal_three(struct link_session *a, uint8_t **wire)
{
	size_t len = 2 * LINK_FRAME_PAYLOAD + 50;
	uint8_t msg[2 * LINK_FRAME_PAYLOAD + 50];
	fill(msg, len, 77);
	*wire = malloc(3 * FRAME);
	assert_non_null(*wire);
	assert_int_equal(link_seal_message(a, msg, len, *wire, 3 * FRAME), 3 * FRAME);
	return 3;
}

/* Any flipped bit in any frame of a message fails authentication. */
static void test_open_flipped_bit(void **state)
{
	(void)state;
	struct link_session a, b0;
	session_pair(&a, &b0);
	uint8_t *wire;
	size_t frames = seal_three(&a, &wire);
	const uint8_t *msg;
	size_t len;
	for (size_t k = 0; k < frames; k++) {
		for (int bit = 0; bit < FRAME * 8; bit++) {
			struct link_session b = b0;
			for (size_t j = 0; j < k; j++)
				assert_int_equal(link_open_frame(&b, wire + j * FRAME, &msg, &len),
						 0);
			uint8_t *p = wire + k * FRAME + bit / 8;
			*p ^= (uint8_t)(1u << (bit % 8));
			int rc = link_open_frame(&b, wire + k * FRAME, &msg, &len);
			*p ^= (uint8_t)(1u << (bit % 8));
			if (rc != LINK_ERR_AUTH)
				fail_msg("frame %zu, bit %d flipped: %d", k, bit, rc);
			link_session_wipe(&b);
		}
	}
	free(wire);
	link_session_wipe(&a);
	link_session_wipe(&b0);
}

static void test_open_replayed_frame(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	uint8_t wire[FRAME];
	const uint8_t *msg;
	size_t len;
	assert_int_equal(link_seal_message(&a, (const uint8_t *)"once", 4, wire, FRAME), FRAME);
	assert_int_equal(link_open_frame(&b, wire, &msg, &len), 1);
	assert_int_equal(link_open_frame(&b, wire, &msg, &len), LINK_ERR_AUTH);
	link_session_wipe(&a);
	link_session_wipe(&b);

	/* Within one message too. */
	session_pair(&a, &b);
	uint8_t *three;
	seal_three(&a, &three);
	assert_int_equal(link_open_frame(&b, three, &msg, &len), 0);
	assert_int_equal(link_open_frame(&b, three, &msg, &len), LINK_ERR_AUTH);
	free(three);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void test_open_swapped_frames(void **state)
{
	(void)state;
	struct link_session a, b;
	const uint8_t *msg;
	size_t len;
	uint8_t *three;
	/* Two frames of one message in the wrong order. */
	session_pair(&a, &b);
	seal_three(&a, &three);
	assert_int_equal(link_open_frame(&b, three + FRAME, &msg, &len), LINK_ERR_AUTH);
	assert_int_equal(link_open_frame(&b, three, &msg, &len), 0);
	assert_int_equal(link_open_frame(&b, three + 2 * FRAME, &msg, &len), LINK_ERR_AUTH);
	free(three);
	link_session_wipe(&a);
	link_session_wipe(&b);
	/* Two one-frame messages in the wrong order. */
	session_pair(&a, &b);
	uint8_t first[FRAME], second[FRAME];
	assert_int_equal(link_seal_message(&a, (const uint8_t *)"1", 1, first, FRAME), FRAME);
	assert_int_equal(link_seal_message(&a, (const uint8_t *)"2", 1, second, FRAME), FRAME);
	assert_int_equal(link_open_frame(&b, second, &msg, &len), LINK_ERR_AUTH);
	assert_int_equal(link_open_frame(&b, first, &msg, &len), 1);
	assert_int_equal(link_open_frame(&b, second, &msg, &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(msg[0], '2');
	/* A frame reflected back to its sender. */
	assert_int_equal(link_seal_message(&a, (const uint8_t *)"3", 1, first, FRAME), FRAME);
	assert_int_equal(link_open_frame(&a, first, &msg, &len), LINK_ERR_AUTH);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

/* A frame made by hand with the right key and counter: flags, a 16-bit
 * big-endian length, payload, zero padding (the layout of link/frame.c). */
static void forge(const struct link_session *rx, uint64_t counter, uint8_t flags, unsigned length,
		  const uint8_t *payload, size_t payload_len, uint8_t out[FRAME])
{
	uint8_t plain[PLAIN];
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	memset(plain, 0, sizeof(plain));
	plain[0] = flags;
	plain[1] = (uint8_t)(length >> 8);
	plain[2] = (uint8_t)length;
	if (payload_len)
		memcpy(plain + LINK_FRAME_HEADER, payload, payload_len);
	memset(nonce, 0, sizeof(nonce));
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
	unsigned long long clen;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, sizeof(plain), NULL, 0, NULL,
						  nonce, rx->rx_key);
	assert_int_equal(clen, FRAME);
}

static void test_forged_frame_layout_matches(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	uint8_t frame[FRAME];
	const uint8_t *msg;
	size_t len;
	/* A well-formed forgery opens: the layout above is the real one. */
	forge(&b, 0, 0, 5, (const uint8_t *)"hello", 5, frame);
	assert_int_equal(link_open_frame(&b, frame, &msg, &len), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(msg, "hello", 5);
	/* The counter is part of the nonce: the wrong one fails. */
	forge(&b, 7, 0, 5, (const uint8_t *)"hello", 5, frame);
	assert_int_equal(link_open_frame(&b, frame, &msg, &len), LINK_ERR_AUTH);
	/* The sealer's padding is zeros, not leftovers of the frame before. */
	uint8_t big[LINK_FRAME_PAYLOAD + 1];
	memset(big, 0xEE, sizeof(big));
	uint8_t wire[2 * FRAME], plain[PLAIN], nonce[12] = {0};
	assert_int_equal(link_seal_message(&a, big, sizeof(big), wire, sizeof(wire)), 2 * FRAME);
	nonce[4] = 1;
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, wire + FRAME,
								   FRAME, NULL, 0, nonce, b.rx_key),
			 0);
	assert_int_equal(plain[0], 0);
	assert_int_equal(plain[1], 0);
	assert_int_equal(plain[2], 1);
	assert_int_equal(plain[LINK_FRAME_HEADER], 0xEE);
	for (size_t i = LINK_FRAME_HEADER + 1; i < PLAIN; i++)
		assert_int_equal(plain[i], 0);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void expect_forged_format(unsigned flags, unsigned length)
{
	struct link_session a, b;
	session_pair(&a, &b);
	uint8_t frame[FRAME];
	const uint8_t *msg;
	size_t len;
	forge(&b, 0, (uint8_t)flags, length, NULL, 0, frame);
	int rc = link_open_frame(&b, frame, &msg, &len);
	if (rc != LINK_ERR_FORMAT)
		fail_msg("flags 0x%02x length %u: %d, want LINK_ERR_FORMAT", flags, length, rc);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static void test_forged_bad_length(void **state)
{
	(void)state;
	expect_forged_format(0, LINK_FRAME_PAYLOAD + 1);
	expect_forged_format(1, LINK_FRAME_PAYLOAD + 1);
	expect_forged_format(0, PLAIN);
	expect_forged_format(0, 0xFFFF);
}

static void test_forged_unknown_flags(void **state)
{
	(void)state;
	for (unsigned flags = 2; flags < 256; flags++)
		expect_forged_format(flags, 1);
}

/* An endless message: continuation frames past LINK_MESSAGE_MAX. */
static void test_forged_continuation_oversize(void **state)
{
	(void)state;
	struct link_session a, b;
	session_pair(&a, &b);
	uint8_t payload[LINK_FRAME_PAYLOAD], frame[FRAME];
	const uint8_t *msg;
	size_t len;
	memset(payload, 0x33, sizeof(payload));
	uint64_t k;
	int rc = 0;
	for (k = 0; k <= LINK_FRAMES_MAX + 1; k++) {
		forge(&b, k, 1, LINK_FRAME_PAYLOAD, payload, sizeof(payload), frame);
		rc = link_open_frame(&b, frame, &msg, &len);
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, LINK_ERR_OVERSIZE);
	/* The first frame that would pass the limit is the one refused. */
	assert_int_equal((k + 1) * LINK_FRAME_PAYLOAD > LINK_MESSAGE_MAX, 1);
	assert_int_equal(k * LINK_FRAME_PAYLOAD <= LINK_MESSAGE_MAX, 1);
	assert_true(b.partial_cap <= LINK_MESSAGE_MAX);
	link_session_wipe(&a);
	link_session_wipe(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handshake_and_messages_both_ways),
    cmocka_unit_test(test_handshake_unknown_initiator),
    cmocka_unit_test(test_handshake_stranger_refused),
    cmocka_unit_test(test_handshake_wrong_responder_key),
    cmocka_unit_test(test_handshake_wrong_responder_id),
    cmocka_unit_test(test_handshake_message_2_tampered),
    cmocka_unit_test(test_handshake_message_3_tampered),
    cmocka_unit_test(test_handshake_replayed_message_1),
    cmocka_unit_test(test_handshake_fresh_keys_each_time),
    cmocka_unit_test(test_handshake_low_order_key_refused),
    cmocka_unit_test(test_handshake_anonymous_initiator),
    cmocka_unit_test(test_handshake_steps_out_of_order),
    cmocka_unit_test(test_strerror),
    cmocka_unit_test(test_frames_for),
    cmocka_unit_test(test_round_trip_every_small_size),
    cmocka_unit_test(test_round_trip_large_sizes),
    cmocka_unit_test(test_fragment_boundaries),
    cmocka_unit_test(test_seal_oversize),
    cmocka_unit_test(test_open_flipped_bit),
    cmocka_unit_test(test_open_replayed_frame),
    cmocka_unit_test(test_open_swapped_frames),
    cmocka_unit_test(test_forged_frame_layout_matches),
    cmocka_unit_test(test_forged_bad_length),
    cmocka_unit_test(test_forged_unknown_flags),
    cmocka_unit_test(test_forged_continuation_oversize),
};

int test_link_suite(void)
{
	return cmocka_run_group_tests_name("link", tests, setup, teardown);
}

int test_link_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
