/* The ua's SIP front, private to ua/: the sockets the softphone and the
 * other party's ua talk to (sip_transport.c), the little SQLite file that
 * remembers the softphone's registration across restarts (state.c), and
 * the proxy between softphone, circuit and direct leg (sip_proxy.c). */
#ifndef ANOSIP_UA_SIP_H
#define ANOSIP_UA_SIP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* --- sip_transport.c, sip_tcp.c --- */

/* Which of our two addresses: the softphone's (sip_listen) or the one
 * other uas reach us at for direct calls (sip_direct). */
enum ua_sock { UA_SOCK_LISTEN = 0, UA_SOCK_DIRECT = 1 };

/* Where a message came from / goes to. */
struct ua_peer {
	struct sockaddr_storage addr;
	int tcp;	   /* over TCP (else UDP) */
	uint64_t conn;	   /* the TCP connection's id (0 for UDP) */
	enum ua_sock sock; /* which of our addresses it reached / leaves from */
};

/* One whole SIP message (UDP datagram or framed TCP message). frame_error:
 * the stream could not be framed within its bound (the connection closes
 * after whatever the callee sends back is flushed); buf then holds what
 * was buffered, at most UA_TRANSPORT_BUFFER_MAX bytes. */
typedef void (*ua_transport_recv_fn)(void *ctx, const struct ua_peer *from, const char *buf,
				     size_t len, int frame_error);

#define UA_TRANSPORT_BUFFER_MAX (64 * 1024)
#define UA_TRANSPORT_MAX_CONNECTIONS 64
/* sip_direct faces the network: one address (a host, or a NAT with the
 * callers behind it) may hold at most this many of its connections, so
 * one attacker cannot fill the bound with connections that spoke SIP and
 * are then kept alive (those are never taken for a newcomer). The
 * loopback-only sip_listen has no such bound: every softphone there comes
 * from the same address. */
#define UA_TCP_DIRECT_PER_ADDRESS 16
/* A TCP connection with no complete message for this long is closed
 * (slow-loris clients); an idle one after UA_TCP_IDLE_MS. */
#define UA_TCP_MESSAGE_MS 10000
#define UA_TCP_IDLE_MS 120000
/* At the connection bound, an accepted connection that has sent no whole
 * message this long after it was accepted, or has been this long in the
 * middle of one, may be closed for a newcomer (sip_tcp.c, conn_victim). */
#define UA_TCP_EVICT_MS 1000

struct ua_transport;

/* Binds UDP and TCP on listen_addr and on direct_addr ("IP:PORT"; direct
 * may be NULL or "" for none) on loop, and calls fn for every message.
 * *out is the caller's, closed with ua_transport_close. err: one line.
 * Port 0 picks a free port, the same one for UDP and TCP (read it back
 * with ua_transport_address). On failure nothing is called back, but
 * libuv still owes close callbacks: run the loop before uv_loop_close.
 *
 * fn runs on the loop and may call ua_transport_send (to the sender, on
 * the same connection too) and even ua_transport_close; buf is valid only
 * during the call. On a frame error, answer from within fn: the
 * connection closes once what is queued then is flushed. UDP datagrams
 * and TCP streams made only of CR/LF (keep-alives) never reach fn; a TCP
 * double-CRLF "ping" is answered with a CRLF "pong" (RFC 5626 §4.4.1). */
int ua_transport_open(uv_loop_t *loop, const char *listen_addr, const char *direct_addr,
		      ua_transport_recv_fn fn, void *ctx, struct ua_transport **out, char *err,
		      size_t err_len);

/* UDP: sends from the socket of to->sock to to->addr. TCP: over the
 * connection to->conn when it is still open (-ENOTCONN otherwise); a TCP
 * peer without a connection (conn 0) gets a new outgoing connection
 * to to->addr, bounded like the others. 0 or a negative errno. buf is
 * copied when it cannot go out at once.
 *
 * Sharper: with conn 0, an open connection of to->sock to exactly
 * to->addr is reused (RFC 3261 §18) rather than a second one dialed; the
 * message waits until a new connection is up (the connect may take
 * UA_TCP_MESSAGE_MS, after which it and its queue are dropped, counted in
 * send_errors). A new connection leaves from the IP of to->sock unless
 * that is a wildcard. The connection limit is per address (listen,
 * direct), so the direct side cannot starve the softphone's: over it,
 * -EMFILE. More than 256 KiB queued on one connection (or UDP socket):
 * -ENOBUFS. A datagram over 65535 bytes: -EMSGSIZE. No socket for
 * to->sock: -ENOTCONN. */
int ua_transport_send(struct ua_transport *t, const struct ua_peer *to, const char *buf,
		      size_t len);

/* The bound address of a socket, as "IP:PORT" (useful when port 0 was
 * asked for). */
int ua_transport_address(const struct ua_transport *t, enum ua_sock sock, char *out, size_t len);

/* Counters for `anosip ctl metrics`. */
struct ua_transport_stats {
	uint64_t udp_in, tcp_in, sent, send_errors, frame_errors, connections_refused,
	    connections_timed_out, connections_evicted, connections_refused_per_address;
	unsigned connections;
};
void ua_transport_get_stats(const struct ua_transport *t, struct ua_transport_stats *st);

/* Closes every socket and connection; frees t once libuv is done with
 * them (run the loop). NULL is fine. Queued messages are dropped. */
void ua_transport_close(struct ua_transport *t);

/* Exempts connection conn from the idle timeout (keep 1) or not (0): the
 * flow a TCP softphone registered over must stay open for calls to reach
 * it (RFC 5626), softphones without keep-alives included. The
 * slow-message timeout still applies. 0 or -ENOTCONN. */
int ua_transport_keep(struct ua_transport *t, uint64_t conn, int keep);

/* For tests: lowers UA_TCP_MESSAGE_MS and UA_TCP_IDLE_MS for t (0 keeps
 * the default); connections are checked every quarter of the smaller,
 * at most once a second. */
void ua_transport_set_timeouts(struct ua_transport *t, uint64_t message_ms, uint64_t idle_ms);

/* --- state.c: the softphone's registration, kept across restarts --- */

struct ua_state;

/* Opens (mode 0600) the ua's state file. err: one line. */
int ua_state_open(const char *path, struct ua_state **out, char *err, size_t err_len);
void ua_state_close(struct ua_state *s);
/* The softphone's Contact URI (as it registered it, at most 511 bytes)
 * with its expiry, its transport (1 TCP, 0 UDP) and the address it
 * registered from ("IP:PORT"). Replaces what was there. -EINVAL for an
 * empty contact, one over 511 bytes or with a control character, a
 * source that is not IP:PORT / [IPv6]:PORT, tcp not 0 or 1; -ERANGE for
 * an expiry above INT64_MAX. */
int ua_state_contact_set(struct ua_state *s, const char *contact, int tcp, const char *source,
			 uint64_t expires_unix);
/* 0, or -ENOENT when none or expired at now_unix (expires_unix <=
 * now_unix). Any output may be NULL; -ENOSPC when a buffer is too small
 * (512 and 64 bytes always do), -EINVAL for a row this code would never
 * have written (a tampered file). */
int ua_state_contact_get(struct ua_state *s, uint64_t now_unix, char *contact, size_t contact_len,
			 int *tcp, char *source, size_t source_len, uint64_t *expires_unix);
int ua_state_contact_clear(struct ua_state *s);
/* Trust on first use of a peer's nickname key: 0 when nickname is new (key
 * now remembered) or known with this key, -EKEYREJECTED when it is known
 * with another key, else a negative errno. */
int ua_state_peer_key(struct ua_state *s, const char *nickname, const uint8_t key[32],
		      uint64_t now_unix);

#endif
