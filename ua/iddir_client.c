/* The ua's side of the ID Directory (docs/protocol.md §8): queries signed
 * with the nickname key and sealed to the directory node, sent up the
 * circuit; answers opened with the nickname key and checked against the
 * directory's signature and the query they answer. Used by `ctl iddir
 * ...` and by the SIP front's policy for strangers. */
#include "ua/ua_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ua_iddir_req {
	uint64_t request_id;
	uint8_t query_hash[32];
	int directory;
	uint64_t deadline_ms;
	ua_iddir_fn fn;
	void *ctx;
	struct ua_iddir_req *next;
};

static int directory_node(const struct ua *ua)
{
	const struct topo *t = node_topo(ua->node);
	if (ua->cfg->iddir[0]) {
		int i = topo_find(t, ua->cfg->iddir);
		return i >= 0 && (t->nodes[i].roles & TOPO_ROLE_IDDIR) ? i : -1;
	}
	for (int i = 0; i < t->n; i++)
		if (t->nodes[i].roles & TOPO_ROLE_IDDIR)
			return i;
	return -1;
}

int ua_iddir_query(struct ua *ua, Anosip__V1__IdDirQuery *q, ua_iddir_fn fn, void *ctx)
{
	const struct topo *t = node_topo(ua->node);
	int dir = directory_node(ua);
	if (dir < 0)
		return -ENOENT;
	if (ua->state != UA_OPEN || !ua->certificate)
		return -ENOTCONN;
	struct ua_iddir_req *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	q->directory = (char *)t->nodes[dir].id;
	q->asker = (char *)ua->cfg->nickname;
	uint8_t *sealed = NULL;
	size_t sealed_len;
	int rc = circ_iddir_query_seal(&ua->keys, ua->certificate, ua->certificate_len, q,
				       t->nodes[dir].keys.kx, &sealed, &sealed_len, r->query_hash);
	if (rc < 0) {
		free(r);
		return rc;
	}
	randombytes_buf(&r->request_id, sizeof(r->request_id));
	r->directory = dir;
	r->deadline_ms = util_now_ms() + UA_IDDIR_TIMEOUT_MS;
	r->fn = fn;
	r->ctx = ctx;
	Anosip__V1__IdDirEnvelope e = ANOSIP__V1__ID_DIR_ENVELOPE__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	e.request_id = r->request_id;
	e.sealed.data = sealed;
	e.sealed.len = sealed_len;
	e.error = "";
	e.directory = (char *)t->nodes[dir].id;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY;
	m.iddir_query = &e;
	rc = ua_circuit_send(ua, &m);
	free(sealed);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->next = ua->iddir_reqs;
	ua->iddir_reqs = r;
	return 0;
}

void ua_iddir_on_answer(struct ua *ua, const Anosip__V1__IdDirEnvelope *e)
{
	for (struct ua_iddir_req **pp = &ua->iddir_reqs; *pp; pp = &(*pp)->next) {
		struct ua_iddir_req *r = *pp;
		if (r->request_id != e->request_id)
			continue;
		*pp = r->next;
		Anosip__V1__IdDirResult *res = NULL;
		const struct topo *t = node_topo(ua->node);
		if (e->error && e->error[0]) {
			/* Unsigned, from the lighthouse: shown only as printable text. */
			char clean[128];
			size_t n = 0;
			for (const char *p = e->error; *p && n + 1 < sizeof(clean); p++)
				clean[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
			clean[n] = 0;
			r->fn(r->ctx, NULL, clean);
		} else if (circ_iddir_result_open(&ua->keys, t->nodes[r->directory].keys.sign,
						  e->sealed.data, e->sealed.len, r->query_hash,
						  &res) < 0) {
			node_count_drop(ua->node, NODE_DROP_BAD_SIGNATURE);
			r->fn(r->ctx, NULL, "an answer that is not the directory's");
		} else {
			r->fn(r->ctx, res, res->ok ? NULL : res->error);
			anosip__v1__id_dir_result__free_unpacked(res, NULL);
		}
		free(r);
		return;
	}
	node_count_drop(ua->node, NODE_DROP_UNKNOWN_MESSAGE);
}

void ua_iddir_expire(struct ua *ua, uint64_t now_ms, int all)
{
	for (struct ua_iddir_req **pp = &ua->iddir_reqs; *pp;) {
		struct ua_iddir_req *r = *pp;
		if (!all && now_ms < r->deadline_ms) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->fn(r->ctx, NULL, all ? "shutting down" : "the ID Directory did not answer");
		free(r);
	}
}

/* --- ctl iddir ... --- */

static void ctl_answer(void *ctx, const Anosip__V1__IdDirResult *r, const char *error)
{
	struct node_ctl *req = ctx;
	if (error || !r) {
		node_ctl_printf(req, "error: %s\n", error ? error : "no answer");
	} else if (r->real_id && r->real_id[0]) {
		node_ctl_printf(req, "ok %s is \"%s\" (%s)\n", r->nickname, r->real_id,
				r->verified ? "entered by the operator" : "published by its owner");
	} else {
		for (size_t i = 0; i < r->n_log; i++)
			node_ctl_printf(req, "read by %s at %llu %s\n", r->log[i]->reader,
					(unsigned long long)r->log[i]->at_unix,
					r->log[i]->granted ? "granted" : "refused");
		node_ctl_printf(req, "ok\n");
	}
	node_ctl_done(req);
}

static int parse_policy(const char *word, Anosip__V1__IdDirPolicy *out)
{
	if (strcmp(word, "anyone") == 0)
		*out = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_ANYONE;
	else if (strcmp(word, "nobody") == 0)
		*out = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_NOBODY;
	else if (strcmp(word, "list") == 0)
		*out = ANOSIP__V1__ID_DIR_POLICY__IDDIR_POLICY_LIST;
	else
		return -EINVAL;
	return 0;
}

/* iddir publish POLICY READERS|- REALID... | revoke | log | read NICK */
int ua_iddir_control(struct ua *ua, struct node_ctl *req, int argc, char **argv)
{
	Anosip__V1__IdDirQuery q = ANOSIP__V1__ID_DIR_QUERY__INIT;
	char real_id[CIRC_IDDIR_REAL_ID_MAX + 1] = "", readers_text[2048];
	char *readers[CIRC_IDDIR_READERS_MAX];
	const char *usage = "usage: iddir publish anyone|nobody|list READERS|- REAL ID... | "
			    "revoke | log | read NICKNAME";
	if (argc >= 4 && strcmp(argv[1], "publish") == 0) {
		q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_PUBLISH;
		if (parse_policy(argv[2], &q.policy) < 0)
			goto bad;
		snprintf(readers_text, sizeof(readers_text), "%s", argv[3]);
		char *save = NULL;
		for (char *w = strtok_r(readers_text, ",", &save); w && strcmp(w, "-") != 0;
		     w = strtok_r(NULL, ",", &save)) {
			if (q.n_readers == CIRC_IDDIR_READERS_MAX)
				goto bad;
			readers[q.n_readers++] = w;
		}
		q.readers = readers;
		size_t n = 0;
		for (int i = 4; i < argc; i++)
			n += (size_t)snprintf(real_id + n,
					      n < sizeof(real_id) ? sizeof(real_id) - n : 0, "%s%s",
					      i > 4 ? " " : "", argv[i]);
		if (n == 0 || n >= sizeof(real_id))
			goto bad;
		q.real_id = real_id;
	} else if (argc == 2 && strcmp(argv[1], "revoke") == 0) {
		q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_REVOKE;
	} else if (argc == 2 && strcmp(argv[1], "log") == 0) {
		q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_LOG;
	} else if (argc == 3 && strcmp(argv[1], "read") == 0 && circ_nickname_valid(argv[2])) {
		q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ;
		q.nickname = argv[2];
	} else {
		goto bad;
	}
	int rc = ua_iddir_query(ua, &q, ctl_answer, req);
	if (rc < 0) {
		node_ctl_printf(req, "error: %s\n",
				rc == -ENOENT	  ? "no ID Directory in this network"
				: rc == -ENOTCONN ? "no open circuit"
						  : "the query could not be made");
		node_ctl_done(req);
	}
	return 1;
bad:
	node_ctl_printf(req, "error: %s\n", usage);
	node_ctl_done(req);
	return 1;
}
