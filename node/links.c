/* Links to tree neighbours: dialing, accepting, the handshake on the wire,
 * frames in and out, keep-alives, reconnection with backoff, queue bounds. */
#include "node/node_private.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct peer *links_peer(struct node *n, int index)
{
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].index == index)
			return &n->peers[i];
	return NULL;
}

static const char *peer_name(struct node *n, const struct peer *p)
{
	return p ? n->topo->nodes[p->index].id : "(unidentified)";
}

void links_count_drop(struct node *n, struct peer *p, enum node_drop reason, const char *detail)
{
	n->counters.drops[reason]++;
	if (p)
		p->counters.drops[reason]++;
	if (log_ratelimit_ok(&n->drop_log))
		log_warn("drop %s from %s%s%s", node_drop_name(reason), peer_name(n, p),
			 detail ? ": " : "", detail ? detail : "");
}

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	free(c->out);
	free(c);
}

static void pending_remove(struct node *n, struct conn *c)
{
	for (struct conn **pp = &n->pending; *pp; pp = &(*pp)->next_pending) {
		if (*pp == c) {
			*pp = c->next_pending;
			n->n_pending--;
			return;
		}
	}
}

static void schedule_reconnect(struct node *n, struct peer *p)
{
	uint64_t now = util_now_ms();
	/* Jitter of up to a quarter keeps restarted neighbours from dialing in
	 * lock step. */
	unsigned jitter = p->backoff_ms / 4 ? randombytes_uniform(p->backoff_ms / 4 + 1) : 0;
	p->next_attempt_ms = now + p->backoff_ms + jitter;
	p->backoff_ms *= 2;
	if (p->backoff_ms > n->cfg.reconnect_max_ms)
		p->backoff_ms = n->cfg.reconnect_max_ms;
}

/* Closes a connection; a reason >= 0 is counted as a drop. */
void links_conn_close(struct conn *c, int reason, const char *detail)
{
	struct node *n = c->node;
	if (c->closing)
		return;
	c->closing = 1;
	struct peer *p = c->peer;
	if (reason >= 0)
		links_count_drop(n, p, (enum node_drop)reason, detail);
	if (p && p->conn == c) {
		p->conn = NULL;
		if (p->state == PEER_UP)
			log_info("link to %s down", peer_name(n, p));
		p->state = PEER_DOWN;
		if (p->dialer)
			schedule_reconnect(n, p);
	}
	if (!c->initiator && !c->handshake_done)
		pending_remove(n, c);
	if (c->up)
		node_link_event(n, c, 0);
	if (c->client) {
		for (struct conn **pp = &n->clients; *pp; pp = &(*pp)->next_client)
			if (*pp == c) {
				*pp = c->next_client;
				n->n_clients--;
				break;
			}
	}
	send_forget(n, c);
	size_t b = c->link_id % (sizeof(n->by_link) / sizeof(n->by_link[0]));
	for (struct conn **pp = &n->by_link[b]; *pp; pp = &(*pp)->next_by_link)
		if (*pp == c) {
			*pp = c->next_by_link;
			break;
		}
	link_handshake_wipe(&c->hs);
	link_session_wipe(&c->session);
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void link_up(struct conn *c, struct peer *p)
{
	struct node *n = c->node;
	if (p->conn && p->conn != c) {
		/* The neighbour dialed again: it restarted or lost the old
		 * connection. The newest authenticated connection wins. */
		log_info("link to %s replaced by a new connection", peer_name(n, p));
		struct conn *old = p->conn;
		p->conn = NULL;
		old->peer = NULL;
		links_conn_close(old, -1, NULL);
	}
	c->peer = p;
	c->handshake_done = 1;
	p->conn = c;
	p->state = PEER_UP;
	p->backoff_ms = n->cfg.reconnect_min_ms;
	p->last_rx_ms = p->last_tx_ms = p->up_since_ms = util_now_ms();
	n->counters.handshakes_ok++;
	p->counters.handshakes_ok++;
	if (p->ever_up) {
		n->counters.reconnects++;
		p->counters.reconnects++;
	}
	p->ever_up = 1;
	log_info("link to %s up (%s)", peer_name(n, p), c->initiator ? "dialed" : "accepted");
	c->peer_index = p->index;
	node_link_event(n, c, 1);
}

/* An anonymous initiator finished its handshake with us, a portal. */
static void client_up(struct conn *c)
{
	struct node *n = c->node;
	c->handshake_done = 1;
	if (n->n_clients >= n->cfg.max_clients) {
		links_conn_close(c, NODE_DROP_TOO_MANY_CLIENTS, NULL);
		return;
	}
	c->client = 1;
	c->peer_index = -1;
	c->next_client = n->clients;
	n->clients = c;
	n->n_clients++;
	c->last_rx_ms = c->last_tx_ms = util_now_ms();
	n->counters.handshakes_ok++;
	/* No address in this line: a portal never logs where a client is. */
	log_debug("client link %u up", c->link_id);
	node_link_event(n, c, 1);
}

static int handshake_drop_reason(int err)
{
	switch (err) {
	case LINK_ERR_UNKNOWN_PEER:
	case LINK_ERR_WRONG_PEER:
		return NODE_DROP_UNKNOWN_PEER;
	case LINK_ERR_BAD_SIGNATURE:
		return NODE_DROP_BAD_SIGNATURE;
	default:
		return NODE_DROP_HANDSHAKE;
	}
}

static void handshake_step(struct conn *c, const uint8_t frame[LINK_FRAME_SIZE])
{
	struct node *n = c->node;
	uint8_t out[LINK_FRAME_SIZE];
	int rc;
	if (!c->initiator && c->hs.step == 0) {
		rc = link_handshake_read_1(&c->hs, frame);
		if (rc == 0)
			rc = link_handshake_write_2(&c->hs, out);
		if (rc == 0)
			send_handshake_frame(c, out);
	} else if (!c->initiator) {
		rc = link_handshake_read_3(&c->hs, frame);
		if (rc == 0)
			rc = link_handshake_finish(&c->hs, &c->session);
		if (rc == 0) {
			pending_remove(n, c);
			if (c->hs.peer_id[0] == 0)
				client_up(c);
			else
				link_up(c, links_peer(n, topo_find(n->topo, c->hs.peer_id)));
		}
	} else {
		rc = link_handshake_read_2(&c->hs, frame);
		if (rc == 0)
			rc = link_handshake_write_3(&c->hs, out);
		if (rc == 0) {
			send_handshake_frame(c, out);
			rc = link_handshake_finish(&c->hs, &c->session);
		}
		if (rc == 0)
			link_up(c, c->peer);
	}
	if (rc < 0) {
		n->counters.handshakes_failed++;
		char detail[96];
		snprintf(detail, sizeof(detail), "handshake: %s%s%s", link_strerror(rc),
			 c->hs.peer_id[0] ? ", claimed id " : "", c->hs.peer_id);
		links_conn_close(c, handshake_drop_reason(rc), detail);
	}
}

static void data_frame(struct conn *c, const uint8_t frame[LINK_FRAME_SIZE])
{
	const uint8_t *msg;
	size_t len;
	int rc = link_open_frame(&c->session, frame, &msg, &len);
	if (rc < 0) {
		int reason = rc == LINK_ERR_AUTH       ? NODE_DROP_FRAME_AUTH
			     : rc == LINK_ERR_OVERSIZE ? NODE_DROP_OVERSIZE
						       : NODE_DROP_FRAME_FORMAT;
		links_conn_close(c, reason, link_strerror(rc));
		return;
	}
	if (rc == 1)
		node_dispatch(c->node, c, msg, len);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	buf->base = (char *)c->node->read_buffer;
	buf->len = sizeof(c->node->read_buffer);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct node *n = c->node;
	if (nread < 0) {
		if (c->partial_len)
			links_conn_close(c, NODE_DROP_TRUNCATED, NULL);
		else
			links_conn_close(c, -1, NULL);
		return;
	}
	const uint8_t *data = (const uint8_t *)buf->base;
	size_t left = (size_t)nread;
	n->counters.bytes_in += left;
	if (c->peer) {
		c->peer->counters.bytes_in += left;
		c->peer->last_rx_ms = util_now_ms();
	}
	c->last_rx_ms = util_now_ms();
	while (left > 0 && !c->closing) {
		const uint8_t *frame;
		if (c->partial_len == 0 && left >= LINK_FRAME_SIZE) {
			frame = data;
			data += LINK_FRAME_SIZE;
			left -= LINK_FRAME_SIZE;
		} else {
			size_t take = LINK_FRAME_SIZE - c->partial_len;
			if (take > left)
				take = left;
			memcpy(c->partial + c->partial_len, data, take);
			c->partial_len += take;
			data += take;
			left -= take;
			if (c->partial_len < LINK_FRAME_SIZE)
				break;
			c->partial_len = 0;
			frame = c->partial;
		}
		n->counters.frames_in++;
		if (c->peer)
			c->peer->counters.frames_in++;
		if (c->handshake_done)
			data_frame(c, frame);
		else
			handshake_step(c, frame);
	}
}

static struct conn *conn_new(struct node *n, int initiator)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->node = n;
	c->initiator = initiator;
	c->link_id = ++n->next_link_id;
	c->peer_index = -1;
	size_t b = c->link_id % (sizeof(n->by_link) / sizeof(n->by_link[0]));
	c->next_by_link = n->by_link[b];
	n->by_link[b] = c;
	c->started_ms = util_now_ms();
	uv_tcp_init(&n->loop, &c->tcp);
	uv_tcp_nodelay(&c->tcp, 1);
	c->tcp.data = c;
	return c;
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	if (status == UV_ECANCELED || c->closing)
		return;
	struct node *n = c->node;
	if (status < 0) {
		n->counters.connect_failures++;
		c->peer->counters.connect_failures++;
		log_debug("dial %s: %s", peer_name(n, c->peer), uv_strerror(status));
		links_conn_close(c, -1, NULL);
		return;
	}
	c->peer->state = PEER_HANDSHAKE;
	uint8_t out[LINK_FRAME_SIZE];
	link_handshake_write_1(&c->hs, out);
	if (send_handshake_frame(c, out) < 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		links_conn_close(c, -1, NULL);
}

static void dial(struct node *n, struct peer *p)
{
	const struct topo_node *t = &n->topo->nodes[p->index];
	struct sockaddr_storage addr;
	if (util_parse_address(t->address, &addr) < 0)
		return; /* the directory was checked on load */
	struct conn *c = conn_new(n, 1);
	if (!c)
		return;
	c->peer = p;
	p->conn = c;
	p->state = PEER_CONNECTING;
	link_handshake_initiator(&c->hs, n->cfg.client ? NULL : &n->keys, n->cfg.id, t->id,
				 t->keys.sign);
	c->connect_req.data = c;
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&addr, on_connect);
	if (rc < 0) {
		n->counters.connect_failures++;
		links_conn_close(c, -1, NULL);
	}
}

/* The responder's check on an initiator: a directory node that is one of
 * our neighbours and is the side that dials us. */
static int accept_lookup(void *ctx, const char *id, uint8_t sign_public[32])
{
	struct node *n = ctx;
	int index = topo_find(n->topo, id);
	struct peer *p = index >= 0 ? links_peer(n, index) : NULL;
	if (!p || p->dialer)
		return -1;
	memcpy(sign_public, n->topo->nodes[index].keys.sign, 32);
	return 0;
}

static void on_incoming(uv_stream_t *server, int status)
{
	struct node *n = server->data;
	if (status < 0)
		return;
	struct conn *c = conn_new(n, 0);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		links_conn_close(c, -1, NULL);
		return;
	}
	if (n->n_pending >= n->cfg.max_pending_handshakes) {
		/* Full of connections that have not finished: the oldest goes.
		 * Refusing the newest instead would let a few idle sockets
		 * lock every neighbour and client out; an honest handshake
		 * takes milliseconds and is never the oldest for long. */
		struct conn *oldest = n->pending;
		while (oldest->next_pending)
			oldest = oldest->next_pending;
		links_conn_close(oldest, NODE_DROP_TOO_MANY_PENDING, NULL);
	}
	c->next_pending = n->pending;
	n->pending = c;
	n->n_pending++;
	int portal = (n->topo->nodes[n->self].roles & TOPO_ROLE_PORTAL) != 0;
	link_handshake_responder(&c->hs, &n->keys, n->cfg.id, accept_lookup, n, portal);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		links_conn_close(c, -1, NULL);
}

/* Client mode: the configured portals are the only peers, all dialed. */
static int client_peers(struct node *n, int *out)
{
	for (int i = 0; i < n->cfg.n_portals; i++) {
		out[i] = topo_find(n->topo, n->cfg.portals[i]);
		if (out[i] < 0 || !(n->topo->nodes[out[i]].roles & TOPO_ROLE_PORTAL)) {
			log_error("%s: %s is not a portal in the directory", n->cfg.path,
				  n->cfg.portals[i]);
			return -EINVAL;
		}
	}
	return n->cfg.n_portals;
}

int links_start(struct node *n)
{
	int neighbours[TOPO_MAX_NODES < 4096 ? TOPO_MAX_NODES : 4096];
	int count = n->cfg.client ? client_peers(n, neighbours)
				  : topo_neighbours(n->topo, n->self, neighbours, 4096);
	if (count < 0)
		return count;
	n->peers = calloc((size_t)(count ? count : 1), sizeof(*n->peers));
	if (!n->peers)
		return -ENOMEM;
	n->n_peers = count;
	for (int i = 0; i < count; i++) {
		struct peer *p = &n->peers[i];
		p->index = neighbours[i];
		p->dialer = n->cfg.client || topo_dials(n->topo, n->self, p->index);
		p->backoff_ms = n->cfg.reconnect_min_ms;
	}
	uv_check_init(&n->loop, &n->flush_check);
	n->flush_check.data = n;
	if (n->cfg.client)
		return 0;

	const char *listen = n->cfg.listen[0] ? n->cfg.listen : n->topo->nodes[n->self].address;
	struct sockaddr_storage addr;
	int rc = util_parse_address(listen, &addr);
	if (rc < 0) {
		uv_close((uv_handle_t *)&n->flush_check, NULL);
		return rc;
	}
	uv_tcp_init(&n->loop, &n->listener);
	n->listener.data = n;
	rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&n->listener, 128, on_incoming);
	if (rc < 0) {
		log_error("%s: cannot listen on %s: %s", n->cfg.path, listen, uv_strerror(rc));
		uv_close((uv_handle_t *)&n->listener, NULL);
		uv_close((uv_handle_t *)&n->flush_check, NULL);
		return rc;
	}
	return 0;
}

static void check_handshake_timeout(struct node *n, struct conn *c, uint64_t now)
{
	if (!c->handshake_done && now - c->started_ms > n->cfg.handshake_timeout_ms)
		links_conn_close(c, NODE_DROP_HANDSHAKE_TIMEOUT, NULL);
}

static void keepalive(struct node *n, struct conn *c, uint64_t *seq)
{
	Anosip__V1__Keepalive ka = ANOSIP__V1__KEEPALIVE__INIT;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	ka.sequence = ++*seq;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	m.keepalive = &ka;
	send_message(c, &m);
}

void links_tick(struct node *n, uint64_t now)
{
	for (struct conn *c = n->pending, *next; c; c = next) {
		next = c->next_pending;
		check_handshake_timeout(n, c, now);
	}
	for (struct conn *c = n->clients, *next; c; c = next) {
		next = c->next_client;
		if (now - c->last_rx_ms > n->cfg.dead_ms)
			links_conn_close(c, NODE_DROP_PEER_SILENT, NULL);
		else if (now - c->last_tx_ms >= n->cfg.keepalive_ms)
			keepalive(n, c, &c->keepalive_seq);
	}
	for (int i = 0; i < n->n_peers; i++) {
		struct peer *p = &n->peers[i];
		if (p->conn && p->state != PEER_UP) {
			check_handshake_timeout(n, p->conn, now);
		} else if (p->state == PEER_UP) {
			if (now - p->last_rx_ms > n->cfg.dead_ms)
				links_conn_close(p->conn, NODE_DROP_PEER_SILENT, NULL);
			else if (now - p->last_tx_ms >= n->cfg.keepalive_ms)
				keepalive(n, p->conn, &p->keepalive_seq);
		}
		/* A client keeps one portal link: the one it was told to use. */
		int wanted = !n->cfg.client || i == n->client_portal;
		if (p->dialer && wanted && !p->conn && !n->stopping && now >= p->next_attempt_ms)
			dial(n, p);
	}
}

void links_close_all(struct node *n)
{
	links_flush_all(n);
	uv_close((uv_handle_t *)&n->flush_check, NULL);
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].conn)
			links_conn_close(n->peers[i].conn, -1, NULL);
	while (n->pending)
		links_conn_close(n->pending, -1, NULL);
	while (n->clients)
		links_conn_close(n->clients, -1, NULL);
	if (!n->cfg.client)
		uv_close((uv_handle_t *)&n->listener, NULL);
}

struct conn *links_find(struct node *n, uint32_t link)
{
	size_t b = link % (sizeof(n->by_link) / sizeof(n->by_link[0]));
	for (struct conn *c = n->by_link[b]; c; c = c->next_by_link) {
		if (c->link_id != link)
			continue;
		/* Only a link that is up: a neighbour's current connection or a
		 * client that finished its handshake. */
		if (c->client)
			return c;
		if (c->peer && c->peer->conn == c && c->peer->state == PEER_UP)
			return c;
		return NULL;
	}
	return NULL;
}

uint32_t node_peer_link(const struct node *n, int neighbour)
{
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].index == neighbour && n->peers[i].state == PEER_UP)
			return n->peers[i].conn->link_id;
	return 0;
}

int node_link_dialed(struct node *n, uint32_t link)
{
	struct conn *c = links_find(n, link);
	return c ? c->initiator : 0;
}

void node_close_link(struct node *n, uint32_t link, enum node_drop reason)
{
	struct conn *c = links_find(n, link);
	if (c)
		links_conn_close(c, (int)reason, NULL);
}

void node_client_use_portal(struct node *n, int which)
{
	if (!n->cfg.client || which < 0 || which >= n->n_peers || which == n->client_portal)
		return;
	struct peer *old = &n->peers[n->client_portal];
	n->client_portal = which;
	if (old->conn)
		links_conn_close(old->conn, -1, NULL);
	n->peers[which].next_attempt_ms = 0;
}

int node_client_portal(const struct node *n)
{
	return n->cfg.client ? n->client_portal : -1;
}
