/* The ua's circuit client: one circuit through the portal in use to the
 * home lighthouse, rebuilt with backoff when it dies; the next portal when
 * the current one stays unreachable. */
#include "ua/ua_private.h"

#include "circuit/circuit.h"
#include "keys/keys.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* One ua per process: node_run's module start finds its config here. */
static const struct ua_config *running_config;

static void send_cell(struct ua *ua, Anosip__V1__Cell *cell)
{
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	cell->circuit_id = ua->circuit_id;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_CELL;
	m.cell = cell;
	node_send_link(ua->node, ua->link, &m);
}

static void use_next_portal(struct ua *ua, const char *why)
{
	int portal = node_client_portal(ua->node);
	int next = (portal + 1) % ua->cfg->node.n_portals;
	log_info("portal %s: %s, trying %s", ua->cfg->node.portals[portal], why,
		 ua->cfg->node.portals[next]);
	node_client_use_portal(ua->node, next);
	ua->failed_builds = 0;
	ua->link_lost_ms = util_now_ms();
}

/* path_failure: the build failed on the way (no route, timeout, a link
 * lost), which says something about the portal's side of the tree; a
 * refusal by the lighthouse says nothing about the portal. */
static void send_destroy(struct ua *ua)
{
	Anosip__V1__Destroy d = ANOSIP__V1__DESTROY__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.reason = ANOSIP__V1__DESTROY_REASON__DESTROY_REQUESTED;
	cell.body_case = ANOSIP__V1__CELL__BODY_DESTROY;
	cell.destroy = &d;
	send_cell(ua, &cell);
}

static void circuit_lost(struct ua *ua, const char *why, int path_failure)
{
	int was_creating = ua->state == UA_CREATING;
	uint64_t now = util_now_ms();
	if (ua->state == UA_OPEN)
		log_info("circuit to %s lost: %s", ua->cfg->lighthouse, why);
	ua->state = UA_NO_CIRCUIT;
	circ_keys_wipe(&ua->ckeys);
	sodium_memzero(&ua->client, sizeof(ua->client));
	/* Jitter of up to a quarter: the uas of a lighthouse that restarted
	 * lost their circuits at the same moment and should not all come
	 * back in the same instant. */
	ua->next_build_ms = now + ua->backoff_ms + randombytes_uniform(ua->backoff_ms / 4 + 1);
	ua->backoff_ms =
	    ua->backoff_ms * 2 > UA_REBUILD_MAX_MS ? UA_REBUILD_MAX_MS : ua->backoff_ms * 2;
	if (!ua->build_started_ms)
		ua->build_started_ms = now;
	/* A build that fails (the path beyond the portal is broken) counts
	 * against the portal; enough in a row and the next one is tried,
	 * each once, then only every UA_PORTAL_ROUND_MS. */
	if (was_creating && path_failure && ++ua->failed_builds >= UA_PORTAL_FAILOVER_BUILDS &&
	    ua->cfg->node.n_portals > 1 &&
	    (ua->build_failovers + 1 < (unsigned)ua->cfg->node.n_portals ||
	     now - ua->build_failover_ms >= UA_PORTAL_ROUND_MS)) {
		ua->build_failovers++;
		ua->build_failover_ms = now;
		use_next_portal(ua, "circuits through it keep failing");
	}
}

static void build(struct ua *ua)
{
	const struct topo *t = node_topo(ua->node);
	int portal = node_client_portal(ua->node);
	uint32_t link = node_peer_link(ua->node, topo_find(t, ua->cfg->node.portals[portal]));
	if (!link)
		return;
	uint8_t *sealed;
	size_t sealed_len;
	const struct topo_node *lh = &t->nodes[ua->lighthouse];
	if (circ_client_create(&ua->client, &ua->keys, ua->cfg->nickname, lh->id, lh->keys.kx,
			       ua->cfg->sign_up, &sealed, &sealed_len) < 0)
		return;
	ua->link = link;
	/* We dialed the portal: our circuit ids carry the high bit. */
	ua->circuit_id = randombytes_random() | 0x80000000u;
	Anosip__V1__Create create = ANOSIP__V1__CREATE__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	create.lighthouse = (char *)lh->id;
	create.sealed.data = sealed;
	create.sealed.len = sealed_len;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATE;
	cell.create = &create;
	send_cell(ua, &cell);
	free(sealed);
	ua->state = UA_CREATING;
	ua->create_sent_ms = util_now_ms();
	if (!ua->build_started_ms)
		ua->build_started_ms = ua->create_sent_ms;
}

static void on_created(struct ua *ua, const Anosip__V1__Created *created)
{
	Anosip__V1__CreateConfirm *confirm = NULL;
	if (ua->state != UA_CREATING ||
	    circ_client_finish(&ua->client, created, &ua->ckeys, &confirm) < 0) {
		/* An answer that does not prove the lighthouse's key: not ours. */
		node_count_drop(ua->node, NODE_DROP_BAD_SIGNATURE);
		send_destroy(ua);
		circuit_lost(ua, "lighthouse failed to authenticate", 1);
		return;
	}
	/* The certificate must be the lighthouse's, for our nickname and key:
	 * callers will be shown it (issue 4). */
	Anosip__V1__Certificate *cert = NULL;
	const struct topo_node *lh = &node_topo(ua->node)->nodes[ua->lighthouse];
	if (circ_certificate_verify(confirm->certificate.data, confirm->certificate.len,
				    lh->keys.sign, util_wall_ms() / 1000, &cert) < 0 ||
	    strcmp(cert->nickname, ua->cfg->nickname) != 0 ||
	    sodium_memcmp(cert->nickname_public.data, ua->keys.pub.sign, 32) != 0) {
		log_warn("lighthouse %s sent a certificate that is not ours", ua->cfg->lighthouse);
		node_count_drop(ua->node, NODE_DROP_BAD_SIGNATURE);
		confirm->certificate.len = 0;
	}
	if (cert)
		anosip__v1__certificate__free_unpacked(cert, NULL);
	free(ua->certificate);
	ua->certificate = NULL;
	if (confirm->certificate.len)
		ua->certificate = malloc(confirm->certificate.len);
	if (ua->certificate) {
		memcpy(ua->certificate, confirm->certificate.data, confirm->certificate.len);
		ua->certificate_len = confirm->certificate.len;
	}
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	ua->state = UA_OPEN;
	ua->failed_builds = 0;
	ua->build_failovers = 0;
	ua->open_since_ms = util_now_ms();
	ua->backoff_ms = UA_REBUILD_MIN_MS;
	if (ua->built)
		ua->rebuilds++;
	ua->built++;
	ua->last_build_ms = ua->open_since_ms - ua->build_started_ms;
	ua->build_started_ms = 0;
	log_info("circuit to %s open via %s (%llu ms)", ua->cfg->lighthouse,
		 ua->cfg->node.portals[node_client_portal(ua->node)],
		 (unsigned long long)ua->last_build_ms);
	if (ua->sip)
		ua_sip_on_circuit_open(ua->sip);
}

static void echo_send(struct ua *ua);

static void echo_finish(struct ua *ua, const char *error)
{
	struct node_ctl *req = ua->echo_req;
	if (error)
		node_ctl_printf(req, "error: %s\n", error);
	node_ctl_printf(req, "%u round trips, %u ok", ua->echo_ok + ua->echo_left + (error ? 1 : 0),
			ua->echo_ok);
	if (ua->echo_ok)
		node_ctl_printf(req, ", time_ms min=%.3f avg=%.3f max=%.3f", ua->echo_min_ms,
				ua->echo_sum_ms / ua->echo_ok, ua->echo_max_ms);
	node_ctl_printf(req, "\n");
	node_ctl_done(req);
	ua->echo_req = NULL;
}

static void on_data(struct ua *ua, const Anosip__V1__CellData *data)
{
	uint8_t *plain;
	size_t len;
	int rc = circ_data_open(&ua->ckeys, data->sealed.data, data->sealed.len, &plain, &len);
	if (rc < 0) {
		node_count_drop(ua->node,
				rc == CIRC_ERR_REPLAY ? NODE_DROP_REPLAY : NODE_DROP_SEALED);
		return;
	}
	Anosip__V1__CircuitMessage *m = anosip__v1__circuit_message__unpack(NULL, len, plain);
	sodium_memzero(plain, len);
	free(plain);
	if (!m) {
		node_count_drop(ua->node, NODE_DROP_DECODE);
		return;
	}
	if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY && ua->echo_req &&
	    m->echo_reply->sequence == ua->echo_seq) {
		double ms = (double)(util_now_ns() - ua->echo_sent_ns) / 1e6;
		if (!ua->echo_ok || ms < ua->echo_min_ms)
			ua->echo_min_ms = ms;
		if (ms > ua->echo_max_ms)
			ua->echo_max_ms = ms;
		ua->echo_sum_ms += ms;
		ua->echo_ok++;
		if (ua->echo_left)
			echo_send(ua);
		else
			echo_finish(ua, NULL);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP && ua->sip) {
		ua_sip_on_message(ua->sip, m->sip);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD_ANSWER && ua->sip) {
		ua_sip_on_password_answer(ua->sip, m->password_answer);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER) {
		ua_iddir_on_answer(ua, m->iddir_answer);
	}
	anosip__v1__circuit_message__free_unpacked(m, NULL);
}

static const char *destroy_reason_name(Anosip__V1__DestroyReason reason)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&anosip__v1__destroy_reason__descriptor, reason);
	return v ? v->name : "destroyed";
}

static void ua_on_message(void *state, uint32_t link, int peer, const Anosip__V1__LinkMessage *msg)
{
	struct ua *ua = state;
	if (msg->body_case != ANOSIP__V1__LINK_MESSAGE__BODY_CELL)
		return;
	const Anosip__V1__Cell *cell = msg->cell;
	if (ua->state == UA_NO_CIRCUIT || link != ua->link || cell->circuit_id != ua->circuit_id) {
		node_count_drop(ua->node, NODE_DROP_UNKNOWN_CIRCUIT);
		return;
	}
	switch (cell->body_case) {
	case ANOSIP__V1__CELL__BODY_CREATED:
		on_created(ua, cell->created);
		break;
	case ANOSIP__V1__CELL__BODY_DATA:
		if (ua->state == UA_OPEN)
			on_data(ua, cell->data);
		break;
	case ANOSIP__V1__CELL__BODY_DESTROY:
		ua->last_destroy = cell->destroy->reason;
		if (ua->state == UA_CREATING)
			ua->refused++;
		circuit_lost(
		    ua, destroy_reason_name(cell->destroy->reason),
		    cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ROUTE ||
			cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_TIMEOUT ||
			cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_LINK_LOST ||
			cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_LIMIT);
		/* A refusal that will not change by retrying is retried slowly. */
		if (cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN ||
		    cell->destroy->reason == ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ACCOUNT) {
			log_warn("lighthouse %s refused %s: %s", ua->cfg->lighthouse,
				 ua->cfg->nickname,
				 cell->destroy->reason ==
					 ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN
				     ? "nickname taken"
				     : "no such account");
			ua->next_build_ms = util_now_ms() + UA_REFUSED_RETRY_MS;
		}
		break;
	default:
		node_count_drop(ua->node, NODE_DROP_UNKNOWN_MESSAGE);
	}
}

static void ua_on_link_up(void *state, uint32_t link, int peer)
{
	struct ua *ua = state;
	ua->link_lost_ms = 0;
	ua->next_build_ms = util_now_ms();
}

static void ua_on_link_down(void *state, uint32_t link, int peer)
{
	struct ua *ua = state;
	ua->link_lost_ms = util_now_ms();
	if (ua->state != UA_NO_CIRCUIT && link == ua->link)
		circuit_lost(ua, "portal link down", 1);
}

static void on_tick(uv_timer_t *t)
{
	struct ua *ua = t->data;
	uint64_t now = util_now_ms();
	if (ua->state == UA_CREATING && now - ua->create_sent_ms > UA_CREATE_TIMEOUT_MS) {
		/* Tell the path: a CREATED still on its way would otherwise
		 * leave an open circuit at every hop. */
		send_destroy(ua);
		circuit_lost(ua, "no answer to CREATE", 1);
	}
	int portal = node_client_portal(ua->node);
	const struct topo *topo = node_topo(ua->node);
	int link_up = node_peer_link(ua->node, topo_find(topo, ua->cfg->node.portals[portal])) != 0;
	if (!link_up) {
		if (!ua->link_lost_ms)
			ua->link_lost_ms = now;
		/* The portal stays unreachable: try the next one in the list. */
		if (ua->cfg->node.n_portals > 1 && now - ua->link_lost_ms > UA_PORTAL_FAILOVER_MS)
			use_next_portal(ua, "unreachable");
	} else if (ua->state == UA_NO_CIRCUIT && now >= ua->next_build_ms) {
		build(ua);
	}
	if (ua->echo_req && now > ua->echo_deadline_ms)
		echo_finish(ua, "echo timed out");
	if (ua->sip)
		ua_sip_tick(ua->sip, now);
	ua_iddir_expire(ua, now, 0);
}

int ua_circuit_send(struct ua *ua, const Anosip__V1__CircuitMessage *m)
{
	if (ua->state != UA_OPEN)
		return -ENOTCONN;
	size_t len = anosip__v1__circuit_message__get_packed_size(m);
	uint8_t *plain = malloc(len ? len : 1), *sealed;
	size_t sealed_len;
	if (!plain)
		return -ENOMEM;
	anosip__v1__circuit_message__pack(m, plain);
	int rc = circ_data_seal(&ua->ckeys, plain, len, &sealed, &sealed_len);
	sodium_memzero(plain, len);
	free(plain);
	if (rc < 0)
		return rc;
	Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.sealed.data = sealed;
	d.sealed.len = sealed_len;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &d;
	send_cell(ua, &cell);
	free(sealed);
	return 0;
}

static void echo_send(struct ua *ua)
{
	static uint8_t filler[CIRC_DATA_MAX];
	Anosip__V1__Echo e = ANOSIP__V1__ECHO__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.sequence = ++ua->echo_seq;
	e.payload.data = filler;
	e.payload.len = ua->echo_size;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO;
	m.echo = &e;
	ua->echo_left--;
	ua->echo_sent_ns = util_now_ns();
	ua->echo_deadline_ms = util_now_ms() + UA_ECHO_TIMEOUT_MS;
	ua_circuit_send(ua, &m);
}

static const char *state_name(enum ua_circuit_state s)
{
	return s == UA_OPEN ? "open" : s == UA_CREATING ? "creating" : "none";
}

static int ua_on_control(void *state, struct node_ctl *req, int argc, char **argv)
{
	struct ua *ua = state;
	if (strcmp(argv[0], "circuit") == 0 || strcmp(argv[0], "circuits") == 0) {
		uint64_t now = util_now_ms();
		node_ctl_printf(req, "nickname %s\n", ua->cfg->nickname);
		node_ctl_printf(req, "lighthouse %s\n", ua->cfg->lighthouse);
		node_ctl_printf(req, "portal %s\n",
				ua->cfg->node.portals[node_client_portal(ua->node)]);
		node_ctl_printf(req, "circuit %s\n", state_name(ua->state));
		node_ctl_printf(
		    req, "open_ms %llu\n",
		    (unsigned long long)(ua->state == UA_OPEN ? now - ua->open_since_ms : 0));
		node_ctl_printf(req, "built %llu\nrebuilds %llu\nrefused %llu\n",
				(unsigned long long)ua->built, (unsigned long long)ua->rebuilds,
				(unsigned long long)ua->refused);
		node_ctl_printf(req, "last_build_ms %llu\n", (unsigned long long)ua->last_build_ms);
		node_ctl_printf(req, "last_destroy %s\n",
				ua->last_destroy ? destroy_reason_name(ua->last_destroy) : "-");
		node_ctl_printf(req, "certificate %s\n", ua->certificate ? "yes" : "no");
		node_ctl_done(req);
		return 1;
	}
	if (strcmp(argv[0], "echo") == 0) {
		unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 10) : 1;
		unsigned long size = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
		if (ua->echo_req || ua->state != UA_OPEN || count == 0 || count > 1000000 ||
		    size > CIRC_DATA_MAX - 64) {
			node_ctl_printf(req, "error: %s\n",
					ua->echo_req	       ? "an echo is running"
					: ua->state != UA_OPEN ? "no open circuit"
							       : "usage: echo [COUNT [BYTES]]");
			node_ctl_done(req);
			return 1;
		}
		ua->echo_req = req;
		ua->echo_left = (unsigned)count;
		ua->echo_ok = 0;
		ua->echo_size = (unsigned)size;
		ua->echo_sum_ms = ua->echo_max_ms = ua->echo_min_ms = 0;
		echo_send(ua);
		return 1;
	}
	if (strcmp(argv[0], "iddir") == 0)
		return ua_iddir_control(ua, req, argc, argv);
	return ua->sip ? ua_sip_control(ua->sip, req, argc, argv) : 0;
}

static void ua_metrics(void *state, struct node_ctl *req)
{
	struct ua *ua = state;
	node_ctl_printf(req, "ua_circuits_built %llu\n", (unsigned long long)ua->built);
	node_ctl_printf(req, "ua_rebuilds %llu\n", (unsigned long long)ua->rebuilds);
	node_ctl_printf(req, "ua_refused %llu\n", (unsigned long long)ua->refused);
	if (ua->sip)
		ua_sip_metrics(ua->sip, req);
}

static int ua_start(struct node *n, void **state)
{
	const struct ua_config *cfg = running_config;
	struct ua *ua = calloc(1, sizeof(*ua));
	if (!ua)
		return -ENOMEM;
	ua->node = n;
	ua->cfg = cfg;
	ua->backoff_ms = UA_REBUILD_MIN_MS;
	sodium_mlock(&ua->keys, sizeof(ua->keys));
	int rc = keys_load_secret(cfg->key_path, &ua->keys);
	if (rc < 0) {
		log_error("%s: cannot load nickname key: %s (anosip ua --init -c %s creates it)",
			  cfg->key_path,
			  rc == -EPERM ? "readable by others (chmod 600)" : strerror(-rc),
			  cfg->path);
		free(ua);
		return rc;
	}
	const struct topo *t = node_topo(n);
	ua->lighthouse = topo_find(t, cfg->lighthouse);
	if (ua->lighthouse < 0 || !(t->nodes[ua->lighthouse].roles & TOPO_ROLE_LIGHTHOUSE)) {
		log_error("%s: %s is not a lighthouse in the directory", cfg->path,
			  cfg->lighthouse);
		keys_wipe(&ua->keys);
		free(ua);
		return -EINVAL;
	}
	if (cfg->sip_listen[0] && (rc = ua_sip_start(ua, &ua->sip)) < 0) {
		keys_wipe(&ua->keys);
		free(ua);
		return rc;
	}
	uv_timer_init(node_loop(n), &ua->timer);
	ua->timer.data = ua;
	uv_timer_start(&ua->timer, on_tick, UA_TICK_MS, UA_TICK_MS);
	log_info("ua %s: home lighthouse %s, %d portals", cfg->nickname, cfg->lighthouse,
		 cfg->node.n_portals);
	*state = ua;
	return 0;
}

static void on_ua_closed(uv_handle_t *h)
{
	struct ua *ua = h->data;
	keys_wipe(&ua->keys);
	sodium_munlock(&ua->keys, sizeof(ua->keys));
	circ_keys_wipe(&ua->ckeys);
	free(ua->certificate);
	free(ua);
}

static void ua_stop(void *state)
{
	struct ua *ua = state;
	if (ua->echo_req)
		echo_finish(ua, "shutting down");
	ua_iddir_expire(ua, 0, 1);
	ua_sip_stop(ua->sip);
	ua->sip = NULL;
	uv_close((uv_handle_t *)&ua->timer, on_ua_closed);
}

static const struct node_module ua_module = {
    .name = "ua",
    .start = ua_start,
    .stop = ua_stop,
    .on_message = ua_on_message,
    .on_link_up = ua_on_link_up,
    .on_link_down = ua_on_link_down,
    .on_control = ua_on_control,
    .help = "circuit\necho [COUNT [BYTES]]\nsip\niddir publish anyone|nobody|list "
	    "READERS|- REAL ID...\niddir revoke\niddir log\niddir read NICKNAME",
    .metrics = ua_metrics,
};

int ua_run(const struct ua_config *cfg)
{
	static const struct node_module *const modules[] = {&ua_module};
	running_config = cfg;
	int rc = node_run(&cfg->node, modules, 1);
	running_config = NULL;
	return rc;
}
