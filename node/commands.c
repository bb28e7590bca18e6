/* The node's own control commands: status, links, metrics, send-discard. */
#include "node/node_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *state_name(enum peer_state s)
{
	switch (s) {
	case PEER_DOWN:
		return "down";
	case PEER_CONNECTING:
		return "connecting";
	case PEER_HANDSHAKE:
		return "handshake";
	case PEER_UP:
		return "up";
	}
	return "?";
}

static const char *relation(const struct node *n, int other)
{
	if (n->cfg.client)
		return "portal";
	const struct topo_node *self = &n->topo->nodes[n->self];
	if (self->parent == other)
		return "parent";
	if (n->topo->nodes[other].parent == n->self)
		return "child";
	return "sibling";
}

static void cmd_status(struct node *n, struct node_ctl *req)
{
	int up = 0;
	for (int i = 0; i < n->n_peers; i++)
		up += n->peers[i].state == PEER_UP;
	if (n->cfg.client) {
		/* A user agent: its own lines come from the ua module. */
		node_ctl_printf(req, "mode ua\n");
		node_ctl_printf(req, "directory_serial %llu\n",
				(unsigned long long)n->topo->serial);
		node_ctl_printf(req, "uptime_ms %llu\n",
				(unsigned long long)(util_now_ms() - n->started_ms));
		node_ctl_printf(req, "portal %s\n",
				n->topo->nodes[n->peers[n->client_portal].index].id);
		node_ctl_printf(req, "links_up %d\n", up);
		return;
	}
	char roles[64];
	const struct topo_node *self = &n->topo->nodes[n->self];
	topo_roles_text(self->roles, roles, sizeof(roles));
	node_ctl_printf(req, "id %s\n", n->cfg.id);
	node_ctl_printf(req, "address %s\n", n->cfg.listen[0] ? n->cfg.listen : self->address);
	node_ctl_printf(req, "roles %s\n", roles);
	node_ctl_printf(req, "parent %s\n",
			self->parent >= 0 ? n->topo->nodes[self->parent].id : "-");
	node_ctl_printf(req, "depth %d\n", self->depth);
	node_ctl_printf(req, "directory_serial %llu\n", (unsigned long long)n->topo->serial);
	node_ctl_printf(req, "directory_nodes %d\n", n->topo->n);
	node_ctl_printf(req, "uptime_ms %llu\n",
			(unsigned long long)(util_now_ms() - n->started_ms));
	node_ctl_printf(req, "neighbours %d\n", n->n_peers);
	node_ctl_printf(req, "links_up %d\n", up);
	node_ctl_printf(req, "pending_handshakes %u\n", n->n_pending);
	node_ctl_printf(req, "clients %u\n", n->n_clients);
}

static void cmd_links(struct node *n, struct node_ctl *req)
{
	uint64_t now = util_now_ms();
	for (int i = 0; i < n->n_peers; i++) {
		const struct peer *p = &n->peers[i];
		const struct node_counters *c = &p->counters;
		uint64_t drops = 0;
		for (int d = 0; d < NODE_DROP_COUNT; d++)
			drops += c->drops[d];
		size_t queued = p->conn && p->state == PEER_UP
				    ? uv_stream_get_write_queue_size((uv_stream_t *)&p->conn->tcp)
				    : 0;
		node_ctl_printf(
		    req,
		    "%s %s %s dial=%s up_ms=%llu frames_in=%llu frames_out=%llu "
		    "bytes_in=%llu bytes_out=%llu messages_in=%llu messages_out=%llu "
		    "reconnects=%llu connect_failures=%llu drops=%llu queued=%zu\n",
		    n->topo->nodes[p->index].id, relation(n, p->index), state_name(p->state),
		    p->dialer ? "out" : "in",
		    (unsigned long long)(p->state == PEER_UP ? now - p->up_since_ms : 0),
		    (unsigned long long)c->frames_in, (unsigned long long)c->frames_out,
		    (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
		    (unsigned long long)c->messages_in, (unsigned long long)c->messages_out,
		    (unsigned long long)c->reconnects, (unsigned long long)c->connect_failures,
		    (unsigned long long)drops, queued);
	}
}

static void cmd_metrics(struct node *n, struct node_ctl *req)
{
	const struct node_counters *c = &n->counters;
#define M(name) node_ctl_printf(req, #name " %llu\n", (unsigned long long)c->name)
	M(frames_in);
	M(frames_out);
	M(bytes_in);
	M(bytes_out);
	M(messages_in);
	M(messages_out);
	M(handshakes_ok);
	M(handshakes_failed);
	M(reconnects);
	M(connect_failures);
	M(discard_in);
#undef M
	for (int d = 0; d < NODE_DROP_COUNT; d++)
		node_ctl_printf(req, "drop_%s %llu\n", node_drop_name((enum node_drop)d),
				(unsigned long long)c->drops[d]);
	for (size_t i = 0; i < n->n_modules; i++)
		if (n->modules[i]->metrics)
			n->modules[i]->metrics(n->module_state[i], req);
}

/* send-discard: a bounded flood of link-level Discard messages to one
 * neighbour, paced by the link's queue, for benchmarks. Answers when the
 * last one is queued. */
static void on_flood_idle(uv_idle_t *idle)
{
	struct node *n = idle->data;
	struct peer *p = links_peer(n, n->flood_peer);
	static uint8_t filler[LINK_MESSAGE_MAX];
	Anosip__V1__Discard d = ANOSIP__V1__DISCARD__INIT;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	d.data.data = filler;
	d.data.len = n->flood_size;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD;
	m.discard = &d;
	int burst = 256;
	while (n->flood_left > 0 && burst-- > 0 && p && p->state == PEER_UP) {
		if (node_link_queued(n, p->index) > n->cfg.max_queue_bytes / 2)
			return; /* let the socket drain; try on the next loop turn */
		if (node_send(n, p->index, &m) < 0)
			break;
		n->flood_left--;
	}
	if (n->flood_left == 0 || !p || p->state != PEER_UP) {
		node_ctl_printf(n->flood_req, "%s\n",
				n->flood_left == 0 ? "sent" : "error: link went down");
		node_ctl_done(n->flood_req);
		n->flood_req = NULL;
		n->flood_peer = -1;
		uv_idle_stop(idle);
	}
}

static void cmd_send_discard(struct node *n, struct node_ctl *req, int argc, char **argv)
{
	if (argc < 3) {
		node_ctl_printf(req, "usage: send-discard NEIGHBOUR COUNT [BYTES]\n");
		goto done;
	}
	int index = topo_find(n->topo, argv[1]);
	struct peer *p = index >= 0 ? links_peer(n, index) : NULL;
	char *end;
	unsigned long long count = strtoull(argv[2], &end, 10);
	unsigned long size = argc > 3 ? strtoul(argv[3], NULL, 10) : 400;
	if (!p || p->state != PEER_UP) {
		node_ctl_printf(req, "error: no link up to %.40s\n", argv[1]);
		goto done;
	}
	if (*end || count == 0 || count > 100000000ull || size > LINK_MESSAGE_MAX - 16) {
		node_ctl_printf(req, "error: COUNT 1..100000000, BYTES 0..%d\n",
				LINK_MESSAGE_MAX - 16);
		goto done;
	}
	if (n->flood_req) {
		node_ctl_printf(req, "error: a send-discard is already running\n");
		goto done;
	}
	n->flood_req = req;
	n->flood_peer = index;
	n->flood_left = count;
	n->flood_size = size;
	uv_idle_start(&n->flood_idle, on_flood_idle);
	return;
done:
	node_ctl_done(req);
}

int control_builtin(struct node *n, struct node_ctl *req, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "status") == 0)
		cmd_status(n, req);
	else if (strcmp(cmd, "links") == 0)
		cmd_links(n, req);
	else if (strcmp(cmd, "metrics") == 0)
		cmd_metrics(n, req);
	else if (strcmp(cmd, "send-discard") == 0) {
		cmd_send_discard(n, req, argc, argv);
		return 1;
	} else if (strcmp(cmd, "help") == 0) {
		node_ctl_printf(req,
				"status\nlinks\nmetrics\nsend-discard NEIGHBOUR COUNT [BYTES]\n");
		for (size_t i = 0; i < n->n_modules; i++)
			if (n->modules[i]->help && n->module_state[i])
				node_ctl_printf(req, "%s\n", n->modules[i]->help);
	} else
		return 0;
	node_ctl_done(req);
	return 1;
}
