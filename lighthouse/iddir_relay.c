/* The lighthouse as the ID Directory's relay (docs/protocol.md §8): a
 * user's query comes up its circuit sealed to the directory, goes on as a
 * routed message, and the answer (sealed to the user) comes back down the
 * same circuit. The lighthouse reads neither: it only keeps which circuit
 * asked, for at most LH_IDDIR_TIMEOUT_MS. */
#include "lighthouse/lh_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The directory the ua sealed its query to (it names it), else the first. */
static int directory_node(struct lh *lh, const char *named)
{
	const struct topo *t = node_topo(lh->node);
	if (named && named[0]) {
		int i = topo_find(t, named);
		return i >= 0 && (t->nodes[i].roles & TOPO_ROLE_IDDIR) ? i : -1;
	}
	for (int i = 0; i < t->n; i++)
		if (t->nodes[i].roles & TOPO_ROLE_IDDIR)
			return i;
	return -1;
}

static void answer_down(struct lh *lh, struct lh_circuit *c, uint64_t request_id,
			const uint8_t *sealed, size_t sealed_len, const char *error)
{
	Anosip__V1__IdDirEnvelope e = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.request_id = request_id;
	e.sealed.data = (uint8_t *)sealed;
	e.sealed.len = sealed_len;
	e.error = (char *)(error ? error : "");
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_ANSWER;
	m.iddir_answer = &e;
	lh_send_back(lh, c, &m);
}

void lh_iddir_on_query(struct lh *lh, struct lh_circuit *c, const Anosip__V1__IdDirEnvelope *q)
{
	int dest = directory_node(lh, q->directory);
	if (dest < 0) {
		answer_down(lh, c, q->request_id, NULL, 0, "no ID Directory in this network");
		return;
	}
	unsigned mine = 0;
	for (struct lh_iddir_wait *w = lh->iddir_waits; w; w = w->next)
		mine += w->circuit == c->handle;
	/* One circuit cannot take every slot from the others. */
	if (lh->n_iddir_waits >= LH_IDDIR_MAX_WAITS || mine >= LH_IDDIR_MAX_PER_CIRCUIT) {
		answer_down(lh, c, q->request_id, NULL, 0, "busy, try again");
		return;
	}
	struct lh_iddir_wait *w = calloc(1, sizeof(*w));
	if (!w)
		return;
	randombytes_buf(&w->token, sizeof(w->token));
	w->circuit = c->handle;
	w->ua_request_id = q->request_id;
	w->directory = dest;
	w->started_ms = util_now_ms();
	Anosip__V1__IdDirEnvelope fwd = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	fwd.request_id = w->token;
	fwd.sealed = q->sealed;
	fwd.error = "";
	size_t len = anosip__v1__id_dir_envelope__get_packed_size(&fwd);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		free(w);
		return;
	}
	anosip__v1__id_dir_envelope__pack(&fwd, buf);
	int rc = router_send(lh->router, dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_IDDIR_QUERY,
			     buf, len);
	free(buf);
	if (rc < 0) {
		free(w);
		answer_down(lh, c, q->request_id, NULL, 0, "the ID Directory is not reachable");
		return;
	}
	w->next = lh->iddir_waits;
	lh->iddir_waits = w;
	lh->n_iddir_waits++;
}

void lh_iddir_on_answer(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct lh *lh = ctx;
	Anosip__V1__IdDirEnvelope *e = anosip__v1__id_dir_envelope__unpack(NULL, len, payload);
	if (!e) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		return;
	}
	for (struct lh_iddir_wait **ww = &lh->iddir_waits; *ww; ww = &(*ww)->next) {
		struct lh_iddir_wait *w = *ww;
		if (w->token != e->request_id || w->directory != source)
			continue;
		*ww = w->next;
		lh->n_iddir_waits--;
		struct lh_circuit *c = lh_circuit_find(lh, w->circuit);
		if (c)
			answer_down(lh, c, w->ua_request_id, e->sealed.data, e->sealed.len,
				    e->error);
		free(w);
		goto out;
	}
	/* Not ours, or from a node that was not asked. */
	node_count_drop(lh->node, NODE_DROP_FORBIDDEN);
out:
	anosip__v1__id_dir_envelope__free_unpacked(e, NULL);
}

void lh_iddir_expire(struct lh *lh, uint64_t now_ms)
{
	for (struct lh_iddir_wait **ww = &lh->iddir_waits; *ww;) {
		struct lh_iddir_wait *w = *ww;
		if (now_ms - w->started_ms < LH_IDDIR_TIMEOUT_MS) {
			ww = &w->next;
			continue;
		}
		*ww = w->next;
		lh->n_iddir_waits--;
		struct lh_circuit *c = lh_circuit_find(lh, w->circuit);
		if (c)
			answer_down(lh, c, w->ua_request_id, NULL, 0,
				    "the ID Directory did not answer");
		free(w);
	}
}

void lh_iddir_free(struct lh *lh)
{
	while (lh->iddir_waits) {
		struct lh_iddir_wait *w = lh->iddir_waits;
		lh->iddir_waits = w->next;
		free(w);
	}
	lh->n_iddir_waits = 0;
}
