/* The ua's SIP over TCP (ua_sip.h, sip_transport_private.h): connections
 * accepted on our listeners or dialed to a peer, framed with
 * sip_frame_length(), their write queues, and the bounds that keep a
 * misbehaving peer from holding memory or sockets: a connection limit per
 * address, a buffer bound, a slow-message and an idle timeout, a bound on
 * bytes queued for sending. The listeners themselves, UDP and the timer
 * that drives the timeouts are in sip_transport.c. */
#include "ua/sip_transport_private.h"

#include "sip/sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A TCP receive buffer starts this small and doubles up to
 * UA_TRANSPORT_BUFFER_MAX, so that idle connections cost little. */
#define BUFFER_INITIAL 4096

/* A copied message waiting for uv_write (or for the connection). */
struct wreq {
	uv_write_t req; /* first: the callback gets it back as the wreq */
	struct tconn *c;
	struct wreq *next; /* while waiting for an outgoing connect */
	size_t len;
	size_t cost; /* len and the request itself, as counted in queued */
	char data[];
};

/* A TCP connection, accepted or dialed. */
struct tconn {
	struct ua_transport *t;
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uint64_t id;
	enum ua_sock sock;
	struct sockaddr_storage peer;
	struct tconn *prev, *next; /* the transport's list, while open */
	int listed, connected, closing, keep;
	int accepted; /* came in on a listener (not dialed by us) */
	int spoke;    /* a whole SIP message came on it (not only CR/LF) */
	/* Reading has stopped; the connection closes once the queue is
	 * flushed. */
	int draining;
	char *buf; /* received, not yet framed: buf[0..len) of cap */
	size_t len, cap;
	size_t queued; /* cost of what uv_write holds or waits for the connect */
	struct wreq *pending, **pending_tail;
	uint64_t started_ms, last_active_ms, drain_ms;
	uint64_t message_ms; /* when the unfinished message began, 0: none */
};

/* Ids are unique in the process, so a stale id held by the caller can
 * never name a newer connection. */
static uint64_t last_conn_id;

static int addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

/* One host for the per-address bound on sip_direct: the same IPv4
 * address, or the same IPv6 /64 (a host is usually given a whole /64);
 * IPv4-mapped addresses compare whole. Any port. */
static int addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		const struct in6_addr *y = &((const struct sockaddr_in6 *)b)->sin6_addr;
		size_t n = IN6_IS_ADDR_V4MAPPED(x) || IN6_IS_ADDR_V4MAPPED(y) ? 16 : 8;
		return memcmp(x, y, n) == 0;
	}
	return 0;
}

static int addr_is_any(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct tconn *c = h->data;
	struct ua_transport *t = c->t;
	while (c->pending) {
		struct wreq *w = c->pending;
		c->pending = w->next;
		free(w);
	}
	free(c->buf);
	free(c);
	t->handles--;
	transport_maybe_free(t);
}

static void conn_close(struct tconn *c)
{
	struct ua_transport *t = c->t;
	if (c->closing)
		return;
	c->closing = 1;
	if (c->listed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			t->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->listed = 0;
		t->n_conns--;
		t->sock_conns[c->sock]--;
	}
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* A connection object with its handle initialised, not yet listed (so not
 * yet counted against the limit). */
static struct tconn *conn_new(struct ua_transport *t, enum ua_sock sock)
{
	struct tconn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (uv_tcp_init(t->loop, &c->tcp) < 0) {
		free(c);
		return NULL;
	}
	t->handles++;
	c->t = t;
	c->tcp.data = c;
	c->connect_req.data = c;
	c->id = ++last_conn_id;
	c->sock = sock;
	c->pending_tail = &c->pending;
	c->started_ms = c->last_active_ms = uv_now(t->loop);
	return c;
}

static void conn_list(struct tconn *c)
{
	struct ua_transport *t = c->t;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	c->listed = 1;
	t->n_conns++;
	t->sock_conns[c->sock]++;
}

static struct tconn *conn_find(struct ua_transport *t, uint64_t id)
{
	for (struct tconn *c = t->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct tconn *c = w->c;
	c->queued -= w->cost;
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		c->t->st.send_errors++;
		conn_close(c);
	} else if (c->draining && c->queued == 0) {
		conn_close(c);
	}
}

static int conn_submit(struct tconn *c, struct wreq *w)
{
	uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
	return uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* Queues a copy of buf on c: at once when connected, else until the
 * connect finishes. */
static int conn_write(struct tconn *c, const char *buf, size_t len)
{
	if (c->closing)
		return -ENOTCONN;
	size_t cost = sizeof(struct wreq) + len;
	if (len > QUEUE_MAX || c->queued + cost > QUEUE_MAX)
		return -ENOBUFS;
	struct wreq *w = malloc(cost);
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->next = NULL;
	w->len = len;
	w->cost = cost;
	memcpy(w->data, buf, len);
	if (c->connected) {
		int rc = conn_submit(c, w);
		if (rc < 0) {
			free(w);
			return rc;
		}
	} else {
		*c->pending_tail = w;
		c->pending_tail = &w->next;
	}
	c->queued += cost;
	c->last_active_ms = uv_now(c->t->loop);
	return 0;
}

static void deliver(struct tconn *c, const char *buf, size_t len, int frame_error)
{
	struct ua_transport *t = c->t;
	struct ua_peer from;
	memset(&from, 0, sizeof(from));
	from.addr = c->peer;
	from.tcp = 1;
	from.conn = c->id;
	from.sock = c->sock;
	t->fn(t->ctx, &from, buf, len, frame_error);
}

/* The stream cannot be framed: the callee sees what was buffered once
 * (and may answer on the connection), then the connection closes when
 * that answer is flushed. Nothing more is read from it. */
static void conn_frame_error(struct tconn *c, const char *buf, size_t len)
{
	struct ua_transport *t = c->t;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->draining = 1;
	c->drain_ms = uv_now(t->loop);
	t->st.frame_errors++;
	if (log_ratelimit_ok(&t->log_rl))
		log_debug("sip: connection %llu: stream cannot be framed, closing",
			  (unsigned long long)c->id);
	deliver(c, buf, len, 1);
	if (!c->closing && c->queued == 0)
		conn_close(c);
}

/* Hands every whole message in the buffer to the callee. The callee may
 * send (on this connection too) and may close the transport, so the
 * connection's state is checked after each call. */
static void conn_frames(struct tconn *c)
{
	struct ua_transport *t = c->t;
	size_t pos = 0;
	while (pos < c->len && !c->closing && !c->draining) {
		const char *p = c->buf + pos;
		size_t left = c->len - pos;
		/* RFC 3261 §7.5 lets CRLFs precede a start line; RFC 5626's
		 * keep-alive "ping" is a double CRLF, answered with one. */
		size_t crlf = 0;
		while (crlf < left && (p[crlf] == '\r' || p[crlf] == '\n'))
			crlf++;
		if (crlf > 0) {
			if (crlf >= 4 && memmem(p, crlf, "\r\n\r\n", 4))
				conn_write(c, "\r\n", 2);
			pos += crlf;
			continue;
		}
		int keepalive = 0;
		long n = sip_frame_length(p, left, &keepalive);
		if (n > 0 && (size_t)n <= left) {
			pos += (size_t)n;
			c->message_ms = 0;
			if (!keepalive) {
				c->spoke = 1;
				t->st.tcp_in++;
				deliver(c, p, (size_t)n, 0);
			}
			continue;
		}
		if (n == 0 && left < UA_TRANSPORT_BUFFER_MAX) {
			if (c->message_ms == 0)
				c->message_ms = uv_now(t->loop);
			break;
		}
		conn_frame_error(c, p, left);
		return;
	}
	if (c->closing || c->draining)
		return;
	if (pos > 0 && pos < c->len)
		memmove(c->buf, c->buf + pos, c->len - pos);
	c->len -= pos;
	if (c->len == 0 && c->cap > BUFFER_INITIAL) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct tconn *c = h->data;
	if (c->len == c->cap && c->cap < UA_TRANSPORT_BUFFER_MAX) {
		size_t cap = c->cap ? c->cap * 2 : BUFFER_INITIAL;
		if (cap > UA_TRANSPORT_BUFFER_MAX)
			cap = UA_TRANSPORT_BUFFER_MAX;
		char *nb = realloc(c->buf, cap);
		if (nb) {
			c->buf = nb;
			c->cap = cap;
		}
	}
	/* A full buffer was framed as an error before we get here again;
	 * an empty uv_buf_t makes libuv report UV_ENOBUFS, which closes. */
	b->base = c->buf ? c->buf + c->len : NULL;
	b->len = c->buf ? c->cap - c->len : 0;
}

static void on_conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct tconn *c = st->data;
	if (c->closing || c->draining)
		return;
	if (nread < 0) {
		/* A peer that half-closes still gets what we owe it. */
		if (nread == UV_EOF && c->queued > 0) {
			uv_read_stop(st);
			c->draining = 1;
			c->drain_ms = uv_now(c->t->loop);
		} else {
			conn_close(c);
		}
		return;
	}
	if (nread == 0)
		return;
	c->len += (size_t)nread;
	c->last_active_ms = uv_now(c->t->loop);
	conn_frames(c);
}

/* At the bound a newcomer takes the place of an accepted connection that
 * holds its slot without speaking SIP: the one whose unfinished message
 * began first, UA_TCP_EVICT_MS or more ago (a slow-loris client), else the
 * oldest that has not sent a whole message in UA_TCP_EVICT_MS since it
 * was accepted (silent, or CR/LF keep-alives only). One that has spoken is
 * never taken however long it then waits — a softphone waiting for its
 * REGISTER's answer, a caller's ua waiting on the direct port while the
 * callee's phone rings — nor are kept flows (a registered softphone's) or
 * connections we dialed; with none left to take, the newcomer is refused.
 * Without this, 64 silent connections locked every TCP client of the ua
 * out for the idle timeout (2 min). With host, only that host's. */
static struct tconn *conn_victim(struct ua_transport *t, enum ua_sock sock,
				 const struct sockaddr_storage *host)
{
	uint64_t now = uv_now(t->loop);
	struct tconn *slow = NULL, *mute = NULL;
	for (struct tconn *c = t->conns; c; c = c->next) {
		if (c->sock != sock || !c->accepted || c->keep || c->draining ||
		    (host && !addr_same_host(&c->peer, host)))
			continue;
		if (c->message_ms) {
			if (now - c->message_ms >= UA_TCP_EVICT_MS &&
			    (!slow || c->message_ms < slow->message_ms))
				slow = c;
		} else if (!c->spoke && now - c->started_ms >= UA_TCP_EVICT_MS &&
			   (!mute || c->started_ms < mute->started_ms)) {
			mute = c;
		}
	}
	return slow ? slow : mute;
}

/* Accepted connections on sip_direct from peer's host (closing ones have
 * left the list, see conn_close). */
static unsigned conn_count_from(const struct ua_transport *t, const struct sockaddr_storage *peer)
{
	unsigned n = 0;
	for (const struct tconn *c = t->conns; c; c = c->next)
		n += c->sock == UA_SOCK_DIRECT && c->accepted && addr_same_host(&c->peer, peer);
	return n;
}

/* At a bound (host's, or the socket's when host is NULL): closes a
 * connection that holds its slot without speaking SIP, or counts a
 * refusal in *refused and returns -EBUSY. */
static int make_room(struct ua_transport *t, enum ua_sock sock, const struct sockaddr_storage *host,
		     uint64_t *refused)
{
	struct tconn *victim = conn_victim(t, sock, host);
	if (!victim) {
		(*refused)++;
		if (log_ratelimit_ok(&t->log_rl))
			log_warn("sip: too many TCP connections%s, refusing one",
				 host ? " from one address on the direct port" : "");
		return -EBUSY;
	}
	t->st.connections_evicted++;
	if (log_ratelimit_ok(&t->log_rl))
		log_warn("sip: too many TCP connections%s, closing one that sent no message",
			 host ? " from one address on the direct port" : "");
	conn_close(victim);
	return 0;
}

void tcp_on_connection(uv_stream_t *server, int status)
{
	struct usock *s = server->data;
	struct ua_transport *t = s->t;
	if (status < 0 || t->closing)
		return;
	/* Without memory for a handle the connection stays in the backlog
	 * and libuv waits for a uv_accept: nothing better to do. */
	struct tconn *c = conn_new(t, s->which);
	if (!c)
		return;
	int len = sizeof(c->peer);
	/* Without its peer's address a connection is already gone (and would
	 * escape the per-address bound). */
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
	    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) < 0) {
		conn_close(c);
		return;
	}
	if ((s->which == UA_SOCK_DIRECT &&
	     conn_count_from(t, &c->peer) >= UA_TCP_DIRECT_PER_ADDRESS &&
	     make_room(t, s->which, &c->peer, &t->st.connections_refused_per_address) < 0) ||
	    (t->sock_conns[s->which] >= UA_TRANSPORT_MAX_CONNECTIONS &&
	     make_room(t, s->which, NULL, &t->st.connections_refused) < 0)) {
		conn_close(c);
		return;
	}
	conn_list(c);
	c->connected = 1;
	c->accepted = 1;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read) < 0)
		conn_close(c);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct tconn *c = req->data;
	if (status == UV_ECANCELED || c->closing)
		return;
	struct ua_transport *t = c->t;
	if (status < 0) {
		for (struct wreq *w = c->pending; w; w = w->next)
			t->st.send_errors++;
		if (log_ratelimit_ok(&t->log_rl))
			log_debug("sip: connect: %s", uv_strerror(status));
		conn_close(c);
		return;
	}
	c->connected = 1;
	c->last_active_ms = uv_now(t->loop);
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read) < 0) {
		conn_close(c);
		return;
	}
	while (c->pending) {
		struct wreq *w = c->pending;
		c->pending = w->next;
		if (!c->pending)
			c->pending_tail = &c->pending;
		if (conn_submit(c, w) < 0) {
			c->queued -= w->cost;
			free(w);
			t->st.send_errors++;
			conn_close(c);
			return;
		}
	}
}

/* A connection to `to` leaving from to->sock: an open one to the same
 * address when there is one (RFC 3261 §18: reuse), else a new one. */
static int conn_dial(struct ua_transport *t, const struct ua_peer *to, struct tconn **out)
{
	struct usock *s = t->socks[to->sock];
	if (!s || !s->open)
		return -ENOTCONN;
	if (transport_addr_len(&to->addr) == 0)
		return -EAFNOSUPPORT;
	for (struct tconn *c = t->conns; c; c = c->next) {
		if (c->sock == to->sock && !c->draining && addr_equal(&c->peer, &to->addr)) {
			*out = c;
			return 0;
		}
	}
	if (t->sock_conns[to->sock] >= UA_TRANSPORT_MAX_CONNECTIONS) {
		t->st.connections_refused++;
		return -EMFILE;
	}
	struct tconn *c = conn_new(t, to->sock);
	if (!c)
		return -ENOMEM;
	conn_list(c);
	c->peer = to->addr;
	int rc = 0;
	/* Leave from our own address, so the other side sees the address
	 * it knows us by; a wildcard one leaves the choice to the kernel. */
	if (s->bound.ss_family == to->addr.ss_family && !addr_is_any(&s->bound)) {
		struct sockaddr_storage src = s->bound;
		transport_addr_set_port(&src, 0);
		rc = uv_tcp_bind(&c->tcp, (struct sockaddr *)&src, 0);
	}
	if (rc == 0)
		rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&to->addr,
				    on_connect);
	if (rc < 0) {
		conn_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int tcp_send(struct ua_transport *t, const struct ua_peer *to, const char *buf, size_t len)
{
	struct tconn *c = NULL;
	if (to->conn != 0) {
		c = conn_find(t, to->conn);
		if (!c)
			return -ENOTCONN;
	} else {
		int rc = conn_dial(t, to, &c);
		if (rc < 0)
			return rc;
	}
	return conn_write(c, buf, len);
}

void tcp_timeouts(struct ua_transport *t)
{
	uint64_t now = uv_now(t->loop);
	struct tconn *next;
	for (struct tconn *c = t->conns; c; c = next) {
		next = c->next;
		int expired;
		if (!c->connected)
			expired = now - c->started_ms >= t->message_timeout_ms;
		else if (c->draining)
			expired = now - c->drain_ms >= t->message_timeout_ms;
		else if (c->message_ms)
			expired = now - c->message_ms >= t->message_timeout_ms;
		else
			expired = !c->keep && now - c->last_active_ms >= t->idle_timeout_ms;
		if (expired) {
			t->st.connections_timed_out++;
			conn_close(c);
		}
	}
}

void tcp_close_all(struct ua_transport *t)
{
	while (t->conns)
		conn_close(t->conns);
}

int ua_transport_keep(struct ua_transport *t, uint64_t conn, int keep)
{
	struct tconn *c = t && !t->closing ? conn_find(t, conn) : NULL;
	if (!c)
		return -ENOTCONN;
	c->keep = keep != 0;
	return 0;
}
