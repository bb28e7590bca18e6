/* A deterministic random stream for the simulator: ChaCha20 (libsodium)
 * keyed from the seed, one stream per purpose, so a trial draws the same
 * numbers whatever ran before it. Not for secrets. */
#ifndef ANOSIP_SIM_RNG_H
#define ANOSIP_SIM_RNG_H

#include <stddef.h>
#include <stdint.h>

struct sim_rng {
	uint8_t key[32];
	uint8_t nonce[8];
	uint64_t block; /* next 64-byte ChaCha20 block */
	uint8_t buf[4096];
	size_t used;
};

/* stream picks an independent sequence for the same seed. */
void sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_u64(struct sim_rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *r);

#endif
