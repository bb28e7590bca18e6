/* Fuzzes circ_data_open and circ_data_seal (circuit/data.c): every DATA
 * cell of a circuit, which routers on the path can replay, reorder, cut or
 * forge, is opened with circ_data_open at the ua or the lighthouse.
 *
 * Both ends share fixed keys (forward 0xf0..., backward 0xb0...): ua is
 * the ua's side, lh the lighthouse's. The first byte picks a mode (bit 0);
 * the rest is the data, read as records. A record is a 2-byte big-endian
 * length and that many bytes; a record that claims more bytes than are
 * left is filled by repeating what is left (zeros if nothing is), so a few
 * input bytes make cells and plaintexts past CIRC_DATA_MAX.
 *   0  raw: a flag byte (bit 0: the lighthouse opens, otherwise the ua)
 *      and the newest accepted counter (8 bytes big-endian); then each
 *      record is a cell that side opens, one after the other;
 *   1  round trip: each record is a control byte and a plaintext. Control
 *      bit 0: the lighthouse sends (otherwise the ua); bit 1: the cell is
 *      lost on the way; bit 2: the previous cell that side sealed arrives
 *      again after this one (late, or replayed). Both directions' counters
 *      start at the value the first 8 bytes choose (big-endian).
 *
 * Oracles. In mode 0 each answer is worked out on our own from
 * docs/protocol.md 4.2: too short (below counter + tag) is "sealed", over
 * CIRC_DATA_MAX of plaintext "too large", a counter not above the newest
 * accepted "replay", a cell that does not open with our own AEAD under the
 * direction's key "sealed", otherwise accepted with the plaintext we
 * opened; only an accepted cell moves the window, to its counter, and a
 * refusal hands out nothing. In mode 1: a plaintext over CIRC_DATA_MAX is
 * refused without using a counter, and so is any plaintext once the
 * sender's counter is at 2^64 - 1 (a counter, hence a nonce, is never used
 * twice); any other is sealed with the next counter in the format of 4.2
 * and opens on the other side to the same
 * bytes; the same cell twice is refused the second time as a replay, and
 * so is an older cell after a newer one; a lost cell costs only itself; a
 * cell never opens on the side that sealed it. */
#include "tests/fuzz/harness.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES

static void fresh_keys(struct circ_keys *ua, struct circ_keys *lh)
{
	memset(ua, 0, sizeof(*ua));
	memset(ua->forward, 0xf0, 32);
	memset(ua->backward, 0xb0, 32);
	*lh = *ua;
	lh->is_lighthouse = 1;
}

/* The next record: a malloc'd buffer of *len bytes. NULL at the end. */
static uint8_t *next_record(const uint8_t **data, size_t *size, size_t *len)
{
	if (*size == 0)
		return NULL;
	uint8_t head[2];
	fuzz_take(data, size, head, sizeof(head));
	*len = (size_t)head[0] << 8 | head[1];
	uint8_t *r = malloc(*len ? *len : 1);
	if (!r)
		fuzz_fail("out of memory");
	if (*len <= *size) {
		memcpy(r, *data, *len);
		*data += *len;
		*size -= *len;
	} else if (*size == 0) {
		memset(r, 0, *len);
	} else {
		/* The rest of the input, repeated (r[i] = data[i % size]), a
		 * copy at a time: byte by byte this was most of an execution. */
		for (size_t i = 0; i < *len; i += *size)
			memcpy(r + i, *data, *len - i < *size ? *len - i : *size);
		*data += *size;
		*size = 0;
	}
	return r;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Opens cell at k, checking the answer against our own reading. */
static int open_checked(struct circ_keys *k, const uint8_t *cell, size_t len)
{
	int expect;
	uint8_t *mine = NULL;
	uint64_t counter = 0;
	if (len < 8 + TAG) {
		expect = CIRC_ERR_SEALED;
	} else if (len > 8 + CIRC_DATA_MAX + TAG) {
		expect = CIRC_ERR_TOO_LARGE;
	} else if ((counter = be64(cell)) <= k->received) {
		expect = CIRC_ERR_REPLAY;
	} else {
		uint8_t nonce[12] = {0};
		memcpy(nonce + 4, cell, 8);
		mine = malloc(len - 8 - TAG + 1);
		if (!mine)
			fuzz_fail("out of memory");
		expect = crypto_aead_chacha20poly1305_ietf_decrypt(
			     mine, NULL, NULL, cell + 8, len - 8, NULL, 0, nonce,
			     k->is_lighthouse ? k->forward : k->backward) == 0
			     ? 0
			     : CIRC_ERR_SEALED;
	}

	uint64_t before = k->received;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc = circ_data_open(k, cell, len, &plain, &plain_len);
	if (rc != expect)
		fuzz_fail("circ_data_open's answer is not the expected one");
	if (rc == 0) {
		if (!plain || plain_len != len - 8 - TAG ||
		    (plain_len && memcmp(plain, mine, plain_len) != 0))
			fuzz_fail("circ_data_open opened to other bytes");
		if (k->received != counter)
			fuzz_fail("an accepted cell did not move the window to its counter");
		free(plain);
	} else {
		if (plain)
			fuzz_fail("circ_data_open refused but handed out a plaintext");
		if (k->received != before)
			fuzz_fail("a refused cell moved the window");
	}
	free(mine);
	return rc;
}

static void run_raw(const uint8_t *data, size_t size)
{
	struct circ_keys ua, lh;
	fresh_keys(&ua, &lh);
	uint8_t flags, counter[8];
	fuzz_take(&data, &size, &flags, 1);
	fuzz_take(&data, &size, counter, sizeof(counter));
	struct circ_keys *k = flags & 1 ? &lh : &ua;
	k->received = be64(counter);
	uint8_t *cell;
	size_t len;
	while ((cell = next_record(&data, &size, &len))) {
		open_checked(k, cell, len);
		free(cell);
	}
}

struct sent_cell {
	uint8_t *cell;
	size_t len;
};

static void run_round_trip(const uint8_t *data, size_t size)
{
	struct circ_keys ua, lh;
	fresh_keys(&ua, &lh);
	uint8_t start[8];
	fuzz_take(&data, &size, start, sizeof(start));
	ua.sent = lh.received = be64(start);
	lh.sent = ua.received = be64(start);
	struct sent_cell last[2] = {{NULL, 0}, {NULL, 0}};

	while (size) {
		uint8_t ctl;
		fuzz_take(&data, &size, &ctl, 1);
		size_t len;
		uint8_t *plain = next_record(&data, &size, &len);
		if (!plain) {
			plain = malloc(1);
			len = 0;
		}
		int from_lh = ctl & 1;
		struct circ_keys *tx = from_lh ? &lh : &ua, *rx = from_lh ? &ua : &lh;
		uint64_t sent_before = tx->sent;
		uint8_t *cell = NULL;
		size_t cell_len = 0;
		int rc = circ_data_seal(tx, len ? plain : NULL, len, &cell, &cell_len);
		if (len > CIRC_DATA_MAX) {
			if (rc != CIRC_ERR_TOO_LARGE || tx->sent != sent_before || cell)
				fuzz_fail("circ_data_seal took a plaintext over CIRC_DATA_MAX");
			free(plain);
			continue;
		}
		if (sent_before == UINT64_MAX) {
			if (rc == 0 || tx->sent != sent_before || cell)
				fuzz_fail("circ_data_seal went past the last counter");
			free(plain);
			continue;
		}
		if (rc != 0)
			fuzz_fail("circ_data_seal failed");
		if (tx->sent != sent_before + 1 || cell_len != 8 + len + TAG ||
		    be64(cell) != tx->sent)
			fuzz_fail("circ_data_seal did not use the next counter");

		/* Never on the side that sealed it. */
		if (open_checked(tx, cell, cell_len) == 0)
			fuzz_fail("a cell opened on the side that sealed it");
		if (!(ctl & 2)) {
			uint8_t *out;
			size_t out_len;
			if (circ_data_open(rx, cell, cell_len, &out, &out_len) != 0)
				fuzz_fail("a fresh cell does not open on the other side");
			if (out_len != len || (len && memcmp(out, plain, len) != 0))
				fuzz_fail("a cell opened to other bytes than were sealed");
			free(out);
			if (open_checked(rx, cell, cell_len) != CIRC_ERR_REPLAY)
				fuzz_fail("the same cell was taken twice");
		}
		struct sent_cell *prev = &last[from_lh];
		if ((ctl & 4) && prev->cell) {
			int r = open_checked(rx, prev->cell, prev->len);
			if (!(ctl & 2) && r != CIRC_ERR_REPLAY)
				fuzz_fail("an older cell was taken after a newer one");
		}
		free(prev->cell);
		prev->cell = cell;
		prev->len = cell_len;
		free(plain);
	}
	free(last[0].cell);
	free(last[1].cell);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] & 1;
	data++;
	size--;
	if (mode == 0)
		run_raw(data, size);
	else
		run_round_trip(data, size);
	return 0;
}
