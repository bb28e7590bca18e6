/* The ID Directory module: answers queries lighthouses forward for their
 * users. Every query is signed by the asking nickname (its lighthouse's
 * certificate says whose key that is) and sealed to this node; every answer
 * is signed by this node and sealed to the asker. A refusal reads the same
 * whether the tuple is missing or the asker may not read it. */
#include "iddir/iddir.h"

#include "circuit/circuit.h"
#include "router/router.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (asker, nonce) pairs are remembered two generations of this long: longer
 * than a query is accepted (60 s either side of our clock). */
#define IDDIR_SEEN_GENERATION_MS (2 * CIRC_IDDIR_MAX_AGE_MS)
#define IDDIR_SEEN_SLOTS (1u << 20)
/* Queries a second from one lighthouse (its users together), a second's
 * worth of burst: one lighthouse's flood cannot fill the replay memory or
 * the CPU for the others. */
#define IDDIR_RATE_PER_LIGHTHOUSE 200
#define IDDIR_LOG_LIMIT 100
#define IDDIR_REFUSAL "not available"

struct iddir {
	struct node *node;
	struct router *router;
	struct iddir_store *store;
	struct util_replay seen;
	struct iddir_bucket {
		double tokens;
		uint64_t at_ms;
	} * buckets; /* per topo index */
	uint64_t limited;
	uint64_t reads, granted, refused, published, revoked, logs, bad;
};

static int lighthouse_key(void *ctx, const char *id, uint8_t sign_public[32])
{
	const struct topo *t = ctx;
	int i = topo_find(t, id);
	if (i < 0 || !(t->nodes[i].roles & TOPO_ROLE_LIGHTHOUSE))
		return -ENOENT;
	memcpy(sign_public, t->nodes[i].keys.sign, 32);
	return 0;
}

static void send_envelope(struct iddir *d, int dest, uint64_t request_id, const uint8_t *sealed,
			  size_t sealed_len, const char *error)
{
	Anosip__V1__IdDirEnvelope e = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	e.request_id = request_id;
	e.sealed.data = (uint8_t *)sealed;
	e.sealed.len = sealed_len;
	e.error = (char *)(error ? error : "");
	size_t len = anosip__v1__id_dir_envelope__get_packed_size(&e);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return;
	anosip__v1__id_dir_envelope__pack(&e, buf);
	router_send(d->router, dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_IDDIR_ANSWER, buf, len);
	free(buf);
}

struct log_collect {
	Anosip__V1__IdDirLogEntry entries[IDDIR_LOG_LIMIT];
	Anosip__V1__IdDirLogEntry *ptrs[IDDIR_LOG_LIMIT];
	char readers[IDDIR_LOG_LIMIT][64];
	size_t n;
};

static int collect_log(void *ctx, const char *reader, uint64_t at_unix, int granted)
{
	struct log_collect *c = ctx;
	if (c->n == IDDIR_LOG_LIMIT)
		return 1;
	Anosip__V1__IdDirLogEntry *e = &c->entries[c->n];
	anosip__v1__id_dir_log_entry__init(e);
	snprintf(c->readers[c->n], sizeof(c->readers[0]), "%s", reader);
	e->reader = c->readers[c->n];
	e->at_unix = at_unix;
	e->granted = granted != 0;
	c->ptrs[c->n] = e;
	c->n++;
	return 0;
}

/* Carries out one checked query; fills r (strings point into buffers the
 * caller keeps for as long as r is used). */
static void execute(struct iddir *d, const Anosip__V1__IdDirQuery *q, const uint8_t owner[32],
		    Anosip__V1__IdDirResult *r, char *real_id, size_t real_id_len,
		    struct log_collect *log)
{
	uint64_t now = util_wall_ms() / 1000;
	enum iddir_policy policy;
	r->error = "";
	/* For its own tuple a nickname speaks with the key it first used: a
	 * certificate some other lighthouse minted for it does not do. */
	if (q->op != ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ &&
	    iddir_store_owner_key(d->store, q->asker, owner) == -EKEYREJECTED) {
		log_warn("iddir: a query as %s with a key other than its own", q->asker);
		d->bad++;
		r->error = IDDIR_REFUSAL;
		return;
	}
	switch (q->op) {
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ: {
		d->reads++;
		int may = iddir_store_may_read(d->store, q->nickname, q->asker);
		if (may == 1 &&
		    iddir_store_get(d->store, q->nickname, real_id, real_id_len, &policy) == 0) {
			r->ok = 1;
			r->nickname = q->nickname;
			r->real_id = real_id;
			r->verified = iddir_store_by_operator(d->store, q->nickname) == 1;
			d->granted++;
		} else {
			r->error = IDDIR_REFUSAL;
			d->refused++;
		}
		/* The owner sees every read of its tuple, refused ones too. */
		if (may >= 0)
			iddir_store_log_add(d->store, q->nickname, q->asker, now, may == 1);
		break;
	}
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH:
		/* A real ID the operator checked is not the owner's to change. */
		if (iddir_store_by_operator(d->store, q->asker) == 1) {
			r->error = "this tuple was entered by the operator";
			break;
		}
		r->ok =
		    iddir_store_put(d->store, q->asker, q->real_id, (enum iddir_policy)q->policy,
				    (const char *const *)q->readers, q->n_readers, now, 0) == 0;
		if (r->ok) {
			iddir_store_owner_key(d->store, q->asker, owner);
			d->published++;
			log_info("iddir: %s published its tuple", q->asker);
		} else {
			r->error = "could not store the tuple";
		}
		break;
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_REVOKE:
		r->ok = iddir_store_by_operator(d->store, q->asker) == 0 &&
			iddir_store_delete(d->store, q->asker) == 0;
		if (r->ok) {
			d->revoked++;
			log_info("iddir: %s revoked its tuple", q->asker);
		} else {
			r->error = IDDIR_REFUSAL;
		}
		break;
	case ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG:
		d->logs++;
		r->ok = iddir_store_log_foreach(d->store, q->asker, IDDIR_LOG_LIMIT, collect_log,
						log) >= 0;
		r->n_log = log->n;
		r->log = log->ptrs;
		if (!r->ok)
			r->error = IDDIR_REFUSAL;
		break;
	default:
		r->error = "unknown operation";
	}
}

static int allowed_now(struct iddir *d, int source)
{
	struct iddir_bucket *b = &d->buckets[source];
	uint64_t now = util_now_ms();
	b->tokens += (double)(now - b->at_ms) * IDDIR_RATE_PER_LIGHTHOUSE / 1000.0;
	b->at_ms = now;
	if (b->tokens > IDDIR_RATE_PER_LIGHTHOUSE)
		b->tokens = IDDIR_RATE_PER_LIGHTHOUSE;
	if (b->tokens < 1)
		return 0;
	b->tokens -= 1;
	return 1;
}

static void on_query(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct iddir *d = ctx;
	const struct topo *t = node_topo(d->node);
	if (source < 0 || !(t->nodes[source].roles & TOPO_ROLE_LIGHTHOUSE)) {
		node_count_drop(d->node, NODE_DROP_FORBIDDEN);
		return;
	}
	if (!allowed_now(d, source)) {
		d->limited++;
		node_count_drop(d->node, NODE_DROP_CIRCUIT_LIMIT);
		return;
	}
	Anosip__V1__IdDirEnvelope *e = anosip__v1__id_dir_envelope__unpack(NULL, len, payload);
	if (!e) {
		node_count_drop(d->node, NODE_DROP_DECODE);
		return;
	}
	Anosip__V1__IdDirQuery *q = NULL;
	Anosip__V1__Certificate *cert = NULL;
	uint8_t hash[32], *sealed = NULL;
	size_t sealed_len;
	int rc = circ_iddir_query_open(node_keys(d->node), t->nodes[node_self(d->node)].id,
				       e->sealed.data, e->sealed.len, lighthouse_key, (void *)t,
				       util_wall_ms(), &q, &cert, hash);
	if (rc < 0) {
		/* Nobody to seal an answer to: a plain refusal. */
		d->bad++;
		node_count_drop(d->node, rc == CIRC_ERR_SEALED	? NODE_DROP_SEALED
					 : rc == CIRC_ERR_PROOF ? NODE_DROP_BAD_SIGNATURE
					 : rc == CIRC_ERR_STALE ? NODE_DROP_REPLAY
								: NODE_DROP_DECODE);
		send_envelope(d, source, e->request_id, NULL, 0,
			      "refused: the query does not verify");
		goto out;
	}
	uint8_t seen_id[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(seen_id));
	crypto_generichash_update(&st, (const uint8_t *)q->asker, strlen(q->asker) + 1);
	crypto_generichash_update(&st, q->nonce.data, q->nonce.len);
	crypto_generichash_final(&st, seen_id, sizeof(seen_id));
	if (util_replay_check(&d->seen, seen_id, sizeof(seen_id), util_now_ms())) {
		d->bad++;
		node_count_drop(d->node, NODE_DROP_REPLAY);
		send_envelope(d, source, e->request_id, NULL, 0, "refused: a replayed query");
		goto out;
	}
	Anosip__V1__IdDirResult r = ANOSIP__V1__ID_DIR_RESULT__INIT;
	char real_id[IDDIR_REAL_ID_MAX + 1];
	struct log_collect *log = calloc(1, sizeof(*log));
	if (!log)
		goto out;
	r.query_hash.data = hash;
	r.query_hash.len = sizeof(hash);
	execute(d, q, cert->nickname_public.data, &r, real_id, sizeof(real_id), log);
	if (circ_iddir_result_seal(node_keys(d->node), cert->nickname_public.data, &r, &sealed,
				   &sealed_len) == 0)
		send_envelope(d, source, e->request_id, sealed, sealed_len, NULL);
	free(log);
out:
	free(sealed);
	if (q)
		anosip__v1__id_dir_query__free_unpacked(q, NULL);
	if (cert)
		anosip__v1__certificate__free_unpacked(cert, NULL);
	anosip__v1__id_dir_envelope__free_unpacked(e, NULL);
}

static int iddir_start(struct node *n, void **state)
{
	const struct topo *t = node_topo(n);
	int self = node_self(n);
	if (self < 0 || !(t->nodes[self].roles & TOPO_ROLE_IDDIR))
		return 0;
	const struct node_config *cfg = node_config(n);
	static const char *const known[] = {"database", NULL};
	char err[512], path[4096];
	if (node_config_check_section(cfg, "iddir", known, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	const char *db = node_config_get(cfg, "iddir", "database");
	if (!db || node_config_path(cfg, db, path, sizeof(path)) < 0) {
		log_error("%s: [iddir] database is missing or too long", cfg->path);
		return -EINVAL;
	}
	struct iddir *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->node = n;
	d->router = router_of(n);
	if (iddir_store_open(path, &d->store, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		free(d);
		return -EINVAL;
	}
	d->buckets = calloc((size_t)t->n, sizeof(*d->buckets));
	for (int i = 0; d->buckets && i < t->n; i++) {
		d->buckets[i].tokens = IDDIR_RATE_PER_LIGHTHOUSE;
		d->buckets[i].at_ms = util_now_ms();
	}
	if (!d->buckets || util_replay_init(&d->seen, IDDIR_SEEN_SLOTS, IDDIR_SEEN_GENERATION_MS,
					    util_now_ms()) < 0) {
		free(d->buckets);
		iddir_store_close(d->store);
		free(d);
		return -ENOMEM;
	}
	router_on_routed(d->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_IDDIR_QUERY, on_query, d);
	uint64_t tuples = 0, entries = 0;
	iddir_store_count(d->store, &tuples, &entries);
	log_info("iddir: %llu tuples, %llu logged reads", (unsigned long long)tuples,
		 (unsigned long long)entries);
	*state = d;
	return 0;
}

static void iddir_stop(void *state)
{
	struct iddir *d = state;
	iddir_store_close(d->store);
	util_replay_free(&d->seen);
	free(d->buckets);
	free(d);
}

static void iddir_metrics(void *state, struct node_ctl *req)
{
	struct iddir *d = state;
	if (!d)
		return;
	node_ctl_printf(req, "iddir_reads %llu\n", (unsigned long long)d->reads);
	node_ctl_printf(req, "iddir_granted %llu\n", (unsigned long long)d->granted);
	node_ctl_printf(req, "iddir_refused %llu\n", (unsigned long long)d->refused);
	node_ctl_printf(req, "iddir_published %llu\n", (unsigned long long)d->published);
	node_ctl_printf(req, "iddir_revoked %llu\n", (unsigned long long)d->revoked);
	node_ctl_printf(req, "iddir_logs %llu\n", (unsigned long long)d->logs);
	node_ctl_printf(req, "iddir_bad_queries %llu\n", (unsigned long long)d->bad);
	node_ctl_printf(req, "iddir_rate_limited %llu\n", (unsigned long long)d->limited);
}

const struct node_module iddir_module = {
    .name = "iddir",
    .start = iddir_start,
    .stop = iddir_stop,
    .metrics = iddir_metrics,
};
