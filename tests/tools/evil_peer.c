/* evil-peer: speaks the link protocol as a (stolen-key) neighbour, or as an
 * anonymous client of a portal, then misbehaves, so integration tests can
 * check that a node drops, counts and closes — and that its other links
 * are untouched.
 *
 *   evil-peer --dir TESTBED --as NODE --to NODE --attack NAME [--key FILE]
 *   evil-peer --dir TESTBED --client --to PORTAL --attack NAME
 *             [--lighthouse NODE] [--nickname NICK --nick-key FILE] [--count N]
 *
 * Neighbour mode (--as): --key signs the handshake with another key file
 * than TESTBED/NODE.key (an impostor); --as may then name a node that is
 * not in the directory. Attacks: forged (random frame), replay (a valid
 * frame sent twice), reorder (two valid frames, the second sent first),
 * truncated (half a frame, then close), oversize
 * (continuation frames past LINK_MESSAGE_MAX), badproto (a sealed message
 * that is not a LinkMessage), hoplimit (a routed message with hop limit 1
 * for a far node; the link stays), unknownfield (a Routed carrying a field
 * numbered 0), none (handshake only), impostor (the node must refuse the
 * handshake). Exits 0 when the node closed the link
 * (or, for hoplimit/none, kept it), 1 otherwise.
 *
 * Client mode (--client): an anonymous handshake (no identity, like a ua),
 * then circuit cells (docs/protocol.md §3, §4):
 *   none                       handshake only; the portal keeps the link
 *   refused                    the node (not a portal) must refuse us
 *   create-unknown-lighthouse  CREATE for --lighthouse (default node-99, not
 *                              a lighthouse) -> DESTROY_NO_ROUTE, link kept
 *   create-garbage-sealed      CREATE for --lighthouse with random sealed
 *                              bytes -> DESTROY_REFUSED, link kept
 *   data-unknown-circuit       a DATA cell for a circuit nobody built ->
 *                              nothing comes back, link kept
 *   create-flood               --count (default 10) CREATEs for --lighthouse
 *                              in one write, before any answer can come:
 *                              over ROUTER_CLIENT_MAX_PENDING the portal
 *                              closes the link; at most that, each is
 *                              answered (DESTROY_REFUSED) and the link kept
 *   routed-from-client         a Routed message -> link closed
 *   create-wrong-key           a valid CREATE for --nickname, proved with a
 *                              fresh key -> DESTROY_NICKNAME_TAKEN
 *   bad-proof                  sealed to the lighthouse, nickname_public of
 *                              --nick-key but the proof signed by another
 *                              key -> DESTROY_REFUSED
 *   replayed-create            one valid CREATE (--nick-key, --nickname),
 *                              sent on two circuit ids: the first -> CREATED
 *                              (authenticated, then one echo over it), the
 *                              second -> DESTROY_REFUSED
 *   circuit-limit              ROUTER_CLIENT_MAX_CIRCUITS valid circuits
 *                              (--nick-key, --nickname), then one more ->
 *                              DESTROY_LIMIT, link kept
 *   create-churn               --count valid circuits (--nickname), each torn
 *                              down when built, as many in flight as the
 *                              bound allows; prints the rate
 *   data-replay                a real circuit for --nickname (--nick-key, or
 *                              a fresh key that signs up): an echo DATA cell
 *                              answered, the same cell again -> no answer
 *   data-reorder               the same: two echo cells sealed in order, the
 *                              second sent first -> it is answered, the first
 *                              (now older than the newest) is not
 *   data-forged                the same: random bytes as a DATA cell on the
 *                              circuit -> no answer
 *                              (each of the three: afterwards a fresh echo
 *                              still works, the circuit and the link stay)
 * Each prints what came back and exits 0 when it was what the node must
 * answer, 1 otherwise (2: usage or setup error). */
#include "circuit/circuit.h"
#include "keys/keys.h"
#include "link.pb-c.h"
#include "link/link.h"
#include "router/router.h"
#include "topo/topo.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads exactly len bytes within timeout_ms; 0 ok, -1 closed or error,
 * -2 timeout. */
static int read_exact(int fd, uint8_t *p, size_t len, int timeout_ms)
{
	while (len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, timeout_ms);
		if (pr == 0)
			return -2;
		if (pr < 0)
			return -1;
		ssize_t r = read(fd, p, len);
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Waits for the peer to close: 1 closed, 0 still open after timeout_ms. Frames
 * it sends meanwhile (keepalives) are read and ignored. */
static int wait_closed(int fd, int timeout_ms)
{
	uint8_t buf[4096];
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	while (util_now_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 100);
		if (pr > 0) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				return 1;
		}
	}
	return 0;
}

static void seal_raw(struct link_session *s, const uint8_t *plain, uint8_t out[LINK_FRAME_SIZE])
{
	uint8_t nonce[12] = {0};
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(s->tx_counter >> (8 * i));
	s->tx_counter++;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, LINK_FRAME_SIZE - LINK_TAG_SIZE,
						  NULL, 0, NULL, nonce, s->tx_key);
}

/* Neighbour mode: what a (stolen-key) neighbour does after its handshake. */
static int neighbour_attack(int fd, struct link_session *s, const struct topo *t,
			    const char *attack)
{
	uint8_t frame[LINK_FRAME_SIZE];
	if (strcmp(attack, "impostor") == 0) {
		/* The node must refuse us after message 3: it closes. */
		int closed = wait_closed(fd, 3000);
		printf("evil-peer: impostor: node %s the link\n", closed ? "closed" : "kept");
		return closed ? 0 : 1;
	}

	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	Anosip__V1__Keepalive ka = ANOSIP__V1__KEEPALIVE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	m.keepalive = &ka;
	uint8_t msg[64];
	size_t msg_len = anosip__v1__link_message__pack(&m, msg);
	uint8_t plain[LINK_FRAME_SIZE - LINK_TAG_SIZE];
	int expect_close = 1;

	if (strcmp(attack, "forged") == 0) {
		randombytes_buf(frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "replay") == 0) {
		link_seal_message(s, msg, msg_len, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "reorder") == 0) {
		/* Two frames sealed in order (counters n, n + 1), sent the other
		 * way round: each is authentic, but n + 1 arrives where n is
		 * due. */
		uint8_t later[LINK_FRAME_SIZE];
		link_seal_message(s, msg, msg_len, frame, sizeof(frame));
		link_seal_message(s, msg, msg_len, later, sizeof(later));
		write_all(fd, later, sizeof(later));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "truncated") == 0) {
		link_seal_message(s, msg, msg_len, frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame) / 2);
		shutdown(fd, SHUT_WR);
	} else if (strcmp(attack, "oversize") == 0) {
		/* Continuation frames, each full, never ending the message. */
		for (int i = 0; i <= LINK_FRAMES_MAX + 1; i++) {
			memset(plain, 0, sizeof(plain));
			plain[0] = 0x01; /* MORE */
			plain[1] = LINK_FRAME_PAYLOAD >> 8;
			plain[2] = LINK_FRAME_PAYLOAD & 0xff;
			seal_raw(s, plain, frame);
			if (write_all(fd, frame, sizeof(frame)) < 0)
				break;
		}
	} else if (strcmp(attack, "badproto") == 0) {
		uint8_t junk[40];
		memset(junk, 0xff, sizeof(junk)); /* an endless varint: never decodes */
		link_seal_message(s, junk, sizeof(junk), frame, sizeof(frame));
		write_all(fd, frame, sizeof(frame));
	} else if (strcmp(attack, "hoplimit") == 0) {
		/* A routed message for the node farthest away, with one hop left. */
		int far = 0;
		for (int i = 0; i < t->n; i++)
			if (t->nodes[i].depth > t->nodes[far].depth)
				far = i;
		Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
		uint8_t sealed[100];
		randombytes_buf(sealed, sizeof(sealed));
		r.destination = t->nodes[far].id;
		r.hop_limit = 1;
		r.sealed.data = sealed;
		r.sealed.len = sizeof(sealed);
		Anosip__V1__LinkMessage rm = ANOSIP__V1__LINK_MESSAGE__INIT;
		rm.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
		rm.routed = &r;
		uint8_t buf[512];
		size_t len = anosip__v1__link_message__pack(&rm, buf);
		uint8_t frames[2 * LINK_FRAME_SIZE];
		long w = link_seal_message(s, buf, len, frames, sizeof(frames));
		write_all(fd, frames, (size_t)w);
		expect_close = 0;
	} else if (strcmp(attack, "unknownfield") == 0) {
		/* A Routed with a field numbered 0 in a two-byte tag: it decodes,
		 * but re-encoding it would produce bytes no node reads. The node
		 * must refuse it rather than forward it. */
		Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
		uint8_t inner[256], outer[300], frames[2 * LINK_FRAME_SIZE];
		r.destination = t->nodes[0].id;
		r.hop_limit = 5;
		size_t n = anosip__v1__routed__pack(&r, inner);
		inner[n++] = 0x80;
		inner[n++] = 0x00;
		inner[n++] = 0x00;
		outer[0] = 0x12; /* LinkMessage.routed, length-delimited */
		outer[1] = (uint8_t)n;
		memcpy(outer + 2, inner, n);
		long w = link_seal_message(s, outer, n + 2, frames, sizeof(frames));
		write_all(fd, frames, (size_t)w);
	} else if (strcmp(attack, "none") == 0) {
		expect_close = 0;
	} else {
		fprintf(stderr, "evil-peer: unknown attack %s\n", attack);
		return 2;
	}
	int closed = wait_closed(fd, expect_close ? 3000 : 1000);
	printf("evil-peer: attack %s: node %s the link\n", attack, closed ? "closed" : "kept");
	return closed == expect_close ? 0 : 1;
}

/* --- client mode: an anonymous peer of a portal, like a ua --- */

struct client {
	int fd;
	struct link_session s;
	uint64_t last_tx_ms;
	uint8_t in[LINK_FRAME_SIZE];
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_cap;
	const struct topo *t;
	const char *lighthouse;
	const char *nickname;
	const char *nick_key;
	int count;
	uint32_t id_base;
	unsigned ids_used;
};

static const char *reason_name(int reason)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&anosip__v1__destroy_reason__descriptor, reason);
	return v ? v->name : "DESTROY_(unknown)";
}

/* A fresh circuit id for this link: we dialed it, so the high bit is set. */
static uint32_t client_new_id(struct client *c)
{
	return c->id_base + ++c->ids_used;
}

/* Seals a message into the output buffer; client_flush writes the buffer
 * in one write() (a burst the node reads in one go). */
static int client_queue(struct client *c, const Anosip__V1__LinkMessage *m)
{
	size_t len = anosip__v1__link_message__get_packed_size(m);
	size_t need = link_frames_for(len) * LINK_FRAME_SIZE;
	if (c->out_len + need > c->out_cap) {
		size_t cap = (c->out_len + need) * 2;
		uint8_t *p = realloc(c->out, cap);
		if (!p)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	anosip__v1__link_message__pack(m, buf);
	long w = link_seal_message(&c->s, buf, len, c->out + c->out_len, c->out_cap - c->out_len);
	free(buf);
	if (w < 0)
		return -1;
	c->out_len += (size_t)w;
	return 0;
}

static int client_flush(struct client *c)
{
	int rc = write_all(c->fd, c->out, c->out_len);
	c->out_len = 0;
	c->last_tx_ms = util_now_ms();
	return rc;
}

static int client_send(struct client *c, const Anosip__V1__LinkMessage *m)
{
	return client_queue(c, m) < 0 ? -1 : client_flush(c);
}

static int client_cell(struct client *c, uint32_t id, Anosip__V1__Cell *cell, int flush)
{
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	cell->circuit_id = id;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_CELL;
	m.cell = cell;
	if (client_queue(c, &m) < 0)
		return -1;
	return flush ? client_flush(c) : 0;
}

static void client_keepalive(struct client *c)
{
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	Anosip__V1__Keepalive ka = ANOSIP__V1__KEEPALIVE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	m.keepalive = &ka;
	client_send(c, &m);
}

/* The next message other than a keep-alive: 1 (the caller frees *out), 0
 * when none came within timeout_ms, -1 when the node closed the link. Our
 * own keep-alives go out meanwhile, so the node never finds us silent. */
static int client_recv(struct client *c, int timeout_ms, Anosip__V1__LinkMessage **out)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return 0;
		if (now - c->last_tx_ms >= 500)
			client_keepalive(c);
		uint64_t wait = deadline - now < 200 ? deadline - now : 200;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -1;
		if (pr == 0)
			continue;
		ssize_t r = read(c->fd, c->in + c->in_len, LINK_FRAME_SIZE - c->in_len);
		if (r <= 0)
			return -1;
		c->in_len += (size_t)r;
		if (c->in_len < LINK_FRAME_SIZE)
			continue;
		c->in_len = 0;
		const uint8_t *msg;
		size_t len;
		int rc = link_open_frame(&c->s, c->in, &msg, &len);
		if (rc < 0) {
			fprintf(stderr, "evil-peer: bad frame from the node: %s\n",
				link_strerror(rc));
			return -1;
		}
		if (rc == 0)
			continue;
		Anosip__V1__LinkMessage *m = anosip__v1__link_message__unpack(NULL, len, msg);
		if (!m) {
			fprintf(stderr, "evil-peer: a message from the node does not decode\n");
			return -1;
		}
		if (m->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE) {
			anosip__v1__link_message__free_unpacked(m, NULL);
			continue;
		}
		*out = m;
		return 1;
	}
}

static void describe_cell(const Anosip__V1__Cell *cell)
{
	switch (cell->body_case) {
	case ANOSIP__V1__CELL__BODY_DESTROY:
		printf("evil-peer: circuit %08x: DESTROY %s\n", cell->circuit_id,
		       reason_name(cell->destroy->reason));
		break;
	case ANOSIP__V1__CELL__BODY_CREATED:
		printf("evil-peer: circuit %08x: CREATED\n", cell->circuit_id);
		break;
	case ANOSIP__V1__CELL__BODY_DATA:
		printf("evil-peer: circuit %08x: DATA\n", cell->circuit_id);
		break;
	default:
		printf("evil-peer: circuit %08x: a cell of kind %d\n", cell->circuit_id,
		       (int)cell->body_case);
	}
}

/* The next cell (any circuit) within timeout_ms; NULL on timeout or close
 * (*closed says which). Other messages are reported and skipped. */
static Anosip__V1__LinkMessage *client_next_cell(struct client *c, int timeout_ms, int *closed)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	*closed = 0;
	for (;;) {
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return NULL;
		Anosip__V1__LinkMessage *m;
		int rc = client_recv(c, (int)(deadline - now), &m);
		if (rc < 0)
			*closed = 1;
		if (rc <= 0)
			return NULL;
		if (m->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_CELL) {
			describe_cell(m->cell);
			return m;
		}
		printf("evil-peer: the node sent a message of kind %d\n", (int)m->body_case);
		anosip__v1__link_message__free_unpacked(m, NULL);
	}
}

/* The answer on circuit id (cells for other circuits are reported and
 * skipped); NULL on timeout or close. */
static Anosip__V1__LinkMessage *client_wait_cell(struct client *c, uint32_t id, int timeout_ms,
						 int *closed)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = util_now_ms();
		if (now >= deadline) {
			*closed = 0;
			return NULL;
		}
		Anosip__V1__LinkMessage *m = client_next_cell(c, (int)(deadline - now), closed);
		if (!m || m->cell->circuit_id == id)
			return m;
		anosip__v1__link_message__free_unpacked(m, NULL);
	}
}

/* 1 when the link is still up after ms (anything arriving is reported). */
static int client_kept(struct client *c, int ms)
{
	uint64_t deadline = util_now_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return 1;
		int closed;
		Anosip__V1__LinkMessage *m = client_next_cell(c, (int)(deadline - now), &closed);
		if (closed)
			return 0;
		if (m)
			anosip__v1__link_message__free_unpacked(m, NULL);
	}
}

/* Waits for a Destroy with reason `want` on circuit id; 0 if it came. */
static int expect_destroy(struct client *c, uint32_t id, int want)
{
	int closed;
	Anosip__V1__LinkMessage *m = client_wait_cell(c, id, 5000, &closed);
	if (!m) {
		printf("evil-peer: circuit %08x: %s, expected %s\n", id,
		       closed ? "the node closed the link" : "no answer", reason_name(want));
		return -1;
	}
	int ok = m->cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY &&
		 (int)m->cell->destroy->reason == want;
	printf("evil-peer: circuit %08x: %s (expected %s)\n", id,
	       m->cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY
		   ? reason_name(m->cell->destroy->reason)
		   : "not a DESTROY",
	       reason_name(want));
	anosip__v1__link_message__free_unpacked(m, NULL);
	return ok ? 0 : -1;
}

static int send_create(struct client *c, uint32_t id, const char *lighthouse, const uint8_t *sealed,
		       size_t len, int flush)
{
	Anosip__V1__Create create = ANOSIP__V1__CREATE__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	create.lighthouse = (char *)lighthouse;
	create.sealed.data = (uint8_t *)sealed;
	create.sealed.len = len;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATE;
	cell.create = &create;
	return client_cell(c, id, &cell, flush);
}

static int send_destroy(struct client *c, uint32_t id, int flush)
{
	Anosip__V1__Destroy d = ANOSIP__V1__DESTROY__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.reason = ANOSIP__V1__DESTROY_REASON__DESTROY_REQUESTED;
	cell.body_case = ANOSIP__V1__CELL__BODY_DESTROY;
	cell.destroy = &d;
	return client_cell(c, id, &cell, flush);
}

/* The lighthouse the attack aims at (--lighthouse), checked. */
static int lighthouse_index(struct client *c)
{
	int lh = c->lighthouse ? topo_find(c->t, c->lighthouse) : -1;
	if (lh < 0 || !(c->t->nodes[lh].roles & TOPO_ROLE_LIGHTHOUSE)) {
		fprintf(stderr, "evil-peer: this attack needs --lighthouse NODE (a lighthouse)\n");
		return -1;
	}
	return lh;
}

/* The nickname key: --nick-key, or a fresh one (the nickname then signs up). */
static int nickname_keys(struct client *c, struct keys_pair *k)
{
	if (!c->nickname) {
		fprintf(stderr, "evil-peer: this attack needs --nickname NICK\n");
		return -1;
	}
	if (!c->nick_key)
		return keys_generate(k);
	if (keys_load_secret(c->nick_key, k) < 0) {
		fprintf(stderr, "evil-peer: cannot load %s\n", c->nick_key);
		return -1;
	}
	return 0;
}

/* A sealed CreateRequest for c->nickname with keys k. */
static int build_create(struct client *c, int lh, const struct keys_pair *k, struct circ_client *cc,
			uint8_t **sealed, size_t *len)
{
	int rc = circ_client_create(cc, k, c->nickname, c->t->nodes[lh].id, c->t->nodes[lh].keys.kx,
				    1, sealed, len);
	if (rc < 0)
		fprintf(stderr, "evil-peer: circ_client_create: %s\n", circ_strerror(rc));
	return rc;
}

/* Finishes a circuit from its Created; 0 when the lighthouse authenticated. */
static int finish_created(struct client *c, uint32_t id, const Anosip__V1__LinkMessage *m,
			  struct circ_client *cc, struct circ_keys *keys)
{
	if (m->cell->body_case != ANOSIP__V1__CELL__BODY_CREATED) {
		printf("evil-peer: circuit %08x: not CREATED\n", id);
		return -1;
	}
	Anosip__V1__CreateConfirm *confirm = NULL;
	int rc = circ_client_finish(cc, m->cell->created, keys, &confirm);
	if (rc < 0) {
		printf("evil-peer: circuit %08x: CREATED does not authenticate: %s\n", id,
		       circ_strerror(rc));
		return -1;
	}
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	return 0;
}

/* One echo round trip over a built circuit; 0 when the reply matched. */
static int echo_once(struct client *c, uint32_t id, struct circ_keys *keys)
{
	uint8_t payload[48], *plain, *sealed;
	size_t sealed_len;
	randombytes_buf(payload, sizeof(payload));
	Anosip__V1__Echo e = ANOSIP__V1__ECHO__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.sequence = 4242;
	e.payload.data = payload;
	e.payload.len = sizeof(payload);
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO;
	cm.echo = &e;
	size_t len = anosip__v1__circuit_message__get_packed_size(&cm);
	plain = malloc(len);
	if (!plain)
		return -1;
	anosip__v1__circuit_message__pack(&cm, plain);
	int rc = circ_data_seal(keys, plain, len, &sealed, &sealed_len);
	free(plain);
	if (rc < 0)
		return -1;
	Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.sealed.data = sealed;
	d.sealed.len = sealed_len;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &d;
	rc = client_cell(c, id, &cell, 1);
	free(sealed);
	if (rc < 0)
		return -1;
	int closed;
	Anosip__V1__LinkMessage *m = client_wait_cell(c, id, 5000, &closed);
	if (!m || m->cell->body_case != ANOSIP__V1__CELL__BODY_DATA) {
		printf("evil-peer: circuit %08x: no echo reply\n", id);
		if (m)
			anosip__v1__link_message__free_unpacked(m, NULL);
		return -1;
	}
	rc = circ_data_open(keys, m->cell->data->sealed.data, m->cell->data->sealed.len, &plain,
			    &len);
	anosip__v1__link_message__free_unpacked(m, NULL);
	if (rc < 0) {
		printf("evil-peer: circuit %08x: echo reply does not open: %s\n", id,
		       circ_strerror(rc));
		return -1;
	}
	Anosip__V1__CircuitMessage *reply = anosip__v1__circuit_message__unpack(NULL, len, plain);
	free(plain);
	int ok = reply && reply->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY &&
		 reply->echo_reply->sequence == 4242 &&
		 reply->echo_reply->payload.len == sizeof(payload) &&
		 memcmp(reply->echo_reply->payload.data, payload, sizeof(payload)) == 0;
	if (reply)
		anosip__v1__circuit_message__free_unpacked(reply, NULL);
	printf("evil-peer: circuit %08x: echo %s\n", id, ok ? "ok" : "reply does not match");
	return ok ? 0 : -1;
}

static int attack_create_flood(struct client *c)
{
	int lh = lighthouse_index(c);
	if (lh < 0)
		return 2;
	int count = c->count > 0 ? c->count : 10;
	uint32_t first = c->ids_used + 1;
	for (int i = 0; i < count; i++) {
		uint8_t junk[200];
		randombytes_buf(junk, sizeof(junk));
		send_create(c, client_new_id(c), c->t->nodes[lh].id, junk, sizeof(junk), 0);
	}
	/* One write: the portal reads the whole burst in one go, before any
	 * answer can come back from the lighthouse several hops away. */
	client_flush(c);
	int destroys = 0, closed = 0, other = 0;
	uint64_t deadline = util_now_ms() + 5000;
	while (!closed && destroys < count && util_now_ms() < deadline) {
		Anosip__V1__LinkMessage *m =
		    client_next_cell(c, (int)(deadline - util_now_ms()), &closed);
		if (!m)
			continue;
		uint32_t idx = m->cell->circuit_id - c->id_base;
		if (m->cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY && idx >= first &&
		    idx < first + (uint32_t)count &&
		    m->cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED)
			destroys++;
		else
			other++;
		anosip__v1__link_message__free_unpacked(m, NULL);
	}
	if (!closed && destroys == count)
		closed = !client_kept(c, 1000);
	int expect_close = count > ROUTER_CLIENT_MAX_PENDING;
	printf("evil-peer: attack create-flood: %d CREATEs in one burst (bound %d pending), "
	       "%d DESTROY_REFUSED, %d other cells, node %s the link\n",
	       count, ROUTER_CLIENT_MAX_PENDING, destroys, other, closed ? "closed" : "kept");
	if (expect_close)
		return closed ? 0 : 1;
	return !closed && destroys == count && !other ? 0 : 1;
}

static int attack_replayed_create(struct client *c)
{
	int lh = lighthouse_index(c);
	struct keys_pair k;
	if (lh < 0 || nickname_keys(c, &k) < 0)
		return 2;
	struct circ_client cc;
	struct circ_keys keys;
	uint8_t *sealed;
	size_t len;
	if (build_create(c, lh, &k, &cc, &sealed, &len) < 0) {
		keys_wipe(&k);
		return 2;
	}
	keys_wipe(&k);
	int result = 1, closed;
	uint32_t first = client_new_id(c), second = client_new_id(c);
	send_create(c, first, c->t->nodes[lh].id, sealed, len, 1);
	Anosip__V1__LinkMessage *m = client_wait_cell(c, first, 10000, &closed);
	if (!m) {
		printf("evil-peer: circuit %08x: no answer to a valid CREATE\n", first);
		goto out;
	}
	int built = finish_created(c, first, m, &cc, &keys) == 0;
	anosip__v1__link_message__free_unpacked(m, NULL);
	if (!built || echo_once(c, first, &keys) < 0)
		goto out;
	/* The very same sealed request again, on another circuit. */
	send_create(c, second, c->t->nodes[lh].id, sealed, len, 1);
	if (expect_destroy(c, second, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED) < 0)
		goto out;
	/* The first circuit is not disturbed by the replay. */
	if (echo_once(c, first, &keys) < 0)
		goto out;
	send_destroy(c, first, 1);
	result = client_kept(c, 300) ? 0 : 1;
out:
	printf("evil-peer: attack replayed-create: %s\n", result ? "FAILED" : "as expected");
	circ_keys_wipe(&keys);
	sodium_memzero(&cc, sizeof(cc));
	free(sealed);
	return result;
}

static int attack_circuit_limit(struct client *c)
{
	int lh = lighthouse_index(c);
	struct keys_pair k;
	if (lh < 0 || nickname_keys(c, &k) < 0)
		return 2;
	enum { N = ROUTER_CLIENT_MAX_CIRCUITS };
	static struct circ_client cc[N];
	static struct circ_keys keys[N];
	uint32_t ids[N];
	int built = 0, result = 1;
	/* Batches within the pending bound, each answered before the next. */
	while (built < N) {
		int batch =
		    N - built < ROUTER_CLIENT_MAX_PENDING ? N - built : ROUTER_CLIENT_MAX_PENDING;
		for (int i = built; i < built + batch; i++) {
			uint8_t *sealed;
			size_t len;
			if (build_create(c, lh, &k, &cc[i], &sealed, &len) < 0)
				goto out;
			ids[i] = client_new_id(c);
			send_create(c, ids[i], c->t->nodes[lh].id, sealed, len, 0);
			free(sealed);
		}
		client_flush(c);
		int answered = 0, closed;
		while (answered < batch) {
			Anosip__V1__LinkMessage *m = client_next_cell(c, 10000, &closed);
			if (!m) {
				printf("evil-peer: %s while building circuit %d\n",
				       closed ? "link closed" : "no answer", built + answered + 1);
				goto out;
			}
			int i = built;
			while (i < built + batch && ids[i] != m->cell->circuit_id)
				i++;
			int ok = i < built + batch &&
				 finish_created(c, ids[i], m, &cc[i], &keys[i]) == 0;
			anosip__v1__link_message__free_unpacked(m, NULL);
			if (!ok)
				goto out;
			answered++;
		}
		built += batch;
	}
	printf("evil-peer: %d circuits open on one client link\n", built);
	/* One more: over the bound. */
	uint8_t *sealed;
	size_t len;
	struct circ_client extra;
	if (build_create(c, lh, &k, &extra, &sealed, &len) < 0)
		goto out;
	uint32_t over = client_new_id(c);
	send_create(c, over, c->t->nodes[lh].id, sealed, len, 1);
	free(sealed);
	sodium_memzero(&extra, sizeof(extra));
	if (expect_destroy(c, over, ANOSIP__V1__DESTROY_REASON__DESTROY_LIMIT) < 0)
		goto out;
	/* The circuits within the bound still work. */
	if (echo_once(c, ids[0], &keys[0]) < 0 || echo_once(c, ids[N - 1], &keys[N - 1]) < 0)
		goto out;
	for (int i = 0; i < N; i++)
		send_destroy(c, ids[i], 0);
	client_flush(c);
	result = client_kept(c, 300) ? 0 : 1;
out:
	printf("evil-peer: attack circuit-limit: %s\n", result ? "FAILED" : "as expected");
	keys_wipe(&k);
	for (int i = 0; i < N; i++)
		circ_keys_wipe(&keys[i]);
	sodium_memzero(cc, sizeof(cc));
	return result;
}

/* Builds and tears down --count circuits as fast as the pending bound
 * allows (a fresh nickname key signs up once): the lighthouse must keep
 * serving everyone else. Prints the rate; exits 0 when every CREATE was
 * answered (CREATED or a DESTROY) and the link stayed. */
static int attack_create_churn(struct client *c)
{
	int lh = lighthouse_index(c);
	struct keys_pair k;
	if (lh < 0 || nickname_keys(c, &k) < 0)
		return 2;
	int count = c->count > 0 ? c->count : 100;
	enum { P = ROUTER_CLIENT_MAX_PENDING };
	struct circ_client cc[P];
	uint32_t ids[P] = {0};
	int sent = 0, answered = 0, created = 0, refused = 0, in_flight = 0, result = 1;
	uint64_t start = util_now_ms();
	while (answered < count) {
		for (int i = 0; i < P && sent < count; i++) {
			if (ids[i])
				continue;
			uint8_t *sealed;
			size_t len;
			if (build_create(c, lh, &k, &cc[i], &sealed, &len) < 0)
				goto out;
			ids[i] = client_new_id(c);
			send_create(c, ids[i], c->t->nodes[lh].id, sealed, len, 0);
			free(sealed);
			sent++;
			in_flight++;
		}
		client_flush(c);
		Anosip__V1__LinkMessage *m;
		int rc = client_recv(c, 10000, &m);
		if (rc <= 0) {
			printf("evil-peer: %s after %d answers\n",
			       rc < 0 ? "link closed" : "no answer", answered);
			goto out;
		}
		if (m->body_case != ANOSIP__V1__LINK_MESSAGE__BODY_CELL) {
			anosip__v1__link_message__free_unpacked(m, NULL);
			continue;
		}
		int i = 0;
		while (i < P && ids[i] != m->cell->circuit_id)
			i++;
		if (i < P && m->cell->body_case == ANOSIP__V1__CELL__BODY_CREATED) {
			struct circ_keys keys;
			if (finish_created(c, ids[i], m, &cc[i], &keys) == 0)
				created++;
			circ_keys_wipe(&keys);
			send_destroy(c, ids[i], 0);
		} else if (i < P && m->cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY) {
			refused++;
			if (refused <= 3)
				describe_cell(m->cell);
		}
		if (i < P) {
			ids[i] = 0;
			answered++;
			in_flight--;
		}
		anosip__v1__link_message__free_unpacked(m, NULL);
	}
	client_flush(c);
	result = client_kept(c, 300) ? 0 : 1;
out:;
	uint64_t ms = util_now_ms() - start;
	printf("evil-peer: attack create-churn: %d CREATEs in %llu ms (%.0f/s): %d CREATED, "
	       "%d refused\n",
	       answered, (unsigned long long)ms, ms ? answered * 1000.0 / (double)ms : 0.0, created,
	       refused);
	keys_wipe(&k);
	sodium_memzero(cc, sizeof(cc));
	return result;
}

/* Sends a CircuitMessage up circuit id and waits for one back. */
static Anosip__V1__CircuitMessage *circuit_round_trip(struct client *c, uint32_t id,
						      struct circ_keys *keys,
						      const Anosip__V1__CircuitMessage *cm)
{
	size_t len = anosip__v1__circuit_message__get_packed_size(cm);
	uint8_t *plain = malloc(len ? len : 1), *sealed;
	size_t sealed_len;
	if (!plain)
		return NULL;
	anosip__v1__circuit_message__pack(cm, plain);
	int rc = circ_data_seal(keys, plain, len, &sealed, &sealed_len);
	free(plain);
	if (rc < 0)
		return NULL;
	Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.sealed.data = sealed;
	d.sealed.len = sealed_len;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &d;
	rc = client_cell(c, id, &cell, 1);
	free(sealed);
	int closed;
	Anosip__V1__LinkMessage *m = rc < 0 ? NULL : client_wait_cell(c, id, 10000, &closed);
	if (!m || m->cell->body_case != ANOSIP__V1__CELL__BODY_DATA) {
		if (m)
			anosip__v1__link_message__free_unpacked(m, NULL);
		return NULL;
	}
	rc = circ_data_open(keys, m->cell->data->sealed.data, m->cell->data->sealed.len, &plain,
			    &len);
	anosip__v1__link_message__free_unpacked(m, NULL);
	if (rc < 0)
		return NULL;
	Anosip__V1__CircuitMessage *reply = anosip__v1__circuit_message__unpack(NULL, len, plain);
	free(plain);
	return reply;
}

/* The ID Directory's answer to one sealed query: 1 answered (sealed), 0
 * refused (an error, no answer inside), -1 nothing usable came back. */
static int iddir_ask(struct client *c, uint32_t id, struct circ_keys *keys, uint64_t request_id,
		     const uint8_t *sealed, size_t len, char *error, size_t error_len)
{
	Anosip__V1__IdDirEnvelope e = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.request_id = request_id;
	e.sealed.data = (uint8_t *)sealed;
	e.sealed.len = len;
	e.error = "";
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY;
	cm.iddir_query = &e;
	Anosip__V1__CircuitMessage *r = circuit_round_trip(c, id, keys, &cm);
	int result = -1;
	if (r && r->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER &&
	    r->iddir_answer->request_id == request_id) {
		snprintf(error, error_len, "%s",
			 r->iddir_answer->error ? r->iddir_answer->error : "");
		result = r->iddir_answer->sealed.len && !error[0] ? 1 : 0;
	}
	if (r)
		anosip__v1__circuit_message__free_unpacked(r, NULL);
	return result;
}

/* A query carrying our certificate but signed by another key, sealed to
 * the directory: what a thief of a certificate (not of the key) can make. */
static int forge_iddir_query(const struct keys_pair *other, const uint8_t *cert, size_t cert_len,
			     Anosip__V1__IdDirQuery *q, const uint8_t directory_kx[32],
			     uint8_t **out, size_t *out_len)
{
	uint8_t nonce[16], signature[crypto_sign_BYTES];
	randombytes_buf(nonce, sizeof(nonce));
	q->nonce.data = nonce;
	q->nonce.len = sizeof(nonce);
	q->sent_unix_ms = util_wall_ms();
	size_t qlen = anosip__v1__id_dir_query__get_packed_size(q), slen, plen;
	uint8_t *query = malloc(qlen ? qlen : 1), *plain = NULL, *sealed = NULL;
	uint8_t *input = query ? (anosip__v1__id_dir_query__pack(q, query),
				  util_with_context("anosip-iddir-query-v1", query, qlen, &slen))
			       : NULL;
	int rc = -1;
	if (!input)
		goto out;
	crypto_sign_detached(signature, NULL, input, slen, other->sign_secret);
	Anosip__V1__SignedIdDirQuery sq = ANOSIP__V1__SIGNED_ID_DIR_QUERY__INIT;
	sq.query.data = query;
	sq.query.len = qlen;
	sq.certificate.data = (uint8_t *)cert;
	sq.certificate.len = cert_len;
	sq.signature.data = signature;
	sq.signature.len = sizeof(signature);
	plen = anosip__v1__signed_id_dir_query__get_packed_size(&sq);
	if (!(plain = malloc(plen)) || !(sealed = malloc(plen + crypto_box_SEALBYTES)))
		goto out;
	anosip__v1__signed_id_dir_query__pack(&sq, plain);
	crypto_box_seal(sealed, plain, plen, directory_kx);
	*out = sealed;
	*out_len = plen + crypto_box_SEALBYTES;
	sealed = NULL;
	rc = 0;
out:
	free(query);
	free(input);
	free(plain);
	free(sealed);
	return rc;
}

/* iddir-replay: one valid query twice (the second must be refused);
 * iddir-forged: a query with our certificate but signed by another key
 * (refused). Both through a real circuit of --nickname at --lighthouse. */
static int attack_iddir(struct client *c, int forged)
{
	const char *name = forged ? "iddir-forged" : "iddir-replay";
	int lh = lighthouse_index(c), dir = -1;
	for (int i = 0; c->t && i < c->t->n && dir < 0; i++)
		if (c->t->nodes[i].roles & TOPO_ROLE_IDDIR)
			dir = i;
	struct keys_pair k, other;
	if (lh < 0 || dir < 0 || nickname_keys(c, &k) < 0)
		return 2;
	keys_generate(&other);
	struct circ_client cc;
	struct circ_keys keys;
	Anosip__V1__CreateConfirm *confirm = NULL;
	uint8_t *create = NULL, *sealed = NULL, hash[32];
	size_t create_len, sealed_len;
	int result = 1, closed;
	char error[256] = "";
	uint32_t id = client_new_id(c);
	if (build_create(c, lh, &k, &cc, &create, &create_len) < 0)
		goto out;
	send_create(c, id, c->t->nodes[lh].id, create, create_len, 1);
	Anosip__V1__LinkMessage *m = client_wait_cell(c, id, 10000, &closed);
	if (!m || m->cell->body_case != ANOSIP__V1__CELL__BODY_CREATED ||
	    circ_client_finish(&cc, m->cell->created, &keys, &confirm) < 0) {
		printf("evil-peer: %s: no circuit\n", name);
		if (m)
			anosip__v1__link_message__free_unpacked(m, NULL);
		goto out;
	}
	anosip__v1__link_message__free_unpacked(m, NULL);
	Anosip__V1__IdDirQuery q = ANOSIP__V1__ID_DIR_QUERY__INIT;
	q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ;
	q.asker = (char *)c->nickname;
	q.nickname = (char *)c->nickname;
	q.directory = (char *)c->t->nodes[dir].id;
	int made =
	    forged
		? forge_iddir_query(&other, confirm->certificate.data, confirm->certificate.len, &q,
				    c->t->nodes[dir].keys.kx, &sealed, &sealed_len)
		: circ_iddir_query_seal(&k, confirm->certificate.data, confirm->certificate.len, &q,
					c->t->nodes[dir].keys.kx, &sealed, &sealed_len, hash);
	if (made < 0) {
		printf("evil-peer: %s: cannot build the query\n", name);
		goto out;
	}
	int first = iddir_ask(c, id, &keys, 1, sealed, sealed_len, error, sizeof(error));
	printf("evil-peer: %s: first query %s%s%s\n", name,
	       first == 1   ? "answered"
	       : first == 0 ? "refused"
			    : "unanswered",
	       error[0] ? ": " : "", error);
	if (forged) {
		result = first == 0 ? 0 : 1;
	} else if (first == 1) {
		int second = iddir_ask(c, id, &keys, 2, sealed, sealed_len, error, sizeof(error));
		printf("evil-peer: %s: the same query again %s%s%s\n", name,
		       second == 1   ? "answered"
		       : second == 0 ? "refused"
				     : "unanswered",
		       error[0] ? ": " : "", error);
		result = second == 0 ? 0 : 1;
	}
	send_destroy(c, id, 1);
out:
	printf("evil-peer: attack %s: %s\n", name, result ? "FAILED" : "as expected");
	if (confirm)
		anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	keys_wipe(&k);
	keys_wipe(&other);
	circ_keys_wipe(&keys);
	sodium_memzero(&cc, sizeof(cc));
	free(create);
	free(sealed);
	return result;
}

/* An echo request with sequence seq, sealed for circuit keys (the next
 * counter). The caller frees *sealed. */
static int seal_echo(struct circ_keys *keys, uint64_t seq, uint8_t **sealed, size_t *len)
{
	uint8_t payload[32];
	randombytes_buf(payload, sizeof(payload));
	Anosip__V1__Echo e = ANOSIP__V1__ECHO__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.sequence = seq;
	e.payload.data = payload;
	e.payload.len = sizeof(payload);
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO;
	cm.echo = &e;
	size_t plen = anosip__v1__circuit_message__get_packed_size(&cm);
	uint8_t *plain = malloc(plen);
	if (!plain)
		return -1;
	anosip__v1__circuit_message__pack(&cm, plain);
	int rc = circ_data_seal(keys, plain, plen, sealed, len);
	free(plain);
	return rc < 0 ? -1 : 0;
}

static int send_data(struct client *c, uint32_t id, const uint8_t *sealed, size_t len, int flush)
{
	Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.sealed.data = (uint8_t *)sealed;
	d.sealed.len = len;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &d;
	return client_cell(c, id, &cell, flush);
}

/* The sequence numbers of the echo replies that come back on circuit id
 * within ms, into seqs (at most max); returns how many came, -1 when the
 * link closed or a reply does not open. */
static int collect_echoes(struct client *c, uint32_t id, struct circ_keys *keys, int ms,
			  uint64_t *seqs, int max)
{
	int n = 0;
	uint64_t deadline = util_now_ms() + (uint64_t)ms;
	while (util_now_ms() < deadline) {
		int closed;
		Anosip__V1__LinkMessage *m =
		    client_wait_cell(c, id, (int)(deadline - util_now_ms()), &closed);
		if (!m)
			return closed ? -1 : n;
		uint8_t *plain = NULL;
		size_t len;
		int rc = m->cell->body_case == ANOSIP__V1__CELL__BODY_DATA
			     ? circ_data_open(keys, m->cell->data->sealed.data,
					      m->cell->data->sealed.len, &plain, &len)
			     : -1;
		anosip__v1__link_message__free_unpacked(m, NULL);
		if (rc < 0)
			return -1;
		Anosip__V1__CircuitMessage *r =
		    anosip__v1__circuit_message__unpack(NULL, len, plain);
		free(plain);
		if (r && r->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY && n < max)
			seqs[n++] = r->echo_reply->sequence;
		if (r)
			anosip__v1__circuit_message__free_unpacked(r, NULL);
	}
	return n;
}

/* data-replay, data-reorder, data-forged: DATA cells on a real circuit
 * that its lighthouse must refuse (a replay window that only moves
 * forward, docs/protocol.md §4.2) without closing the circuit. */
static int attack_data(struct client *c, const char *attack)
{
	int lh = lighthouse_index(c);
	struct keys_pair k;
	if (lh < 0 || nickname_keys(c, &k) < 0)
		return 2;
	struct circ_client cc;
	struct circ_keys keys;
	uint8_t *create = NULL, *first = NULL, *second = NULL;
	size_t create_len, first_len, second_len;
	uint64_t seqs[4];
	int result = 1, closed, n = -1;
	uint32_t id = client_new_id(c);
	sodium_memzero(&keys, sizeof(keys));
	if (build_create(c, lh, &k, &cc, &create, &create_len) < 0)
		goto out;
	send_create(c, id, c->t->nodes[lh].id, create, create_len, 1);
	Anosip__V1__LinkMessage *m = client_wait_cell(c, id, 10000, &closed);
	int built = m && finish_created(c, id, m, &cc, &keys) == 0;
	if (m)
		anosip__v1__link_message__free_unpacked(m, NULL);
	if (!built || echo_once(c, id, &keys) < 0)
		goto out;
	if (seal_echo(&keys, 1, &first, &first_len) < 0 ||
	    seal_echo(&keys, 2, &second, &second_len) < 0)
		goto out;
	if (strcmp(attack, "data-replay") == 0) {
		/* Cell 1 is answered; the very same bytes again are not. */
		send_data(c, id, first, first_len, 1);
		n = collect_echoes(c, id, &keys, 1000, seqs, 4);
		int ok = n == 1 && seqs[0] == 1;
		send_data(c, id, first, first_len, 1);
		n = collect_echoes(c, id, &keys, 1000, seqs, 4);
		printf("evil-peer: %s: cell answered once, the replay got %d answers\n", attack, n);
		if (!ok || n != 0)
			goto out;
	} else if (strcmp(attack, "data-reorder") == 0) {
		/* Cell 2 first, then cell 1: only cell 2 may be answered. */
		send_data(c, id, second, second_len, 0);
		send_data(c, id, first, first_len, 1);
		n = collect_echoes(c, id, &keys, 1500, seqs, 4);
		printf("evil-peer: %s: %d answers%s\n", attack, n,
		       n == 1 && seqs[0] == 2 ? " (to the later cell only)" : "");
		if (n != 1 || seqs[0] != 2)
			goto out;
	} else {
		uint8_t junk[96];
		randombytes_buf(junk, sizeof(junk));
		send_data(c, id, junk, sizeof(junk), 1);
		n = collect_echoes(c, id, &keys, 1000, seqs, 4);
		printf("evil-peer: %s: %d answers\n", attack, n);
		if (n != 0)
			goto out;
	}
	/* The circuit still works with the next counter, and the link stays. */
	if (echo_once(c, id, &keys) < 0)
		goto out;
	send_destroy(c, id, 1);
	result = client_kept(c, 300) ? 0 : 1;
out:
	printf("evil-peer: attack %s: %s\n", attack, result ? "FAILED" : "as expected");
	keys_wipe(&k);
	circ_keys_wipe(&keys);
	sodium_memzero(&cc, sizeof(cc));
	free(create);
	free(first);
	free(second);
	return result;
}

static int client_attack(struct client *c, const char *attack)
{
	if (strcmp(attack, "none") == 0 || strcmp(attack, "refused") == 0) {
		int kept = client_kept(c, attack[0] == 'n' ? 1000 : 3000);
		printf("evil-peer: attack %s: node %s the link\n", attack,
		       kept ? "kept" : "closed");
		return kept == (attack[0] == 'n') ? 0 : 1;
	}
	if (strcmp(attack, "create-unknown-lighthouse") == 0) {
		uint8_t junk[120];
		randombytes_buf(junk, sizeof(junk));
		uint32_t id = client_new_id(c);
		send_create(c, id, c->lighthouse ? c->lighthouse : "node-99", junk, sizeof(junk),
			    1);
		int rc = expect_destroy(c, id, ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ROUTE);
		int kept = client_kept(c, 500);
		printf("evil-peer: attack %s: node %s the link\n", attack,
		       kept ? "kept" : "closed");
		return rc == 0 && kept ? 0 : 1;
	}
	if (strcmp(attack, "create-garbage-sealed") == 0) {
		int lh = lighthouse_index(c);
		if (lh < 0)
			return 2;
		uint8_t junk[200];
		randombytes_buf(junk, sizeof(junk));
		uint32_t id = client_new_id(c);
		send_create(c, id, c->t->nodes[lh].id, junk, sizeof(junk), 1);
		int rc = expect_destroy(c, id, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		int kept = client_kept(c, 500);
		printf("evil-peer: attack %s: node %s the link\n", attack,
		       kept ? "kept" : "closed");
		return rc == 0 && kept ? 0 : 1;
	}
	if (strcmp(attack, "data-unknown-circuit") == 0) {
		uint8_t junk[64];
		randombytes_buf(junk, sizeof(junk));
		Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
		Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
		d.sealed.data = junk;
		d.sealed.len = sizeof(junk);
		cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
		cell.data = &d;
		client_cell(c, client_new_id(c), &cell, 1);
		int closed;
		Anosip__V1__LinkMessage *m = client_next_cell(c, 1000, &closed);
		if (m)
			anosip__v1__link_message__free_unpacked(m, NULL);
		int kept = !closed && client_kept(c, 200);
		printf("evil-peer: attack %s: %s, node %s the link\n", attack,
		       m ? "an answer came" : "no answer", kept ? "kept" : "closed");
		return !m && kept ? 0 : 1;
	}
	if (strcmp(attack, "iddir-replay") == 0 || strcmp(attack, "iddir-forged") == 0)
		return attack_iddir(c, attack[6] == 'f');
	if (strcmp(attack, "create-flood") == 0)
		return attack_create_flood(c);
	if (strcmp(attack, "routed-from-client") == 0) {
		uint8_t sealed[100];
		randombytes_buf(sealed, sizeof(sealed));
		Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
		Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
		r.destination = c->t->nodes[0].id;
		r.hop_limit = 8;
		r.sealed.data = sealed;
		r.sealed.len = sizeof(sealed);
		m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
		m.routed = &r;
		client_send(c, &m);
		int kept = client_kept(c, 3000);
		printf("evil-peer: attack %s: node %s the link\n", attack,
		       kept ? "kept" : "closed");
		return kept ? 1 : 0;
	}
	if (strcmp(attack, "create-wrong-key") == 0 || strcmp(attack, "bad-proof") == 0) {
		int lh = lighthouse_index(c);
		if (lh < 0 || !c->nickname) {
			fprintf(stderr, "evil-peer: %s needs --lighthouse and --nickname\n",
				attack);
			return 2;
		}
		int bad_proof = attack[0] == 'b';
		struct keys_pair k;
		keys_generate(&k);
		if (bad_proof && c->nick_key) {
			/* The account's public key, but a proof by another key:
			 * someone who knows the nickname's certificate, not its
			 * secret. */
			struct keys_pair real;
			if (keys_load_secret(c->nick_key, &real) < 0) {
				fprintf(stderr, "evil-peer: cannot load %s\n", c->nick_key);
				keys_wipe(&k);
				return 2;
			}
			memcpy(k.pub.sign, real.pub.sign, sizeof(k.pub.sign));
			keys_wipe(&real);
		} else if (bad_proof) {
			randombytes_buf(k.pub.sign, sizeof(k.pub.sign));
		}
		struct circ_client cc;
		uint8_t *sealed;
		size_t len;
		int rc = build_create(c, lh, &k, &cc, &sealed, &len);
		keys_wipe(&k);
		sodium_memzero(&cc, sizeof(cc));
		if (rc < 0)
			return 2;
		uint32_t id = client_new_id(c);
		send_create(c, id, c->t->nodes[lh].id, sealed, len, 1);
		free(sealed);
		rc = expect_destroy(c, id,
				    bad_proof ? ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED
					      : ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN);
		int kept = client_kept(c, 300);
		printf("evil-peer: attack %s: node %s the link\n", attack,
		       kept ? "kept" : "closed");
		return rc == 0 && kept ? 0 : 1;
	}
	if (strcmp(attack, "replayed-create") == 0)
		return attack_replayed_create(c);
	if (strcmp(attack, "circuit-limit") == 0)
		return attack_circuit_limit(c);
	if (strcmp(attack, "create-churn") == 0)
		return attack_create_churn(c);
	if (strncmp(attack, "data-", 5) == 0 && strcmp(attack, "data-unknown-circuit") != 0)
		return attack_data(c, attack);
	fprintf(stderr, "evil-peer: unknown client attack %s\n", attack);
	return 2;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *as = NULL, *to = NULL, *attack = NULL, *key = NULL;
	struct client c = {.fd = -1};
	int client_mode = 0;
	static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
						 {"as", required_argument, NULL, 'a'},
						 {"to", required_argument, NULL, 't'},
						 {"attack", required_argument, NULL, 'k'},
						 {"key", required_argument, NULL, 'K'},
						 {"client", no_argument, NULL, 'c'},
						 {"lighthouse", required_argument, NULL, 'L'},
						 {"nickname", required_argument, NULL, 'n'},
						 {"nick-key", required_argument, NULL, 'N'},
						 {"count", required_argument, NULL, 'C'},
						 {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "d:a:t:k:K:cL:n:N:C:", longopts, NULL)) != -1) {
		if (opt == 'd')
			dir = optarg;
		else if (opt == 'a')
			as = optarg;
		else if (opt == 't')
			to = optarg;
		else if (opt == 'k')
			attack = optarg;
		else if (opt == 'K')
			key = optarg;
		else if (opt == 'c')
			client_mode = 1;
		else if (opt == 'L')
			c.lighthouse = optarg;
		else if (opt == 'n')
			c.nickname = optarg;
		else if (opt == 'N')
			c.nick_key = optarg;
		else if (opt == 'C')
			c.count = atoi(optarg);
		else
			return 2;
	}
	if (!dir || (!as && !client_mode) || !to || !attack) {
		fprintf(stderr, "usage: evil-peer --dir TESTBED --as NODE --to NODE --attack NAME "
				"[--key FILE]\n"
				"       evil-peer --dir TESTBED --client --to PORTAL --attack NAME "
				"[--lighthouse NODE] [--nickname NICK] [--nick-key FILE] "
				"[--count N]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	char path[4096], err[512];
	struct keys_public auth;
	struct keys_pair keys;
	struct topo *t;
	snprintf(path, sizeof(path), "%s/authority.pub", dir);
	if (keys_load_public(path, &auth) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/directory.bin", dir);
	if (topo_directory_load(path, auth.sign, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (!client_mode) {
		if (key)
			snprintf(path, sizeof(path), "%s", key);
		else
			snprintf(path, sizeof(path), "%s/%s.key", dir, as);
		if (keys_load_secret(path, &keys) < 0) {
			fprintf(stderr, "cannot load %s\n", path);
			topo_free(t);
			return 2;
		}
	}
	int target = topo_find(t, to);
	if (target < 0) {
		fprintf(stderr, "evil-peer: no node %s\n", to);
		topo_free(t);
		return 2;
	}
	struct sockaddr_storage addr;
	util_parse_address(t->nodes[target].address, &addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(struct sockaddr_in)) < 0) {
		perror("connect");
		topo_free(t);
		return 2;
	}

	/* A client is anonymous: no keys, no id (like a ua at its portal). */
	struct link_handshake hs;
	struct link_session s;
	uint8_t frame[LINK_FRAME_SIZE];
	link_handshake_initiator(&hs, client_mode ? NULL : &keys, client_mode ? "" : as, to,
				 t->nodes[target].keys.sign);
	link_handshake_write_1(&hs, frame);
	if (write_all(fd, frame, sizeof(frame)) < 0 || read_exact(fd, frame, sizeof(frame), 5000) ||
	    link_handshake_read_2(&hs, frame) < 0 || link_handshake_write_3(&hs, frame) < 0 ||
	    write_all(fd, frame, sizeof(frame)) < 0 || link_handshake_finish(&hs, &s) < 0) {
		fprintf(stderr, "evil-peer: handshake failed\n");
		close(fd);
		topo_free(t);
		return 1;
	}
	int rc;
	if (client_mode) {
		c.fd = fd;
		c.s = s;
		c.t = t;
		c.last_tx_ms = util_now_ms();
		c.id_base = 0x80000000u | (randombytes_random() & 0x7fff0000u);
		rc = client_attack(&c, attack);
		s = c.s;
		free(c.out);
	} else {
		rc = neighbour_attack(fd, &s, t, attack);
		keys_wipe(&keys);
	}
	close(fd);
	link_session_wipe(&s);
	topo_free(t);
	return rc;
}
