/* node: internals shared by node.c, links.c and control.c. */
#ifndef ANOSIP_NODE_PRIVATE_H
#define ANOSIP_NODE_PRIVATE_H

#include "link/link.h"
#include "node/node.h"
#include "util/util.h"

enum peer_state { PEER_DOWN, PEER_CONNECTING, PEER_HANDSHAKE, PEER_UP };

struct node_counters {
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
	uint64_t messages_in, messages_out;
	uint64_t handshakes_ok, handshakes_failed;
	uint64_t reconnects, connect_failures;
	uint64_t discard_in;
	uint64_t drops[NODE_DROP_COUNT];
};

/* One TCP connection: before its handshake completes it belongs to no peer. */
struct conn {
	uv_tcp_t tcp;
	struct node *node;
	struct peer *peer; /* set once the handshake names the peer */
	uint32_t link_id;  /* unique in this process, never reused */
	int client;	   /* an anonymous client (ua) accepted by a portal */
	int up;		   /* announced to modules as up (link_event) */
	int peer_index;	   /* topo index of the neighbour, -1 for a client */
	struct conn *next_client;
	struct conn *next_by_link;	 /* in node.by_link */
	uint64_t last_rx_ms, last_tx_ms; /* for clients (peers keep their own) */
	uint64_t keepalive_seq;
	int initiator;
	int handshake_done;
	int closing;
	uint64_t started_ms;
	struct link_handshake hs;
	struct link_session session;
	uint8_t partial[LINK_FRAME_SIZE];
	size_t partial_len;
	struct conn *next_pending; /* list of inbound conns still in handshake */
	/* Sealed frames waiting for the end of this loop turn, so a burst of
	 * messages costs one write() instead of one per frame. */
	uint8_t *out;
	size_t out_len, out_cap;
	int out_scheduled;
	int write_failed; /* closed at the end of the loop turn, not mid-send */
	struct conn *next_flush;
	uv_connect_t connect_req;
};

/* A neighbour in the tree: parent, child or ring sibling. */
struct peer {
	int index;  /* in the topology */
	int dialer; /* 1 if we dial this peer */
	enum peer_state state;
	struct conn *conn;
	uint64_t next_attempt_ms;
	unsigned backoff_ms;
	uint64_t last_rx_ms, last_tx_ms, up_since_ms;
	uint64_t keepalive_seq;
	int ever_up;
	struct node_counters counters; /* this link's share */
};

struct node {
	uv_loop_t loop;
	struct node_config cfg;
	struct keys_pair keys;
	struct topo *topo;
	int self;
	uint64_t started_ms;
	uv_tcp_t listener;
	uv_check_t flush_check; /* runs after each poll: writes buffered frames */
	struct conn *flush_list;
	int have_failed_writes;
	uv_timer_t tick;
	uv_signal_t sigint, sigterm;
	uv_pipe_t control;
	int control_open;
	int stopping;
	struct peer *peers; /* one per neighbour */
	int n_peers;
	struct conn *pending; /* inbound, handshake not yet done */
	unsigned n_pending;
	struct conn *clients; /* anonymous client links (portal role) */
	unsigned n_clients;
	uint32_t next_link_id;
	struct conn *by_link[4096]; /* link id -> conn, for every cell sent */
	int client_portal;	    /* client mode: index into peers of the portal in use */
	struct node_counters counters;
	struct log_ratelimit drop_log;
	const struct node_module *const *modules;
	size_t n_modules;
	void **module_state;
	/* Link-level discard flood for benchmarks (ctl send-discard). */
	uv_idle_t flood_idle;
	int flood_peer;
	uint64_t flood_left;
	size_t flood_size;
	struct node_ctl *flood_req;
	uint8_t read_buffer[64 * 1024];
	uint8_t message_buffer[LINK_MESSAGE_MAX];
};

/* links.c */
int links_start(struct node *n);
void links_tick(struct node *n, uint64_t now);
void links_close_all(struct node *n);
struct peer *links_peer(struct node *n, int index);
void links_count_drop(struct node *n, struct peer *p, enum node_drop reason, const char *detail);

/* Closes a connection; a reason >= 0 is counted as a drop. */
void links_conn_close(struct conn *c, int reason, const char *detail);

/* send.c */
/* Seals a message onto a live connection (checks the queue bound). */
int send_message(struct conn *c, const Anosip__V1__LinkMessage *msg);
/* Handshake frames bypass the output buffer: written at once, in order. */
int send_handshake_frame(struct conn *c, const uint8_t frame[LINK_FRAME_SIZE]);
/* Drops a closing connection's buffered output and flush schedule. */
void send_forget(struct node *n, struct conn *c);
/* Writes every connection's buffered output now. */
void links_flush_all(struct node *n);

/* control.c */
int control_start(struct node *n);
void control_close(struct node *n);
int control_builtin(struct node *n, struct node_ctl *req, int argc, char **argv);
/* Splits a command line into words on blanks (space, tab, CR, LF), in place;
 * returns the count, or -1 if there are more than max. Exposed for tests. */
int control_split_words(char *line, char **argv, int max);

/* node.c */
void node_dispatch(struct node *n, struct conn *from, const uint8_t *msg, size_t len);
void node_link_event(struct node *n, struct conn *c, int up);
struct conn *links_find(struct node *n, uint32_t link);

#endif
