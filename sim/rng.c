/* The simulator's random stream: ChaCha20 from libsodium, refilled a page
 * at a time. */
#include "sim/rng.h"

#include <sodium.h>
#include <string.h>

void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint8_t material[16];
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 8; i++) {
		material[i] = (uint8_t)(seed >> (8 * i));
		material[8 + i] = (uint8_t)(stream >> (8 * i));
	}
	/* The key mixes seed and stream, so streams share no keystream. */
	crypto_generichash(r->key, sizeof(r->key), material, sizeof(material),
			   (const uint8_t *)"anosip-sim-rng-1", 16);
	r->used = sizeof(r->buf);
}

static void refill(struct sim_rng *r)
{
	memset(r->buf, 0, sizeof(r->buf));
	crypto_stream_chacha20_xor_ic(r->buf, r->buf, sizeof(r->buf), r->nonce, r->block, r->key);
	r->block += sizeof(r->buf) / 64;
	r->used = 0;
}

uint64_t sim_rng_u64(struct sim_rng *r)
{
	if (r->used + 8 > sizeof(r->buf))
		refill(r);
	uint64_t v;
	memcpy(&v, r->buf + r->used, 8);
	r->used += 8;
	return v;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound)
{
	/* Reject the top sliver that would favour small values. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t v;
	do
		v = sim_rng_u64(r);
	while (v >= limit);
	return v % bound;
}

double sim_rng_unit(struct sim_rng *r)
{
	return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}
