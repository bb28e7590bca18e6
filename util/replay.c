/* A replay memory: two generations of keyed hashes of message ids. An id
 * is remembered for at least one generation (and at most two), so a
 * generation must be as long as the longest span in which a replay would
 * otherwise be accepted. When a generation is half full the memory refuses
 * new ids rather than forget old ones: it fails closed. */
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int util_replay_init(struct util_replay *r, size_t slots, uint64_t generation_ms, uint64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	if (slots < 2 || (slots & (slots - 1)) || sodium_init() < 0)
		return -EINVAL;
	r->current = calloc(slots, sizeof(uint64_t));
	r->previous = calloc(slots, sizeof(uint64_t));
	if (!r->current || !r->previous) {
		util_replay_free(r);
		return -ENOMEM;
	}
	r->slots = slots;
	r->generation_ms = generation_ms;
	r->generation_start_ms = now_ms;
	/* A secret hash key: a sender cannot choose ids that pile up in
	 * one probe chain. */
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	return 0;
}

void util_replay_free(struct util_replay *r)
{
	free(r->current);
	free(r->previous);
	r->current = r->previous = NULL;
}

static int contains(const uint64_t *set, size_t slots, uint64_t h)
{
	for (size_t i = h & (slots - 1);; i = (i + 1) & (slots - 1)) {
		if (set[i] == h)
			return 1;
		if (set[i] == 0)
			return 0;
	}
}

int util_replay_check(struct util_replay *r, const void *id, size_t id_len, uint64_t now_ms)
{
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, id, id_len, r->hash_key);
	h |= 1; /* 0 marks an empty slot */
	if (now_ms - r->generation_start_ms >= r->generation_ms) {
		/* A fresh calloc rather than a memset: untouched zero pages cost
		 * no memory, so a quiet node keeps its tables small. */
		uint64_t *fresh = calloc(r->slots, sizeof(uint64_t));
		if (!fresh)
			return 1; /* fail closed */
		free(r->previous);
		r->previous = r->current;
		r->current = fresh;
		r->count = 0;
		r->generation_start_ms = now_ms;
	}
	if (contains(r->current, r->slots, h) || contains(r->previous, r->slots, h))
		return 1;
	if (r->count >= r->slots / 2) {
		r->refused_full++;
		return 1;
	}
	size_t i = h & (r->slots - 1);
	while (r->current[i])
		i = (i + 1) & (r->slots - 1);
	r->current[i] = h;
	r->count++;
	return 0;
}
