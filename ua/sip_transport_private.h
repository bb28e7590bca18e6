/* What the ua's SIP transport shares between its two files: the transport
 * and its sockets (sip_transport.c) and the TCP connections made on them
 * (sip_tcp.c). Private to those two; everyone else goes through ua_sip.h.
 *
 * Everything runs on the caller's loop, single-threaded. Handles are
 * freed only in their close callbacks; the transport itself once the last
 * of them has run, so it outlives every callback libuv still owes it. */
#ifndef ANOSIP_UA_SIP_TRANSPORT_PRIVATE_H
#define ANOSIP_UA_SIP_TRANSPORT_PRIVATE_H

#include "ua/ua_sip.h"

#include "util/util.h"

/* Bytes a connection (or a UDP socket) may have queued for the kernel,
 * each request's bookkeeping included, so that many tiny writes (pongs)
 * are bounded by memory, not by payload. */
#define QUEUE_MAX (256 * 1024)
/* The largest datagram there can be, and the receive buffer that holds it. */
#define UDP_MAX 65535

struct tconn; /* a TCP connection, private to sip_tcp.c */

/* One of our two addresses: a UDP socket and a TCP listener on one port. */
struct usock {
	struct ua_transport *t;
	enum ua_sock which;
	uv_udp_t udp;
	uv_tcp_t tcp;
	int refs; /* handles initialised whose close callback has not run */
	int open; /* bound, listening and receiving */
	struct sockaddr_storage bound;
	size_t udp_queued;
};

struct ua_transport {
	uv_loop_t *loop;
	ua_transport_recv_fn fn;
	void *ctx;
	struct usock *socks[2];
	unsigned sock_conns[2]; /* open connections per address */
	struct tconn *conns;
	unsigned n_conns;
	uv_timer_t timer;
	int timer_init;
	unsigned handles; /* initialised handles whose close callback has not run */
	int closing;
	uint64_t message_timeout_ms, idle_timeout_ms;
	struct ua_transport_stats st;
	struct log_ratelimit log_rl;
	char udp_buf[UDP_MAX + 1];
};

/* --- sip_transport.c --- */

/* Frees t once it is closing and its last handle's close callback has run. */
void transport_maybe_free(struct ua_transport *t);
/* The length of a's sockaddr, 0 for a family other than IPv4 or IPv6. */
socklen_t transport_addr_len(const struct sockaddr_storage *a);
/* Sets the port of a (IPv4 or IPv6), in host byte order. */
void transport_addr_set_port(struct sockaddr_storage *a, uint16_t port);

/* --- sip_tcp.c --- */

/* The listeners' connection callback: accepts onto a new connection the
 * transport owns (closed by it), or refuses one past the limit. */
void tcp_on_connection(uv_stream_t *server, int status);
/* Sends a copy of buf over TCP: on to->conn, else on a connection to
 * to->addr (reused or dialed). The copy is the connection's until written. */
int tcp_send(struct ua_transport *t, const struct ua_peer *to, const char *buf, size_t len);
/* Closes the connections whose message, drain, connect or idle timeout
 * has passed; the timer's scan. */
void tcp_timeouts(struct ua_transport *t);
/* Starts closing every connection; each is freed in its close callback. */
void tcp_close_all(struct ua_transport *t);

#endif
