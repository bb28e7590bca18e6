/* The lighthouse's side of the lookup service: claims for nicknames homed
 * here, queries (cached for a bounded time), and their answers. */
#include "lighthouse/lh_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int send_home(struct lh *lh, Anosip__V1__RoutedType type, const char *nickname,
		     uint64_t *request_id)
{
	if (lh->lookup < 0)
		return -ENOENT;
	uint64_t id;
	randombytes_buf(&id, sizeof(id));
	uint8_t buf[128];
	size_t len;
	if (type == ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_CLAIM) {
		Anosip__V1__HomeClaim c = ANOSIP__V1__HOME_CLAIM__INIT;
		c.nickname = (char *)nickname;
		c.request_id = id;
		len = anosip__v1__home_claim__pack(&c, buf);
	} else {
		Anosip__V1__HomeQuery q = ANOSIP__V1__HOME_QUERY__INIT;
		q.nickname = (char *)nickname;
		q.request_id = id;
		len = anosip__v1__home_query__pack(&q, buf);
	}
	*request_id = id;
	return router_send(lh->router, lh->lookup, type, buf, len);
}

int lh_lookup_claim(struct lh *lh, const char *nickname, uint64_t *request_id)
{
	return send_home(lh, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_CLAIM, nickname, request_id);
}

int lh_lookup_query(struct lh *lh, const char *nickname, uint64_t *request_id)
{
	return send_home(lh, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_QUERY, nickname, request_id);
}

static struct lh_lookup_entry *cache_slot(struct lh *lh, const char *nickname)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = nickname; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return &lh->cache[h % LH_LOOKUP_CACHE];
}

int lh_lookup_cached(struct lh *lh, const char *nickname, char lighthouse[32])
{
	struct lh_lookup_entry *e = cache_slot(lh, nickname);
	if (strcmp(e->nickname, nickname) != 0 ||
	    util_now_ms() - e->fetched_ms > LH_LOOKUP_CACHE_MS)
		return -ENOENT;
	memcpy(lighthouse, e->lighthouse, 32);
	return 0;
}

static void answer_query(struct lh_query *q, const char *lighthouse, const char *how)
{
	if (lighthouse[0])
		node_ctl_printf(q->req, "%s homed on %s (%s)\n", q->nickname, lighthouse, how);
	else
		node_ctl_printf(q->req, "error: %s is homed nowhere (%s)\n", q->nickname, how);
	node_ctl_done(q->req);
}

void lh_lookup_on_answer(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct lh *lh = ctx;
	if (source != lh->lookup) {
		node_count_drop(lh->node, NODE_DROP_FORBIDDEN);
		return;
	}
	Anosip__V1__HomeAnswer *a = anosip__v1__home_answer__unpack(NULL, len, payload);
	if (!a || !a->nickname || !a->lighthouse || !circ_nickname_valid(a->nickname) ||
	    strlen(a->lighthouse) > UTIL_ID_MAX) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		goto out;
	}
	struct lh_lookup_entry *e = cache_slot(lh, a->nickname);
	snprintf(e->nickname, sizeof(e->nickname), "%s", a->nickname);
	snprintf(e->lighthouse, sizeof(e->lighthouse), "%s", a->lighthouse);
	e->fetched_ms = util_now_ms();
	for (struct lh_pending **pp = &lh->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->request_id != a->request_id)
			continue;
		struct lh_pending *p = *pp;
		*pp = p->next;
		lh_finish_create(lh, p->handle, p->req, a->claim_accepted);
		free(p);
		goto out;
	}
	if (lh_sip_on_lookup(lh, a->request_id, a->lighthouse))
		goto out;
	for (struct lh_query **qq = &lh->queries; *qq; qq = &(*qq)->next) {
		if ((*qq)->request_id != a->request_id)
			continue;
		struct lh_query *q = *qq;
		*qq = q->next;
		answer_query(q, a->lighthouse, "from the lookup service");
		free(q);
		goto out;
	}
out:
	if (a)
		anosip__v1__home_answer__free_unpacked(a, NULL);
}

void lh_lookup_expire(struct lh *lh, uint64_t now_ms)
{
	for (struct lh_pending **pp = &lh->pending; *pp;) {
		struct lh_pending *p = *pp;
		if (now_ms - p->started_ms < LH_CLAIM_TIMEOUT_MS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		lh_destroy(lh, p->handle, ANOSIP__V1__DESTROY_REASON__DESTROY_TIMEOUT);
		anosip__v1__create_request__free_unpacked(p->req, NULL);
		free(p);
	}
	for (struct lh_query **qq = &lh->queries; *qq;) {
		struct lh_query *q = *qq;
		if (now_ms - q->started_ms < LH_CLAIM_TIMEOUT_MS) {
			qq = &q->next;
			continue;
		}
		*qq = q->next;
		node_ctl_printf(q->req, "error: the lookup service did not answer\n");
		node_ctl_done(q->req);
		free(q);
	}
}

void lh_cmd_lookup(struct lh *lh, struct node_ctl *req, const char *nickname)
{
	char where[32];
	if (!circ_nickname_valid(nickname)) {
		node_ctl_printf(req, "error: not a nickname\n");
		node_ctl_done(req);
		return;
	}
	struct lh_query tmp = {.req = req};
	snprintf(tmp.nickname, sizeof(tmp.nickname), "%s", nickname);
	if (lh_lookup_cached(lh, nickname, where) == 0) {
		answer_query(&tmp, where, "cached");
		return;
	}
	struct lh_query *q = calloc(1, sizeof(*q));
	if (!q || send_home(lh, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_HOME_QUERY, nickname,
			    &q->request_id) < 0) {
		free(q);
		node_ctl_printf(req, "error: no lookup service reachable\n");
		node_ctl_done(req);
		return;
	}
	q->req = req;
	memcpy(q->nickname, tmp.nickname, sizeof(q->nickname));
	q->started_ms = util_now_ms();
	q->next = lh->queries;
	lh->queries = q;
}
