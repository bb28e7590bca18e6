/* node: what every ANOSIP node runs — config, keys, the signed directory,
 * links to its tree neighbours, and the control socket. Roles and the
 * router plug in as modules (struct node_module) so this part knows
 * nothing above it. */
#ifndef ANOSIP_NODE_H
#define ANOSIP_NODE_H

#include "keys/keys.h"
#include "link.pb-c.h"
#include "topo/topo.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct node_config {
	char path[4096]; /* the config file itself, for messages */
	char id[32];
	char key_path[4096];
	char directory_path[4096];
	/* The directory floor (node_directory_floor); "" = next to the key. */
	char directory_floor_path[4096];
	char authority_path[4096];
	char control_path[108];		   /* sun_path limit */
	char listen[TOPO_ADDRESS_MAX + 1]; /* "" = the directory's address */
	char log_level[16];
	unsigned keepalive_ms;
	unsigned dead_ms;
	unsigned handshake_timeout_ms;
	unsigned reconnect_min_ms;
	unsigned reconnect_max_ms;
	size_t max_queue_bytes;
	unsigned max_pending_handshakes;
	unsigned max_clients; /* anonymous client links a portal accepts */
	/* Sections for roles ([lighthouse], [lookup], ...): kept as text for
	 * the module that owns them, which checks them at start. */
	int n_extra;
	struct node_config_extra {
		char section[32];
		char key[64];
		char value[512];
	} extra[48];
	/* Client mode (`anosip ua`): not in the directory, no listener, links
	 * only to these portals, one at a time, as an anonymous initiator. */
	int client;
	int n_portals;
	char portals[8][32];
};

/* A role's setting ([section] key), or NULL. */
const char *node_config_get(const struct node_config *cfg, const char *section, const char *key);
/* A path from the config, relative to the config file's folder unless
 * absolute. Returns 0 or -ENAMETOOLONG. */
int node_config_path(const struct node_config *cfg, const char *value, char *out, size_t len);
/* Checks that a role's section names only known keys; on an unknown one
 * writes "FILE: unknown key ..." into err and returns -EINVAL. */
int node_config_check_section(const struct node_config *cfg, const char *section,
			      const char *const *known, char *err, size_t err_len);

/* The defaults every config starts from (path is the config file). */
void node_config_defaults(struct node_config *cfg, const char *path);

/* Reads an INI config. Relative paths are taken from the config's folder.
 * On error returns -EINVAL with one line "FILE:LINE: problem" in err. */
int node_config_load(const char *path, struct node_config *cfg, char *err, size_t err_len);

/* Why a frame, message or connection was refused. Each is counted. */
enum node_drop {
	NODE_DROP_FRAME_AUTH,	   /* forged, replayed, reordered or corrupted frame */
	NODE_DROP_FRAME_FORMAT,	   /* opened, but its header is malformed */
	NODE_DROP_OVERSIZE,	   /* message over LINK_MESSAGE_MAX */
	NODE_DROP_TRUNCATED,	   /* connection ended inside a frame */
	NODE_DROP_DECODE,	   /* a protobuf message that does not decode */
	NODE_DROP_UNKNOWN_MESSAGE, /* decodes, but of a type this node does not know */
	NODE_DROP_HANDSHAKE,	   /* handshake failed (bad message, version) */
	NODE_DROP_HANDSHAKE_TIMEOUT,
	NODE_DROP_UNKNOWN_PEER,	    /* key or id not in the directory / not a neighbour */
	NODE_DROP_BAD_SIGNATURE,    /* handshake or routed signature does not verify */
	NODE_DROP_TOO_MANY_PENDING, /* inbound connection refused: too many handshakes */
	NODE_DROP_PEER_SILENT,	    /* no frame within dead_ms */
	NODE_DROP_QUEUE_FULL,	    /* the link's send queue is at its bound */
	NODE_DROP_NO_LINK,	    /* next hop's link is down */
	NODE_DROP_HOP_LIMIT,	    /* routed message ran out of hops */
	NODE_DROP_NO_ROUTE,	    /* routed message for an unknown destination */
	NODE_DROP_SEALED,	    /* routed payload does not open */
	NODE_DROP_REPLAY,	    /* routed message seen before or too old */
	NODE_DROP_FORBIDDEN,	    /* a message this link may not send (a client's routed) */
	NODE_DROP_TOO_MANY_CLIENTS, /* a portal at its client limit */
	NODE_DROP_UNKNOWN_CIRCUIT,  /* a cell for a circuit this hop does not have */
	NODE_DROP_CIRCUIT_LIMIT,    /* a client over its circuit or pending-CREATE bound */
	NODE_DROP_CIRCUIT_PROTOCOL, /* a cell out of place (CREATED twice, duplicate id) */
	NODE_DROP_CIRCUIT_TIMEOUT,  /* a CREATE never answered */
	NODE_DROP_COUNT
};
const char *node_drop_name(enum node_drop reason);

struct node;
struct node_ctl; /* one control request */

/* A module: the router, and later the roles. Called on the loop thread. */
struct node_module {
	const char *name;
	/* Called once links are set up; *state is the module's own. */
	int (*start)(struct node *n, void **state);
	void (*stop)(void *state);
	/* A LinkMessage this node does not handle itself (routed, cells).
	 * link: the link it came on; peer: the neighbour's topo index, or -1
	 * for an anonymous client (a ua at a portal). */
	void (*on_message)(void *state, uint32_t link, int peer,
			   const Anosip__V1__LinkMessage *msg);
	/* A link finished its handshake / closed. Not called while stopping. */
	void (*on_link_up)(void *state, uint32_t link, int peer);
	void (*on_link_down)(void *state, uint32_t link, int peer);
	/* A control command; returns 1 if it took it (and will call
	 * node_ctl_done), 0 if not its command. */
	int (*on_control)(void *state, struct node_ctl *req, int argc, char **argv);
	/* Its commands, one line for `ctl help` ("ping NODE [COUNT] ..."). */
	const char *help;
	/* Extra lines for `ctl metrics`. */
	void (*metrics)(void *state, struct node_ctl *req);
};

/* Refuses to go back to an older directory: the file at path (SQLite,
 * 0600, made on first use) holds the highest serial this node has run on.
 * 0 when serial is at least that (a higher one is written); -ESTALE when
 * it is lower, err saying which; else a negative errno (the file cannot be
 * opened, read or written) with err saying why. */
int node_directory_floor(const char *path, uint64_t serial, char *err, size_t err_len);

/* Runs a node until SIGINT/SIGTERM. Returns 0 on a clean shutdown, or a
 * negative code after logging one clear line. */
int node_run(const struct node_config *cfg, const struct node_module *const *modules,
	     size_t n_modules);

/* --- services for modules --- */
/* Another module's state by name ("router"), or NULL. */
void *node_module_state(struct node *n, const char *name);
uv_loop_t *node_loop(struct node *n);
const struct topo *node_topo(const struct node *n);
int node_self(const struct node *n); /* -1 in client mode */
const struct keys_pair *node_keys(const struct node *n);
const struct node_config *node_config(const struct node *n);

/* Queues a message to a neighbour (a topo index). Returns 0, -ENOTCONN if
 * that link is down, -ENOBUFS if its queue is at the bound (the message is
 * dropped and counted), -EMSGSIZE if too large. */
int node_send(struct node *n, int neighbour, const Anosip__V1__LinkMessage *msg);
int node_link_up(const struct node *n, int neighbour);
/* The same on a link id (neighbour or client link). */
int node_send_link(struct node *n, uint32_t link, const Anosip__V1__LinkMessage *msg);
/* The link id of the live link to a neighbour, 0 if none. */
uint32_t node_peer_link(const struct node *n, int neighbour);
/* 1 if this node dialed the link (it then allocates circuit ids with the
 * high bit set, the other side without, so the two never collide). */
int node_link_dialed(struct node *n, uint32_t link);
/* Closes a link (a misbehaving client), counting reason. */
void node_close_link(struct node *n, uint32_t link, enum node_drop reason);
/* Client mode: which configured portal (0..n_portals-1) to keep a link to. */
void node_client_use_portal(struct node *n, int which);
int node_client_portal(const struct node *n);
/* Bytes waiting in that link's send queue (0 when down). */
size_t node_link_queued(const struct node *n, int neighbour);
void node_count_drop(struct node *n, enum node_drop reason);

/* Control replies: text lines, then node_ctl_done() exactly once. A request
 * whose client went away still needs its done(); output is then dropped. */
void node_ctl_printf(struct node_ctl *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void node_ctl_done(struct node_ctl *req);

#endif
