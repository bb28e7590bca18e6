/* router: what every node does with traffic that is not its own link's —
 * routed node messages (docs/protocol.md §2: sealed to the destination,
 * signed by the source, forwarded by topo_next_hop with a hop limit) and
 * circuit switching (§4: each hop keeps only (link, circuit id) pairs).
 * A module of `anosip node`; roles above it (lighthouse, lookup) register
 * for routed types and for the circuits that end at this node. */
#ifndef ANOSIP_ROUTER_H
#define ANOSIP_ROUTER_H

#include "circuit.pb-c.h"
#include "node/node.h"
#include "routed.pb-c.h"

extern const struct node_module router_module;

/* Hop limit a message starts with unless told otherwise. */
#define ROUTER_DEFAULT_HOP_LIMIT 64
/* Messages older (or further in the future) than this are refused. */
#define ROUTER_MAX_AGE_MS 60000
/* A CREATE not answered within this is torn down at every hop. */
#define ROUTER_CREATE_TIMEOUT_MS 10000
/* What one client link (a ua at a portal) may hold. */
#define ROUTER_CLIENT_MAX_CIRCUITS 16
#define ROUTER_CLIENT_MAX_PENDING 4
/* CREATEs one client link may send per second (and in a burst): a ua
 * builds one circuit at a time; a flood is refused at the portal. */
#define ROUTER_CLIENT_CREATE_RATE 20
#define ROUTER_CLIENT_CREATE_BURST 32

struct router;

/* The router of a running node (the module's state). */
struct router *router_of(struct node *n);

/* Routed messages of `type` addressed to this node go to fn. source is the
 * sender's topo index (authenticated by its signature). */
typedef void (*router_routed_fn)(void *ctx, int source, const uint8_t *payload, size_t len);
void router_on_routed(struct router *r, Anosip__V1__RoutedType type, router_routed_fn fn,
		      void *ctx);

/* Seals, signs and sends a routed message. Returns 0 or -errno. */
int router_send(struct router *r, int dest, Anosip__V1__RoutedType type, const uint8_t *payload,
		size_t len);

/* A circuit that ends here: (incoming link id << 32 | circuit id). Link ids
 * are never reused in a process; the circuit id is the previous hop's, so a
 * dead circuit's handle can come back only on the same link, after the
 * previous hop freed and reused that id. */
typedef uint64_t router_circuit;

/* The circuit endpoint: this node's lighthouse role. */
struct router_endpoint {
	void *ctx;
	/* A CREATE for this node. Answer with router_circuit_send (a Created
	 * or a Destroy) — later is fine; unanswered, it times out. */
	void (*on_create)(void *ctx, router_circuit circuit, const Anosip__V1__Create *create);
	void (*on_data)(void *ctx, router_circuit circuit, const Anosip__V1__CellData *data);
	/* The circuit is gone (a Destroy came, a link on the path died, or it
	 * timed out); the handle is dead from now on. */
	void (*on_destroy)(void *ctx, router_circuit circuit, Anosip__V1__DestroyReason reason);
};
void router_set_endpoint(struct router *r, const struct router_endpoint *endpoint);

/* Sends a cell back down an endpoint circuit; its circuit id is filled in.
 * A Destroy also ends the circuit here. Returns 0, or -ENOENT if the
 * circuit is gone. */
int router_circuit_send(struct router *r, router_circuit circuit, Anosip__V1__Cell *cell);

#endif
