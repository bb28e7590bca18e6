/* Circuit switching: the table of (link, id) pairs and what a hop does with
 * each cell. A hop never learns who or where: it sees an incoming link, an
 * outgoing link, and the lighthouse's id in a CREATE. */
#include "router/router_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct client_count {
	uint32_t link;
	unsigned circuits, pending;
	double tokens; /* CREATE budget, refilled at ROUTER_CLIENT_CREATE_RATE */
	uint64_t tokens_ms;
	struct client_count *next;
};

static void refill(struct client_count *cc, uint64_t now_ms)
{
	cc->tokens += (double)(now_ms - cc->tokens_ms) * ROUTER_CLIENT_CREATE_RATE / 1000.0;
	cc->tokens_ms = now_ms;
	if (cc->tokens > ROUTER_CLIENT_CREATE_BURST)
		cc->tokens = ROUTER_CLIENT_CREATE_BURST;
}

#define CLIENT_BUCKETS 4096

static size_t slot(uint32_t link, uint32_t id, size_t buckets)
{
	uint64_t h = ((uint64_t)link << 32 | id) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 32) & (buckets - 1);
}

int circuit_table_init(struct circuit_table *t)
{
	memset(t, 0, sizeof(*t));
	t->buckets = 1024;
	t->by_in = calloc(t->buckets, sizeof(*t->by_in));
	t->by_out = calloc(t->buckets, sizeof(*t->by_out));
	t->client_buckets = CLIENT_BUCKETS;
	t->clients = calloc(t->client_buckets, sizeof(*t->clients));
	if (!t->by_in || !t->by_out || !t->clients) {
		circuit_table_free(t);
		return -ENOMEM;
	}
	return 0;
}

void circuit_table_free(struct circuit_table *t)
{
	while (t->all) {
		struct circuit *c = t->all;
		t->all = c->next;
		free(c);
	}
	if (t->clients)
		for (size_t i = 0; i < t->client_buckets; i++)
			while (t->clients[i]) {
				struct client_count *cc = t->clients[i];
				t->clients[i] = cc->next;
				free(cc);
			}
	free(t->by_in);
	free(t->by_out);
	free(t->clients);
	memset(t, 0, sizeof(*t));
}

struct circuit *circuit_table_lookup_in(const struct circuit_table *t, uint32_t link, uint32_t id)
{
	for (struct circuit *c = t->by_in[slot(link, id, t->buckets)]; c; c = c->next_by_in)
		if (c->in_link == link && c->in_id == id)
			return c;
	return NULL;
}

struct circuit *circuit_table_lookup_out(const struct circuit_table *t, uint32_t link, uint32_t id)
{
	if (link == 0)
		return NULL;
	for (struct circuit *c = t->by_out[slot(link, id, t->buckets)]; c; c = c->next_by_out)
		if (c->out_link == link && c->out_id == id)
			return c;
	return NULL;
}

static void chain_in(struct circuit_table *t, struct circuit *c)
{
	size_t i = slot(c->in_link, c->in_id, t->buckets);
	c->next_by_in = t->by_in[i];
	t->by_in[i] = c;
	if (c->out_link) {
		size_t o = slot(c->out_link, c->out_id, t->buckets);
		c->next_by_out = t->by_out[o];
		t->by_out[o] = c;
	}
}

/* Doubles the hash tables when they hold more circuits than buckets. */
static int grow(struct circuit_table *t)
{
	size_t buckets = t->buckets * 2;
	struct circuit **in = calloc(buckets, sizeof(*in));
	struct circuit **out = calloc(buckets, sizeof(*out));
	if (!in || !out) {
		free(in);
		free(out);
		return -ENOMEM;
	}
	free(t->by_in);
	free(t->by_out);
	t->by_in = in;
	t->by_out = out;
	t->buckets = buckets;
	for (struct circuit *c = t->all; c; c = c->next)
		chain_in(t, c);
	return 0;
}

static struct client_count *client_find(const struct circuit_table *t, uint32_t link, int add)
{
	size_t i = slot(link, 0, t->client_buckets);
	for (struct client_count *cc = t->clients[i]; cc; cc = cc->next)
		if (cc->link == link)
			return cc;
	if (!add)
		return NULL;
	struct client_count *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	cc->link = link;
	cc->tokens = ROUTER_CLIENT_CREATE_BURST;
	cc->tokens_ms = util_now_ms();
	cc->next = t->clients[i];
	t->clients[i] = cc;
	return cc;
}

static void client_drop_if_empty(struct circuit_table *t, struct client_count *cc)
{
	if (cc->circuits || cc->pending)
		return;
	/* A client that spent its CREATE budget keeps its entry until the
	 * budget is back: dropping it would hand a flooder a fresh one. */
	refill(cc, util_now_ms());
	if (cc->tokens < ROUTER_CLIENT_CREATE_BURST)
		return;
	for (struct client_count **pp = &t->clients[slot(cc->link, 0, t->client_buckets)]; *pp;
	     pp = &(*pp)->next)
		if (*pp == cc) {
			*pp = cc->next;
			free(cc);
			return;
		}
}

struct circuit *circuit_table_add(struct circuit_table *t, uint32_t in_link, uint32_t in_id,
				  uint32_t out_link, uint32_t out_id, int in_client,
				  uint64_t now_ms)
{
	if (t->count + 1 > t->buckets && grow(t) < 0)
		return NULL;
	struct circuit *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	struct client_count *cc = in_client ? client_find(t, in_link, 1) : NULL;
	if (in_client && !cc) {
		free(c);
		return NULL;
	}
	c->in_link = in_link;
	c->in_id = in_id;
	c->out_link = out_link;
	c->out_id = out_id;
	c->in_client = (uint8_t)in_client;
	c->created_ms = now_ms;
	chain_in(t, c);
	c->next = t->all;
	if (t->all)
		t->all->prev = c;
	t->all = c;
	t->count++;
	t->pending++;
	if (cc) {
		cc->circuits++;
		cc->pending++;
	}
	return c;
}

void circuit_table_set_open(struct circuit_table *t, struct circuit *c)
{
	if (c->open)
		return;
	c->open = 1;
	t->pending--;
	struct client_count *cc = c->in_client ? client_find(t, c->in_link, 0) : NULL;
	if (cc)
		cc->pending--;
}

static void unchain(struct circuit **head, struct circuit *c, int by_out)
{
	for (struct circuit **pp = head; *pp;
	     pp = by_out ? &(*pp)->next_by_out : &(*pp)->next_by_in)
		if (*pp == c) {
			*pp = by_out ? c->next_by_out : c->next_by_in;
			return;
		}
}

void circuit_table_remove(struct circuit_table *t, struct circuit *c)
{
	unchain(&t->by_in[slot(c->in_link, c->in_id, t->buckets)], c, 0);
	if (c->out_link)
		unchain(&t->by_out[slot(c->out_link, c->out_id, t->buckets)], c, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->count--;
	if (!c->open)
		t->pending--;
	struct client_count *cc = c->in_client ? client_find(t, c->in_link, 0) : NULL;
	if (cc) {
		cc->circuits--;
		if (!c->open)
			cc->pending--;
		client_drop_if_empty(t, cc);
	}
	free(c);
}

void circuit_table_client_counts(const struct circuit_table *t, uint32_t link, unsigned *circuits,
				 unsigned *pending)
{
	struct client_count *cc = client_find(t, link, 0);
	*circuits = cc ? cc->circuits : 0;
	*pending = cc ? cc->pending : 0;
}

int circuit_table_client_allow_create(struct circuit_table *t, uint32_t link, uint64_t now_ms)
{
	struct client_count *cc = client_find(t, link, 1);
	if (!cc)
		return 0;
	refill(cc, now_ms);
	if (cc->tokens < 1)
		return 0;
	cc->tokens -= 1;
	return 1;
}

/* Drops a closed client link's entry, whatever its budget. */
static void client_forget(struct circuit_table *t, uint32_t link)
{
	for (struct client_count **pp = &t->clients[slot(link, 0, t->client_buckets)]; *pp;
	     pp = &(*pp)->next)
		if ((*pp)->link == link) {
			struct client_count *cc = *pp;
			*pp = cc->next;
			free(cc);
			return;
		}
}

uint32_t circuit_table_new_id(const struct circuit_table *t, uint32_t link, int dialed)
{
	/* Random ids (so they say nothing about how many circuits a link has
	 * carried); the high bit tells which side of the link chose it. */
	for (;;) {
		uint32_t id = randombytes_random() & 0x7fffffffu;
		if (dialed)
			id |= 0x80000000u;
		if (id == 0 || id == 0x80000000u)
			continue;
		if (!circuit_table_lookup_out(t, link, id) && !circuit_table_lookup_in(t, link, id))
			return id;
	}
}

/* --- what a hop does with cells --- */

static void send_destroy(struct router *r, uint32_t link, uint32_t id,
			 Anosip__V1__DestroyReason reason)
{
	Anosip__V1__Destroy d = ANOSIP__V1__DESTROY__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.reason = reason;
	cell.body_case = ANOSIP__V1__CELL__BODY_DESTROY;
	cell.destroy = &d;
	router_send_cell(r, link, id, &cell);
}

/* Ends a circuit here and tells both sides (except `skip_link`). */
static void tear_down(struct router *r, struct circuit *c, Anosip__V1__DestroyReason reason,
		      uint32_t skip_link)
{
	/* Out of the table first: nothing that sending may trigger can find it. */
	uint32_t in_link = c->in_link, in_id = c->in_id, out_link = c->out_link, out_id = c->out_id;
	router_circuit handle = (uint64_t)in_link << 32 | in_id;
	circuit_table_remove(&r->circuits, c);
	if (in_link != skip_link)
		send_destroy(r, in_link, in_id, reason);
	if (out_link && out_link != skip_link)
		send_destroy(r, out_link, out_id, reason);
	int ends_here = out_link == 0;
	r->circuits_destroyed++;
	if (ends_here && r->have_endpoint)
		r->endpoint.on_destroy(r->endpoint.ctx, handle, reason);
}

static void on_create(struct router *r, uint32_t link, int peer, const Anosip__V1__Cell *cell)
{
	const struct topo *t = node_topo(r->node);
	int self = node_self(r->node);
	int client = peer < 0;
	if (circuit_table_lookup_in(&r->circuits, link, cell->circuit_id) ||
	    circuit_table_lookup_out(&r->circuits, link, cell->circuit_id)) {
		node_count_drop(r->node, NODE_DROP_CIRCUIT_PROTOCOL);
		return;
	}
	if (client && !circuit_table_client_allow_create(&r->circuits, link, util_now_ms())) {
		node_count_drop(r->node, NODE_DROP_CIRCUIT_LIMIT);
		send_destroy(r, link, cell->circuit_id, ANOSIP__V1__DESTROY_REASON__DESTROY_LIMIT);
		return;
	}
	if (client) {
		unsigned circuits, pending;
		circuit_table_client_counts(&r->circuits, link, &circuits, &pending);
		if (pending >= ROUTER_CLIENT_MAX_PENDING) {
			/* A ua that keeps CREATEs in flight past the bound is
			 * flooding: cut it off; other clients are untouched. */
			node_close_link(r->node, link, NODE_DROP_CIRCUIT_LIMIT);
			return;
		}
		if (circuits >= ROUTER_CLIENT_MAX_CIRCUITS) {
			node_count_drop(r->node, NODE_DROP_CIRCUIT_LIMIT);
			send_destroy(r, link, cell->circuit_id,
				     ANOSIP__V1__DESTROY_REASON__DESTROY_LIMIT);
			return;
		}
	}
	const char *lh = cell->create->lighthouse ? cell->create->lighthouse : "";
	int dest = topo_find(t, lh);
	if (dest < 0 || !(t->nodes[dest].roles & TOPO_ROLE_LIGHTHOUSE)) {
		node_count_drop(r->node, NODE_DROP_NO_ROUTE);
		send_destroy(r, link, cell->circuit_id,
			     ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ROUTE);
		return;
	}
	uint64_t now = util_now_ms();
	if (dest == self) {
		if (!r->have_endpoint) {
			send_destroy(r, link, cell->circuit_id,
				     ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ROUTE);
			return;
		}
		struct circuit *c =
		    circuit_table_add(&r->circuits, link, cell->circuit_id, 0, 0, client, now);
		if (!c)
			return;
		r->circuits_created++;
		r->endpoint.on_create(r->endpoint.ctx, (uint64_t)link << 32 | cell->circuit_id,
				      cell->create);
		return;
	}
	uint32_t out_link = node_peer_link(r->node, topo_next_hop(t, self, dest));
	/* Back where it came from: two nodes disagree about the tree (another
	 * directory serial). Refuse rather than bounce it forever. */
	if (!out_link || out_link == link) {
		node_count_drop(r->node, NODE_DROP_NO_LINK);
		send_destroy(r, link, cell->circuit_id,
			     ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ROUTE);
		return;
	}
	uint32_t out_id =
	    circuit_table_new_id(&r->circuits, out_link, node_link_dialed(r->node, out_link));
	struct circuit *c =
	    circuit_table_add(&r->circuits, link, cell->circuit_id, out_link, out_id, client, now);
	if (!c)
		return;
	r->circuits_created++;
	Anosip__V1__Cell fwd = *cell;
	router_send_cell(r, out_link, out_id, &fwd);
}

void circuit_on_cell(struct router *r, uint32_t link, int peer, const Anosip__V1__Cell *cell)
{
	if (cell->circuit_id == 0) {
		node_count_drop(r->node, NODE_DROP_CIRCUIT_PROTOCOL);
		return;
	}
	if (cell->body_case == ANOSIP__V1__CELL__BODY_CREATE) {
		on_create(r, link, peer, cell);
		return;
	}
	/* Every other cell belongs to a circuit we hold, on one of its sides. */
	struct circuit *c = circuit_table_lookup_in(&r->circuits, link, cell->circuit_id);
	int from_in = c != NULL;
	if (!c)
		c = circuit_table_lookup_out(&r->circuits, link, cell->circuit_id);
	if (!c) {
		node_count_drop(r->node, NODE_DROP_UNKNOWN_CIRCUIT);
		return;
	}
	uint32_t to_link = from_in ? c->out_link : c->in_link;
	uint32_t to_id = from_in ? c->out_id : c->in_id;
	Anosip__V1__Cell fwd = *cell;
	switch (cell->body_case) {
	case ANOSIP__V1__CELL__BODY_CREATED:
		if (from_in || c->open) {
			node_count_drop(r->node, NODE_DROP_CIRCUIT_PROTOCOL);
			return;
		}
		circuit_table_set_open(&r->circuits, c);
		break;
	case ANOSIP__V1__CELL__BODY_DATA:
		if (!c->open) {
			node_count_drop(r->node, NODE_DROP_CIRCUIT_PROTOCOL);
			return;
		}
		if (to_link == 0) {
			if (r->have_endpoint)
				r->endpoint.on_data(r->endpoint.ctx,
						    (uint64_t)c->in_link << 32 | c->in_id,
						    cell->data);
			return;
		}
		break;
	case ANOSIP__V1__CELL__BODY_DESTROY:
		tear_down(r, c, cell->destroy->reason, link);
		return;
	default:
		node_count_drop(r->node, NODE_DROP_UNKNOWN_MESSAGE);
		return;
	}
	r->cells_forwarded++;
	router_send_cell(r, to_link, to_id, &fwd);
}

void circuit_on_link_down(struct router *r, uint32_t link)
{
	for (struct circuit *c = r->circuits.all, *next; c; c = next) {
		next = c->next;
		if (c->in_link == link || c->out_link == link)
			tear_down(r, c, ANOSIP__V1__DESTROY_REASON__DESTROY_LINK_LOST, link);
	}
	client_forget(&r->circuits, link);
}

void circuit_expire(struct router *r, uint64_t now_ms)
{
	if (r->circuits.pending == 0)
		return;
	for (struct circuit *c = r->circuits.all, *next; c; c = next) {
		next = c->next;
		if (!c->open && now_ms - c->created_ms > ROUTER_CREATE_TIMEOUT_MS) {
			node_count_drop(r->node, NODE_DROP_CIRCUIT_TIMEOUT);
			tear_down(r, c, ANOSIP__V1__DESTROY_REASON__DESTROY_TIMEOUT, 0);
		}
	}
}

/* The endpoint answers a circuit that ends here. */
int router_circuit_send(struct router *r, router_circuit circuit, Anosip__V1__Cell *cell)
{
	uint32_t link = (uint32_t)(circuit >> 32), id = (uint32_t)circuit;
	struct circuit *c = circuit_table_lookup_in(&r->circuits, link, id);
	if (!c || c->out_link != 0)
		return -ENOENT;
	if (cell->body_case == ANOSIP__V1__CELL__BODY_CREATED)
		circuit_table_set_open(&r->circuits, c);
	if (cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY) {
		circuit_table_remove(&r->circuits, c);
		r->circuits_destroyed++;
	}
	return router_send_cell(r, link, id, cell);
}
