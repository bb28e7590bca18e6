/* Fuzzes link_open_frame (link/frame.c) and the LinkMessage decoder.
 *
 * The first byte picks a mode, the rest is the data:
 *   0  raw: the data is a stream of LINK_FRAME_SIZE ciphertext frames (the
 *      last zero-padded), as a peer without the key would send them;
 *   1  sealed: the data is a stream of frame plaintexts (flags, length,
 *      payload; FUZZ_FRAME_PLAIN bytes each, the last zero-padded) which the
 *      harness seals with the session key and the counter nonce, so the
 *      header checks and the reassembly behind the AEAD are reached;
 *   2  sealed, compact: records of the 3-byte frame header, a count k and
 *      k payload bytes; the rest of the plaintext is zero. A frame claiming
 *      a full payload costs 4 input bytes, so long fragment chains (the
 *      LINK_MESSAGE_MAX bound) fit in a small input;
 *   3  round trip: the data is one message; link_seal_message must cut it
 *      into frames that link_open_frame puts back together unchanged.
 * Every completed message is decoded as an anosip.v1.LinkMessage, re-encoded
 * and freed. A failed frame ends the input, as it closes a real link. */
#include "tests/fuzz/harness.h"

#include "link.pb-c.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Enough to run past LINK_MESSAGE_MAX once, small enough to stay fast. */
#define FRAMES_MAX (2 * LINK_FRAMES_MAX + 8)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	return 0;
}

static void decode_message(const uint8_t *msg, size_t len)
{
	Anosip__V1__LinkMessage *m = anosip__v1__link_message__unpack(NULL, len, msg);
	if (!m)
		return;
	size_t n = anosip__v1__link_message__get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (buf) {
		if (anosip__v1__link_message__pack(m, buf) != n)
			fuzz_fail("LinkMessage packed size disagrees with pack");
		free(buf);
	}
	anosip__v1__link_message__free_unpacked(m, NULL);
}

/* Opens one frame; returns 0 to go on, -1 when the link would close. */
static int open_one(struct link_session *s, const uint8_t frame[LINK_FRAME_SIZE])
{
	const uint8_t *msg = NULL;
	size_t len = 0;
	int rc = link_open_frame(s, frame, &msg, &len);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (len > LINK_MESSAGE_MAX)
			fuzz_fail("link_open_frame returned a message over LINK_MESSAGE_MAX");
		decode_message(msg, len);
	}
	return 0;
}

static void run_raw(struct link_session *s, const uint8_t *data, size_t size)
{
	uint8_t frame[LINK_FRAME_SIZE];
	for (size_t off = 0, f = 0; off < size && f < FRAMES_MAX; off += LINK_FRAME_SIZE, f++) {
		size_t n = size - off < LINK_FRAME_SIZE ? size - off : LINK_FRAME_SIZE;
		memset(frame, 0, sizeof(frame));
		memcpy(frame, data + off, n);
		if (open_one(s, frame) < 0)
			return;
	}
}

static void run_sealed(struct link_session *s, const uint8_t *data, size_t size, int compact)
{
	const uint8_t *key = fuzz_fixtures()->session_key;
	uint8_t plain[FUZZ_FRAME_PLAIN];
	uint8_t frame[LINK_FRAME_SIZE];
	uint64_t counter = 0;
	size_t off = 0;
	for (size_t f = 0; off < size && f < FRAMES_MAX; f++) {
		size_t n;
		memset(plain, 0, sizeof(plain));
		if (compact) {
			n = size - off < LINK_FRAME_HEADER ? size - off : LINK_FRAME_HEADER;
			memcpy(plain, data + off, n);
			off += n;
			size_t k = off < size ? data[off++] : 0;
			n = size - off < k ? size - off : k;
			memcpy(plain + LINK_FRAME_HEADER, data + off, n);
			off += n;
		} else {
			n = size - off < sizeof(plain) ? size - off : sizeof(plain);
			memcpy(plain, data + off, n);
			off += n;
		}
		fuzz_seal_frame(key, counter++, plain, frame);
		if (open_one(s, frame) < 0)
			return;
	}
}

static void run_round_trip(const uint8_t *data, size_t size)
{
	const uint8_t *key = fuzz_fixtures()->session_key;
	struct link_session tx, rx;
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	memcpy(tx.tx_key, key, 32);
	memcpy(rx.rx_key, key, 32);

	size_t frames = link_frames_for(size);
	size_t cap = frames * LINK_FRAME_SIZE;
	uint8_t *wire = malloc(cap);
	if (!wire)
		return;
	long w = link_seal_message(&tx, size ? data : NULL, size, wire, cap);
	if (size > LINK_MESSAGE_MAX) {
		if (w != LINK_ERR_OVERSIZE)
			fuzz_fail("link_seal_message accepted an oversize message");
		goto out;
	}
	if (w != (long)cap)
		fuzz_fail("link_seal_message wrote an unexpected length");
	for (size_t f = 0; f < frames; f++) {
		const uint8_t *msg = NULL;
		size_t len = 0;
		int rc = link_open_frame(&rx, wire + f * LINK_FRAME_SIZE, &msg, &len);
		if (rc != (f + 1 == frames ? 1 : 0))
			fuzz_fail("link_open_frame disagrees with link_seal_message's framing");
		if (rc == 1 && (len != size || (size && memcmp(msg, data, size) != 0)))
			fuzz_fail("round trip changed the message");
	}
	if (rx.partial_len != 0)
		fuzz_fail("reassembly buffer not reset after a complete message");
out:
	free(wire);
	link_session_wipe(&tx);
	link_session_wipe(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] & 3;
	data++;
	size--;
	if (mode == 3) {
		run_round_trip(data, size);
		return 0;
	}
	struct link_session s;
	memset(&s, 0, sizeof(s));
	memcpy(s.rx_key, fuzz_fixtures()->session_key, 32);
	if (mode == 0)
		run_raw(&s, data, size);
	else
		run_sealed(&s, data, size, mode == 2);
	link_session_wipe(&s);
	return 0;
}
