/* The direct leg (DESIGN.md §5.3): once the callee's ua has redirected an
 * accepted caller to its direct address, the call itself runs between the
 * two uas outside the Mist. Softphones send everything to their outbound
 * proxy, so each ua is a stateless proxy (RFC 3261 §16.11) here: it adds
 * its Via and a Record-Route, and passes the message on. The callee's ua
 * admits an out-of-dialog INVITE only with a live token from one of its
 * own 302s, and forwards from its direct address only to its softphone:
 * it is not an open relay. Next hops are IP literals (no DNS). */
#include "ua/sip_front.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* --- tokens --- */

int ua_sip_token_new(struct ua_sip *s, const char *caller, char *out)
{
	/* One token per caller: a second call renews it. */
	for (struct ua_sip_token *t = s->tokens; t; t = t->next)
		if (strcmp(t->caller, caller) == 0) {
			t->expires_ms = util_now_ms() + UA_SIP_TOKEN_MS;
			memcpy(out, t->token, sizeof(t->token));
			return 0;
		}
	if (s->n_tokens >= UA_SIP_MAX_TOKENS)
		return -ENOBUFS;
	struct ua_sip_token *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	uint8_t raw[16];
	randombytes_buf(raw, sizeof(raw));
	util_hex_encode(raw, sizeof(raw), t->token);
	snprintf(t->caller, sizeof(t->caller), "%s", caller);
	t->expires_ms = util_now_ms() + UA_SIP_TOKEN_MS;
	t->next = s->tokens;
	s->tokens = t;
	s->n_tokens++;
	memcpy(out, t->token, sizeof(t->token));
	return 0;
}

static int token_live(const struct ua_sip *s, const char *user)
{
	if (!user)
		return 0;
	for (const struct ua_sip_token *t = s->tokens; t; t = t->next)
		if (strlen(user) == 32 && sodium_memcmp(t->token, user, 32) == 0)
			return 1;
	return 0;
}

void ua_sip_tokens_expire(struct ua_sip *s, uint64_t now_ms)
{
	for (struct ua_sip_token **pp = &s->tokens; *pp;) {
		struct ua_sip_token *t = *pp;
		if (now_ms < t->expires_ms) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		free(t);
		s->n_tokens--;
	}
}

void ua_sip_tokens_free(struct ua_sip *s)
{
	while (s->tokens) {
		struct ua_sip_token *t = s->tokens;
		s->tokens = t->next;
		free(t);
	}
	s->n_tokens = 0;
}

/* --- helpers --- */

static int uri_address(const osip_uri_t *uri, struct sockaddr_storage *out)
{
	char text[128];
	if (!uri || !uri->host)
		return -EINVAL;
	const char *port = uri->port && *uri->port ? uri->port : "5060";
	int v6 = strchr(uri->host, ':') != NULL && uri->host[0] != '[';
	if ((size_t)snprintf(text, sizeof(text), v6 ? "[%s]:%s" : "%s:%s", uri->host, port) >=
	    sizeof(text))
		return -EINVAL;
	return util_parse_address(text, out);
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[64], y[64];
	return util_format_address(a, x, sizeof(x)) == 0 &&
	       util_format_address(b, y, sizeof(y)) == 0 && strcmp(x, y) == 0;
}

/* Where our softphone registered from and its contact's address. */
static int softphone(struct ua_sip *s, struct sockaddr_storage *contact_addr,
		     struct sockaddr_storage *source_addr, char *contact, size_t contact_len)
{
	char source[64];
	osip_uri_t *uri = NULL;
	if (ua_state_contact_get(s->state, util_wall_ms() / 1000, contact, contact_len, NULL,
				 source, sizeof(source), NULL) < 0)
		return -ENOENT;
	int rc = -EINVAL;
	if (osip_uri_init(&uri) == 0 && osip_uri_parse(uri, contact) == 0 &&
	    uri_address(uri, contact_addr) == 0 && util_parse_address(source, source_addr) == 0)
		rc = 0;
	osip_uri_free(uri);
	return rc;
}

static int has_to_tag(const osip_message_t *m)
{
	osip_generic_param_t *tag = NULL;
	return m->to && osip_to_get_tag(m->to, &tag) == 0 && tag && tag->gvalue;
}

/* The dialog mark in our Record-Route: a keyed hash of the Call-ID, so
 * only requests in a dialog that crossed us come in on the direct address
 * (a To tag alone proves nothing). out >= 33 bytes. */
static void dialog_mark(const struct ua_sip *s, const osip_message_t *m, char *out)
{
	uint8_t h[16];
	const char *number = m->call_id && m->call_id->number ? m->call_id->number : "";
	const char *host = m->call_id && m->call_id->host ? m->call_id->host : "";
	crypto_generichash_state st;
	crypto_generichash_init(&st, s->hash_key, sizeof(s->hash_key), sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)number, strlen(number) + 1);
	crypto_generichash_update(&st, (const uint8_t *)host, strlen(host) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	util_hex_encode(h, sizeof(h), out);
}

/* Pops our Routes (two: we Record-Route both our sides); 1 when each
 * carried this dialog's mark. */
static int pop_our_route(struct ua_sip *s, osip_message_t *m)
{
	osip_route_t *r = NULL;
	int popped = 0, marked = 1;
	char want[33];
	dialog_mark(s, m, want);
	while (popped < 2 && osip_message_get_route(m, 0, &r) >= 0 && r && r->url &&
	       ua_sip_is_us(s, r->url->host, r->url->port)) {
		osip_uri_param_t *d = NULL;
		marked &= osip_uri_uparam_get_byname(r->url, "d", &d) == 0 && d && d->gvalue &&
			  strlen(d->gvalue) == 32 && sodium_memcmp(d->gvalue, want, 32) == 0;
		osip_list_remove(&m->routes, 0);
		osip_route_free(r);
		r = NULL;
		popped++;
	}
	return popped && marked;
}

/* Decrements Max-Forwards: -1 when it was already 0. */
static int max_forwards(osip_message_t *m)
{
	osip_header_t *h = NULL;
	if (osip_message_get_max_forwards(m, 0, &h) < 0 || !h || !h->hvalue) {
		osip_message_set_max_forwards(m, "70");
		return 0;
	}
	long v = strtol(h->hvalue, NULL, 10);
	if (v <= 0)
		return -1;
	char text[16];
	snprintf(text, sizeof(text), "%ld", v > 70 ? 69 : v - 1);
	osip_free(h->hvalue);
	h->hvalue = osip_strdup(text);
	return 0;
}

/* A keyed hash of the Via a response will go to next: our Via carries it
 * (m=), so a response sent to us with made-up Vias below ours is not
 * passed on — we are not a relay to wherever its sender likes. */
static int via_mark(const struct ua_sip *s, const osip_via_t *via, char *out)
{
	char *text = NULL;
	if (!via || osip_via_to_str(via, &text) != 0 || !text)
		return -EINVAL;
	uint8_t h[16];
	crypto_generichash(h, sizeof(h), (const uint8_t *)text, strlen(text), s->hash_key,
			   sizeof(s->hash_key));
	osip_free(text);
	util_hex_encode(h, sizeof(h), out);
	return 0;
}

static int add_via(struct ua_sip *s, osip_message_t *m, enum ua_sock sock)
{
	char branch_hex[33], line[256];
	uint8_t h[16];
	const char *in = sip_branch(m);
	/* Stateless: the same incoming branch (a retransmission, or the
	 * CANCEL of an INVITE) gets the same outgoing branch. */
	crypto_generichash(h, sizeof(h), (const uint8_t *)(in ? in : ""), in ? strlen(in) : 0,
			   s->hash_key, sizeof(s->hash_key));
	util_hex_encode(h, sizeof(h), branch_hex);
	char mark[33];
	osip_via_t *below = NULL;
	if (osip_message_get_via(m, 0, &below) < 0 || via_mark(s, below, mark) < 0)
		return -EINVAL;
	snprintf(line, sizeof(line), "SIP/2.0/UDP %s;branch=z9hG4bK%s;rport;m=%s",
		 sock == UA_SOCK_LISTEN ? s->listen_addr : s->direct_addr, branch_hex, mark);
	osip_via_t *via = NULL;
	if (osip_via_init(&via) != 0 || osip_via_parse(via, line) != 0) {
		osip_via_free(via);
		return -EINVAL;
	}
	osip_list_add(&m->vias, via, 0);
	return 0;
}

/* Double Record-Route (RFC 5658): the socket the INVITE came in on, then
 * on top the one it goes out of. Each side of the dialog then sends its
 * in-dialog requests to the address it can reach — the softphone to the
 * listen address, the other ua to the direct one — and which socket a
 * request arrives on says which way it goes. */
static int add_record_route(struct ua_sip *s, osip_message_t *m, enum ua_sock in, enum ua_sock out)
{
	char line[160], mark[33];
	dialog_mark(s, m, mark);
	const enum ua_sock order[2] = {in, out};
	for (int i = 0; i < 2; i++) {
		osip_record_route_t *rr = NULL;
		snprintf(line, sizeof(line), "<sip:%s;lr;d=%s>",
			 order[i] == UA_SOCK_LISTEN ? s->listen_addr : s->direct_addr, mark);
		if (osip_record_route_init(&rr) != 0 || osip_record_route_parse(rr, line) != 0) {
			osip_record_route_free(rr);
			return -EINVAL;
		}
		osip_list_add(&m->record_routes, rr, 0);
	}
	return 0;
}

static void refuse(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m, int status)
{
	s->direct_refused++;
	if (strcmp(sip_method(m), "ACK") != 0)
		ua_sip_reply(s, from, m, status, NULL);
}

/* --- requests --- */

void ua_sip_direct_request(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m)
{
	const char *method = sip_method(m);
	int in_dialog = has_to_tag(m);
	struct sockaddr_storage dest, phone_contact, phone_source;
	char contact[CIRC_CONTACT_MAX];
	int have_phone = softphone(s, &phone_contact, &phone_source, contact, sizeof(contact)) == 0;
	/* Which way a request goes is the socket it came in on: the
	 * softphone reaches us on the listen address (our Record-Routes see
	 * to that), the other ua on the direct one. */
	int incoming = from->sock == UA_SOCK_DIRECT;
	char *text = NULL;
	size_t len;

	if (strcmp(method, "OPTIONS") == 0 && !in_dialog && m->req_uri &&
	    ua_sip_is_us(s, m->req_uri->host, m->req_uri->port)) {
		static const char *const allow[] = {"Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS",
						    NULL};
		ua_sip_reply(s, from, m, 200, allow);
		goto out;
	}
	int marked = pop_our_route(s, m);
	if (incoming && in_dialog && !marked) {
		/* Not in a dialog that crossed us. */
		refuse(s, from, m, 403);
		goto out;
	}
	if (incoming && !in_dialog) {
		/* A new call: only with a token from one of our 302s. */
		if (!m->req_uri || !ua_sip_is_us(s, m->req_uri->host, m->req_uri->port) ||
		    !token_live(s, m->req_uri->username)) {
			refuse(s, from, m, 403);
			goto out;
		}
		osip_uri_t *uri = NULL;
		if (!have_phone || osip_uri_init(&uri) != 0 || osip_uri_parse(uri, contact) != 0) {
			osip_uri_free(uri);
			refuse(s, from, m, 480);
			goto out;
		}
		osip_uri_free(m->req_uri);
		m->req_uri = uri;
	}
	osip_route_t *route = NULL;
	const osip_uri_t *next = osip_message_get_route(m, 0, &route) >= 0 && route && route->url
				     ? route->url
				     : m->req_uri;
	if (uri_address(next, &dest) < 0) {
		refuse(s, from, m, 416);
		goto out;
	}
	/* From the direct address we forward only to our softphone, or for
	 * our softphone. */
	if (incoming && !(have_phone && (same_address(&dest, &phone_contact) ||
					 same_address(&from->addr, &phone_source)))) {
		refuse(s, from, m, 403);
		goto out;
	}
	if (max_forwards(m) < 0) {
		refuse(s, from, m, 483);
		goto out;
	}
	enum ua_sock out_sock = incoming ? UA_SOCK_LISTEN : UA_SOCK_DIRECT;
	if (add_via(s, m, out_sock) < 0 ||
	    (strcmp(method, "INVITE") == 0 && !in_dialog &&
	     add_record_route(s, m, from->sock, out_sock) < 0) ||
	    sip_to_string(m, &text, &len) < 0) {
		refuse(s, from, m, 500);
		goto out;
	}
	struct ua_peer to = {.addr = dest, .sock = out_sock};
	ua_sip_send(s, &to, text, len);
	s->direct_forwarded++;
out:
	free(text);
	osip_message_free(m);
}

/* --- responses --- */

void ua_sip_direct_response(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m)
{
	osip_via_t *via = NULL;
	char *text = NULL, addr[128];
	size_t len;
	struct ua_peer to = {.sock =
				 from->sock == UA_SOCK_DIRECT ? UA_SOCK_LISTEN : UA_SOCK_DIRECT};
	if (osip_message_get_via(m, 0, &via) < 0 || !via ||
	    !ua_sip_is_us(s, via_get_host(via), via_get_port(via))) {
		s->direct_refused++;
		goto out;
	}
	char want[33] = "";
	osip_generic_param_t *mark = NULL;
	if (osip_via_param_get_byname(via, "m", &mark) == 0 && mark && mark->gvalue &&
	    strlen(mark->gvalue) == 32)
		memcpy(want, mark->gvalue, 33);
	osip_list_remove(&m->vias, 0);
	osip_via_free(via);
	via = NULL;
	char got[33];
	if (osip_message_get_via(m, 0, &via) < 0 || !via || !via_get_host(via) ||
	    via_mark(s, via, got) < 0 || !want[0] || sodium_memcmp(got, want, 32) != 0) {
		s->direct_refused++;
		goto out;
	}
	/* RFC 3581: where the request really came from, when known. */
	osip_generic_param_t *received = NULL, *rport = NULL;
	osip_via_param_get_byname(via, "received", &received);
	osip_via_param_get_byname(via, "rport", &rport);
	const char *host = received && received->gvalue ? received->gvalue : via_get_host(via);
	const char *port = rport && rport->gvalue && *rport->gvalue ? rport->gvalue
			   : via_get_port(via)			    ? via_get_port(via)
								    : "5060";
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	if (util_parse_address(addr, &to.addr) < 0) {
		s->direct_refused++;
		goto out;
	}
	if (sip_to_string(m, &text, &len) < 0) {
		s->direct_refused++;
		goto out;
	}
	ua_sip_send(s, &to, text, len);
	s->direct_forwarded++;
out:
	free(text);
	osip_message_free(m);
}
