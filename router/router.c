/* The router module: forwards routed messages by topo_next_hop, delivers
 * those addressed here, answers pings, and runs `ping` and `send-routed`
 * for the control socket. */
#include "router/router_private.h"

#include "link/link.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PING_TIMEOUT_MS 2000
#define PING_COUNT_MAX 1000

struct router;

struct ping_job {
	struct router *router;
	struct node_ctl *req;
	uv_timer_t timer;
	int dest;
	int remaining, sent, received;
	uint32_t hop_limit;
	uint64_t message_id; /* of the ping in flight, 0 when none */
	uint64_t sent_ns;
	struct ping_job *next;
};

static void deliver(struct router *r, const Anosip__V1__Routed *routed);

static void send_link(struct router *r, int next, const Anosip__V1__Routed *routed)
{
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	m.routed = (Anosip__V1__Routed *)routed;
	node_send(r->node, next, &m);
}

struct router *router_of(struct node *n)
{
	return node_module_state(n, router_module.name);
}

void router_on_routed(struct router *r, Anosip__V1__RoutedType type, router_routed_fn fn, void *ctx)
{
	if ((unsigned)type < sizeof(r->routed) / sizeof(r->routed[0])) {
		r->routed[type].fn = fn;
		r->routed[type].ctx = ctx;
	}
}

void router_set_endpoint(struct router *r, const struct router_endpoint *endpoint)
{
	r->endpoint = *endpoint;
	r->have_endpoint = 1;
}

int router_send_cell(struct router *r, uint32_t link, uint32_t id, Anosip__V1__Cell *cell)
{
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	cell->circuit_id = id;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_CELL;
	m.cell = cell;
	return node_send_link(r->node, link, &m);
}

struct self_message {
	struct self_message *next;
	uint32_t hop_limit;
	size_t len;
	uint8_t sealed[];
};

#define SELF_QUEUE_MAX 1024

static void on_self_timer(uv_timer_t *t)
{
	struct router *r = t->data;
	/* What these deliveries send to ourselves waits for the next turn. */
	struct self_message *m = r->self_head;
	r->self_head = r->self_tail = NULL;
	r->self_queued = 0;
	const struct topo *topo = node_topo(r->node);
	while (m) {
		struct self_message *next = m->next;
		Anosip__V1__Routed routed = ANOSIP__V1__ROUTED__INIT;
		routed.destination = (char *)topo->nodes[node_self(r->node)].id;
		routed.hop_limit = m->hop_limit;
		routed.sealed.data = m->sealed;
		routed.sealed.len = m->len;
		deliver(r, &routed);
		free(m);
		m = next;
	}
}

static void self_queue(struct router *r, const Anosip__V1__Routed *routed)
{
	struct self_message *m = NULL;
	if (r->self_queued < SELF_QUEUE_MAX)
		m = malloc(sizeof(*m) + routed->sealed.len);
	if (!m) {
		node_count_drop(r->node, NODE_DROP_QUEUE_FULL);
		return;
	}
	m->next = NULL;
	m->hop_limit = routed->hop_limit;
	m->len = routed->sealed.len;
	memcpy(m->sealed, routed->sealed.data, m->len);
	if (r->self_tail)
		r->self_tail->next = m;
	else
		r->self_head = m;
	r->self_tail = m;
	if (r->self_queued++ == 0)
		uv_timer_start(&r->self_timer, on_self_timer, 0, 0);
}

/* Seals and sends a routed message from this node. */
static int send_routed(struct router *r, int dest, Anosip__V1__RoutedType type, uint32_t hop_limit,
		       const uint8_t *payload, size_t len, uint64_t *id)
{
	const struct topo *t = node_topo(r->node);
	int self = node_self(r->node);
	struct routed_out out;
	int rc = routed_seal(node_keys(r->node), t->nodes[self].id, &t->nodes[dest], type,
			     hop_limit, payload, len, &out);
	if (rc < 0)
		return rc;
	Anosip__V1__Routed routed = ANOSIP__V1__ROUTED__INIT;
	routed.destination = (char *)t->nodes[dest].id;
	routed.hop_limit = hop_limit;
	routed.sealed.data = out.sealed;
	routed.sealed.len = out.sealed_len;
	if (id)
		*id = out.message_id;
	r->sent++;
	if (dest == self)
		self_queue(r, &routed);
	else
		send_link(r, topo_next_hop(t, self, dest), &routed);
	free(out.sealed);
	return 0;
}

/* --- ping --- */

int router_send(struct router *r, int dest, Anosip__V1__RoutedType type, const uint8_t *payload,
		size_t len)
{
	if (dest < 0 || dest >= node_topo(r->node)->n)
		return -EINVAL;
	return send_routed(r, dest, type, ROUTER_DEFAULT_HOP_LIMIT, payload, len, NULL);
}

static void ping_send_next(struct ping_job *job);

static void on_ping_closed(uv_handle_t *h)
{
	free(h->data);
}

static void ping_finish(struct ping_job *job, const char *why)
{
	struct router *r = job->router;
	for (struct ping_job **pp = &r->pings; *pp; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	if (why)
		node_ctl_printf(job->req, "error: %s\n", why);
	node_ctl_printf(job->req, "%d sent, %d received\n", job->sent, job->received);
	node_ctl_done(job->req);
	uv_close((uv_handle_t *)&job->timer, on_ping_closed);
}

static void on_ping_timeout(uv_timer_t *t)
{
	struct ping_job *job = t->data;
	node_ctl_printf(job->req, "timeout from %s\n",
			node_topo(job->router->node)->nodes[job->dest].id);
	job->message_id = 0;
	ping_send_next(job);
}

static void ping_send_next(struct ping_job *job)
{
	if (job->remaining == 0) {
		ping_finish(job, NULL);
		return;
	}
	job->remaining--;
	job->sent++;
	Anosip__V1__Ping ping = ANOSIP__V1__PING__INIT;
	job->sent_ns = util_now_ns();
	ping.sent_mono_ns = job->sent_ns;
	uint8_t buf[64];
	size_t len = anosip__v1__ping__pack(&ping, buf);
	if (send_routed(job->router, job->dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PING,
			job->hop_limit, buf, len, &job->message_id) < 0) {
		ping_finish(job, "out of memory");
		return;
	}
	uv_timer_start(&job->timer, on_ping_timeout, PING_TIMEOUT_MS, 0);
}

static void on_pong(struct router *r, const Anosip__V1__RoutedBody *body, int source,
		    uint32_t hops_back)
{
	r->pongs_received++;
	Anosip__V1__Ping *pong =
	    anosip__v1__ping__unpack(NULL, body->payload.len, body->payload.data);
	if (!pong) {
		node_count_drop(r->node, NODE_DROP_DECODE);
		return;
	}
	for (struct ping_job *job = r->pings; job; job = job->next) {
		if (job->message_id == 0 || job->message_id != pong->ping_id || job->dest != source)
			continue;
		double ms = (double)(util_now_ns() - job->sent_ns) / 1e6;
		job->received++;
		job->message_id = 0;
		node_ctl_printf(job->req, "reply from %s: hops=%u+%u time_ms=%.3f\n",
				node_topo(r->node)->nodes[source].id, pong->hops_forward, hops_back,
				ms);
		uv_timer_stop(&job->timer);
		ping_send_next(job);
		break;
	}
	anosip__v1__ping__free_unpacked(pong, NULL);
}

static void answer_ping(struct router *r, const Anosip__V1__RoutedBody *body, int source,
			uint32_t hops)
{
	Anosip__V1__Ping *ping =
	    anosip__v1__ping__unpack(NULL, body->payload.len, body->payload.data);
	if (!ping) {
		node_count_drop(r->node, NODE_DROP_DECODE);
		return;
	}
	/* A fresh Ping: the sender's could carry unknown fields, which
	 * protobuf-c would pack back (and past our buffer). */
	Anosip__V1__Ping pong = ANOSIP__V1__PING__INIT;
	pong.sent_mono_ns = ping->sent_mono_ns;
	pong.hops_forward = hops;
	pong.ping_id = body->message_id;
	anosip__v1__ping__free_unpacked(ping, NULL);
	uint8_t buf[64];
	size_t len = anosip__v1__ping__pack(&pong, buf);
	r->pings_answered++;
	send_routed(r, source, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PONG, ROUTER_DEFAULT_HOP_LIMIT,
		    buf, len, NULL);
}

/* --- receiving --- */

static void deliver(struct router *r, const Anosip__V1__Routed *routed)
{
	const struct topo *t = node_topo(r->node);
	Anosip__V1__RoutedBody *body = NULL;
	int source;
	int reason = routed_open(t, node_self(r->node), node_keys(r->node), routed->sealed.data,
				 routed->sealed.len, &body, &source);
	if (reason) {
		node_count_drop(r->node, (enum node_drop)reason);
		return;
	}
	uint64_t now = util_wall_ms();
	uint64_t age =
	    now > body->sent_unix_ms ? now - body->sent_unix_ms : body->sent_unix_ms - now;
	uint8_t id[sizeof(body->message_id) + sizeof(source)]; /* no padding to hash */
	memcpy(id, &body->message_id, sizeof(body->message_id));
	memcpy(id + sizeof(body->message_id), &source, sizeof(source));
	if (body->hop_limit < routed->hop_limit) {
		/* More hops left than the source allowed: someone on the way lied. */
		node_count_drop(r->node, NODE_DROP_HOP_LIMIT);
		goto out;
	}
	if (age > ROUTER_MAX_AGE_MS ||
	    util_replay_check(&r->replay, id, sizeof(id), util_now_ms())) {
		node_count_drop(r->node, NODE_DROP_REPLAY);
		goto out;
	}
	r->delivered++;
	/* Links crossed: the source's limit less what is left, plus the last. */
	uint32_t hops = source == node_self(r->node) ? 0 : body->hop_limit - routed->hop_limit + 1;
	switch (body->type) {
	case ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PING:
		answer_ping(r, body, source, hops);
		break;
	case ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PONG:
		on_pong(r, body, source, hops);
		break;
	case ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD:
		r->discard_in++;
		break;
	default:
		if ((unsigned)body->type < sizeof(r->routed) / sizeof(r->routed[0]) &&
		    r->routed[body->type].fn)
			r->routed[body->type].fn(r->routed[body->type].ctx, source,
						 body->payload.data, body->payload.len);
		else
			node_count_drop(r->node, NODE_DROP_UNKNOWN_MESSAGE);
		break;
	}
out:
	anosip__v1__routed_body__free_unpacked(body, NULL);
}

static void router_on_message(void *state, uint32_t link, int peer,
			      const Anosip__V1__LinkMessage *msg)
{
	struct router *r = state;
	if (msg->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_CELL) {
		circuit_on_cell(r, link, peer, msg->cell);
		return;
	}
	if (msg->body_case != ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED)
		return;
	const Anosip__V1__Routed *routed = msg->routed;
	const struct topo *t = node_topo(r->node);
	int self = node_self(r->node);
	int dest = routed->destination ? topo_find(t, routed->destination) : -1;
	if (dest < 0) {
		node_count_drop(r->node, NODE_DROP_NO_ROUTE);
		return;
	}
	if (dest == self) {
		deliver(r, routed);
		return;
	}
	if (routed->hop_limit <= 1) {
		node_count_drop(r->node, NODE_DROP_HOP_LIMIT);
		return;
	}
	Anosip__V1__Routed fwd = *routed;
	fwd.hop_limit--;
	r->forwarded++;
	send_link(r, topo_next_hop(t, self, dest), &fwd);
}

/* --- send-routed flood (benchmarks) --- */

static void on_flood_idle(uv_idle_t *idle)
{
	struct router *r = idle->data;
	const struct topo *t = node_topo(r->node);
	int self = node_self(r->node);
	int next = r->flood_dest == self ? -1 : topo_next_hop(t, self, r->flood_dest);
	static uint8_t filler[LINK_MESSAGE_MAX];
	size_t bound = node_config(r->node)->max_queue_bytes / 2;
	int burst = 64;
	while (r->flood_left > 0 && burst-- > 0) {
		if (next >= 0 && !node_link_up(r->node, next))
			break;
		if (next >= 0 && node_link_queued(r->node, next) > bound)
			return; /* let it drain */
		send_routed(r, r->flood_dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD,
			    ROUTER_DEFAULT_HOP_LIMIT, filler, r->flood_size, NULL);
		r->flood_left--;
	}
	if (r->flood_left == 0 || (next >= 0 && !node_link_up(r->node, next))) {
		node_ctl_printf(r->flood_req, "%s\n",
				r->flood_left == 0 ? "sent" : "error: link went down");
		node_ctl_done(r->flood_req);
		r->flood_req = NULL;
		uv_idle_stop(idle);
	}
}

/* --- control --- */

static int parse_count(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (*end || !*text || v == 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void cmd_ping(struct router *r, struct node_ctl *req, int argc, char **argv)
{
	const struct topo *t = node_topo(r->node);
	unsigned long long count = 1, hops = ROUTER_DEFAULT_HOP_LIMIT;
	int dest = argc > 1 ? topo_find(t, argv[1]) : -1;
	if (argc < 2 || argc > 4) {
		node_ctl_printf(req, "usage: ping NODE [COUNT [HOP_LIMIT]]\n");
		goto done;
	}
	if (dest < 0) {
		node_ctl_printf(req, "error: %.40s is not in the directory\n", argv[1]);
		goto done;
	}
	if ((argc > 2 && parse_count(argv[2], PING_COUNT_MAX, &count) < 0) ||
	    (argc > 3 && parse_count(argv[3], 255, &hops) < 0)) {
		node_ctl_printf(req, "error: COUNT 1..%d, HOP_LIMIT 1..255\n", PING_COUNT_MAX);
		goto done;
	}
	struct ping_job *job = calloc(1, sizeof(*job));
	if (!job) {
		node_ctl_printf(req, "error: out of memory\n");
		goto done;
	}
	job->router = r;
	job->req = req;
	job->dest = dest;
	job->remaining = (int)count;
	job->hop_limit = (uint32_t)hops;
	uv_timer_init(node_loop(r->node), &job->timer);
	job->timer.data = job;
	job->next = r->pings;
	r->pings = job;
	ping_send_next(job);
	return;
done:
	node_ctl_done(req);
}

static void cmd_send_routed(struct router *r, struct node_ctl *req, int argc, char **argv)
{
	const struct topo *t = node_topo(r->node);
	unsigned long long count, size = 400;
	int dest = argc > 1 ? topo_find(t, argv[1]) : -1;
	if (argc < 3 || dest < 0 || parse_count(argv[2], 100000000ull, &count) < 0 ||
	    (argc > 3 && parse_count(argv[3], LINK_MESSAGE_MAX - 512, &size) < 0)) {
		node_ctl_printf(req, "usage: send-routed NODE COUNT [BYTES]\n");
		goto done;
	}
	if (r->flood_req) {
		node_ctl_printf(req, "error: a send-routed is already running\n");
		goto done;
	}
	r->flood_req = req;
	r->flood_dest = dest;
	r->flood_left = count;
	r->flood_size = size;
	uv_idle_start(&r->flood_idle, on_flood_idle);
	return;
done:
	node_ctl_done(req);
}

/* circuits: what this hop holds — link and circuit ids only, never who. */
static void cmd_circuits(struct router *r, struct node_ctl *req)
{
	uint64_t now = util_now_ms();
	node_ctl_printf(req, "circuits %zu\n", r->circuits.count);
	node_ctl_printf(req, "pending %zu\n", r->circuits.pending);
	for (struct circuit *c = r->circuits.all; c; c = c->next)
		node_ctl_printf(req, "circuit in=%u/%08x out=%u/%08x %s%s age_ms=%llu\n",
				c->in_link, c->in_id, c->out_link, c->out_id,
				c->open ? "open" : "pending", c->out_link ? "" : " ends-here",
				(unsigned long long)(now - c->created_ms));
}

static int router_on_control(void *state, struct node_ctl *req, int argc, char **argv)
{
	struct router *r = state;
	if (strcmp(argv[0], "circuits") == 0) {
		cmd_circuits(r, req);
		node_ctl_done(req);
	} else if (strcmp(argv[0], "ping") == 0)
		cmd_ping(r, req, argc, argv);
	else if (strcmp(argv[0], "send-routed") == 0)
		cmd_send_routed(r, req, argc, argv);
	else
		return 0;
	return 1;
}

static void router_metrics(void *state, struct node_ctl *req)
{
	struct router *r = state;
	node_ctl_printf(req, "routed_sent %llu\n", (unsigned long long)r->sent);
	node_ctl_printf(req, "routed_forwarded %llu\n", (unsigned long long)r->forwarded);
	node_ctl_printf(req, "routed_delivered %llu\n", (unsigned long long)r->delivered);
	node_ctl_printf(req, "routed_discard_in %llu\n", (unsigned long long)r->discard_in);
	node_ctl_printf(req, "pings_answered %llu\n", (unsigned long long)r->pings_answered);
	node_ctl_printf(req, "pongs_received %llu\n", (unsigned long long)r->pongs_received);
	node_ctl_printf(req, "circuits %zu\n", r->circuits.count);
	node_ctl_printf(req, "circuits_pending %zu\n", r->circuits.pending);
	node_ctl_printf(req, "circuits_created %llu\n", (unsigned long long)r->circuits_created);
	node_ctl_printf(req, "circuits_destroyed %llu\n",
			(unsigned long long)r->circuits_destroyed);
	node_ctl_printf(req, "cells_forwarded %llu\n", (unsigned long long)r->cells_forwarded);
}

/* --- module --- */

static void on_expire_timer(uv_timer_t *t)
{
	circuit_expire(t->data, util_now_ms());
}

static int router_start(struct node *n, void **state)
{
	struct router *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->node = n;
	if (util_replay_init(&r->replay, REPLAY_SLOTS, REPLAY_GENERATION_MS, util_now_ms()) < 0) {
		free(r);
		return -ENOMEM;
	}
	if (circuit_table_init(&r->circuits) < 0) {
		util_replay_free(&r->replay);
		free(r);
		return -ENOMEM;
	}
	uv_idle_init(node_loop(n), &r->flood_idle);
	r->flood_idle.data = r;
	uv_timer_init(node_loop(n), &r->expire_timer);
	r->expire_timer.data = r;
	uv_timer_init(node_loop(n), &r->self_timer);
	r->self_timer.data = r;
	uv_timer_start(&r->expire_timer, on_expire_timer, 1000, 1000);
	*state = r;
	return 0;
}

static void router_on_link_down(void *state, uint32_t link, int peer)
{
	circuit_on_link_down(state, link);
}

static void on_router_timer_closed(uv_handle_t *h)
{
	struct router *r = h->data;
	util_replay_free(&r->replay);
	circuit_table_free(&r->circuits);
	free(r);
}

static void router_stop(void *state)
{
	struct router *r = state;
	while (r->pings)
		ping_finish(r->pings, "node shutting down");
	if (r->flood_req) {
		node_ctl_printf(r->flood_req, "error: node shutting down\n");
		node_ctl_done(r->flood_req);
		r->flood_req = NULL;
	}
	uv_close((uv_handle_t *)&r->flood_idle, NULL);
	uv_close((uv_handle_t *)&r->self_timer, NULL);
	while (r->self_head) {
		struct self_message *next = r->self_head->next;
		free(r->self_head);
		r->self_head = next;
	}
	/* Close callbacks run in order: this one after the others'. */
	uv_close((uv_handle_t *)&r->expire_timer, on_router_timer_closed);
}

const struct node_module router_module = {
    .name = "router",
    .start = router_start,
    .stop = router_stop,
    .on_message = router_on_message,
    .on_link_down = router_on_link_down,
    .on_control = router_on_control,
    .help = "ping NODE [COUNT [HOP_LIMIT]]\nsend-routed NODE COUNT [BYTES]\ncircuits",
    .metrics = router_metrics,
};
