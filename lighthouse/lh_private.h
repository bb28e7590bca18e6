/* lighthouse internals shared by its files. */
#ifndef ANOSIP_LH_PRIVATE_H
#define ANOSIP_LH_PRIVATE_H

#include "circuit/circuit.h"
#include "lighthouse/lighthouse.h"
#include "lighthouse/store.h"
#include "router/router.h"
#include "util/util.h"

#define LH_CIRCUIT_BUCKETS 4096
/* CREATEs the lighthouse takes per second, before any crypto: bounds its
 * CPU and keeps the replay memory below half full. */
#define LH_CREATE_RATE 4000
/* Replay memory: two generations of CREATE ephemeral keys, each
 * LH_SEEN_GENERATION_MS long, so a key stays at least that long — longer
 * than any CREATE is accepted (sent within 60 s either side of our clock,
 * so a replay comes at most 120 s after the original). */
#define LH_SEEN_SLOTS (1u << 20)
#define LH_SEEN_GENERATION_MS (2 * CIRC_CREATE_MAX_AGE_MS)
#define LH_CLAIM_TIMEOUT_MS 8000
#define LH_LOOKUP_CACHE 1024
#define LH_LOOKUP_CACHE_MS 30000

/* A circuit that ends here and is built: its nickname and keys. */
struct lh_circuit {
	router_circuit handle;
	char nickname[CIRC_NICKNAME_MAX + 1];
	struct circ_keys keys;
	struct lh_circuit *next;
	struct lh_circuit *next_same_bucket_by_nickname;
};

/* A CREATE waiting for the lookup service's answer to our claim. */
struct lh_pending {
	uint64_t request_id;
	router_circuit handle;
	Anosip__V1__CreateRequest *req; /* owned */
	uint64_t started_ms;
	struct lh_pending *next;
};

/* A cached answer from the lookup service. */
struct lh_lookup_entry {
	char nickname[CIRC_NICKNAME_MAX + 1];
	char lighthouse[32];
	uint64_t fetched_ms;
};

/* A `ctl lookup NICK` waiting for the lookup service. */
struct lh_query {
	uint64_t request_id;
	struct node_ctl *req;
	char nickname[CIRC_NICKNAME_MAX + 1];
	uint64_t started_ms;
	struct lh_query *next;
};

struct lh {
	struct node *node;
	struct router *router;
	struct lh_store *store;
	int self;
	int lookup; /* topo index of the lookup service, -1 if none */
	int open_signup;
	unsigned binding_ttl_s;
	unsigned certificate_ttl_s;
	uint64_t epoch;
	uint64_t started_wall_ms;
	struct lh_circuit *circuits[LH_CIRCUIT_BUCKETS];
	struct lh_circuit *by_nickname[LH_CIRCUIT_BUCKETS]; /* a nickname's circuits */
	size_t n_circuits;
	struct lh_pending *pending;
	struct lh_query *queries;
	struct util_replay seen; /* CREATE ephemeral keys */
	double create_tokens;	 /* token bucket of LH_CREATE_RATE */
	uint64_t create_tokens_ms;
	struct lh_lookup_entry cache[LH_LOOKUP_CACHE];
	uv_timer_t timer;
	unsigned ticks;
	uint64_t creates_ok, creates_refused, signups, data_in, data_out, replays;
};

/* circuits.c */
struct lh_circuit *lh_circuit_find(struct lh *lh, router_circuit handle);
struct lh_circuit *lh_circuit_add(struct lh *lh, router_circuit handle, const char *nickname,
				  const struct circ_keys *keys);
void lh_circuit_remove(struct lh *lh, router_circuit handle);
/* Another built circuit of the same nickname (a second device), or NULL. */
struct lh_circuit *lh_circuit_other(struct lh *lh, const char *nickname, router_circuit not );
void lh_circuits_free(struct lh *lh);
void lh_on_data(void *ctx, router_circuit circuit, const Anosip__V1__CellData *data);

/* lookup_client.c: claims and queries at the lookup service */
int lh_lookup_claim(struct lh *lh, const char *nickname, uint64_t *request_id);
void lh_lookup_on_answer(void *ctx, int source, const uint8_t *payload, size_t len);
void lh_lookup_expire(struct lh *lh, uint64_t now_ms);
int lh_lookup_cached(struct lh *lh, const char *nickname, char lighthouse[32]);
void lh_cmd_lookup(struct lh *lh, struct node_ctl *req, const char *nickname);

/* lighthouse.c */
void lh_finish_create(struct lh *lh, router_circuit handle, Anosip__V1__CreateRequest *req,
		      int claim_accepted);
void lh_destroy(struct lh *lh, router_circuit handle, Anosip__V1__DestroyReason reason);

#endif
