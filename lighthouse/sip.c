/* The lighthouse's SIP side (DESIGN.md §5, paper §4.1–4.3): the registrar
 * for the nicknames homed here, and call routing — an INVITE from a
 * caller's circuit goes to the callee's circuit here or, as a routed
 * message, to the callee's lighthouse; the callee ua's signed answer comes
 * back the same way. SIP text is forwarded unchanged: the lighthouse reads
 * it to route, it never needs (or gets) an address. */
#include "lighthouse/lh_private.h"

#include "sip/sip.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The accepted (nonce, nc, cnonce) set holds at most half its slots per
 * generation (SIP_NONCE_LIFETIME_S + 60 s), and refuses every REGISTER
 * once full: that must take longer than a lighthouse can fill it. 2^23
 * slots keep 4.2 million, 11,600 REGISTERs a second for six minutes,
 * above what one core verifies (docs/benchmarks.md); the sets grow from
 * 1024 slots only as REGISTERs come, up to 64 MiB each (two generations). */
#define LH_NONCE_COUNT_SLOTS (1u << 23)

static size_t tx_bucket(uint64_t token)
{
	return (size_t)((token * 0x9E3779B97F4A7C15ull) >> 40) % LH_SIP_TX_BUCKETS;
}

int lh_sip_init(struct lh *lh, char *err, size_t err_len)
{
	if (!lh->realm[0] || strlen(lh->realm) > 63 || strpbrk(lh->realm, "\"\\\r\n")) {
		snprintf(err, err_len, "realm must be 1..63 characters without quotes");
		return -EINVAL;
	}
	sip_init();
	/* Derived from the node's own key, so nonces survive a restart but no
	 * other lighthouse can mint ours. */
	const struct keys_pair *k = node_keys(lh->node);
	crypto_generichash(lh->nonce_key, sizeof(lh->nonce_key), k->sign_secret,
			   sizeof(k->sign_secret), (const uint8_t *)"anosip-sip-nonce-v1", 19);
	/* An accepted nonce count is remembered at least as long as the
	 * nonce lives. */
	if (util_replay_init(&lh->nonce_counts, LH_NONCE_COUNT_SLOTS,
			     SIP_NONCE_LIFETIME_S * 1000ull + 60000, util_now_ms()) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void lh_sip_free(struct lh *lh)
{
	for (size_t b = 0; b < LH_SIP_TX_BUCKETS; b++)
		while (lh->sip_tx[b]) {
			struct lh_sip_tx *t = lh->sip_tx[b];
			lh->sip_tx[b] = t->next;
			free(t);
		}
	while (lh->sip_waits) {
		struct lh_sip_wait *w = lh->sip_waits;
		lh->sip_waits = w->next;
		free(w->message);
		free(w);
	}
	util_replay_free(&lh->nonce_counts);
	sodium_memzero(lh->nonce_key, sizeof(lh->nonce_key));
}

/* --- sending --- */

static int send_sip_down(struct lh *lh, struct lh_circuit *c, uint64_t transaction,
			 const uint8_t *message, size_t len, const uint8_t *caller_cert,
			 size_t caller_cert_len, const uint8_t *signed_response,
			 size_t signed_response_len)
{
	Anosip__V1__SipMessage sm = ANOSIP__V1__SIP_MESSAGE__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	sm.message.data = (uint8_t *)message;
	sm.message.len = len;
	sm.transaction = transaction;
	sm.caller_certificate.data = (uint8_t *)caller_cert;
	sm.caller_certificate.len = caller_cert_len;
	sm.signed_response.data = (uint8_t *)signed_response;
	sm.signed_response.len = signed_response_len;
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP;
	m.sip = &sm;
	return lh_send_back(lh, c, &m);
}

static int send_sip_routed(struct lh *lh, int dest, uint64_t transaction, int response,
			   const uint8_t *message, size_t len, const uint8_t *caller_cert,
			   size_t caller_cert_len, const uint8_t *signed_response,
			   size_t signed_response_len)
{
	Anosip__V1__SipRouted r = ANOSIP__V1__SIP_ROUTED__INIT;
	r.transaction = transaction;
	r.response = response;
	r.message.data = (uint8_t *)message;
	r.message.len = len;
	r.caller_certificate.data = (uint8_t *)caller_cert;
	r.caller_certificate.len = caller_cert_len;
	r.signed_response.data = (uint8_t *)signed_response;
	r.signed_response.len = signed_response_len;
	size_t plen = anosip__v1__sip_routed__get_packed_size(&r);
	uint8_t *p = malloc(plen ? plen : 1);
	if (!p)
		return -ENOMEM;
	anosip__v1__sip_routed__pack(&r, p);
	int rc = router_send(lh->router, dest, ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_SIP, p, plen);
	free(p);
	return rc;
}

static void send_response_to(struct lh *lh, const struct lh_sip_origin *o, const uint8_t *msg,
			     size_t len, const uint8_t *signed_response, size_t signed_len)
{
	lh->sip_responses++;
	if (o->caller) {
		struct lh_circuit *c = lh_circuit_find(lh, o->caller);
		if (!c) {
			node_count_drop(lh->node, NODE_DROP_UNKNOWN_CIRCUIT);
			return;
		}
		send_sip_down(lh, c, o->transaction, msg, len, NULL, 0, signed_response,
			      signed_len);
	} else {
		send_sip_routed(lh, o->source, o->transaction, 1, msg, len, NULL, 0,
				signed_response, signed_len);
	}
}

void lh_sip_reply(struct lh *lh, const struct lh_sip_origin *o, const osip_message_t *request,
		  int status, const char *const *headers)
{
	char *text = NULL;
	size_t len;
	if (sip_response_text(request, status, NULL, headers, &text, &len) < 0)
		return;
	send_response_to(lh, o, (const uint8_t *)text, len, NULL, 0);
	if (status >= 300)
		lh->sip_errors++;
	free(text);
}

/* --- transactions --- */

/* Frees an unlinked transaction and gives its caller's circuit the slot back. */
static void tx_drop(struct lh *lh, struct lh_sip_tx *t)
{
	struct lh_circuit *c = t && t->caller ? lh_circuit_find(lh, t->caller) : NULL;
	if (c && c->sip_pending)
		c->sip_pending--;
	free(t);
}

static struct lh_sip_tx *tx_add(struct lh *lh, const struct lh_sip_origin *o)
{
	struct lh_circuit *c = o->caller ? lh_circuit_find(lh, o->caller) : NULL;
	/* One circuit cannot fill the table for everyone. */
	if (lh->n_sip_tx >= LH_SIP_MAX_TX || (c && c->sip_pending >= LH_SIP_MAX_TX_PER_CIRCUIT))
		return NULL;
	struct lh_sip_tx *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	lh->n_sip_tx++;
	if (c)
		c->sip_pending++;
	do
		randombytes_buf(&t->token, sizeof(t->token));
	while (!t->token);
	t->caller = o->caller;
	t->source = o->source;
	t->origin_tx = o->transaction;
	t->callee_lighthouse = -1;
	t->created_ms = util_now_ms();
	size_t b = tx_bucket(t->token);
	t->next = lh->sip_tx[b];
	lh->sip_tx[b] = t;
	return t;
}

/* Finds (and with take, unlinks) a transaction. */
static struct lh_sip_tx *tx_find(struct lh *lh, uint64_t token, int take)
{
	for (struct lh_sip_tx **pp = &lh->sip_tx[tx_bucket(token)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->token != token)
			continue;
		struct lh_sip_tx *t = *pp;
		if (take) {
			*pp = t->next;
			lh->n_sip_tx--;
		}
		return t;
	}
	return NULL;
}

void lh_sip_expire(struct lh *lh, uint64_t now_ms)
{
	for (size_t b = 0; b < LH_SIP_TX_BUCKETS; b++)
		for (struct lh_sip_tx **pp = &lh->sip_tx[b]; *pp;) {
			struct lh_sip_tx *t = *pp;
			if (now_ms - t->created_ms < LH_SIP_TX_TIMEOUT_MS) {
				pp = &t->next;
				continue;
			}
			*pp = t->next;
			tx_drop(lh, t);
			lh->n_sip_tx--;
		}
	/* The lookup service did not answer: the caller hears 504 from its
	 * own ua's timer, so the INVITE is just dropped here. */
	for (struct lh_sip_wait **ww = &lh->sip_waits; *ww;) {
		struct lh_sip_wait *w = *ww;
		if (now_ms - w->started_ms < LH_CLAIM_TIMEOUT_MS) {
			ww = &w->next;
			continue;
		}
		*ww = w->next;
		free(w->message);
		free(w);
		lh->n_sip_waits--;
	}
}

/* --- calls --- */

/* Delivers a request for a nickname homed here down its circuit. */
static void deliver(struct lh *lh, const struct lh_sip_origin *o, const osip_message_t *req,
		    const char *callee, const uint8_t *text, size_t len, const uint8_t *caller_cert,
		    size_t caller_cert_len)
{
	uint64_t circuit, expires;
	int live = 0;
	uint64_t now = util_wall_ms() / 1000;
	if (lh_store_account_get(lh->store, callee, NULL, NULL) < 0) {
		lh_sip_reply(lh, o, req, 404, NULL);
		return;
	}
	struct lh_circuit *c = NULL;
	if (lh_store_binding_get(lh->store, callee, &circuit, NULL, NULL, &live) == 0 && live)
		c = lh_circuit_find(lh, circuit);
	if (!c || lh_store_registration_get(lh->store, callee, &expires) < 0 || expires <= now) {
		lh_sip_reply(lh, o, req, 480, NULL);
		return;
	}
	struct lh_sip_tx *t = tx_add(lh, o);
	if (!t) {
		lh_sip_reply(lh, o, req, 503, NULL);
		return;
	}
	t->callee = c->handle;
	send_sip_down(lh, c, t->token, text, len, caller_cert, caller_cert_len, NULL, 0);
}

/* Sends a caller's INVITE on to the callee's lighthouse. */
static void forward(struct lh *lh, const struct lh_sip_origin *o, const osip_message_t *req,
		    int dest, const uint8_t *text, size_t len, const uint8_t *caller_cert,
		    size_t caller_cert_len)
{
	struct lh_sip_tx *t = tx_add(lh, o);
	if (!t) {
		lh_sip_reply(lh, o, req, 503, NULL);
		return;
	}
	t->callee_lighthouse = dest;
	if (send_sip_routed(lh, dest, t->token, 0, text, len, caller_cert, caller_cert_len, NULL,
			    0) < 0) {
		tx_drop(lh, tx_find(lh, t->token, 1));
		lh_sip_reply(lh, o, req, 503, NULL);
	}
}

/* Routes a caller's INVITE by where the callee is homed. */
static void route_invite(struct lh *lh, struct lh_circuit *caller, const struct lh_sip_origin *o,
			 const osip_message_t *req, const char *callee, const char *home,
			 const uint8_t *text, size_t len)
{
	const struct topo *t = node_topo(lh->node);
	int dest = home[0] ? topo_find(t, home) : -1;
	if (dest < 0 || !(t->nodes[dest].roles & TOPO_ROLE_LIGHTHOUSE))
		lh_sip_reply(lh, o, req, 404, NULL);
	else if (dest == lh->self)
		deliver(lh, o, req, callee, text, len, caller->certificate,
			caller->certificate_len);
	else
		forward(lh, o, req, dest, text, len, caller->certificate, caller->certificate_len);
}

static void on_invite(struct lh *lh, struct lh_circuit *c, const struct lh_sip_origin *o,
		      const osip_message_t *req, const uint8_t *text, size_t len)
{
	char callee[SIP_NICKNAME_MAX + 1], home[32];
	if (!req->req_uri || sip_uri_nickname(req->req_uri, callee) < 0) {
		lh_sip_reply(lh, o, req, 404, NULL);
		return;
	}
	if (!c->certificate) {
		lh_sip_reply(lh, o, req, 500, NULL);
		return;
	}
	if (lh_store_account_get(lh->store, callee, NULL, NULL) == 0) {
		deliver(lh, o, req, callee, text, len, c->certificate, c->certificate_len);
		return;
	}
	if (lh_lookup_cached(lh, callee, home) == 0) {
		route_invite(lh, c, o, req, callee, home, text, len);
		return;
	}
	struct lh_sip_wait *w = lh->n_sip_waits < LH_SIP_MAX_WAITS ? calloc(1, sizeof(*w)) : NULL;
	if (w)
		w->message = malloc(len);
	if (!w || !w->message || lh->lookup < 0 ||
	    lh_lookup_query(lh, callee, &w->request_id) < 0) {
		if (w)
			free(w->message);
		free(w);
		lh_sip_reply(lh, o, req, lh->lookup < 0 ? 404 : 503, NULL);
		return;
	}
	memcpy(w->message, text, len);
	w->message_len = len;
	w->caller = c->handle;
	w->caller_tx = o->transaction;
	snprintf(w->callee, sizeof(w->callee), "%s", callee);
	w->started_ms = util_now_ms();
	w->next = lh->sip_waits;
	lh->sip_waits = w;
	lh->n_sip_waits++;
}

int lh_sip_on_lookup(struct lh *lh, uint64_t request_id, const char *lighthouse)
{
	for (struct lh_sip_wait **ww = &lh->sip_waits; *ww; ww = &(*ww)->next) {
		struct lh_sip_wait *w = *ww;
		if (w->request_id != request_id)
			continue;
		*ww = w->next;
		lh->n_sip_waits--;
		struct lh_circuit *c = lh_circuit_find(lh, w->caller);
		osip_message_t *req = NULL;
		if (c && sip_parse((const char *)w->message, w->message_len, &req) == 0) {
			struct lh_sip_origin o = {.caller = w->caller, .transaction = w->caller_tx};
			route_invite(lh, c, &o, req, w->callee, lighthouse, w->message,
				     w->message_len);
		}
		if (req)
			osip_message_free(req);
		free(w->message);
		free(w);
		return 1;
	}
	return 0;
}

/* A response from the callee's side, for transaction token. */
static void on_response(struct lh *lh, uint64_t token, router_circuit from_circuit,
			int from_lighthouse, const uint8_t *text, size_t len,
			const uint8_t *signed_response, size_t signed_len, int status)
{
	struct lh_sip_tx *t = tx_find(lh, token, 0);
	/* Only the circuit or lighthouse the request went to may answer it. */
	if (!t || (from_circuit && t->callee != from_circuit) ||
	    (!from_circuit && t->callee_lighthouse != from_lighthouse)) {
		node_count_drop(lh->node, NODE_DROP_FORBIDDEN);
		return;
	}
	struct lh_sip_origin o = {
	    .caller = t->caller, .source = t->source, .transaction = t->origin_tx};
	send_response_to(lh, &o, text, len, signed_response, signed_len);
	if (status >= 200)
		tx_drop(lh, tx_find(lh, token, 1));
}

/* At log level debug, the SIP text as the lighthouse got it, on one line:
 * what the ua's scrubber let through (tests read it). */
static void log_sip(const char *what, const uint8_t *text, size_t len)
{
	char line[2048];
	size_t n = 0;
	if (!log_enabled(LOG_DEBUG))
		return;
	for (size_t i = 0; i < len && n + 4 < sizeof(line); i++) {
		uint8_t ch = text[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			line[n++] = ' ';
			line[n++] = '|';
			line[n++] = ' ';
		} else {
			line[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	line[n] = 0;
	log_debug("sip %s: %s", what, line);
}

void lh_sip_on_message(struct lh *lh, struct lh_circuit *c, const Anosip__V1__SipMessage *sm)
{
	osip_message_t *m = NULL;
	lh->sip_requests++;
	log_sip("from circuit", sm->message.data, sm->message.len);
	int rc = sip_parse((const char *)sm->message.data, sm->message.len, &m);
	struct lh_sip_origin o = {.caller = c->handle, .transaction = sm->transaction};
	if (rc < 0) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		if (m && sip_is_request(m) && sip_error_status(rc))
			lh_sip_reply(lh, &o, m, sip_error_status(rc), NULL);
		goto out;
	}
	if (!sip_is_request(m)) {
		on_response(lh, sm->transaction, c->handle, -1, sm->message.data, sm->message.len,
			    sm->signed_response.data, sm->signed_response.len, sip_status(m));
		goto out;
	}
	/* A request on a circuit speaks for that circuit's nickname only. */
	char from[SIP_NICKNAME_MAX + 1];
	if (!m->from || sip_uri_nickname(osip_from_get_url(m->from), from) < 0 ||
	    strcmp(from, c->nickname) != 0) {
		lh_sip_reply(lh, &o, m, 403, NULL);
		goto out;
	}
	const char *method = sip_method(m);
	if (strcmp(method, "REGISTER") == 0) {
		lh_registrar_on_register(lh, c, &o, m);
	} else if (strcmp(method, "INVITE") == 0) {
		on_invite(lh, c, &o, m, sm->message.data, sm->message.len);
	} else if (strcmp(method, "ACK") != 0) {
		static const char *const allow[] = {"Allow", "REGISTER, INVITE", NULL};
		lh_sip_reply(lh, &o, m, 405, allow);
	}
out:
	if (m)
		osip_message_free(m);
}

void lh_sip_on_routed(void *ctx, int source, const uint8_t *payload, size_t len)
{
	struct lh *lh = ctx;
	const struct topo *t = node_topo(lh->node);
	if (source < 0 || !(t->nodes[source].roles & TOPO_ROLE_LIGHTHOUSE)) {
		node_count_drop(lh->node, NODE_DROP_FORBIDDEN);
		return;
	}
	Anosip__V1__SipRouted *r = anosip__v1__sip_routed__unpack(NULL, len, payload);
	osip_message_t *m = NULL;
	if (!r) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		return;
	}
	int rc = sip_parse((const char *)r->message.data, r->message.len, &m);
	if (rc < 0 || r->response != !sip_is_request(m)) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		goto out;
	}
	if (r->response) {
		on_response(lh, r->transaction, 0, source, r->message.data, r->message.len,
			    r->signed_response.data, r->signed_response.len, sip_status(m));
		goto out;
	}
	struct lh_sip_origin o = {.source = source, .transaction = r->transaction};
	char callee[SIP_NICKNAME_MAX + 1];
	if (strcmp(sip_method(m), "INVITE") != 0 || !m->req_uri ||
	    sip_uri_nickname(m->req_uri, callee) < 0 || !r->caller_certificate.len) {
		lh_sip_reply(lh, &o, m, 400, NULL);
		goto out;
	}
	lh->sip_requests++;
	deliver(lh, &o, m, callee, r->message.data, r->message.len, r->caller_certificate.data,
		r->caller_certificate.len);
out:
	if (m)
		osip_message_free(m);
	anosip__v1__sip_routed__free_unpacked(r, NULL);
}
