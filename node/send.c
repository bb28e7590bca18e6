/* Sending on links: messages are sealed into a per-connection output buffer
 * that is written once per event-loop turn (or when it reaches
 * OUT_FLUSH_BYTES), with the per-link queue bound checked first. */
#include "node/node_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct write_req {
	uv_write_t req;
	uint8_t data[];
};

/* A connection's buffered output is written once it reaches this size, or at
 * the end of the loop turn, whichever comes first. */
#define OUT_FLUSH_BYTES (16 * 1024)

void send_forget(struct node *n, struct conn *c)
{
	c->out_len = 0;
	if (!c->out_scheduled)
		return;
	for (struct conn **pp = &n->flush_list; *pp; pp = &(*pp)->next_flush)
		if (*pp == c) {
			*pp = c->next_flush;
			break;
		}
	c->out_scheduled = 0;
}

static void on_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	(void)status; /* a failed write shows up as a read error and closes */
	free(w);
}

/* Writes bytes in order; tries without copying first. */
static int conn_write(struct conn *c, const uint8_t *data, size_t len)
{
	uv_stream_t *s = (uv_stream_t *)&c->tcp;
	size_t done = 0;
	if (uv_stream_get_write_queue_size(s) == 0) {
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int w = uv_try_write(s, &b, 1);
		if (w >= 0)
			done = (size_t)w;
		else if (w != UV_EAGAIN)
			return w;
	}
	if (done == len)
		return 0;
	struct write_req *wr = malloc(sizeof(*wr) + len - done);
	if (!wr)
		return -ENOMEM;
	memcpy(wr->data, data + done, len - done);
	uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)(len - done));
	int rc = uv_write(&wr->req, s, &b, 1, on_write_done);
	if (rc < 0)
		free(wr);
	return rc;
}

static void count_out(struct node *n, struct conn *c, size_t bytes)
{
	struct peer *p = c->peer;
	c->last_tx_ms = util_now_ms();
	size_t frames = bytes / LINK_FRAME_SIZE;
	n->counters.frames_out += frames;
	n->counters.bytes_out += bytes;
	if (p) {
		p->counters.frames_out += frames;
		p->counters.bytes_out += bytes;
		p->last_tx_ms = util_now_ms();
	}
}

int send_handshake_frame(struct conn *c, const uint8_t frame[LINK_FRAME_SIZE])
{
	count_out(c->node, c, LINK_FRAME_SIZE);
	return conn_write(c, frame, LINK_FRAME_SIZE);
}

static int conn_flush(struct conn *c);
static void on_flush_check(uv_check_t *check);

static void conn_fail(struct conn *c)
{
	c->write_failed = 1;
	c->out_len = 0;
	c->node->have_failed_writes = 1;
	uv_check_start(&c->node->flush_check, on_flush_check);
}

static size_t conn_queued(const struct conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->out_len;
}

/* Room for `need` more bytes in the output buffer. */
static int out_reserve(struct conn *c, size_t need)
{
	if (c->out_len + need <= c->out_cap)
		return 0;
	/* Past the flush size with something buffered: write that first. */
	if (c->out_len > 0 && c->out_len + need > OUT_FLUSH_BYTES) {
		if (conn_flush(c) < 0)
			return -EIO;
		if (need <= c->out_cap)
			return 0;
	}
	/* Start small (most links carry a frame or two per loop turn) and
	 * double as bursts need. */
	size_t cap = c->out_cap ? c->out_cap * 2 : 4 * LINK_FRAME_SIZE;
	while (cap < c->out_len + need)
		cap *= 2;
	uint8_t *out = realloc(c->out, cap);
	if (!out)
		return -ENOMEM;
	c->out = out;
	c->out_cap = cap;
	return 0;
}

/* Writes the buffered frames; closes the connection on a write error. */
static int conn_flush(struct conn *c)
{
	if (c->out_len == 0 || c->closing)
		return 0;
	int rc = conn_write(c, c->out, c->out_len);
	c->out_len = 0;
	/* A big message grew the buffer: give the memory back. */
	if (c->out_cap > OUT_FLUSH_BYTES) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (rc < 0) {
		/* Closing here would run link-down handlers inside whatever
		 * was sending (a circuit teardown, say): mark it and close it
		 * at the end of this loop turn instead. */
		conn_fail(c);
		return rc;
	}
	return 0;
}

void links_flush_all(struct node *n)
{
	while (n->flush_list) {
		struct conn *c = n->flush_list;
		n->flush_list = c->next_flush;
		c->out_scheduled = 0;
		conn_flush(c);
	}
}

static void close_failed(struct node *n)
{
	n->have_failed_writes = 0;
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].conn && n->peers[i].conn->write_failed)
			links_conn_close(n->peers[i].conn, -1, NULL);
	for (struct conn *c = n->clients, *next; c; c = next) {
		next = c->next_client;
		if (c->write_failed)
			links_conn_close(c, -1, NULL);
	}
}

static void on_flush_check(uv_check_t *check)
{
	struct node *n = check->data;
	links_flush_all(n);
	if (n->have_failed_writes)
		close_failed(n);
	uv_check_stop(check);
}

int send_message(struct conn *c, const Anosip__V1__LinkMessage *msg)
{
	struct node *n = c->node;
	struct peer *p = c->peer;
	size_t len = anosip__v1__link_message__get_packed_size(msg);
	if (len > LINK_MESSAGE_MAX)
		return -EMSGSIZE;
	size_t wire = link_frames_for(len) * LINK_FRAME_SIZE;
	if (conn_queued(c) + wire > n->cfg.max_queue_bytes) {
		links_count_drop(n, p, NODE_DROP_QUEUE_FULL, NULL);
		return -ENOBUFS;
	}
	if (c->write_failed)
		return -ENOTCONN;
	int rc = out_reserve(c, wire);
	if (rc < 0) {
		conn_fail(c);
		return -ENOTCONN;
	}
	anosip__v1__link_message__pack(msg, n->message_buffer);
	/* Sealed straight into the connection's output buffer: no extra copy. */
	long sealed = link_seal_message(&c->session, n->message_buffer, len, c->out + c->out_len,
					c->out_cap - c->out_len);
	if (sealed < 0)
		return -EMSGSIZE;
	c->out_len += (size_t)sealed;
	n->counters.messages_out++;
	if (p)
		p->counters.messages_out++;
	count_out(n, c, (size_t)sealed);
	if (c->out_len >= OUT_FLUSH_BYTES)
		return conn_flush(c) < 0 ? -ENOTCONN : 0;
	if (!c->out_scheduled) {
		c->out_scheduled = 1;
		c->next_flush = n->flush_list;
		n->flush_list = c;
		uv_check_start(&n->flush_check, on_flush_check);
	}
	return 0;
}

int node_send(struct node *n, int neighbour, const Anosip__V1__LinkMessage *msg)
{
	struct peer *p = links_peer(n, neighbour);
	if (!p || p->state != PEER_UP || !p->conn) {
		links_count_drop(n, p, NODE_DROP_NO_LINK, NULL);
		return -ENOTCONN;
	}
	return send_message(p->conn, msg);
}

int node_send_link(struct node *n, uint32_t link, const Anosip__V1__LinkMessage *msg)
{
	struct conn *c = links_find(n, link);
	if (!c || c->closing) {
		links_count_drop(n, NULL, NODE_DROP_NO_LINK, NULL);
		return -ENOTCONN;
	}
	return send_message(c, msg);
}

int node_link_up(const struct node *n, int neighbour)
{
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].index == neighbour)
			return n->peers[i].state == PEER_UP;
	return 0;
}

size_t node_link_queued(const struct node *n, int neighbour)
{
	for (int i = 0; i < n->n_peers; i++)
		if (n->peers[i].index == neighbour && n->peers[i].conn &&
		    n->peers[i].state == PEER_UP)
			return conn_queued(n->peers[i].conn);
	return 0;
}
