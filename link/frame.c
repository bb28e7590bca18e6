/* Sealed fixed-size frames and message fragmentation. docs/protocol.md §1.3.
 *
 * Nonces are implicit per-direction counters: a frame that is forged,
 * replayed, dropped or reordered fails authentication, and the link closes. */
#include "link/link.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_MORE 0x01 /* another frame of this message follows */
#define FLAGS_KNOWN FLAG_MORE
#define PLAIN_SIZE (LINK_FRAME_SIZE - LINK_TAG_SIZE)

static void counter_nonce(uint64_t counter, uint8_t nonce[12])
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

size_t link_frames_for(size_t len)
{
	if (len == 0)
		return 1;
	return (len + LINK_FRAME_PAYLOAD - 1) / LINK_FRAME_PAYLOAD;
}

long link_seal_message(struct link_session *s, const uint8_t *msg, size_t len, uint8_t *out,
		       size_t out_cap)
{
	if (len > LINK_MESSAGE_MAX)
		return LINK_ERR_OVERSIZE;
	size_t frames = link_frames_for(len);
	if (frames * LINK_FRAME_SIZE > out_cap)
		return LINK_ERR_STATE;
	uint8_t plain[PLAIN_SIZE];
	uint8_t nonce[12];
	size_t off = 0;
	for (size_t f = 0; f < frames; f++) {
		size_t chunk = len - off < LINK_FRAME_PAYLOAD ? len - off : LINK_FRAME_PAYLOAD;
		plain[0] = f + 1 < frames ? FLAG_MORE : 0;
		plain[1] = (uint8_t)(chunk >> 8);
		plain[2] = (uint8_t)chunk;
		if (chunk)
			memcpy(plain + LINK_FRAME_HEADER, msg + off, chunk);
		memset(plain + LINK_FRAME_HEADER + chunk, 0, LINK_FRAME_PAYLOAD - chunk);
		counter_nonce(s->tx_counter++, nonce);
		crypto_aead_chacha20poly1305_ietf_encrypt(out + f * LINK_FRAME_SIZE, NULL, plain,
							  PLAIN_SIZE, NULL, 0, NULL, nonce,
							  s->tx_key);
		off += chunk;
	}
	sodium_memzero(plain, sizeof(plain));
	return (long)(frames * LINK_FRAME_SIZE);
}

int link_open_frame(struct link_session *s, const uint8_t frame[LINK_FRAME_SIZE],
		    const uint8_t **msg, size_t *len)
{
	uint8_t plain[PLAIN_SIZE];
	uint8_t nonce[12];
	counter_nonce(s->rx_counter, nonce);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, frame, LINK_FRAME_SIZE,
						      NULL, 0, nonce, s->rx_key) != 0)
		return LINK_ERR_AUTH;
	s->rx_counter++;
	uint8_t flags = plain[0];
	size_t chunk = (size_t)plain[1] << 8 | plain[2];
	if ((flags & ~FLAGS_KNOWN) || chunk > LINK_FRAME_PAYLOAD)
		return LINK_ERR_FORMAT;
	if (s->partial_len + chunk > LINK_MESSAGE_MAX) {
		s->partial_len = 0;
		return LINK_ERR_OVERSIZE;
	}
	if (s->partial_len + chunk > s->partial_cap) {
		size_t cap = s->partial_cap ? s->partial_cap : 2 * LINK_FRAME_PAYLOAD;
		while (cap < s->partial_len + chunk)
			cap *= 2;
		if (cap > LINK_MESSAGE_MAX)
			cap = LINK_MESSAGE_MAX;
		/* Not realloc: the old block held plaintext and is wiped first. */
		uint8_t *p = malloc(cap);
		if (!p)
			return LINK_ERR_OVERSIZE;
		if (s->partial) {
			memcpy(p, s->partial, s->partial_len);
			sodium_memzero(s->partial, s->partial_cap);
			free(s->partial);
		}
		s->partial = p;
		s->partial_cap = cap;
	}
	if (chunk)
		memcpy(s->partial + s->partial_len, plain + LINK_FRAME_HEADER, chunk);
	s->partial_len += chunk;
	sodium_memzero(plain, sizeof(plain));
	if (flags & FLAG_MORE)
		return 0;
	static const uint8_t empty[1];
	*msg = s->partial ? s->partial : empty;
	*len = s->partial_len;
	s->partial_len = 0;
	return 1;
}

void link_session_wipe(struct link_session *s)
{
	if (s->partial) {
		sodium_memzero(s->partial, s->partial_cap);
		free(s->partial);
	}
	sodium_memzero(s, sizeof(s[0]));
}
