/* router internals shared by its files (and its unit tests). */
#ifndef ANOSIP_ROUTER_PRIVATE_H
#define ANOSIP_ROUTER_PRIVATE_H

#include "router/router.h"
#include "routed.pb-c.h"

#include <stdint.h>

/* Replay memory: two generations of (source, message id) hashes; a
 * generation turns over every REPLAY_GENERATION_MS or when full. */
#define REPLAY_SLOTS 65536
#define REPLAY_GENERATION_MS 30000

struct replay_set {
	uint64_t *current, *previous; /* 0 marks an empty slot */
	unsigned current_count;
	uint64_t generation_start_ms;
};

int replay_init(struct replay_set *r);
void replay_free(struct replay_set *r);
/* 1 if key was seen (and is not added again), 0 if new (now remembered). */
int replay_check_and_add(struct replay_set *r, uint64_t key, uint64_t now_ms);

/* Seal, sign and open routed messages; pure functions over keys. */
struct routed_out {
	uint8_t *sealed; /* malloc'd, caller frees */
	size_t sealed_len;
	uint64_t message_id;
};

int routed_seal(const struct keys_pair *source_keys, const char *source_id,
		const struct topo_node *dest, Anosip__V1__RoutedType type, uint32_t hop_limit,
		const uint8_t *payload, size_t payload_len, struct routed_out *out);

/* Opens a sealed routed payload addressed to `self` and checks the
 * signature against the directory. On success *body is the decoded body
 * (free with anosip__v1__routed_body__free_unpacked) and *source its index.
 * Returns 0, or the node_drop reason (positive) on refusal. */
int routed_open(const struct topo *t, int self, const struct keys_pair *self_keys,
		const uint8_t *sealed, size_t sealed_len, Anosip__V1__RoutedBody **body,
		int *source);

#endif
