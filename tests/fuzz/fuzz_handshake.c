/* Fuzzes the link handshake readers (link/handshake.c).
 *
 * The first byte picks the mode (its low 3 bits modulo 5) and two options;
 * the rest is the data, zero-padded or cut to the message's size:
 *   0  raw message 1 to a responder (link_handshake_read_1);
 *   1  raw message 2 to an initiator that sent message 1 (read_2);
 *   2  raw message 3 to a responder that sent message 2 (read_3);
 *   3  sealed message 2: the data is the plaintext of message 2 (a 2-byte
 *      length, a HandshakeAuth, padding), sealed by the harness with the
 *      real responder->initiator handshake key, behind the responder's real
 *      ephemeral key, so the decoding and identity checks of open_auth run;
 *   4  sealed message 3: the same for the initiator->responder key.
 *   0x40  the initiator is anonymous (no keys, as a ua);
 *   0x80  the responder admits anonymous initiators.
 * The ephemeral keys are fixed (harness.c), so the transcript and therefore a
 * valid signature are the same on every run: the seed corpus holds real
 * plaintexts, and mutations of them reach every check up to and past the
 * signature. When a handshake completes, both sides finish it and the
 * session keys must agree (a message sealed by one opens at the other).
 * The fixed steps before the fuzzed message (message 1 written and read,
 * message 2 written, a genuine message 2 read) are the same on every run:
 * they are taken once per option pair and each input starts from a copy,
 * so an execution spends its time on the message under test. */
#include "tests/fuzz/harness.h"

#include <sodium.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The handshake states before the fuzzed message, per option pair. */
struct snapshot {
	struct link_handshake ini_fresh, res_fresh;
	struct link_handshake ini_wrote_1; /* initiator after message 1 */
	struct link_handshake res_wrote_2; /* responder after messages 1 and 2 */
	struct link_handshake ini_read_2;  /* initiator after a genuine message 2 */
	uint8_t message_2[LINK_FRAME_SIZE];
};
static struct snapshot snapshots[2][2]; /* [anonymous][allow_anonymous] */

static void take_snapshot(struct snapshot *s, int anonymous, int allow_anonymous)
{
	uint8_t m1[LINK_FRAME_SIZE];
	fuzz_initiator(&s->ini_fresh, anonymous);
	fuzz_responder(&s->res_fresh, allow_anonymous);
	s->ini_wrote_1 = s->ini_fresh;
	s->res_wrote_2 = s->res_fresh;
	if (link_handshake_write_1(&s->ini_wrote_1, m1) != 0 ||
	    link_handshake_read_1(&s->res_wrote_2, m1) != 0 ||
	    link_handshake_write_2(&s->res_wrote_2, s->message_2) != 0)
		fuzz_fail("the fixed handshake does not reach message 2");
	s->ini_read_2 = s->ini_wrote_1;
	if (link_handshake_read_2(&s->ini_read_2, s->message_2) != 0)
		fuzz_fail("a genuine message 2 was refused");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			take_snapshot(&snapshots[a][b], a, b);
	return 0;
}

static void fill(uint8_t *out, size_t out_len, const uint8_t *data, size_t size)
{
	memset(out, 0, out_len);
	memcpy(out, data, size < out_len ? size : out_len);
}

/* Both sides finished: their keys must pair up, in both directions. */
static void check_sessions(struct link_handshake *ini, struct link_handshake *res)
{
	struct link_session a, b;
	if (link_handshake_finish(ini, &a) != 0 || link_handshake_finish(res, &b) != 0)
		fuzz_fail("link_handshake_finish failed after message 3 was accepted");
	static const uint8_t msg[] = "ping";
	uint8_t frame[LINK_FRAME_SIZE];
	const uint8_t *got;
	size_t len;
	if (link_seal_message(&a, msg, sizeof(msg), frame, sizeof(frame)) != LINK_FRAME_SIZE ||
	    link_open_frame(&b, frame, &got, &len) != 1 || len != sizeof(msg) ||
	    memcmp(got, msg, len) != 0)
		fuzz_fail("initiator->responder session keys do not match");
	if (link_seal_message(&b, msg, sizeof(msg), frame, sizeof(frame)) != LINK_FRAME_SIZE ||
	    link_open_frame(&a, frame, &got, &len) != 1 || len != sizeof(msg))
		fuzz_fail("responder->initiator session keys do not match");
	link_session_wipe(&a);
	link_session_wipe(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = (data[0] & 7) % 5;
	int anonymous = !!(data[0] & 0x40);
	int allow_anonymous = !!(data[0] & 0x80);
	data++;
	size--;

	const struct snapshot *snap = &snapshots[anonymous][allow_anonymous];
	struct link_handshake ini = snap->ini_fresh, res = snap->res_fresh;
	uint8_t in[LINK_FRAME_SIZE], out[LINK_FRAME_SIZE];
	uint8_t plain[FUZZ_M3_PLAIN];
	uint8_t key[32];
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	switch (mode) {
	case 0:
		fill(in, sizeof(in), data, size);
		if (link_handshake_read_1(&res, in) == 0 && link_handshake_write_2(&res, out) != 0)
			fuzz_fail("write_2 failed after read_1 was accepted");
		break;
	case 1:
		ini = snap->ini_wrote_1;
		fill(in, sizeof(in), data, size);
		if (link_handshake_read_2(&ini, in) == 0 && link_handshake_write_3(&ini, out) != 0)
			fuzz_fail("write_3 failed after read_2 was accepted");
		break;
	case 2:
		res = snap->res_wrote_2;
		fill(in, sizeof(in), data, size);
		if (link_handshake_read_3(&res, in) == 0) {
			struct link_session s;
			if (link_handshake_finish(&res, &s) != 0)
				fuzz_fail("finish failed after read_3 was accepted");
			link_session_wipe(&s);
		}
		break;
	case 3:
		/* A real responder derives the chaining key; we seal the
		 * fuzzer's plaintext where its HandshakeAuth would be. */
		ini = snap->ini_wrote_1;
		res = snap->res_wrote_2;
		memcpy(in, snap->message_2, 32);
		fill(plain, FUZZ_M2_PLAIN, data, size);
		fuzz_handshake_key(res.chaining_key, FUZZ_KEY_HS_R2I, key);
		crypto_aead_chacha20poly1305_ietf_encrypt(in + 32, NULL, plain, FUZZ_M2_PLAIN, NULL,
							  0, NULL, zero_nonce, key);
		if (link_handshake_read_2(&ini, in) != 0)
			break;
		if (link_handshake_write_3(&ini, out) != 0)
			fuzz_fail("write_3 failed after read_2 was accepted");
		if (link_handshake_read_3(&res, out) == 0)
			check_sessions(&ini, &res);
		else if (!anonymous || allow_anonymous)
			fuzz_fail("a genuine message 3 was refused");
		break;
	case 4:
		ini = snap->ini_read_2;
		res = snap->res_wrote_2;
		fill(plain, FUZZ_M3_PLAIN, data, size);
		fuzz_handshake_key(res.chaining_key, FUZZ_KEY_HS_I2R, key);
		crypto_aead_chacha20poly1305_ietf_encrypt(in, NULL, plain, FUZZ_M3_PLAIN, NULL, 0,
							  NULL, zero_nonce, key);
		if (link_handshake_read_3(&res, in) == 0) {
			if (link_handshake_write_3(&ini, out) != 0)
				fuzz_fail("write_3");
			check_sessions(&ini, &res);
		}
		break;
	default:
		break;
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, sizeof(plain));
	link_handshake_wipe(&ini);
	link_handshake_wipe(&res);
	return 0;
}
