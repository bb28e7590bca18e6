/* The ua's SIP sockets (ua_sip.h): the transport object, its two
 * addresses (a UDP socket and a TCP listener each, on the softphone's
 * address and on the direct-call address), opening and closing, UDP,
 * sending by either, the statistics and the timer that drives the TCP
 * timeouts. The TCP connections themselves are in sip_tcp.c; what the
 * two files share, and the lifetime rules, in sip_transport_private.h. */
#include "ua/sip_transport_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTEN_BACKLOG 64
/* The UDP receive buffer asked for: a softphone's requests arrive in
 * bursts while the loop is busy with the circuit, and a datagram the
 * kernel drops costs the softphone a retransmission timer (500 ms and up).
 * The kernel caps it at net.core.rmem_max (docs/operations.md). */
#define UDP_RECEIVE_BUFFER (1024 * 1024)
/* How often port-0 binding tries again when UDP cannot have the port TCP
 * was given. */
#define BIND_ATTEMPTS 16
#define SCAN_MS 1000

/* A copied datagram waiting for uv_udp_send. */
struct ureq {
	uv_udp_send_t req; /* first */
	struct usock *s;
	size_t cost;
	char data[];
};

void transport_maybe_free(struct ua_transport *t)
{
	if (t->closing && t->handles == 0)
		free(t);
}

socklen_t transport_addr_len(const struct sockaddr_storage *a)
{
	switch (a->ss_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

static uint16_t addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

void transport_addr_set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

/* util_parse_address() refuses port 0, which binding accepts ("any free
 * port", used by tests and by whoever does not care). */
static int parse_bind_address(const char *text, struct sockaddr_storage *out)
{
	if (util_parse_address(text, out) == 0)
		return 0;
	const char *colon = strrchr(text, ':');
	char copy[128];
	size_t n = strlen(text);
	if (!colon || strcmp(colon, ":0") != 0 || n >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, text, n + 1);
	copy[n - 1] = '1';
	if (util_parse_address(copy, out) < 0)
		return -EINVAL;
	transport_addr_set_port(out, 0);
	return 0;
}

static int only_crlf(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return 0;
	return 1;
}

/* --- UDP --- */

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct usock *s = h->data;
	b->base = s->t->udp_buf;
	b->len = sizeof(s->t->udp_buf);
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
			unsigned flags)
{
	struct usock *s = h->data;
	struct ua_transport *t = s->t;
	/* nread 0 without an address: nothing more to read; with one: an
	 * empty datagram. Errors on an unconnected socket are transient. */
	if (nread <= 0 || !addr || t->closing)
		return;
	if (flags & UV_UDP_PARTIAL) {
		t->st.frame_errors++;
		return;
	}
	if (only_crlf(b->base, (size_t)nread))
		return;
	struct ua_peer from;
	memset(&from, 0, sizeof(from));
	if (addr->sa_family == AF_INET)
		memcpy(&from.addr, addr, sizeof(struct sockaddr_in));
	else if (addr->sa_family == AF_INET6)
		memcpy(&from.addr, addr, sizeof(struct sockaddr_in6));
	else
		return;
	from.sock = s->which;
	t->st.udp_in++;
	t->fn(t->ctx, &from, b->base, (size_t)nread, 0);
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	struct ureq *u = (struct ureq *)req;
	u->s->udp_queued -= u->cost;
	if (status < 0 && status != UV_ECANCELED)
		u->s->t->st.send_errors++;
	free(u);
}

static int udp_send(struct ua_transport *t, const struct ua_peer *to, const char *buf, size_t len)
{
	struct usock *s = t->socks[to->sock];
	if (!s || !s->open)
		return -ENOTCONN;
	if (len > UDP_MAX)
		return -EMSGSIZE;
	if (transport_addr_len(&to->addr) == 0)
		return -EAFNOSUPPORT;
	const struct sockaddr *dst = (const struct sockaddr *)&to->addr;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int rc = uv_udp_try_send(&s->udp, &b, 1, dst);
	if (rc >= 0)
		return (size_t)rc == len ? 0 : -EIO;
	if (rc != UV_EAGAIN)
		return rc;
	/* The socket is busy (or has a queue): libuv sends a copy later. */
	size_t cost = sizeof(struct ureq) + len;
	if (s->udp_queued + cost > QUEUE_MAX)
		return -ENOBUFS;
	struct ureq *u = malloc(cost);
	if (!u)
		return -ENOMEM;
	u->s = s;
	u->cost = cost;
	memcpy(u->data, buf, len);
	b = uv_buf_init(u->data, (unsigned)len);
	rc = uv_udp_send(&u->req, &s->udp, &b, 1, dst, on_udp_sent);
	if (rc < 0) {
		free(u);
		return rc;
	}
	s->udp_queued += cost;
	return 0;
}

/* --- sockets --- */

static void on_sock_closed(uv_handle_t *h)
{
	struct usock *s = h->data;
	struct ua_transport *t = s->t;
	if (--s->refs == 0)
		free(s);
	t->handles--;
	transport_maybe_free(t);
}

static void sock_close(struct usock *s)
{
	s->open = 0;
	if (s->refs >= 1)
		uv_close((uv_handle_t *)&s->udp, on_sock_closed);
	if (s->refs >= 2)
		uv_close((uv_handle_t *)&s->tcp, on_sock_closed);
}

/* Binds one address: TCP first (which picks the port when 0 was asked
 * for), then UDP on the same port, since SIP expects both on one. */
static int sock_try(struct ua_transport *t, enum ua_sock which, const struct sockaddr_storage *addr,
		    struct usock **out)
{
	struct usock *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->t = t;
	s->which = which;
	int rc = uv_udp_init(t->loop, &s->udp);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->udp.data = s;
	s->refs = 1;
	t->handles++;
	rc = uv_tcp_init(t->loop, &s->tcp);
	if (rc == 0) {
		s->tcp.data = s;
		s->refs = 2;
		t->handles++;
		rc = uv_tcp_bind(&s->tcp, (const struct sockaddr *)addr, 0);
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->tcp, LISTEN_BACKLOG, tcp_on_connection);
	int len = sizeof(s->bound);
	if (rc == 0)
		rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&s->bound, &len);
	if (rc == 0)
		rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&s->bound, 0);
	if (rc == 0) {
		int size = UDP_RECEIVE_BUFFER;
		/* Best effort: the default buffer still works, only smaller. */
		if (uv_recv_buffer_size((uv_handle_t *)&s->udp, &size) < 0)
			log_debug("sip: could not enlarge the UDP receive buffer");
		rc = uv_udp_recv_start(&s->udp, on_udp_alloc, on_udp_recv);
	}
	if (rc < 0) {
		sock_close(s);
		return rc;
	}
	s->open = 1;
	*out = s;
	return 0;
}

static int sock_open(struct ua_transport *t, enum ua_sock which, const char *name, const char *text,
		     char *err, size_t err_len)
{
	struct sockaddr_storage addr;
	if (parse_bind_address(text, &addr) < 0) {
		snprintf(err, err_len, "%s: not an address (IP:PORT or [IPv6]:PORT): %s", name,
			 text);
		return -EINVAL;
	}
	int attempts = addr_port(&addr) == 0 ? BIND_ATTEMPTS : 1;
	int rc = 0;
	for (int i = 0; i < attempts; i++) {
		rc = sock_try(t, which, &addr, &t->socks[which]);
		if (rc != UV_EADDRINUSE)
			break;
	}
	if (rc < 0)
		snprintf(err, err_len, "%s %s: %s", name, text, uv_strerror(rc));
	return rc;
}

/* --- the transport --- */

static void on_timer(uv_timer_t *h)
{
	tcp_timeouts(h->data);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct ua_transport *t = h->data;
	t->handles--;
	transport_maybe_free(t);
}

static uint64_t scan_interval(const struct ua_transport *t)
{
	uint64_t ms =
	    t->message_timeout_ms < t->idle_timeout_ms ? t->message_timeout_ms : t->idle_timeout_ms;
	ms /= 4;
	if (ms > SCAN_MS)
		ms = SCAN_MS;
	return ms < 10 ? 10 : ms;
}

int ua_transport_open(uv_loop_t *loop, const char *listen_addr, const char *direct_addr,
		      ua_transport_recv_fn fn, void *ctx, struct ua_transport **out, char *err,
		      size_t err_len)
{
	char dummy[1];
	if (!err || err_len == 0) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = 0;
	if (out)
		*out = NULL;
	if (!loop || !listen_addr || !fn || !out) {
		snprintf(err, err_len, "sip transport: missing argument");
		return -EINVAL;
	}
	struct ua_transport *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "sip transport: out of memory");
		return -ENOMEM;
	}
	t->loop = loop;
	t->fn = fn;
	t->ctx = ctx;
	t->message_timeout_ms = UA_TCP_MESSAGE_MS;
	t->idle_timeout_ms = UA_TCP_IDLE_MS;
	t->log_rl.burst = 5;
	int rc = sock_open(t, UA_SOCK_LISTEN, "sip_listen", listen_addr, err, err_len);
	if (rc == 0 && direct_addr && *direct_addr)
		rc = sock_open(t, UA_SOCK_DIRECT, "sip_direct", direct_addr, err, err_len);
	if (rc == 0) {
		rc = uv_timer_init(loop, &t->timer);
		if (rc == 0) {
			t->timer_init = 1;
			t->handles++;
			t->timer.data = t;
			uint64_t ms = scan_interval(t);
			rc = uv_timer_start(&t->timer, on_timer, ms, ms);
		}
		if (rc < 0)
			snprintf(err, err_len, "sip transport: timer: %s", uv_strerror(rc));
	}
	if (rc < 0) {
		ua_transport_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void ua_transport_set_timeouts(struct ua_transport *t, uint64_t message_ms, uint64_t idle_ms)
{
	if (!t || t->closing)
		return;
	t->message_timeout_ms = message_ms ? message_ms : UA_TCP_MESSAGE_MS;
	t->idle_timeout_ms = idle_ms ? idle_ms : UA_TCP_IDLE_MS;
	uint64_t ms = scan_interval(t);
	uv_timer_start(&t->timer, on_timer, ms, ms);
}

int ua_transport_send(struct ua_transport *t, const struct ua_peer *to, const char *buf, size_t len)
{
	if (!t || !to || !buf || len == 0 ||
	    (to->sock != UA_SOCK_LISTEN && to->sock != UA_SOCK_DIRECT))
		return -EINVAL;
	if (t->closing)
		return -ENOTCONN;
	int rc = to->tcp ? tcp_send(t, to, buf, len) : udp_send(t, to, buf, len);
	if (rc < 0)
		t->st.send_errors++;
	else
		t->st.sent++;
	return rc;
}

int ua_transport_address(const struct ua_transport *t, enum ua_sock sock, char *out, size_t len)
{
	if (!t || !out || (sock != UA_SOCK_LISTEN && sock != UA_SOCK_DIRECT))
		return -EINVAL;
	const struct usock *s = t->socks[sock];
	if (!s || !s->open)
		return -ENOENT;
	char ip[INET6_ADDRSTRLEN];
	int n;
	if (s->bound.ss_family == AF_INET) {
		uv_ip4_name((const struct sockaddr_in *)&s->bound, ip, sizeof(ip));
		n = snprintf(out, len, "%s:%u", ip, addr_port(&s->bound));
	} else {
		uv_ip6_name((const struct sockaddr_in6 *)&s->bound, ip, sizeof(ip));
		n = snprintf(out, len, "[%s]:%u", ip, addr_port(&s->bound));
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

void ua_transport_get_stats(const struct ua_transport *t, struct ua_transport_stats *st)
{
	if (!t) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = t->st;
	st->connections = t->n_conns;
}

void ua_transport_close(struct ua_transport *t)
{
	if (!t || t->closing)
		return;
	t->closing = 1;
	tcp_close_all(t);
	for (int i = 0; i < 2; i++) {
		if (t->socks[i])
			sock_close(t->socks[i]);
		t->socks[i] = NULL;
	}
	if (t->timer_init)
		uv_close((uv_handle_t *)&t->timer, on_timer_closed);
	transport_maybe_free(t);
}
