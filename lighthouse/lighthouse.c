/* The lighthouse module: CREATEs for this node, accounts and certificates,
 * the binding table. */
#include "lighthouse/lh_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lh_destroy(struct lh *lh, router_circuit handle, Anosip__V1__DestroyReason reason)
{
	Anosip__V1__Destroy d = ANOSIP__V1__DESTROY__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.reason = reason;
	cell.body_case = ANOSIP__V1__CELL__BODY_DESTROY;
	cell.destroy = &d;
	router_circuit_send(lh->router, handle, &cell);
	lh_circuit_remove(lh, handle);
	lh->creates_refused += reason != ANOSIP__V1__DESTROY_REASON__DESTROY_REQUESTED;
}

/* The lighthouse's CREATE budget: LH_CREATE_RATE a second, a second's worth
 * of burst. */
static int create_allowed(struct lh *lh, uint64_t now)
{
	lh->create_tokens += (double)(now - lh->create_tokens_ms) * LH_CREATE_RATE / 1000.0;
	lh->create_tokens_ms = now;
	if (lh->create_tokens > LH_CREATE_RATE)
		lh->create_tokens = LH_CREATE_RATE;
	if (lh->create_tokens < 1)
		return 0;
	lh->create_tokens -= 1;
	return 1;
}

/* The certificate for this nickname: the stored one while it has more than a
 * day left, else a fresh one. *out is malloc'd. */
static int certificate_for(struct lh *lh, const char *nickname, const uint8_t nickname_public[32],
			   uint8_t **out, size_t *out_len)
{
	uint64_t now = util_wall_ms() / 1000, expires;
	if (lh_store_certificate_get(lh->store, nickname, out, out_len, &expires) == 0) {
		if (expires > now + 86400)
			return 0;
		free(*out);
	}
	const struct topo *t = node_topo(lh->node);
	int rc =
	    circ_certificate_sign(node_keys(lh->node), t->nodes[lh->self].id, nickname,
				  nickname_public, now, now + lh->certificate_ttl_s, out, out_len);
	if (rc == 0)
		lh_store_certificate_put(lh->store, nickname, *out, *out_len,
					 now + lh->certificate_ttl_s);
	return rc;
}

void lh_finish_create(struct lh *lh, router_circuit handle, Anosip__V1__CreateRequest *req,
		      int claim_accepted)
{
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	const char *nick = req->nickname;
	uint64_t now = util_wall_ms() / 1000;
	if (!claim_accepted) {
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN);
		goto out;
	}
	uint8_t known[32];
	int rc = lh_store_account_get(lh->store, nick, known, NULL);
	if (rc == -ENOENT) {
		rc = lh_store_account_add(lh->store, nick, req->nickname_public.data, now);
		if (rc == 0)
			lh->signups++;
	} else if (rc == 0 && sodium_memcmp(known, req->nickname_public.data, 32) != 0) {
		rc = -EEXIST;
	}
	if (rc < 0) {
		lh_destroy(lh, handle,
			   rc == -EEXIST ? ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN
					 : ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		goto out;
	}
	if (certificate_for(lh, nick, req->nickname_public.data, &cert, &cert_len) < 0) {
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		goto out;
	}
	Anosip__V1__CreateConfirm confirm = ANOSIP__V1__CREATE_CONFIRM__INIT;
	confirm.certificate.data = cert;
	confirm.certificate.len = cert_len;
	confirm.binding_expires_s = lh->binding_ttl_s;
	Anosip__V1__Created created;
	struct circ_keys keys;
	const struct topo *t = node_topo(lh->node);
	if (circ_server_accept(node_keys(lh->node), t->nodes[lh->self].id, req, &confirm, &created,
			       &keys) < 0) {
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		goto out;
	}
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATED;
	cell.created = &created;
	struct lh_circuit *c = NULL;
	if (router_circuit_send(lh->router, handle, &cell) == 0 &&
	    (c = lh_circuit_add(lh, handle, nick, &keys))) {
		/* Its calls carry the certificate to the callee. */
		c->certificate = cert;
		c->certificate_len = cert_len;
		cert = NULL;
		/* One live binding per nickname: a newer circuit replaces it. */
		lh_store_binding_set(lh->store, nick, handle, lh->epoch, now + lh->binding_ttl_s);
		lh->creates_ok++;
	}
	circ_created_free(&created);
	circ_keys_wipe(&keys);
out:
	free(cert);
	anosip__v1__create_request__free_unpacked(req, NULL);
}

static void on_create(void *ctx, router_circuit handle, const Anosip__V1__Create *create)
{
	struct lh *lh = ctx;
	Anosip__V1__CreateRequest *req = NULL;
	const struct topo *t = node_topo(lh->node);
	if (!create_allowed(lh, util_now_ms())) {
		node_count_drop(lh->node, NODE_DROP_CIRCUIT_LIMIT);
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_LIMIT);
		return;
	}
	int rc = circ_server_open(node_keys(lh->node), t->nodes[lh->self].id, create->sealed.data,
				  create->sealed.len, util_wall_ms(), &req);
	if (rc < 0) {
		node_count_drop(lh->node, rc == CIRC_ERR_SEALED	 ? NODE_DROP_SEALED
					  : rc == CIRC_ERR_PROOF ? NODE_DROP_BAD_SIGNATURE
					  : rc == CIRC_ERR_STALE ? NODE_DROP_REPLAY
								 : NODE_DROP_DECODE);
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		return;
	}
	/* The replay memory starts empty with this process: a CREATE sent
	 * before we started could be a replay of one the last run saw. */
	if (req->sent_unix_ms + 1000 < lh->started_wall_ms ||
	    util_replay_check(&lh->seen, req->client_public.data, 32, util_now_ms())) {
		lh->replays++;
		node_count_drop(lh->node, NODE_DROP_REPLAY);
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		anosip__v1__create_request__free_unpacked(req, NULL);
		return;
	}
	uint8_t known[32];
	rc = lh_store_account_get(lh->store, req->nickname, known, NULL);
	if (rc == 0) {
		if (sodium_memcmp(known, req->nickname_public.data, 32) != 0) {
			lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_NICKNAME_TAKEN);
			anosip__v1__create_request__free_unpacked(req, NULL);
			return;
		}
		/* A known account: its home was claimed at sign-up. Claiming
		 * again on every circuit would tell the lookup service when
		 * each nickname comes online. */
		lh_finish_create(lh, handle, req, 1);
		return;
	}
	if (!lh->open_signup || !req->sign_up) {
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_NO_ACCOUNT);
		anosip__v1__create_request__free_unpacked(req, NULL);
		return;
	}
	/* Sign-up: the nickname must not be homed on another lighthouse. */
	uint64_t request_id;
	if (lh->lookup < 0 || lh_lookup_claim(lh, req->nickname, &request_id) < 0) {
		lh_finish_create(lh, handle, req, lh->lookup < 0);
		return;
	}
	struct lh_pending *p = calloc(1, sizeof(*p));
	if (!p) {
		lh_destroy(lh, handle, ANOSIP__V1__DESTROY_REASON__DESTROY_REFUSED);
		anosip__v1__create_request__free_unpacked(req, NULL);
		return;
	}
	p->request_id = request_id;
	p->handle = handle;
	p->req = req;
	p->started_ms = util_now_ms();
	p->next = lh->pending;
	lh->pending = p;
}

static void on_destroy(void *ctx, router_circuit handle, Anosip__V1__DestroyReason reason)
{
	struct lh *lh = ctx;
	struct lh_circuit *c = lh_circuit_find(lh, handle);
	char nickname[CIRC_NICKNAME_MAX + 1] = "";
	/* A sign-up still waiting for the lookup service dies with its circuit. */
	for (struct lh_pending **pp = &lh->pending; *pp;) {
		struct lh_pending *p = *pp;
		if (p->handle != handle) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		anosip__v1__create_request__free_unpacked(p->req, NULL);
		free(p);
	}
	if (c)
		memcpy(nickname, c->nickname, sizeof(nickname));
	lh_circuit_remove(lh, handle);
	/* The binding stays, stale, until the ua builds a new circuit — unless
	 * the nickname has another live circuit (a second device): then it
	 * moves there, so the user stays reachable. */
	if (lh_store_binding_mark_stale_circuit(lh->store, handle) > 0 && nickname[0]) {
		struct lh_circuit *other = lh_circuit_other(lh, nickname, handle);
		if (other)
			lh_store_binding_set(lh->store, nickname, other->handle, lh->epoch,
					     util_wall_ms() / 1000 + lh->binding_ttl_s);
	}
}

static int claim_account(void *ctx, const char *nickname, uint64_t created_unix, int has_password,
			 uint64_t registered_until)
{
	uint64_t request_id;
	lh_lookup_claim(ctx, nickname, &request_id);
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	struct lh *lh = t->data;
	/* Accounts the operator added (`anosip lighthouse user add`) were
	 * never claimed at sign-up: claim every account soon after start and
	 * then every ten minutes (a claim for a nickname already homed here
	 * is a no-op at the lookup service). */
	if (lh->lookup >= 0 && (lh->ticks == 5 || lh->ticks % 600 == 599))
		lh_store_accounts_foreach(lh->store, claim_account, lh);
	lh_lookup_expire(lh, util_now_ms());
	lh_sip_expire(lh, util_now_ms());
	lh_iddir_expire(lh, util_now_ms());
	/* The database is touched every ten seconds, not every tick. */
	if (++lh->ticks % 10)
		return;
	uint64_t now_s = util_wall_ms() / 1000;
	lh_store_bindings_expire(lh->store, now_s);
	/* Live circuits keep their bindings fresh. */
	lh_store_bindings_refresh_epoch(lh->store, lh->epoch, now_s + lh->binding_ttl_s);
	lh_store_registrations_expire(lh->store, now_s);
}

static int parse_yes_no(const char *v, int *out)
{
	if (!v)
		return 0;
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

static int parse_seconds(const char *v, unsigned *out)
{
	if (!v)
		return 0;
	char *end;
	unsigned long s = strtoul(v, &end, 10);
	if (*end || !*v || s < 10 || s > 400u * 86400u)
		return -EINVAL;
	*out = (unsigned)s;
	return 0;
}

static int lh_start(struct node *n, void **state)
{
	const struct topo *t = node_topo(n);
	int self = node_self(n);
	if (self < 0 || !(t->nodes[self].roles & TOPO_ROLE_LIGHTHOUSE))
		return 0; /* not a lighthouse: the module stays idle */
	const struct node_config *cfg = node_config(n);
	static const char *const known[] = {
	    "database",	  "open_signup", "binding_ttl_s", "certificate_ttl_s", "realm",
	    "digest_md5", NULL};
	char err[512] = "";
	if (node_config_check_section(cfg, "lighthouse", known, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	struct lh *lh = calloc(1, sizeof(*lh));
	if (!lh)
		return -ENOMEM;
	lh->node = n;
	lh->router = router_of(n);
	lh->self = self;
	lh->binding_ttl_s = 3600;
	lh->certificate_ttl_s = 30 * 86400;
	lh->open_signup = 1;
	if (parse_yes_no(node_config_get(cfg, "lighthouse", "open_signup"), &lh->open_signup) < 0 ||
	    parse_seconds(node_config_get(cfg, "lighthouse", "binding_ttl_s"), &lh->binding_ttl_s) <
		0 ||
	    parse_seconds(node_config_get(cfg, "lighthouse", "certificate_ttl_s"),
			  &lh->certificate_ttl_s) < 0) {
		log_error("%s: [lighthouse] bad open_signup, binding_ttl_s or certificate_ttl_s",
			  cfg->path);
		free(lh);
		return -EINVAL;
	}
	const char *db = node_config_get(cfg, "lighthouse", "database");
	if (!db) {
		log_error("%s: [lighthouse] database is missing", cfg->path);
		free(lh);
		return -EINVAL;
	}
	char path[4096];
	if (node_config_path(cfg, db, path, sizeof(path)) < 0) {
		log_error("%s: [lighthouse] database path too long", cfg->path);
		free(lh);
		return -EINVAL;
	}
	if (lh_store_open(path, &lh->store, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		free(lh);
		return -EINVAL;
	}
	lh->digest_md5 = 1;
	err[0] = 0;
	const char *realm = node_config_get(cfg, "lighthouse", "realm");
	snprintf(lh->realm, sizeof(lh->realm), "%s", realm ? realm : "anosip");
	if (parse_yes_no(node_config_get(cfg, "lighthouse", "digest_md5"), &lh->digest_md5) < 0)
		snprintf(err, sizeof(err), "digest_md5 must be yes or no");
	if (!err[0] && lh_sip_init(lh, err, sizeof(err)) < 0 && !err[0])
		snprintf(err, sizeof(err), "cannot start the registrar");
	if (err[0]) {
		log_error("%s: [lighthouse] %s", cfg->path, err);
		lh_store_close(lh->store);
		free(lh);
		return -EINVAL;
	}
	lh->create_tokens_ms = util_now_ms();
	lh->create_tokens = LH_CREATE_RATE;
	if (util_replay_init(&lh->seen, LH_SEEN_SLOTS, LH_SEEN_GENERATION_MS, util_now_ms()) < 0) {
		lh_sip_free(lh);
		lh_store_close(lh->store);
		free(lh);
		return -ENOMEM;
	}
	lh->started_wall_ms = util_wall_ms();
	randombytes_buf(&lh->epoch, sizeof(lh->epoch));
	lh->epoch &= 0x7fffffffffffffffull;
	int stale = lh_store_bindings_mark_stale_except_epoch(lh->store, lh->epoch);
	lh->lookup = -1;
	for (int i = 0; i < t->n && lh->lookup < 0; i++)
		if (t->nodes[i].roles & TOPO_ROLE_LOOKUP)
			lh->lookup = i;
	struct router_endpoint ep = {
	    .ctx = lh, .on_create = on_create, .on_data = lh_on_data, .on_destroy = on_destroy};
	router_set_endpoint(lh->router, &ep);
	router_on_routed(lh->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_ANSWER,
			 lh_lookup_on_answer, lh);
	router_on_routed(lh->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_SIP, lh_sip_on_routed,
			 lh);
	router_on_routed(lh->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_IDDIR_ANSWER,
			 lh_iddir_on_answer, lh);
	uv_timer_init(node_loop(n), &lh->timer);
	lh->timer.data = lh;
	uv_timer_start(&lh->timer, on_timer, 1000, 1000);
	uint64_t accounts = 0;
	lh_store_account_count(lh->store, &accounts);
	log_info("lighthouse: %llu accounts, %d bindings stale after restart, sign-up %s",
		 (unsigned long long)accounts, stale > 0 ? stale : 0,
		 lh->open_signup ? "open" : "closed");
	*state = lh;
	return 0;
}

static void on_lh_closed(uv_handle_t *h)
{
	struct lh *lh = h->data;
	lh_sip_free(lh);
	lh_iddir_free(lh);
	lh_circuits_free(lh);
	lh_store_close(lh->store);
	util_replay_free(&lh->seen);
	free(lh);
}

static void lh_stop(void *state)
{
	struct lh *lh = state;
	while (lh->pending) {
		struct lh_pending *p = lh->pending;
		lh->pending = p->next;
		anosip__v1__create_request__free_unpacked(p->req, NULL);
		free(p);
	}
	while (lh->queries) {
		struct lh_query *q = lh->queries;
		lh->queries = q->next;
		node_ctl_printf(q->req, "error: node shutting down\n");
		node_ctl_done(q->req);
		free(q);
	}
	uv_close((uv_handle_t *)&lh->timer, on_lh_closed);
}

static int print_binding(void *ctx, const char *nickname, uint64_t circuit, uint64_t epoch,
			 uint64_t expires_unix, int live)
{
	struct node_ctl *req = ctx;
	node_ctl_printf(req, "binding %s %s expires=%llu circuit=%016llx\n", nickname,
			live ? "live" : "stale", (unsigned long long)expires_unix,
			(unsigned long long)circuit);
	return 0;
}

static int lh_on_control(void *state, struct node_ctl *req, int argc, char **argv)
{
	struct lh *lh = state;
	if (!lh)
		return 0;
	if (strcmp(argv[0], "bindings") == 0) {
		uint64_t live = 0, stale = 0;
		lh_store_binding_count(lh->store, &live, &stale);
		node_ctl_printf(req, "bindings_live %llu\nbindings_stale %llu\n",
				(unsigned long long)live, (unsigned long long)stale);
		lh_store_bindings_foreach(lh->store, print_binding, req);
	} else if (strcmp(argv[0], "accounts") == 0) {
		uint64_t count = 0;
		lh_store_account_count(lh->store, &count);
		node_ctl_printf(req, "accounts %llu\n", (unsigned long long)count);
	} else if (strcmp(argv[0], "lookup") == 0 && argc == 2) {
		lh_cmd_lookup(lh, req, argv[1]);
		return 1;
	} else {
		return 0;
	}
	node_ctl_done(req);
	return 1;
}

static void lh_metrics(void *state, struct node_ctl *req)
{
	struct lh *lh = state;
	if (!lh)
		return;
	node_ctl_printf(req, "lh_circuits %zu\n", lh->n_circuits);
	node_ctl_printf(req, "lh_creates_ok %llu\n", (unsigned long long)lh->creates_ok);
	node_ctl_printf(req, "lh_creates_refused %llu\n", (unsigned long long)lh->creates_refused);
	node_ctl_printf(req, "lh_signups %llu\n", (unsigned long long)lh->signups);
	node_ctl_printf(req, "lh_replays %llu\n", (unsigned long long)lh->replays);
	node_ctl_printf(req, "lh_data_in %llu\n", (unsigned long long)lh->data_in);
	node_ctl_printf(req, "lh_data_out %llu\n", (unsigned long long)lh->data_out);
	node_ctl_printf(req, "lh_sip_requests %llu\n", (unsigned long long)lh->sip_requests);
	node_ctl_printf(req, "lh_sip_responses %llu\n", (unsigned long long)lh->sip_responses);
	node_ctl_printf(req, "lh_sip_registered %llu\n", (unsigned long long)lh->sip_registered);
	node_ctl_printf(req, "lh_sip_auth_failed %llu\n", (unsigned long long)lh->sip_auth_failed);
	node_ctl_printf(req, "lh_sip_nonce_counts_full %llu\n",
			(unsigned long long)lh->nonce_counts.refused_full);
	node_ctl_printf(req, "lh_sip_errors %llu\n", (unsigned long long)lh->sip_errors);
	node_ctl_printf(req, "lh_sip_transactions %u\n", lh->n_sip_tx);
}

const struct node_module lh_module = {
    .name = "lighthouse",
    .start = lh_start,
    .stop = lh_stop,
    .on_control = lh_on_control,
    .help = "bindings\naccounts\nlookup NICKNAME",
    .metrics = lh_metrics,
};
