/* The node's life: load config, keys and directory; run the loop; dispatch
 * link messages to modules; shut down cleanly on SIGINT/SIGTERM. */
#include "node/node_private.h"

#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const drop_names[NODE_DROP_COUNT] = {
    [NODE_DROP_FRAME_AUTH] = "frame_auth",
    [NODE_DROP_FRAME_FORMAT] = "frame_format",
    [NODE_DROP_OVERSIZE] = "oversize",
    [NODE_DROP_TRUNCATED] = "truncated",
    [NODE_DROP_DECODE] = "decode",
    [NODE_DROP_UNKNOWN_MESSAGE] = "unknown_message",
    [NODE_DROP_HANDSHAKE] = "handshake",
    [NODE_DROP_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [NODE_DROP_UNKNOWN_PEER] = "unknown_peer",
    [NODE_DROP_BAD_SIGNATURE] = "bad_signature",
    [NODE_DROP_TOO_MANY_PENDING] = "too_many_pending",
    [NODE_DROP_PEER_SILENT] = "peer_silent",
    [NODE_DROP_QUEUE_FULL] = "queue_full",
    [NODE_DROP_NO_LINK] = "no_link",
    [NODE_DROP_HOP_LIMIT] = "hop_limit",
    [NODE_DROP_NO_ROUTE] = "no_route",
    [NODE_DROP_SEALED] = "sealed",
    [NODE_DROP_REPLAY] = "replay",
    [NODE_DROP_FORBIDDEN] = "forbidden",
    [NODE_DROP_TOO_MANY_CLIENTS] = "too_many_clients",
    [NODE_DROP_UNKNOWN_CIRCUIT] = "unknown_circuit",
    [NODE_DROP_CIRCUIT_LIMIT] = "circuit_limit",
    [NODE_DROP_CIRCUIT_PROTOCOL] = "circuit_protocol",
    [NODE_DROP_CIRCUIT_TIMEOUT] = "circuit_timeout",
};

const char *node_drop_name(enum node_drop reason)
{
	return (unsigned)reason < NODE_DROP_COUNT ? drop_names[reason] : "?";
}

void *node_module_state(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->n_modules; i++)
		if (strcmp(n->modules[i]->name, name) == 0)
			return n->module_state[i];
	return NULL;
}

uv_loop_t *node_loop(struct node *n)
{
	return &n->loop;
}

const struct topo *node_topo(const struct node *n)
{
	return n->topo;
}

int node_self(const struct node *n)
{
	return n->self;
}

const struct keys_pair *node_keys(const struct node *n)
{
	return &n->keys;
}

const struct node_config *node_config(const struct node *n)
{
	return &n->cfg;
}

void node_count_drop(struct node *n, enum node_drop reason)
{
	links_count_drop(n, NULL, reason, NULL);
}

void node_link_event(struct node *n, struct conn *c, int up)
{
	c->up = up;
	if (n->stopping)
		return;
	for (size_t i = 0; i < n->n_modules; i++) {
		void (*fn)(void *, uint32_t, int) =
		    up ? n->modules[i]->on_link_up : n->modules[i]->on_link_down;
		if (fn)
			fn(n->module_state[i], c->link_id, c->peer_index);
	}
}

/* 1 if a decoded message, or any message inside it, kept unknown fields.
 * libprotobuf-c keeps them and writes them back when re-encoding, and it
 * can write some (field number 0 in a two-byte tag) in a form it then
 * refuses to read: a node forwarding such a message would break its honest
 * next link. Version 1 has no optional extensions, so refuse them all. */
static int has_unknown_fields(const ProtobufCMessage *m)
{
	if (!m)
		return 0;
	if (m->n_unknown_fields)
		return 1;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* A oneof member is there only when it is the case set. */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t count = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *items =
			    *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < count; k++)
				if (has_unknown_fields(items[k]))
					return 1;
		} else if (has_unknown_fields(*(ProtobufCMessage *const *)(base + f->offset))) {
			return 1;
		}
	}
	return 0;
}

void node_dispatch(struct node *n, struct conn *from, const uint8_t *msg, size_t len)
{
	struct peer *peer = from->peer;
	n->counters.messages_in++;
	if (peer)
		peer->counters.messages_in++;
	Anosip__V1__LinkMessage *m = anosip__v1__link_message__unpack(NULL, len, msg);
	if (!m) {
		links_conn_close(from, NODE_DROP_DECODE, NULL);
		return;
	}
	if (m->body_case != ANOSIP__V1__LINK_MESSAGE__BODY__NOT_SET &&
	    has_unknown_fields(&m->base)) {
		anosip__v1__link_message__free_unpacked(m, NULL);
		links_conn_close(from, NODE_DROP_DECODE, NULL);
		return;
	}
	/* Routed node messages are between nodes: a client may not send one. */
	if (from->client && m->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED) {
		anosip__v1__link_message__free_unpacked(m, NULL);
		links_conn_close(from, NODE_DROP_FORBIDDEN, NULL);
		return;
	}
	switch (m->body_case) {
	case ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE:
		break;
	case ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD:
		n->counters.discard_in++;
		break;
	case ANOSIP__V1__LINK_MESSAGE__BODY__NOT_SET:
		/* A newer peer's message type: counted, the link stays. */
		links_count_drop(n, peer, NODE_DROP_UNKNOWN_MESSAGE, NULL);
		break;
	default:
		for (size_t i = 0; i < n->n_modules; i++)
			if (n->modules[i]->on_message)
				n->modules[i]->on_message(n->module_state[i], from->link_id,
							  from->peer_index, m);
		break;
	}
	anosip__v1__link_message__free_unpacked(m, NULL);
}

static void on_tick(uv_timer_t *t)
{
	struct node *n = t->data;
	links_tick(n, util_now_ms());
}

static void shutdown_node(struct node *n)
{
	if (n->stopping)
		return;
	n->stopping = 1;
	log_info("shutting down");
	for (size_t i = n->n_modules; i-- > 0;)
		if (n->modules[i]->stop && n->module_state[i])
			n->modules[i]->stop(n->module_state[i]);
	links_close_all(n);
	control_close(n);
	uv_close((uv_handle_t *)&n->tick, NULL);
	uv_close((uv_handle_t *)&n->sigint, NULL);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	uv_close((uv_handle_t *)&n->flood_idle, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
	shutdown_node(s->data);
}

/* The highest directory serial run on is kept in [node] directory_floor,
 * by default next to the key (its own folder; a ua's nickname key for a
 * client), and a validly signed but older directory is refused. Where
 * that cannot be written the node still starts, with a warning. */
static int check_directory_floor(struct node *n)
{
	char err[512], floor_path[sizeof(n->cfg.key_path) + 32];
	size_t stem = strlen(n->cfg.key_path);
	if (n->cfg.directory_floor_path[0]) {
		snprintf(floor_path, sizeof(floor_path), "%s", n->cfg.directory_floor_path);
	} else {
		if (stem == 0)
			return 0; /* a client without a key file of its own */
		if (stem > 4 && strcmp(n->cfg.key_path + stem - 4, ".key") == 0)
			stem -= 4;
		snprintf(floor_path, sizeof(floor_path), "%.*s.directory.db", (int)stem,
			 n->cfg.key_path);
	}
	int rc = node_directory_floor(floor_path, n->topo->serial, err, sizeof(err));
	if (rc == -ESTALE || rc == -EINVAL) {
		log_error("%s", err);
		return rc;
	}
	if (rc < 0)
		log_warn("%s (older directories are not refused)", err);
	return 0;
}

static int load_identity(struct node *n)
{
	char err[512];
	struct keys_public authority;
	int rc;
	if (!n->cfg.client)
		rc = keys_load_secret(n->cfg.key_path, &n->keys);
	else
		rc = keys_generate(&n->keys); /* never used on the wire: links are anonymous */
	if (rc < 0) {
		log_error("%s: cannot load key: %s", n->cfg.key_path,
			  rc == -EPERM	  ? "readable by others (chmod 600)"
			  : rc == -EINVAL ? "not an anosip key file"
					  : strerror(-rc));
		return rc;
	}
	rc = keys_load_public(n->cfg.authority_path, &authority);
	if (rc < 0) {
		log_error("%s: cannot load authority public key: %s", n->cfg.authority_path,
			  rc == -EINVAL ? "not an anosip .pub file" : strerror(-rc));
		return rc;
	}
	rc = topo_directory_load(n->cfg.directory_path, authority.sign, &n->topo, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	if (n->cfg.client) {
		n->self = -1;
		return check_directory_floor(n);
	}
	n->self = topo_find(n->topo, n->cfg.id);
	if (n->self < 0) {
		log_error("%s: node id %s is not in the directory %s", n->cfg.path, n->cfg.id,
			  n->cfg.directory_path);
		return -EINVAL;
	}
	const struct keys_public *listed = &n->topo->nodes[n->self].keys;
	if (sodium_memcmp(listed->sign, n->keys.pub.sign, 32) != 0 ||
	    sodium_memcmp(listed->kx, n->keys.pub.kx, 32) != 0) {
		log_error("%s: key %s does not match the directory's keys for %s", n->cfg.path,
			  n->cfg.key_path, n->cfg.id);
		return -EINVAL;
	}
	return check_directory_floor(n);
}

int node_run(const struct node_config *cfg, const struct node_module *const *modules,
	     size_t n_modules)
{
	int rc;
	enum log_level level = LOG_INFO;
	if (sodium_init() < 0)
		return -EIO;
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	sodium_mlock(&n->keys, sizeof(n->keys));
	n->cfg = *cfg;
	n->modules = modules;
	n->n_modules = n_modules;
	n->module_state = calloc(n_modules ? n_modules : 1, sizeof(void *));
	n->flood_peer = -1;
	log_level_parse(cfg->log_level, &level);
	log_setup(cfg->id, level);
	signal(SIGPIPE, SIG_IGN);

	rc = load_identity(n);
	if (rc < 0)
		goto out_free;
	uv_loop_init(&n->loop);
	n->started_ms = util_now_ms();
	rc = links_start(n);
	if (rc < 0)
		goto out_loop;
	rc = control_start(n);
	if (rc < 0) {
		links_close_all(n);
		goto out_loop;
	}
	uv_timer_init(&n->loop, &n->tick);
	n->tick.data = n;
	unsigned period = n->cfg.keepalive_ms / 4;
	if (period > 100 || period == 0)
		period = period ? 100 : 10;
	uv_timer_start(&n->tick, on_tick, 0, period);
	uv_signal_init(&n->loop, &n->sigint);
	uv_signal_init(&n->loop, &n->sigterm);
	n->sigint.data = n->sigterm.data = n;
	uv_signal_start(&n->sigint, on_signal, SIGINT);
	uv_signal_start(&n->sigterm, on_signal, SIGTERM);
	uv_idle_init(&n->loop, &n->flood_idle);
	n->flood_idle.data = n;

	for (size_t i = 0; i < n_modules; i++) {
		if (!modules[i]->start)
			continue;
		rc = modules[i]->start(n, &n->module_state[i]);
		if (rc < 0) {
			log_error("%s: module %s failed to start: %s", n->cfg.path,
				  modules[i]->name, strerror(-rc));
			shutdown_node(n);
			uv_run(&n->loop, UV_RUN_DEFAULT);
			goto out_loop;
		}
	}
	char roles[64] = "client";
	if (!n->cfg.client)
		topo_roles_text(n->topo->nodes[n->self].roles, roles, sizeof(roles));
	log_info("up: %d %s, roles %s, directory serial %llu", n->n_peers,
		 n->cfg.client ? "portals" : "neighbours", roles,
		 (unsigned long long)n->topo->serial);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	rc = 0;
out_loop:
	if (uv_loop_close(&n->loop) != 0) {
		/* A handle left open is our bug; run once more to close it. */
		uv_run(&n->loop, UV_RUN_DEFAULT);
		uv_loop_close(&n->loop);
	}
out_free:
	topo_free(n->topo);
	free(n->peers);
	free(n->module_state);
	keys_wipe(&n->keys);
	sodium_munlock(&n->keys, sizeof(n->keys));
	free(n);
	return rc;
}
