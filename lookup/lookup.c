/* The lookup module: answers claims and queries from lighthouses. */
#include "lookup/lookup.h"

#include "lookup/store.h"
#include "router/router.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lookup {
	struct node *node;
	struct router *router;
	struct lookup_store *store;
	uint64_t claims, conflicts, queries;
};

static void answer(struct lookup *l, int dest, uint64_t request_id, const char *nickname,
		   const char *lighthouse, int accepted)
{
	Anosip__V1__HomeAnswer a = ANOSIP__V1__HOME_ANSWER__INIT;
	a.request_id = request_id;
	a.nickname = (char *)nickname;
	a.lighthouse = (char *)lighthouse;
	a.claim_accepted = accepted != 0;
	uint8_t buf[256];
	if (anosip__v1__home_answer__get_packed_size(&a) > sizeof(buf))
		return; /* callers pass checked names; never pack past the buffer */
	size_t len = anosip__v1__home_answer__pack(&a, buf);
	router_send(l->router, dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_ANSWER, buf, len);
}

/* Only lighthouses may claim or ask; their routed signature says who. */
static int from_lighthouse(struct lookup *l, int source)
{
	if (node_topo(l->node)->nodes[source].roles & TOPO_ROLE_LIGHTHOUSE)
		return 1;
	node_count_drop(l->node, NODE_DROP_FORBIDDEN);
	return 0;
}

static void on_claim(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct lookup *l = ctx;
	if (!from_lighthouse(l, source))
		return;
	Anosip__V1__HomeClaim *c = anosip__v1__home_claim__unpack(NULL, len, payload);
	if (!c || !util_nickname_valid(c->nickname)) {
		node_count_drop(l->node, NODE_DROP_DECODE);
		goto out;
	}
	const char *claimant = node_topo(l->node)->nodes[source].id;
	char holder[32] = "";
	int rc = lookup_store_claim(l->store, c->nickname, claimant, util_wall_ms() / 1000, holder);
	l->claims++;
	if (rc == 0)
		answer(l, source, c->request_id, c->nickname, claimant, 1);
	else if (rc == -EEXIST) {
		l->conflicts++;
		answer(l, source, c->request_id, c->nickname, holder, 0);
	} else {
		node_count_drop(l->node, NODE_DROP_DECODE);
	}
out:
	if (c)
		anosip__v1__home_claim__free_unpacked(c, NULL);
}

static void on_query(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct lookup *l = ctx;
	if (!from_lighthouse(l, source))
		return;
	Anosip__V1__HomeQuery *q = anosip__v1__home_query__unpack(NULL, len, payload);
	if (!q || !util_nickname_valid(q->nickname)) {
		node_count_drop(l->node, NODE_DROP_DECODE);
		goto out;
	}
	char where[32] = "";
	if (lookup_store_get(l->store, q->nickname, where) < 0)
		where[0] = 0;
	l->queries++;
	answer(l, source, q->request_id, q->nickname, where, 0);
out:
	if (q)
		anosip__v1__home_query__free_unpacked(q, NULL);
}

static int lookup_start(struct node *n, void **state)
{
	const struct topo *t = node_topo(n);
	int self = node_self(n);
	if (self < 0 || !(t->nodes[self].roles & TOPO_ROLE_LOOKUP))
		return 0;
	const struct node_config *cfg = node_config(n);
	static const char *const known[] = {"database", NULL};
	char err[512], path[4096];
	if (node_config_check_section(cfg, "lookup", known, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	const char *db = node_config_get(cfg, "lookup", "database");
	if (!db) {
		log_error("%s: [lookup] database is missing", cfg->path);
		return -EINVAL;
	}
	if (node_config_path(cfg, db, path, sizeof(path)) < 0) {
		log_error("%s: [lookup] database path too long", cfg->path);
		return -EINVAL;
	}
	struct lookup *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->node = n;
	l->router = router_of(n);
	if (lookup_store_open(path, &l->store, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		free(l);
		return -EINVAL;
	}
	router_on_routed(l->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_CLAIM, on_claim, l);
	router_on_routed(l->router, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_QUERY, on_query, l);
	uint64_t count = 0;
	lookup_store_count(l->store, &count);
	log_info("lookup: %llu nicknames homed", (unsigned long long)count);
	*state = l;
	return 0;
}

static void lookup_stop(void *state)
{
	struct lookup *l = state;
	lookup_store_close(l->store);
	free(l);
}

static int print_home(void *ctx, const char *nickname, const char *lighthouse, uint64_t updated)
{
	node_ctl_printf(ctx, "home %s %s\n", nickname, lighthouse);
	return 0;
}

static int lookup_on_control(void *state, struct node_ctl *req, int argc, char **argv)
{
	struct lookup *l = state;
	if (!l || strcmp(argv[0], "homes") != 0)
		return 0;
	uint64_t count = 0;
	lookup_store_count(l->store, &count);
	node_ctl_printf(req, "homes %llu\n", (unsigned long long)count);
	lookup_store_foreach(l->store, print_home, req);
	node_ctl_done(req);
	return 1;
}

static void lookup_metrics(void *state, struct node_ctl *req)
{
	struct lookup *l = state;
	if (!l)
		return;
	node_ctl_printf(req, "lookup_claims %llu\n", (unsigned long long)l->claims);
	node_ctl_printf(req, "lookup_conflicts %llu\n", (unsigned long long)l->conflicts);
	node_ctl_printf(req, "lookup_queries %llu\n", (unsigned long long)l->queries);
}

const struct node_module lookup_module = {
    .name = "lookup",
    .start = lookup_start,
    .stop = lookup_stop,
    .on_control = lookup_on_control,
    .help = "homes",
    .metrics = lookup_metrics,
};
