/* The ua's SIP front as a whole: its sockets and state file, the first
 * look at every message (tunnelled leg or direct leg), the password hashes
 * it gives the lighthouse at sign-up, its timer, metrics and `ctl sip`. */
#include "ua/sip_front.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* --- the password, at open sign-up --- */

void ua_sip_on_circuit_open(struct ua_sip *s)
{
	if (!s->has_password)
		return;
	Anosip__V1__SipPassword p = ANOSIP__V1__SIP_PASSWORD__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	p.ha1_md5.data = s->ha1_md5;
	p.ha1_md5.len = sizeof(s->ha1_md5);
	p.ha1_sha256.data = s->ha1_sha256;
	p.ha1_sha256.len = sizeof(s->ha1_sha256);
	p.realm = (char *)s->ua->cfg->realm;
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD;
	cm.password = &p;
	ua_circuit_send(s->ua, &cm);
}

void ua_sip_on_password_answer(struct ua_sip *s, const Anosip__V1__SipPasswordAnswer *a)
{
	if (a->stored)
		log_info("lighthouse stored the account's password hashes");
	else if (a->realm && strcmp(a->realm, s->ua->cfg->realm) != 0)
		log_warn("the lighthouse's realm is \"%.63s\", ours \"%s\": set realm in the ua "
			 "config",
			 a->realm, s->ua->cfg->realm);
	else
		log_debug("the account already has a password");
}

static int load_password(struct ua_sip *s, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077)) {
		log_error("%s: readable by others (chmod 600)", path);
		return -EPERM;
	}
	int rc = util_read_file(path, 1024, &data, &len);
	if (rc < 0) {
		log_error("%s: cannot read password file: %s", path, strerror(-rc));
		return rc;
	}
	char password[1025];
	size_t n = strcspn((const char *)data, "\r\n");
	n = n < len ? n : len;
	memcpy(password, data, n);
	password[n] = 0;
	sodium_memzero(data, len);
	free(data);
	if (!n) {
		log_error("%s: empty password", path);
		return -EINVAL;
	}
	sip_digest_ha1(SIP_DIGEST_MD5, s->ua->cfg->nickname, s->ua->cfg->realm, password,
		       s->ha1_md5);
	sip_digest_ha1(SIP_DIGEST_SHA256, s->ua->cfg->nickname, s->ua->cfg->realm, password,
		       s->ha1_sha256);
	sodium_memzero(password, sizeof(password));
	s->has_password = 1;
	return 0;
}

/* --- the sockets --- */

static void on_recv(void *ctx, const struct ua_peer *from, const char *buf, size_t len,
		    int frame_error)
{
	struct ua_sip *s = ctx;
	osip_message_t *m = NULL;
	int rc = sip_parse(buf, len, &m);
	/* A stream that could not be framed: too big for us, or without a
	 * usable Content-Length (mandatory on TCP). */
	if (frame_error) {
		int keepalive;
		long framed = sip_frame_length(buf, len, &keepalive);
		if (framed == SIP_ERR_TOO_LARGE || len > SIP_MESSAGE_MAX)
			rc = SIP_ERR_TOO_LARGE;
		else if (rc == 0)
			rc = framed < 0 ? (int)framed : SIP_ERR_LENGTH;
	}
	if (rc < 0) {
		s->malformed++;
		node_count_drop(s->ua->node, NODE_DROP_DECODE);
		if (m && sip_is_request(m) && sip_error_status(rc) &&
		    strcmp(sip_method(m), "ACK") != 0)
			ua_sip_reply(s, from, m, sip_error_status(rc), NULL);
		if (m)
			osip_message_free(m);
		return;
	}
	if (!sip_is_request(m)) {
		ua_sip_direct_response(s, from, m);
		return;
	}
	const char *host = m->req_uri ? m->req_uri->host : NULL;
	if (from->sock == UA_SOCK_LISTEN && host && strcasecmp(host, s->ua->cfg->domain) == 0) {
		s->from_softphone++;
		ua_sip_from_softphone(s, from, m);
		return;
	}
	ua_sip_direct_request(s, from, m);
}

static int split_address(const char *addr, char *host, size_t host_len, int *port)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= host_len)
		return -EINVAL;
	const char *h = addr;
	size_t n = (size_t)(colon - addr);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	memcpy(host, h, n);
	host[n] = 0;
	*port = atoi(colon + 1);
	return 0;
}

int ua_sip_start(struct ua *ua, struct ua_sip **out)
{
	const struct ua_config *cfg = ua->cfg;
	char err[256];
	struct ua_sip *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ua = ua;
	ua_sip_tx_init(s);
	sip_init();
	/* From the nickname key, so it survives a restart: the marks our
	 * Record-Routes and Vias carry in a call must still check after one. */
	crypto_generichash(s->hash_key, sizeof(s->hash_key), ua->keys.sign_secret,
			   sizeof(ua->keys.sign_secret), (const uint8_t *)"anosip-ua-sip-marks-v1",
			   22);
	int rc;
	if (cfg->password_path[0] && (rc = load_password(s, cfg->password_path)) < 0)
		goto fail;
	char state_path[4096];
	if (cfg->state_path[0])
		snprintf(state_path, sizeof(state_path), "%s", cfg->state_path);
	else
		snprintf(state_path, sizeof(state_path), "%.4000s.db", cfg->key_path);
	if ((rc = ua_state_open(state_path, &s->state, err, sizeof(err))) < 0) {
		log_error("%s: %s", state_path, err);
		goto fail;
	}
	if ((rc = ua_transport_open(node_loop(ua->node), cfg->sip_listen, cfg->sip_direct, on_recv,
				    s, &s->transport, err, sizeof(err))) < 0) {
		log_error("%s: %s", cfg->path, err);
		goto fail;
	}
	ua_transport_address(s->transport, UA_SOCK_LISTEN, s->listen_addr, sizeof(s->listen_addr));
	ua_transport_address(s->transport, UA_SOCK_DIRECT, s->direct_addr, sizeof(s->direct_addr));
	if (split_address(s->listen_addr, s->listen_host, sizeof(s->listen_host), &s->listen_port) <
		0 ||
	    split_address(s->direct_addr, s->direct_host, sizeof(s->direct_host), &s->direct_port) <
		0) {
		rc = -EINVAL;
		goto fail;
	}
	log_info("sip: softphone front on %s (udp, tcp), direct calls on %s", s->listen_addr,
		 s->direct_addr);
	*out = s;
	return 0;
fail:
	ua_sip_stop(s);
	return rc;
}

void ua_sip_stop(struct ua_sip *s)
{
	if (!s)
		return;
	ua_transport_close(s->transport);
	ua_state_close(s->state);
	ua_sip_strangers_stop(s);
	ua_sip_tx_free_all(s);
	ua_sip_tokens_free(s);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

void ua_sip_tick(struct ua_sip *s, uint64_t now_ms)
{
	ua_sip_tx_expire(s, now_ms);
	ua_sip_tokens_expire(s, now_ms);
}

void ua_sip_metrics(struct ua_sip *s, struct node_ctl *req)
{
	struct ua_transport_stats st;
	ua_transport_get_stats(s->transport, &st);
	node_ctl_printf(req, "ua_sip_from_softphone %llu\n", (unsigned long long)s->from_softphone);
	node_ctl_printf(req, "ua_sip_to_circuit %llu\n", (unsigned long long)s->to_circuit);
	node_ctl_printf(req, "ua_sip_from_circuit %llu\n", (unsigned long long)s->from_circuit);
	node_ctl_printf(req, "ua_sip_errors_sent %llu\n", (unsigned long long)s->errors_sent);
	node_ctl_printf(req, "ua_sip_malformed %llu\n", (unsigned long long)s->malformed);
	node_ctl_printf(req, "ua_sip_redirects %llu\n", (unsigned long long)s->redirects);
	node_ctl_printf(req, "ua_sip_declines %llu\n", (unsigned long long)s->declines);
	node_ctl_printf(req, "ua_sip_strangers_asked %llu\n",
			(unsigned long long)s->strangers_asked);
	node_ctl_printf(req, "ua_sip_strangers_accepted %llu\n",
			(unsigned long long)s->strangers_accepted);
	node_ctl_printf(req, "ua_sip_forged %llu\n", (unsigned long long)s->forged);
	node_ctl_printf(req, "ua_sip_direct_forwarded %llu\n",
			(unsigned long long)s->direct_forwarded);
	node_ctl_printf(req, "ua_sip_direct_refused %llu\n", (unsigned long long)s->direct_refused);
	node_ctl_printf(req, "ua_sip_transactions %u\n", s->n_pending + s->n_finished);
	node_ctl_printf(req, "ua_sip_transactions_pending %u\n", s->n_pending);
	node_ctl_printf(req, "ua_sip_transactions_forgotten_early %llu\n",
			(unsigned long long)s->tx_forgotten_early);
	node_ctl_printf(req, "ua_sip_tcp_connections %u\n", st.connections);
	node_ctl_printf(req, "ua_sip_frame_errors %llu\n", (unsigned long long)st.frame_errors);
	node_ctl_printf(req, "ua_sip_connections_refused %llu\n",
			(unsigned long long)st.connections_refused);
	node_ctl_printf(req, "ua_sip_connections_timed_out %llu\n",
			(unsigned long long)st.connections_timed_out);
	node_ctl_printf(req, "ua_sip_connections_evicted %llu\n",
			(unsigned long long)st.connections_evicted);
	node_ctl_printf(req, "ua_sip_connections_refused_per_address %llu\n",
			(unsigned long long)st.connections_refused_per_address);
}

int ua_sip_control(struct ua_sip *s, struct node_ctl *req, int argc, char **argv)
{
	if (strcmp(argv[0], "sip") != 0)
		return 0;
	char contact[CIRC_CONTACT_MAX];
	uint64_t expires = 0;
	int registered = ua_state_contact_get(s->state, util_wall_ms() / 1000, contact,
					      sizeof(contact), NULL, NULL, 0, &expires) == 0;
	node_ctl_printf(req, "listen %s\ndirect %s\n", s->listen_addr, s->direct_addr);
	node_ctl_printf(req, "softphone %s\n", registered ? "registered" : "not registered");
	if (registered)
		node_ctl_printf(req, "softphone_expires %llu\n", (unsigned long long)expires);
	node_ctl_printf(req, "password %s\n", s->has_password ? "configured" : "none");
	node_ctl_printf(req, "transactions %u\n", s->n_pending + s->n_finished);
	node_ctl_done(req);
	return 1;
}
