/* router internals shared by its files (and its unit tests and fuzzers). */
#ifndef ANOSIP_ROUTER_PRIVATE_H
#define ANOSIP_ROUTER_PRIVATE_H

#include "router/router.h"
#include "util/util.h"

#include <stdint.h>

/* Routed messages are accepted within ROUTER_MAX_AGE_MS either side of our
 * clock, so a replay can come up to twice that after the original: ids are
 * remembered that long. Room for REPLAY_SLOTS / 2 messages per generation
 * (about 4,000 a second to this node, sustained; the tables grow only as used). */
#define REPLAY_SLOTS (1u << 20)
#define REPLAY_GENERATION_MS (2 * ROUTER_MAX_AGE_MS)

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

/* --- circuit switching (circuit.c) --- */

/* One circuit at one hop: two (link, id) pairs and nothing else. */
struct circuit {
	uint32_t in_link, in_id;   /* toward the ua */
	uint32_t out_link, out_id; /* toward the lighthouse; 0 when it ends here */
	uint8_t open;		   /* CREATED seen */
	uint8_t in_client;	   /* in_link is a client (ua) link */
	uint64_t created_ms;
	struct circuit *next_by_in, *next_by_out; /* hash chains */
	struct circuit *prev, *next;		  /* every circuit, for scans */
};

struct circuit_table {
	struct circuit **by_in, **by_out;
	size_t buckets; /* a power of two */
	size_t count, pending;
	struct circuit *all;
	/* Per client link: circuits and pending CREATEs (for the bounds). */
	struct client_count **clients;
	size_t client_buckets;
};

int circuit_table_init(struct circuit_table *t);
void circuit_table_free(struct circuit_table *t);
struct circuit *circuit_table_lookup_in(const struct circuit_table *t, uint32_t link, uint32_t id);
struct circuit *circuit_table_lookup_out(const struct circuit_table *t, uint32_t link, uint32_t id);
/* Adds a circuit (allocated here, owned by the table) or returns NULL. */
struct circuit *circuit_table_add(struct circuit_table *t, uint32_t in_link, uint32_t in_id,
				  uint32_t out_link, uint32_t out_id, int in_client,
				  uint64_t now_ms);
void circuit_table_set_open(struct circuit_table *t, struct circuit *c);
void circuit_table_remove(struct circuit_table *t, struct circuit *c);
/* A client link's circuits and pending CREATEs. */
void circuit_table_client_counts(const struct circuit_table *t, uint32_t link, unsigned *circuits,
				 unsigned *pending);
/* Takes one CREATE from a client link's budget (ROUTER_CLIENT_CREATE_RATE);
 * 0 when it is spent (or out of memory). */
int circuit_table_client_allow_create(struct circuit_table *t, uint32_t link, uint64_t now_ms);
/* A fresh id for a new circuit on link (not in use on it). */
uint32_t circuit_table_new_id(const struct circuit_table *t, uint32_t link, int dialed);

/* The router's cell handling (router.c calls it). */
struct router;
void circuit_on_cell(struct router *r, uint32_t link, int peer, const Anosip__V1__Cell *cell);
void circuit_on_link_down(struct router *r, uint32_t link);
void circuit_expire(struct router *r, uint64_t now_ms);

/* router.c */
struct router {
	struct node *node;
	struct util_replay replay;
	struct ping_job *pings;
	/* send-routed: a bounded flood of routed Discard messages. */
	uv_idle_t flood_idle;
	struct node_ctl *flood_req;
	int flood_dest;
	uint64_t flood_left;
	size_t flood_size;
	uint64_t sent, forwarded, delivered, discard_in, pings_answered, pongs_received;
	/* Handlers for routed types addressed here (by RoutedType value). */
	struct {
		router_routed_fn fn;
		void *ctx;
	} routed[16];
	struct circuit_table circuits;
	struct router_endpoint endpoint;
	int have_endpoint;
	uv_timer_t expire_timer;
	uint64_t cells_forwarded, circuits_created, circuits_destroyed;
	/* Routed messages a node sends itself (a lighthouse that is also the
	 * lookup service), delivered on the next loop turn, never from inside
	 * the send: the sender is still in the middle of its own work. */
	struct self_message *self_head, *self_tail;
	unsigned self_queued;
	uv_timer_t self_timer;
};

/* Sends a cell on a link with the given circuit id. */
int router_send_cell(struct router *r, uint32_t link, uint32_t id, Anosip__V1__Cell *cell);

#endif
