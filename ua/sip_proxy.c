/* The ua's SIP front, tunnelled legs (DESIGN.md §5): the softphone's
 * REGISTER and INVITE-for-a-nickname go up the circuit scrubbed; the
 * answers come back restored from the request the softphone sent. An
 * INVITE arriving down the circuit is answered here, by policy: a 302 to
 * our direct address sealed to the caller, or a decline — signed either way.
 * Enough of RFC 3261's transaction layer for real clients: retransmissions
 * absorbed, 100 Trying, CANCEL, the ACK of a non-2xx, OPTIONS locally. */
#include "ua/sip_front.h"

#include "keys/keys.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UA_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"
/* What a tunnelled message may take of a DATA cell: the rest is for the
 * certificate and signature that travel with it. */
#define UA_SIP_TUNNEL_MAX (CIRC_DATA_MAX - 4096)

void ua_sip_send(struct ua_sip *s, const struct ua_peer *to, const char *text, size_t len)
{
	if (ua_transport_send(s->transport, to, text, len) < 0)
		log_debug("sip: send failed");
}

void ua_sip_reply(struct ua_sip *s, const struct ua_peer *to, const osip_message_t *request,
		  int status, const char *const *headers)
{
	char *text = NULL;
	size_t len;
	if (sip_response_text(request, status, NULL, headers, &text, &len) < 0)
		return;
	ua_sip_send(s, to, text, len);
	if (status >= 300)
		s->errors_sent++;
	free(text);
}

int ua_sip_is_us(const struct ua_sip *s, const char *host, const char *port)
{
	int p = port && *port ? atoi(port) : 5060;
	if (!host)
		return 0;
	return (strcmp(host, s->listen_host) == 0 && p == s->listen_port) ||
	       (strcmp(host, s->direct_host) == 0 && p == s->direct_port);
}

/* --- transactions --- */

static size_t branch_bucket(const char *branch, const char *method)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = branch; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	for (const char *p = method; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)(h % UA_SIP_TX_BUCKETS);
}

static size_t id_bucket(uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 40) % UA_SIP_TX_BUCKETS;
}

static struct ua_sip_tx *tx_by_branch(struct ua_sip *s, const char *branch, const char *method)
{
	for (struct ua_sip_tx *t = s->by_branch[branch_bucket(branch, method)]; t;
	     t = t->next_by_branch)
		if (strcmp(t->branch, branch) == 0 && strcmp(t->method, method) == 0)
			return t;
	return NULL;
}

static struct ua_sip_tx *tx_by_id(struct ua_sip *s, uint64_t id)
{
	for (struct ua_sip_tx *t = s->by_id[id_bucket(id)]; t; t = t->next_by_id)
		if (t->id == id)
			return t;
	return NULL;
}

void ua_sip_tx_init(struct ua_sip *s)
{
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->finished);
}

static void tx_link(struct ua_sip *s, struct ua_sip_tx *t)
{
	size_t b = branch_bucket(t->branch, t->method), i = id_bucket(t->id);
	TAILQ_INSERT_TAIL(&s->pending, t, order);
	s->n_pending++;
	t->next_by_branch = s->by_branch[b];
	s->by_branch[b] = t;
	t->next_by_id = s->by_id[i];
	s->by_id[i] = t;
}

static void tx_free(struct ua_sip_tx *t)
{
	if (t->request)
		osip_message_free(t->request);
	free(t->final);
	free(t);
}

/* Takes t out of its queue and both indexes, and frees it. */
static void tx_drop(struct ua_sip *s, struct ua_sip_tx *t)
{
	struct ua_sip_tx **pp;
	for (pp = &s->by_branch[branch_bucket(t->branch, t->method)]; *pp;
	     pp = &(*pp)->next_by_branch)
		if (*pp == t) {
			*pp = t->next_by_branch;
			break;
		}
	for (pp = &s->by_id[id_bucket(t->id)]; *pp; pp = &(*pp)->next_by_id)
		if (*pp == t) {
			*pp = t->next_by_id;
			break;
		}
	if (t->final) {
		TAILQ_REMOVE(&s->finished, t, order);
		s->n_finished--;
	} else {
		TAILQ_REMOVE(&s->pending, t, order);
		s->n_pending--;
	}
	tx_free(t);
}

/* Sends the softphone its final response (text, which t keeps for
 * retransmissions). */
static void tx_finish_text(struct ua_sip *s, struct ua_sip_tx *t, char *text, size_t len,
			   int status)
{
	ua_sip_send(s, &t->from, text, len);
	if (!t->final) {
		TAILQ_REMOVE(&s->pending, t, order);
		s->n_pending--;
		TAILQ_INSERT_TAIL(&s->finished, t, order);
		s->n_finished++;
	}
	free(t->final);
	t->final = text;
	t->final_len = len;
	t->final_status = status;
	t->finished_ms = util_now_ms();
	/* What answers a retransmission from now on is the text alone. */
	if (t->request) {
		osip_message_free(t->request);
		t->request = NULL;
	}
	if (status >= 300)
		s->errors_sent++;
	if (s->n_finished > UA_SIP_MAX_FINISHED) {
		tx_drop(s, TAILQ_FIRST(&s->finished));
		s->tx_forgotten_early++;
	}
}

static void tx_finish(struct ua_sip *s, struct ua_sip_tx *t, osip_message_t *resp)
{
	char *text = NULL;
	size_t len;
	if (sip_to_string(resp, &text, &len) == 0)
		tx_finish_text(s, t, text, len, sip_status(resp));
}

static int tx_finish_status(struct ua_sip *s, struct ua_sip_tx *t, int status,
			    const char *const *headers)
{
	char *text = NULL;
	size_t len;
	if (!t->request)
		return -EINVAL;
	int rc = sip_response_text(t->request, status, NULL, headers, &text, &len);
	if (rc < 0)
		return rc;
	tx_finish_text(s, t, text, len, status);
	return 0;
}

/* --- softphone -> circuit --- */

static void copy_headers(osip_message_t *to, const osip_message_t *from, const char *name)
{
	osip_header_t *h = NULL;
	for (int pos = 0; osip_message_header_get_byname(from, name, pos, &h) >= 0 && h; pos++) {
		if (h->hvalue)
			osip_message_set_header(to, h->hname, h->hvalue);
		h = NULL;
	}
}

/* Takes m: the new transaction keeps it, or it is freed. */
static void send_up(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m)
{
	const char *method = sip_method(m);
	const char *branch = sip_branch(m);
	if (!branch || strlen(branch) >= sizeof(((struct ua_sip_tx *)0)->branch)) {
		ua_sip_reply(s, from, m, 400, NULL);
		osip_message_free(m);
		return;
	}
	if (s->ua->state != UA_OPEN) {
		static const char *const retry[] = {"Retry-After", "5", NULL};
		ua_sip_reply(s, from, m, 503, retry);
		osip_message_free(m);
		return;
	}
	if (s->n_pending >= UA_SIP_MAX_TX) {
		ua_sip_reply(s, from, m, 503, NULL);
		osip_message_free(m);
		return;
	}
	osip_message_t *scrubbed = NULL;
	char *text = NULL;
	size_t len = 0;
	struct ua_sip_tx *t = calloc(1, sizeof(*t));
	if (!t) {
		ua_sip_reply(s, from, m, 500, NULL);
		osip_message_free(m);
		return;
	}
	t->request = m;
	if (osip_message_clone(m, &scrubbed) != 0)
		goto fail;
	do
		randombytes_buf(&t->id, sizeof(t->id));
	while (!t->id);
	snprintf(t->branch, sizeof(t->branch), "%s", branch);
	snprintf(t->method, sizeof(t->method), "%s", method);
	t->from = *from;
	t->created_ms = util_now_ms();
	if (strcmp(method, "INVITE") == 0 && m->req_uri)
		sip_uri_nickname(m->req_uri, t->callee);
	char our_branch[64];
	snprintf(our_branch, sizeof(our_branch), "z9hG4bK%016llx", (unsigned long long)t->id);
	struct sip_scrub sc = {
	    .nickname = s->ua->cfg->nickname, .domain = s->ua->cfg->domain, .branch = our_branch};
	memcpy(sc.hash_key, s->hash_key, sizeof(sc.hash_key));
	int rc = sip_scrub_request(scrubbed, &sc);
	sodium_memzero(sc.hash_key, sizeof(sc.hash_key));
	if (rc < 0 || sip_to_string(scrubbed, &text, &len) < 0)
		goto fail;
	tx_link(s, t);
	if (len > UA_SIP_TUNNEL_MAX) {
		tx_finish_status(s, t, 513, NULL);
		goto out;
	}
	if (strcmp(method, "INVITE") == 0)
		ua_sip_reply(s, from, m, 100, NULL);
	Anosip__V1__SipMessage sm = ANOSIP__V1__SIP_MESSAGE__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	sm.message.data = (uint8_t *)text;
	sm.message.len = len;
	sm.transaction = t->id;
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP;
	cm.sip = &sm;
	if (ua_circuit_send(s->ua, &cm) < 0)
		tx_finish_status(s, t, 503, NULL);
	else
		s->to_circuit++;
	goto out;
fail:
	ua_sip_reply(s, from, m, 500, NULL);
	tx_free(t); /* and m with it */
out:
	free(text);
	if (scrubbed)
		osip_message_free(scrubbed);
}

/* The digest's uri parameter travels to the lighthouse as the softphone
 * wrote it (the response covers it), so it must not name an address: some
 * clients put the proxy's address there (SIPp does by default). */
static int digest_uri_ok(struct ua_sip *s, const osip_message_t *m)
{
	osip_authorization_t *a = NULL;
	if (osip_message_get_authorization(m, 0, &a) < 0 || !a)
		return 1;
	const char *quoted = osip_authorization_get_uri(a);
	if (!quoted)
		return 1;
	char text[256];
	size_t n = strlen(quoted);
	if (n >= 2 && quoted[0] == '"' && quoted[n - 1] == '"') {
		quoted++;
		n -= 2;
	}
	if (n >= sizeof(text))
		return 0;
	memcpy(text, quoted, n);
	text[n] = 0;
	osip_uri_t *uri = NULL;
	int ok = osip_uri_init(&uri) == 0 && osip_uri_parse(uri, text) == 0 && uri->host &&
		 strcasecmp(uri->host, s->ua->cfg->domain) == 0 && !uri->port;
	osip_uri_free(uri);
	return ok;
}

/* What the ua answers itself (1): retransmissions, ACK, CANCEL, OPTIONS,
 * methods it does not carry, a digest naming an address. 0: a new
 * transaction for the circuit. */
static int answer_here(struct ua_sip *s, const struct ua_peer *from, const osip_message_t *m)
{
	const char *method = sip_method(m);
	const char *branch = sip_branch(m);
	struct ua_sip_tx *t = branch ? tx_by_branch(s, branch, method) : NULL;
	if (t) {
		/* A retransmission: the answer again, or patience. */
		if (t->final)
			ua_sip_send(s, from, t->final, t->final_len);
		else if (strcmp(method, "INVITE") == 0)
			ua_sip_reply(s, from, m, 100, NULL);
		return 1;
	}
	if (strcmp(method, "ACK") == 0)
		return 1; /* the ACK of a final non-2xx we gave: hop by hop, ends here */
	if (strcmp(method, "CANCEL") == 0) {
		struct ua_sip_tx *inv = branch ? tx_by_branch(s, branch, "INVITE") : NULL;
		ua_sip_reply(s, from, m, inv ? 200 : 481, NULL);
		/* The callee's ua answers at once; if it has not yet, the
		 * softphone has its 487 and a late answer is dropped. */
		if (inv && !inv->final)
			tx_finish_status(s, inv, 487, NULL);
		return 1;
	}
	if (strcmp(method, "OPTIONS") == 0) {
		static const char *const allow[] = {"Allow", UA_ALLOW, "Accept", "application/sdp",
						    NULL};
		ua_sip_reply(s, from, m, 200, allow);
		return 1;
	}
	if (strcmp(method, "REGISTER") != 0 && strcmp(method, "INVITE") != 0) {
		static const char *const allow[] = {"Allow", UA_ALLOW, NULL};
		ua_sip_reply(s, from, m, 405, allow);
		return 1;
	}
	if (!digest_uri_ok(s, m)) {
		static const char *const why[] = {
		    "Warning",
		    "399 anosip \"digest uri must be the ANOSIP domain, not an address\"", NULL};
		ua_sip_reply(s, from, m, 400, why);
		return 1;
	}
	return 0;
}

/* A request from the softphone for a nickname (or our registrar). */
void ua_sip_from_softphone(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m)
{
	if (answer_here(s, from, m))
		osip_message_free(m);
	else
		send_up(s, from, m);
}

/* --- circuit -> softphone: answers to our requests --- */

int ua_sip_lighthouse_key(void *ctx, const char *id, uint8_t sign_public[32])
{
	const struct topo *t = ctx;
	int i = topo_find(t, id);
	if (i < 0 || !(t->nodes[i].roles & TOPO_ROLE_LIGHTHOUSE))
		return -ENOENT;
	memcpy(sign_public, t->nodes[i].keys.sign, 32);
	return 0;
}

/* The softphone's flow to keep open for incoming calls (conn, or 0 for
 * none): a TCP softphone is reached over its own connection (RFC 5626),
 * and only the one it registered last is exempt from the timeouts. */
static void keep_flow(struct ua_sip *s, uint64_t conn)
{
	if (s->kept_conn && s->kept_conn != conn)
		ua_transport_keep(s->transport, s->kept_conn, 0);
	s->kept_conn = conn;
	if (conn)
		ua_transport_keep(s->transport, conn, 1);
}

/* A REGISTER's 200: the softphone's own contacts back, with what was
 * granted, and the contact remembered for incoming calls. Without a
 * Contact the REGISTER was a query (RFC 3261 §10.2.3): nothing changes. */
static void registered(struct ua_sip *s, struct ua_sip_tx *t, const osip_message_t *answer,
		       osip_message_t *resp)
{
	const char *granted = sip_header(answer, "Expires");
	unsigned expires = granted ? (unsigned)strtoul(granted, NULL, 10) : 0;
	osip_contact_t *c = NULL;
	char *uri = NULL;
	int has_contact = osip_message_get_contact(t->request, 0, &c) >= 0 && c;
	if (has_contact && c->url && osip_uri_to_str(c->url, &uri) == 0 && expires > 0) {
		char line[700], source[64] = "";
		snprintf(line, sizeof(line), "<%s>;expires=%u", uri, expires);
		osip_message_set_contact(resp, line);
		util_format_address(&t->from.addr, source, sizeof(source));
		ua_state_contact_set(s->state, uri, t->from.tcp, source,
				     util_wall_ms() / 1000 + expires);
		keep_flow(s, t->from.tcp ? t->from.conn : 0);
	} else if (has_contact) {
		ua_state_contact_clear(s->state);
		keep_flow(s, 0);
	}
	if (granted)
		osip_message_set_header(resp, "Expires", granted);
	osip_free(uri);
}

/* What a lighthouse itself may answer to an INVITE (unsigned). */
static int lighthouse_status(int status)
{
	static const int ok[] = {400, 403, 404, 405, 408, 480, 500, 503, 504, 513};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (status == ok[i])
			return 1;
	return 0;
}

/* A redirect's contact as our peers make it: sip:TOKEN@IP:PORT. */
static int contact_ok(const char *contact)
{
	struct sockaddr_storage ss;
	if (strncmp(contact, "sip:", 4) != 0 || strlen(contact) < 4 + 32 + 1 ||
	    strspn(contact + 4, "0123456789abcdef") != 32 || contact[36] != '@')
		return 0;
	return util_parse_address(contact + 37, &ss) == 0;
}

/* answer: sm's message, parsed (stays the caller's). */
static void answer_for_softphone(struct ua_sip *s, const Anosip__V1__SipMessage *sm,
				 const osip_message_t *answer)
{
	struct ua_sip_tx *t = tx_by_id(s, sm->transaction);
	osip_message_t *resp = NULL;
	if (!t || t->final) {
		node_count_drop(s->ua->node, NODE_DROP_UNKNOWN_MESSAGE);
		return;
	}
	int status = sip_status(answer);
	if (status < 200)
		goto out;
	/* The answer must be to our request (its Via is the one we sent),
	 * not an old one replayed into this transaction. */
	char branch[64];
	snprintf(branch, sizeof(branch), "z9hG4bK%016llx", (unsigned long long)t->id);
	if (!sip_branch(answer) || strcmp(sip_branch(answer), branch) != 0) {
		s->forged++;
		node_count_drop(s->ua->node, NODE_DROP_REPLAY);
		goto out;
	}
	char *contact = NULL;
	if (sm->signed_response.len) {
		char callee[CIRC_NICKNAME_MAX + 1];
		uint8_t callee_public[32];
		int rc =
		    circ_sip_response_open(sm->signed_response.data, sm->signed_response.len,
					   sm->message.data, sm->message.len, &s->ua->keys,
					   ua_sip_lighthouse_key, (void *)node_topo(s->ua->node),
					   util_wall_ms() / 1000, callee, callee_public, &contact);
		/* The callee's key as first seen: a lighthouse minting a
		 * certificate for the callee with a key of its own is caught
		 * here (trust on first use). */
		if (rc == 0 && strcmp(callee, t->callee) == 0 &&
		    ua_state_peer_key(s->state, callee, callee_public, util_wall_ms() / 1000) ==
			-EKEYREJECTED) {
			log_warn("sip: %s answered with a key other than the one it had before",
				 callee);
			rc = -EKEYREJECTED;
		}
		if (rc < 0 || strcmp(callee, t->callee) != 0) {
			log_warn("sip: an answer signed for another nickname, or forged: dropped");
			s->forged++;
			free(contact);
			tx_finish_status(s, t, 502, NULL);
			goto out;
		}
	} else if (strcmp(t->method, "INVITE") == 0 && !lighthouse_status(status)) {
		/* Only the callee may say where it is, or that it answers: the
		 * lighthouses only ever refuse. */
		log_warn("sip: an unsigned %d to an INVITE: dropped", status);
		s->forged++;
		tx_finish_status(s, t, 502, NULL);
		goto out;
	}
	if (contact && !contact_ok(contact)) {
		log_warn("sip: a redirect to something that is not a direct contact: dropped");
		s->forged++;
		free(contact);
		tx_finish_status(s, t, 502, NULL);
		goto out;
	}
	/* The standard reason phrase: the far end's words are not passed on. */
	if (sip_response_make(t->request, status, NULL, &resp) < 0) {
		free(contact);
		tx_finish_status(s, t, 502, NULL);
		goto out;
	}
	osip_www_authenticate_t *wa = NULL;
	for (int pos = 0; osip_message_get_www_authenticate(answer, pos, &wa) >= 0 && wa; pos++) {
		char *value = NULL;
		/* Only the algorithms the softphone can do: some (SIPp 3.6,
		 * baresip 1.0) take the first challenge whatever it is. */
		const char *alg = osip_www_authenticate_get_algorithm(wa);
		int sha = alg && strcasestr(alg, "SHA-256") != NULL;
		if ((sha ? s->ua->cfg->digest_sha256 : s->ua->cfg->digest_md5) &&
		    osip_www_authenticate_to_str(wa, &value) == 0 && value)
			osip_message_set_www_authenticate(resp, value);
		osip_free(value);
		wa = NULL;
	}
	copy_headers(resp, answer, "min-expires");
	copy_headers(resp, answer, "retry-after");
	copy_headers(resp, answer, "warning");
	if (strcmp(t->method, "REGISTER") == 0 && status == 200)
		registered(s, t, answer, resp);
	if (status >= 300 && status < 400 && contact) {
		char line[CIRC_CONTACT_MAX + 8];
		snprintf(line, sizeof(line), "<%s>", contact);
		osip_message_set_contact(resp, line);
		s->redirects++;
	}
	free(contact);
	tx_finish(s, t, resp);
out:
	if (resp)
		osip_message_free(resp);
}

void ua_sip_on_message(struct ua_sip *s, const Anosip__V1__SipMessage *sm)
{
	s->from_circuit++;
	osip_message_t *m = NULL;
	if (sip_parse((const char *)sm->message.data, sm->message.len, &m) < 0) {
		s->malformed++;
		node_count_drop(s->ua->node, NODE_DROP_DECODE);
	} else if (sip_is_request(m)) {
		ua_sip_incoming_call(s, sm, m);
	} else {
		answer_for_softphone(s, sm, m);
	}
	if (m)
		osip_message_free(m);
}

void ua_sip_tx_expire(struct ua_sip *s, uint64_t now_ms)
{
	struct ua_sip_tx *t;
	/* Both queues are oldest first and each has one timeout: only their
	 * heads can be due. */
	while ((t = TAILQ_FIRST(&s->pending)) && now_ms - t->created_ms > UA_SIP_TX_TIMEOUT_MS)
		if (tx_finish_status(s, t, strcmp(t->method, "INVITE") == 0 ? 408 : 504, NULL) < 0)
			tx_drop(s, t); /* no answer could be made: forget it all the same */
	while ((t = TAILQ_FIRST(&s->finished)) && now_ms - t->finished_ms > UA_SIP_TX_LINGER_MS)
		tx_drop(s, t);
}

void ua_sip_tx_free_all(struct ua_sip *s)
{
	struct ua_sip_tx *t;
	while ((t = TAILQ_FIRST(&s->pending)))
		tx_drop(s, t);
	while ((t = TAILQ_FIRST(&s->finished)))
		tx_drop(s, t);
}
