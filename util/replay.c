/* A replay memory: two generations of keyed hashes of message ids. An id
 * is remembered for at least one generation (and at most two), so a
 * generation must be as long as the longest span in which a replay would
 * otherwise be accepted. Each generation is a hash set that starts small
 * and doubles as it fills, up to max_slots; full at that size, the memory
 * refuses new ids rather than forget old ones: it fails closed. */
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_START_SLOTS 1024

static int contains(const uint64_t *set, size_t slots, uint64_t h)
{
	for (size_t i = h & (slots - 1);; i = (i + 1) & (slots - 1)) {
		if (set[i] == h)
			return 1;
		if (set[i] == 0)
			return 0;
	}
}

static void insert(uint64_t *set, size_t slots, uint64_t h)
{
	size_t i = h & (slots - 1);
	while (set[i])
		i = (i + 1) & (slots - 1);
	set[i] = h;
}

int util_replay_init(struct util_replay *r, size_t max_slots, uint64_t generation_ms,
		     uint64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	if (max_slots < 2 || (max_slots & (max_slots - 1)) || sodium_init() < 0)
		return -EINVAL;
	r->max_slots = max_slots;
	r->slots = r->previous_slots =
	    max_slots < REPLAY_START_SLOTS ? max_slots : REPLAY_START_SLOTS;
	r->current = calloc(r->slots, sizeof(uint64_t));
	r->previous = calloc(r->previous_slots, sizeof(uint64_t));
	if (!r->current || !r->previous) {
		util_replay_free(r);
		return -ENOMEM;
	}
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

/* Doubles the current generation's set. */
static int grow(struct util_replay *r)
{
	size_t slots = r->slots * 2;
	uint64_t *set = calloc(slots, sizeof(uint64_t));
	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < r->slots; i++)
		if (r->current[i])
			insert(set, slots, r->current[i]);
	free(r->current);
	r->current = set;
	r->slots = slots;
	return 0;
}

int util_replay_check(struct util_replay *r, const void *id, size_t id_len, uint64_t now_ms)
{
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, id, id_len, r->hash_key);
	h |= 1; /* 0 marks an empty slot */
	if (now_ms - r->generation_start_ms >= r->generation_ms) {
		size_t slots =
		    r->max_slots < REPLAY_START_SLOTS ? r->max_slots : REPLAY_START_SLOTS;
		uint64_t *fresh = calloc(slots, sizeof(uint64_t));
		if (!fresh)
			return 1; /* fail closed */
		free(r->previous);
		r->previous = r->current;
		r->previous_slots = r->slots;
		r->current = fresh;
		r->slots = slots;
		r->count = 0;
		r->generation_start_ms = now_ms;
	}
	if (contains(r->current, r->slots, h) || contains(r->previous, r->previous_slots, h))
		return 1;
	/* At most half full, so probe chains stay short. */
	if (r->count + 1 > r->slots / 2 && (r->slots == r->max_slots || grow(r) < 0)) {
		r->refused_full++;
		return 1;
	}
	insert(r->current, r->slots, h);
	r->count++;
	return 0;
}
