/* ua/sip_transport.c: the ua's SIP sockets, driven on a private loop
 * against plain sockets: UDP both ways, TCP framing, frame errors, the
 * connection limit, outgoing connections, the timeouts, closing with
 * messages in flight. */
#include "tests/unit/suites.h"
#include "ua/ua_sip.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_MSGS 64
#define WAIT_MS 5000

struct fixture {
	uv_loop_t loop;
	uv_timer_t tick;
	struct ua_transport *t;
	int n;
	char *data[MAX_MSGS];
	size_t len[MAX_MSGS];
	int frame_error[MAX_MSGS];
	struct ua_peer from[MAX_MSGS];
	/* What the callback does besides recording. */
	int echo;		 /* send "echo:" + message back to the sender */
	const char *error_reply; /* sent back on a frame error */
	int close_on_message;	 /* ua_transport_close from within the callback */
	int echo_rc;
};

static void on_message(void *ctx, const struct ua_peer *from, const char *buf, size_t len,
		       int frame_error)
{
	struct fixture *f = ctx;
	if (f->n < MAX_MSGS) {
		f->data[f->n] = malloc(len + 1);
		memcpy(f->data[f->n], buf, len);
		f->data[f->n][len] = 0;
		f->len[f->n] = len;
		f->frame_error[f->n] = frame_error;
		f->from[f->n] = *from;
		f->n++;
	}
	if (f->close_on_message) {
		ua_transport_close(f->t);
		f->t = NULL;
		return;
	}
	if (frame_error && f->error_reply)
		f->echo_rc = ua_transport_send(f->t, from, f->error_reply, strlen(f->error_reply));
	if (!frame_error && f->echo) {
		char out[9000];
		int n = snprintf(out, sizeof(out), "echo:%.*s", (int)len, buf);
		f->echo_rc = ua_transport_send(f->t, from, out, (size_t)n);
	}
}

static void on_tick(uv_timer_t *h)
{
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || uv_loop_init(&f->loop) < 0)
		return -1;
	/* Keeps UV_RUN_ONCE from sleeping long, so the plain sockets of the
	 * test are polled often. */
	uv_timer_init(&f->loop, &f->tick);
	uv_timer_start(&f->tick, on_tick, 2, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ua_transport_close(f->t);
	uv_close((uv_handle_t *)&f->tick, NULL);
	uint64_t end = util_now_ms() + WAIT_MS;
	while (uv_loop_alive(&f->loop) && util_now_ms() < end)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	int rc = uv_loop_close(&f->loop);
	for (int i = 0; i < f->n; i++)
		free(f->data[i]);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* Runs the loop until cond holds or WAIT_MS pass; the result is cond.
 * cond is evaluated once per turn (it may consume what it polls). */
#define RUN_UNTIL(f, cond)                                                                         \
	({                                                                                         \
		uint64_t end_ = util_now_ms() + WAIT_MS;                                           \
		int ok_;                                                                           \
		while (!(ok_ = !!(cond)) && util_now_ms() < end_)                                  \
			uv_run(&(f)->loop, UV_RUN_ONCE);                                           \
		ok_;                                                                               \
	})

static void run_for(struct fixture *f, uint64_t ms)
{
	uint64_t end = util_now_ms() + ms;
	while (util_now_ms() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void open_transport(struct fixture *f, const char *listen, const char *direct)
{
	char err[256];
	int rc =
	    ua_transport_open(&f->loop, listen, direct, on_message, f, &f->t, err, sizeof(err));
	if (rc < 0)
		fail_msg("ua_transport_open: %s", err);
}

static struct sockaddr_storage bound(struct fixture *f, enum ua_sock sock)
{
	char text[64];
	struct sockaddr_storage a;
	assert_int_equal(ua_transport_address(f->t, sock, text, sizeof(text)), 0);
	assert_int_equal(util_parse_address(text, &a), 0);
	return a;
}

static socklen_t sa_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static uint16_t sa_port(const struct sockaddr_storage *a)
{
	return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
					     : ((const struct sockaddr_in6 *)a)->sin6_port);
}

static int plain_udp(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_storage a;
	memset(&a, 0, sizeof(a));
	a.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sa_len(&a)), 0);
	return fd;
}

static int plain_connect(const struct sockaddr_storage *a)
{
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)a, sa_len(a)), 0);
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* Appends what fd has for us to acc (NUL-terminated); returns 1 at EOF or
 * reset, 0 otherwise. */
static int poll_recv(int fd, char *acc, size_t cap, size_t *len)
{
	for (;;) {
		if (*len + 1 >= cap)
			return 0;
		ssize_t n = recv(fd, acc + *len, cap - 1 - *len, MSG_DONTWAIT);
		if (n > 0) {
			*len += (size_t)n;
			acc[*len] = 0;
			continue;
		}
		if (n == 0)
			return 1;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

/* A SIP request with a correct Content-Length for body. */
static char *sip_msg(const char *method, const char *call_id, const char *body)
{
	char *out = NULL;
	int n = asprintf(&out,
			 "%s sip:alice@127.0.0.1 SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-%s\r\n"
			 "From: <sip:bob@example.invalid>;tag=1\r\n"
			 "To: <sip:alice@127.0.0.1>\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: 1 %s\r\n"
			 "Max-Forwards: 70\r\n"
			 "Content-Type: application/sdp\r\n"
			 "Content-Length: %zu\r\n"
			 "\r\n"
			 "%s",
			 method, call_id, call_id, method, strlen(body), body);
	assert_true(n > 0);
	return out;
}

static const char SDP[] = "v=0\r\n"
			  "o=- 1 1 IN IP4 127.0.0.1\r\n"
			  "s=-\r\n"
			  "c=IN IP4 127.0.0.1\r\n"
			  "t=0 0\r\n"
			  "m=audio 4000 RTP/AVP 0\r\n";

static void test_udp_both_ways(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", "127.0.0.1:0");
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	struct sockaddr_storage direct = bound(f, UA_SOCK_DIRECT);
	assert_int_not_equal(sa_port(&listen), sa_port(&direct));
	int fd = plain_udp(AF_INET);
	struct sockaddr_storage mine;
	socklen_t ml = sizeof(mine);
	getsockname(fd, (struct sockaddr *)&mine, &ml);

	/* Keep-alives and empty datagrams are not messages. */
	sendto(fd, "\r\n\r\n", 4, 0, (struct sockaddr *)&listen, sa_len(&listen));
	sendto(fd, "", 0, 0, (struct sockaddr *)&listen, sa_len(&listen));
	char *m = sip_msg("OPTIONS", "udp1", "");
	sendto(fd, m, strlen(m), 0, (struct sockaddr *)&listen, sa_len(&listen));
	assert_true(RUN_UNTIL(f, f->n == 1));
	run_for(f, 20);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->data[0], m);
	assert_int_equal(f->from[0].tcp, 0);
	assert_int_equal(f->from[0].conn, 0);
	assert_int_equal(f->from[0].sock, UA_SOCK_LISTEN);
	assert_int_equal(f->frame_error[0], 0);
	assert_int_equal(sa_port(&f->from[0].addr), sa_port(&mine));

	/* A reply goes back from the socket it came to. */
	const char reply[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(ua_transport_send(f->t, &f->from[0], reply, strlen(reply)), 0);
	char acc[70000];
	size_t len = 0;
	struct sockaddr_storage src;
	socklen_t sl = sizeof(src);
	assert_true(
	    RUN_UNTIL(f, (len = (size_t)recvfrom(fd, acc, sizeof(acc) - 1, MSG_DONTWAIT,
						 (struct sockaddr *)&src, &sl)) == strlen(reply)));
	assert_memory_equal(acc, reply, strlen(reply));
	assert_int_equal(sa_port(&src), sa_port(&listen));

	/* To the direct address, answered from within the callback. */
	f->echo = 1;
	sendto(fd, m, strlen(m), 0, (struct sockaddr *)&direct, sa_len(&direct));
	assert_true(RUN_UNTIL(f, f->n == 2));
	assert_int_equal(f->from[1].sock, UA_SOCK_DIRECT);
	assert_int_equal(f->echo_rc, 0);
	sl = sizeof(src);
	assert_true(RUN_UNTIL(f, recvfrom(fd, acc, sizeof(acc) - 1, MSG_DONTWAIT,
					  (struct sockaddr *)&src, &sl) == (ssize_t)strlen(m) + 5));
	assert_memory_equal(acc, "echo:", 5);
	assert_int_equal(sa_port(&src), sa_port(&direct));

	/* A big datagram arrives whole. */
	char *big = malloc(60000);
	memset(big, 'x', 60000);
	memcpy(big, "MESSAGE ", 8);
	f->echo = 0;
	sendto(fd, big, 60000, 0, (struct sockaddr *)&listen, sa_len(&listen));
	assert_true(RUN_UNTIL(f, f->n == 3));
	assert_int_equal(f->len[2], 60000);
	free(big);

	struct ua_transport_stats st;
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.udp_in, 3);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.send_errors, 0);
	free(m);
	close(fd);
}

static void test_tcp_framing(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	int fd = plain_connect(&listen);
	char *a = sip_msg("INVITE", "tcp-a", SDP);
	char *b = sip_msg("MESSAGE", "tcp-b", "hello there");
	char *c = sip_msg("INVITE", "tcp-c", SDP);

	/* Two messages in one write, after a leading keep-alive ping. */
	char both[4096];
	int n = snprintf(both, sizeof(both), "\r\n\r\n%s%s", a, b);
	send_all(fd, both, (size_t)n);
	assert_true(RUN_UNTIL(f, f->n == 2));
	assert_string_equal(f->data[0], a);
	assert_string_equal(f->data[1], b);
	char acc[8192];
	size_t len = 0;
	assert_true(RUN_UNTIL(f, (poll_recv(fd, acc, sizeof(acc), &len), len >= 2)));
	assert_string_equal(acc, "\r\n"); /* the pong */

	/* One message in three writes, cut inside the headers and the body. */
	size_t cl = strlen(c);
	size_t cut1 = 40, cut2 = cl - 10;
	send_all(fd, c, cut1);
	run_for(f, 20);
	send_all(fd, c + cut1, cut2 - cut1);
	run_for(f, 20);
	assert_int_equal(f->n, 2);
	send_all(fd, c + cut2, cl - cut2);
	assert_true(RUN_UNTIL(f, f->n == 3));
	assert_string_equal(f->data[2], c);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->from[i].tcp, 1);
		assert_int_equal(f->frame_error[i], 0);
		assert_int_equal(f->from[i].sock, UA_SOCK_LISTEN);
		assert_true(f->from[i].conn != 0);
		assert_true(f->from[i].conn == f->from[0].conn);
	}

	/* A reply over the connection. */
	const char reply[] = "SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n";
	len = 0;
	assert_int_equal(ua_transport_send(f->t, &f->from[2], reply, strlen(reply)), 0);
	assert_true(RUN_UNTIL(f, (poll_recv(fd, acc, sizeof(acc), &len), len >= strlen(reply))));
	assert_string_equal(acc, reply);

	struct ua_transport_stats st;
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.tcp_in, 3);
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.frame_errors, 0);

	/* Closed by the peer: the connection is gone, its id refused. */
	close(fd);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st), st.connections == 0)));
	assert_int_equal(ua_transport_send(f->t, &f->from[2], reply, strlen(reply)), -ENOTCONN);
	free(a);
	free(b);
	free(c);
}

/* Sends junk, expects one frame error with it, the reply, then EOF. */
static void frame_error_case(struct fixture *f, const char *junk, size_t junk_len)
{
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	int fd = plain_connect(&listen);
	int before = f->n;
	send_all(fd, junk, junk_len);
	assert_true(RUN_UNTIL(f, f->n == before + 1));
	assert_int_equal(f->frame_error[before], 1);
	assert_true(f->len[before] > 0 && f->len[before] <= UA_TRANSPORT_BUFFER_MAX);
	assert_memory_equal(f->data[before], junk, f->len[before] < 64 ? f->len[before] : 64);
	assert_int_equal(f->echo_rc, 0);
	char acc[4096];
	size_t len = 0;
	int eof = 0;
	assert_true(RUN_UNTIL(f, (eof = poll_recv(fd, acc, sizeof(acc), &len))));
	assert_int_equal(len, strlen(f->error_reply));
	assert_string_equal(acc, f->error_reply);
	run_for(f, 20);
	assert_int_equal(f->n, before + 1); /* once */
	close(fd);
}

static void test_tcp_frame_errors(void **state)
{
	struct fixture *f = *state;
	f->error_reply = "SIP/2.0 513 Message Too Large\r\nContent-Length: 0\r\n\r\n";
	open_transport(f, "127.0.0.1:0", NULL);

	/* Headers that never end. */
	size_t n = 20000;
	char *junk = malloc(n);
	memset(junk, 'a', n);
	const char start[] = "INVITE sip:alice@127.0.0.1 SIP/2.0\r\nX-Pad: ";
	memcpy(junk, start, strlen(start));
	frame_error_case(f, junk, n);
	free(junk);

	/* A body larger than any message. */
	char huge[] = "MESSAGE sip:alice@127.0.0.1 SIP/2.0\r\nContent-Length: 100000\r\n\r\nabc";
	frame_error_case(f, huge, strlen(huge));

	/* No Content-Length on a stream. */
	char nolen[] = "MESSAGE sip:alice@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\nabc";
	frame_error_case(f, nolen, strlen(nolen));

	struct ua_transport_stats st;
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.frame_errors, 3);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st), st.connections == 0)));
}

static void test_tcp_connection_limit(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", "127.0.0.1:0");
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	struct sockaddr_storage direct = bound(f, UA_SOCK_DIRECT);
	int fds[UA_TRANSPORT_MAX_CONNECTIONS];
	struct ua_transport_stats st;
	for (int i = 0; i < UA_TRANSPORT_MAX_CONNECTIONS; i++)
		fds[i] = plain_connect(&listen);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st),
				  st.connections == UA_TRANSPORT_MAX_CONNECTIONS)));
	int extra = plain_connect(&listen);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st), st.connections_refused == 1)));
	char acc[64];
	size_t len = 0;
	assert_true(RUN_UNTIL(f, poll_recv(extra, acc, sizeof(acc), &len)));
	assert_int_equal(len, 0);
	assert_int_equal(st.connections, UA_TRANSPORT_MAX_CONNECTIONS);

	/* The limit is per address: the direct side still takes one. */
	int other = plain_connect(&direct);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st),
				  st.connections == UA_TRANSPORT_MAX_CONNECTIONS + 1)));
	assert_int_equal(st.connections_refused, 1);

	/* The first 64 still work. */
	char *m = sip_msg("OPTIONS", "limit", "");
	send_all(fds[63], m, strlen(m));
	assert_true(RUN_UNTIL(f, f->n == 1));
	assert_string_equal(f->data[0], m);
	free(m);
	for (int i = 0; i < UA_TRANSPORT_MAX_CONNECTIONS; i++)
		close(fds[i]);
	close(extra);
	close(other);
}

static void test_tcp_outgoing(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	/* A plain server the transport dials. */
	int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_storage sa;
	memset(&sa, 0, sizeof(sa));
	sa.ss_family = AF_INET;
	((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv, (struct sockaddr *)&sa, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(srv, 4), 0);
	socklen_t sl = sizeof(sa);
	getsockname(srv, (struct sockaddr *)&sa, &sl);

	struct ua_peer to;
	memset(&to, 0, sizeof(to));
	to.addr = sa;
	to.tcp = 1;
	to.sock = UA_SOCK_LISTEN;
	char *m = sip_msg("INVITE", "out", SDP);
	assert_int_equal(ua_transport_send(f->t, &to, m, strlen(m)), 0);
	/* A second one before the connect finished shares the connection. */
	assert_int_equal(ua_transport_send(f->t, &to, m, strlen(m)), 0);
	struct ua_transport_stats st;
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.connections, 1);

	int fd = -1;
	assert_true(RUN_UNTIL(f, (fd = accept(srv, NULL, NULL)) >= 0));
	char acc[8192];
	size_t len = 0;
	assert_true(RUN_UNTIL(f, (poll_recv(fd, acc, sizeof(acc), &len), len >= 2 * strlen(m))));
	assert_int_equal(len, 2 * strlen(m));
	assert_memory_equal(acc, m, strlen(m));
	assert_memory_equal(acc + strlen(m), m, strlen(m));
	/* It left from the listen address's IP. */
	struct sockaddr_storage peer;
	sl = sizeof(peer);
	getpeername(fd, (struct sockaddr *)&peer, &sl);
	assert_int_equal(((struct sockaddr_in *)&peer)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

	/* The answer comes back on it. */
	const char reply[] = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n";
	send_all(fd, reply, strlen(reply));
	assert_true(RUN_UNTIL(f, f->n == 1));
	assert_string_equal(f->data[0], reply);
	assert_int_equal(f->from[0].tcp, 1);
	assert_true(f->from[0].conn != 0);
	assert_int_equal(sa_port(&f->from[0].addr), sa_port(&sa));

	/* And the connection serves further sends by id and by address. */
	len = 0;
	assert_int_equal(ua_transport_send(f->t, &f->from[0], "ACK x", 5), 0);
	assert_int_equal(ua_transport_send(f->t, &to, "BYE y", 5), 0);
	assert_true(RUN_UNTIL(f, (poll_recv(fd, acc, sizeof(acc), &len), len >= 10)));
	assert_memory_equal(acc, "ACK xBYE y", 10);
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.connections, 1);
	close(fd);

	/* A connect that fails counts its queued message as a send error. */
	close(srv);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st), st.connections == 0)));
	uint64_t errors = st.send_errors;
	assert_int_equal(ua_transport_send(f->t, &to, m, strlen(m)), 0);
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st),
				  st.connections == 0 && st.send_errors == errors + 1)));
	free(m);
}

static void test_tcp_timeouts(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	ua_transport_set_timeouts(f->t, 200, 600);
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	struct ua_transport_stats st;

	/* A message begun and never finished (slow-loris). */
	int slow = plain_connect(&listen);
	send_all(slow, "INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: ", 41);
	/* A connection kept by the callee, and one left idle. */
	int kept = plain_connect(&listen);
	int idle = plain_connect(&listen);
	char *m = sip_msg("REGISTER", "keep", "");
	send_all(kept, m, strlen(m));
	assert_true(RUN_UNTIL(f, f->n == 1));
	assert_int_equal(ua_transport_keep(f->t, f->from[0].conn, 1), 0);
	assert_int_equal(ua_transport_keep(f->t, 999999999, 1), -ENOTCONN);

	char acc[64];
	size_t len = 0;
	uint64_t t0 = util_now_ms();
	assert_true(RUN_UNTIL(f, poll_recv(slow, acc, sizeof(acc), &len)));
	assert_true(util_now_ms() - t0 < 600);
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.connections_timed_out, 1);
	assert_true(RUN_UNTIL(f, poll_recv(idle, acc, sizeof(acc), &len)));
	run_for(f, 300);
	ua_transport_get_stats(f->t, &st);
	assert_int_equal(st.connections_timed_out, 2);
	assert_int_equal(st.connections, 1);
	assert_int_equal(poll_recv(kept, acc, sizeof(acc), &len), 0);
	free(m);
	close(slow);
	close(kept);
	close(idle);
}

static void test_close_in_flight(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", "127.0.0.1:0");
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	int fd = plain_connect(&listen);
	char *m = sip_msg("OPTIONS", "flight", "");
	send_all(fd, m, strlen(m));
	assert_true(RUN_UNTIL(f, f->n == 1));
	/* Queue more than the kernel takes at once, start a connect, send a
	 * datagram, then close before any of it is done. */
	char *chunk = calloc(1, 200000);
	memset(chunk, 'z', 199999);
	assert_int_equal(ua_transport_send(f->t, &f->from[0], chunk, 200000), 0);
	assert_int_equal(ua_transport_send(f->t, &f->from[0], chunk, 200000), -ENOBUFS);
	struct ua_peer to;
	memset(&to, 0, sizeof(to));
	to.addr = listen;
	to.tcp = 1;
	to.sock = UA_SOCK_DIRECT;
	assert_int_equal(ua_transport_send(f->t, &to, m, strlen(m)), 0);
	to.tcp = 0;
	assert_int_equal(ua_transport_send(f->t, &to, m, strlen(m)), 0);
	ua_transport_close(f->t);
	f->t = NULL;
	free(chunk);
	free(m);
	close(fd);
	/* teardown checks that every handle closed. */
}

static void test_close_from_callback(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	f->close_on_message = 1;
	int fd = plain_connect(&listen);
	char *a = sip_msg("OPTIONS", "cb-a", "");
	char *b = sip_msg("OPTIONS", "cb-b", "");
	char both[2048];
	int n = snprintf(both, sizeof(both), "%s%s", a, b);
	send_all(fd, both, (size_t)n);
	assert_true(RUN_UNTIL(f, f->n == 1));
	run_for(f, 20);
	assert_int_equal(f->n, 1);
	assert_null(f->t);
	free(a);
	free(b);
	close(fd);
}

static void test_send_errors(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	struct ua_peer to;
	memset(&to, 0, sizeof(to));
	to.addr = bound(f, UA_SOCK_LISTEN);
	assert_int_equal(ua_transport_send(f->t, &to, "x", 0), -EINVAL);
	assert_int_equal(ua_transport_send(NULL, &to, "x", 1), -EINVAL);
	char *big = calloc(1, 70000);
	assert_int_equal(ua_transport_send(f->t, &to, big, 70000), -EMSGSIZE);
	to.sock = UA_SOCK_DIRECT;
	assert_int_equal(ua_transport_send(f->t, &to, "x", 1), -ENOTCONN);
	to.sock = (enum ua_sock)7;
	assert_int_equal(ua_transport_send(f->t, &to, "x", 1), -EINVAL);
	to.sock = UA_SOCK_LISTEN;
	to.tcp = 1;
	to.conn = 12345678;
	assert_int_equal(ua_transport_send(f->t, &to, "x", 1), -ENOTCONN);
	to.conn = 0;
	to.addr.ss_family = AF_UNIX;
	assert_int_equal(ua_transport_send(f->t, &to, "x", 1), -EAFNOSUPPORT);
	char text[8];
	assert_int_equal(ua_transport_address(f->t, UA_SOCK_LISTEN, text, sizeof(text)), -ENOSPC);
	assert_int_equal(ua_transport_address(f->t, UA_SOCK_DIRECT, text, sizeof(text)), -ENOENT);
	free(big);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct ua_transport *t = (void *)1;
	assert_int_equal(
	    ua_transport_open(&f->loop, "nonsense", NULL, on_message, f, &t, err, sizeof(err)),
	    -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "sip_listen"));
	assert_int_equal(ua_transport_open(&f->loop, "127.0.0.1:0", "1.2.3.4", on_message, f, &t,
					   err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "sip_direct"));
	/* The same address twice. */
	open_transport(f, "127.0.0.1:0", NULL);
	char addr[64];
	assert_int_equal(ua_transport_address(f->t, UA_SOCK_LISTEN, addr, sizeof(addr)), 0);
	int rc =
	    ua_transport_open(&f->loop, "127.0.0.1:0", addr, on_message, f, &t, err, sizeof(err));
	assert_int_equal(rc, UV_EADDRINUSE);
	assert_non_null(strstr(err, "sip_direct"));
	assert_null(t);
}

static void test_ipv6(void **state)
{
	struct fixture *f = *state;
	char err[256];
	if (ua_transport_open(&f->loop, "[::1]:0", NULL, on_message, f, &f->t, err, sizeof(err)) <
	    0)
		skip(); /* no IPv6 loopback here */
	char text[64];
	assert_int_equal(ua_transport_address(f->t, UA_SOCK_LISTEN, text, sizeof(text)), 0);
	assert_memory_equal(text, "[::1]:", 6);
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	int fd = plain_udp(AF_INET6);
	f->echo = 1;
	char *m = sip_msg("OPTIONS", "v6", "");
	sendto(fd, m, strlen(m), 0, (struct sockaddr *)&listen, sa_len(&listen));
	assert_true(RUN_UNTIL(f, f->n == 1));
	assert_int_equal(f->from[0].addr.ss_family, AF_INET6);
	char acc[2048];
	assert_true(
	    RUN_UNTIL(f, recv(fd, acc, sizeof(acc), MSG_DONTWAIT) == (ssize_t)strlen(m) + 5));
	int tfd = plain_connect(&listen);
	send_all(tfd, m, strlen(m));
	assert_true(RUN_UNTIL(f, f->n == 2));
	assert_int_equal(f->from[1].tcp, 1);
	free(m);
	close(fd);
	close(tfd);
}

/* Random bytes, whole and in pieces, over both transports: whatever the
 * callee sees, nothing crashes and every connection ends. */
static void test_random_input(void **state)
{
	struct fixture *f = *state;
	open_transport(f, "127.0.0.1:0", NULL);
	struct sockaddr_storage listen = bound(f, UA_SOCK_LISTEN);
	unsigned seed = 12345;
	char buf[3000];
	int u = plain_udp(AF_INET);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245 + 12345;
			/* Mostly header-like bytes, some CR/LF, some binary. */
			unsigned r = (seed >> 16) % 100;
			buf[i] = r < 10	  ? '\r'
				 : r < 20 ? '\n'
				 : r < 25 ? (char)(seed >> 8)
					  : (char)('a' + r % 26);
		}
		if (round % 4 == 0) {
			static const char start[] =
			    "INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\n";
			memcpy(buf, start, sizeof(start) - 1);
		}
		sendto(u, buf, 1 + round * 100, 0, (struct sockaddr *)&listen, sa_len(&listen));
		int fd = plain_connect(&listen);
		size_t off = 0;
		while (off < sizeof(buf)) {
			size_t n = 1 + (seed >> 20) % 700;
			seed = seed * 1103515245 + 12345;
			if (n > sizeof(buf) - off)
				n = sizeof(buf) - off;
			if (send(fd, buf + off, n, MSG_NOSIGNAL) <= 0)
				break;
			off += n;
			uv_run(&f->loop, UV_RUN_NOWAIT);
		}
		close(fd);
	}
	struct ua_transport_stats st;
	assert_true(RUN_UNTIL(f, (ua_transport_get_stats(f->t, &st), st.connections == 0)));
	close(u);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_udp_both_ways, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_framing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_frame_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_connection_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_outgoing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_timeouts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
    cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
    cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
    cmocka_unit_test_setup_teardown(test_random_input, setup, teardown),
};

int test_ua_transport_suite(void)
{
	return cmocka_run_group_tests_name("ua_transport", tests, NULL, NULL);
}

int test_ua_transport_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
