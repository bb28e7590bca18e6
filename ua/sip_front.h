/* The state the ua's SIP front shares between its parts: sip_front.c (the
 * sockets, the state file, dispatch, password, timer), the tunnelled legs
 * (sip_proxy.c: REGISTER and INVITE -> 302 through the circuit) and the
 * direct leg (sip_direct.c: a stateless proxy for the call itself, once
 * both sides know each other's address). */
#ifndef ANOSIP_UA_SIP_FRONT_H
#define ANOSIP_UA_SIP_FRONT_H

#include "sip/sip.h"
#include "ua/ua_private.h"
#include "ua/ua_sip.h"

#include <sys/queue.h>

/* Transactions waiting for, or just done with, their answer through the
 * circuit. A finished one stays UA_SIP_TX_LINGER_MS (RFC 3261's Timer J
 * over UDP) to absorb retransmissions and the ACK of a non-2xx final
 * response, keeping only its final response. At most UA_SIP_MAX_TX wait;
 * past UA_SIP_MAX_FINISHED finished ones the oldest is forgotten early (a
 * late retransmission of it is then a new request), so a burst of
 * requests cannot lock the softphone out for the linger time. */
#define UA_SIP_MAX_TX 32768
#define UA_SIP_MAX_FINISHED 65536
#define UA_SIP_TX_BUCKETS 4096
#define UA_SIP_TX_TIMEOUT_MS 30000
#define UA_SIP_TX_LINGER_MS 32000
/* A redirect's token (the user part of the contact in our 302) admits
 * direct INVITEs for this long; one per caller, renewed by each 302. */
#define UA_SIP_TOKEN_MS 120000
#define UA_SIP_MAX_TOKENS 256

struct ua_sip_tx {
	uint64_t id;	  /* ours, toward the lighthouse */
	char branch[128]; /* the softphone's top Via branch */
	char method[16];
	char callee[SIP_NICKNAME_MAX + 1]; /* an INVITE's nickname */
	osip_message_t *request; /* the softphone's request as it sent it; NULL once finished */
	struct ua_peer from;
	char *final; /* the final response we gave the softphone */
	size_t final_len;
	int final_status;
	uint64_t created_ms, finished_ms;
	/* In s->pending (until final) or s->finished: oldest first, so the
	 * timers only look at the head of each. */
	TAILQ_ENTRY(ua_sip_tx) order;
	struct ua_sip_tx *next_by_branch, *next_by_id;
};

TAILQ_HEAD(ua_sip_tx_queue, ua_sip_tx);

struct ua_sip_token {
	char token[33];
	char caller[SIP_NICKNAME_MAX + 1];
	uint64_t expires_ms;
	struct ua_sip_token *next;
};

struct ua_sip_stranger_call;

struct ua_sip {
	struct ua *ua;
	struct ua_transport *transport;
	struct ua_state *state;
	uint8_t hash_key[32];
	char listen_addr[64], direct_addr[64]; /* as bound, "IP:PORT" */
	char listen_host[48], direct_host[48];
	int listen_port, direct_port;
	struct ua_sip_tx_queue pending, finished;
	struct ua_sip_tx *by_branch[UA_SIP_TX_BUCKETS], *by_id[UA_SIP_TX_BUCKETS];
	unsigned n_pending, n_finished;
	uint64_t tx_forgotten_early;
	struct ua_sip_token *tokens;
	unsigned n_tokens;
	struct ua_sip_stranger_call *strangers; /* decisions pending */
	unsigned n_strangers;
	int has_password;
	uint64_t kept_conn; /* the registered TCP softphone's connection, 0: none */
	uint8_t ha1_md5[SIP_HA1_MD5_LEN], ha1_sha256[SIP_HA1_SHA256_LEN];
	uint64_t from_softphone, to_circuit, from_circuit, errors_sent, malformed, redirects,
	    declines, forged, direct_forwarded, direct_refused, strangers_asked, strangers_accepted;
};

/* sip_proxy.c */
/* Sends a message to a peer; text is not kept. */
void ua_sip_send(struct ua_sip *s, const struct ua_peer *to, const char *text, size_t len);
/* Answers request (to from) with status; extra header name/value pairs end
 * with NULL. */
void ua_sip_reply(struct ua_sip *s, const struct ua_peer *to, const osip_message_t *request,
		  int status, const char *const *headers);
/* 1 when host:port is one of our two addresses. */
int ua_sip_is_us(const struct ua_sip *s, const char *host, const char *port);
/* A request from the softphone for a nickname or our registrar: answered
 * here (ACK, CANCEL, OPTIONS, retransmissions, 405) or sent up the circuit
 * as a new transaction. Takes m (kept by the transaction, or freed). */
void ua_sip_from_softphone(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m);
/* Sets up the transaction queues; before any other transaction call. */
void ua_sip_tx_init(struct ua_sip *s);
/* Times out transactions without an answer (408/504) and forgets finished
 * ones after UA_SIP_TX_LINGER_MS. */
void ua_sip_tx_expire(struct ua_sip *s, uint64_t now_ms);
void ua_sip_tx_free_all(struct ua_sip *s);

/* A lighthouse's certificate key from the directory (a circ_lighthouse_key_fn;
 * ctx is the topo). */
int ua_sip_lighthouse_key(void *ctx, const char *id, uint8_t sign_public[32]);

/* sip_callee.c: an INVITE for our nickname, down the circuit. */
void ua_sip_incoming_call(struct ua_sip *s, const Anosip__V1__SipMessage *sm, osip_message_t *m);
/* Answers an accepted caller's INVITE: 302 to our direct address with a
 * token, sealed to caller_public and signed. */
void ua_sip_redirect(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		     const char *caller, const uint8_t caller_public[32]);
/* A signed 603 Decline; why goes to the log. */
void ua_sip_decline(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		    const char *caller, const char *why);

/* sip_strangers.c: a caller not in contacts, by the `strangers` policy:
 * declined, or looked up in the ID Directory (accepted when its real ID is
 * in allow_real_ids), or the ask_command decides (exit status 0 accepts;
 * ANOSIP_CALLER and ANOSIP_CALLER_REAL_ID in its environment). */
void ua_sip_stranger(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		     const char *caller, const uint8_t caller_public[32]);
/* Ends every decision still pending (a decline each) and lets go of s. */
void ua_sip_strangers_stop(struct ua_sip *s);

/* sip_direct.c */
/* A request for a non-nickname address (from the softphone) or anything
 * arriving on the direct address: proxied statelessly. m is consumed. */
void ua_sip_direct_request(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m);
/* A response on either socket: the next Via gets it. m is consumed. */
void ua_sip_direct_response(struct ua_sip *s, const struct ua_peer *from, osip_message_t *m);
/* A fresh token admitting direct INVITEs from caller; out >= 33 bytes. */
int ua_sip_token_new(struct ua_sip *s, const char *caller, char *out);
void ua_sip_tokens_expire(struct ua_sip *s, uint64_t now_ms);
void ua_sip_tokens_free(struct ua_sip *s);

#endif
