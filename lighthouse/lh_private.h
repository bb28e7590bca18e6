/* lighthouse internals shared by its files. */
#ifndef ANOSIP_LH_PRIVATE_H
#define ANOSIP_LH_PRIVATE_H

#include "circuit/circuit.h"
#include "lighthouse/lighthouse.h"
#include "lighthouse/store.h"
#include "router/router.h"
#include "sip/sip.h"
#include "util/util.h"

#define LH_CIRCUIT_BUCKETS 4096
/* CREATEs the lighthouse takes per second, before any crypto: bounds its
 * CPU and keeps the replay memory below half full. */
#define LH_CREATE_RATE 4000
/* Replay memory: two generations of CREATE ephemeral keys, each
 * LH_SEEN_GENERATION_MS long, so a key stays at least that long — longer
 * than any CREATE is accepted (sent within 60 s either side of our clock,
 * so a replay comes at most 120 s after the original). */
#define LH_SEEN_SLOTS (1u << 20)
#define LH_SEEN_GENERATION_MS (2 * CIRC_CREATE_MAX_AGE_MS)
#define LH_CLAIM_TIMEOUT_MS 8000
#define LH_LOOKUP_CACHE 1024
#define LH_LOOKUP_CACHE_MS 30000

/* A circuit that ends here and is built: its nickname and keys. */
struct lh_circuit {
	router_circuit handle;
	char nickname[CIRC_NICKNAME_MAX + 1];
	struct circ_keys keys;
	uint8_t *certificate; /* the nickname's SignedCertificate, sent with its calls */
	size_t certificate_len;
	unsigned sip_pending; /* SIP transactions it started, still open */
	struct lh_circuit *next;
	struct lh_circuit *next_same_bucket_by_nickname;
};

/* A CREATE waiting for the lookup service's answer to our claim. */
struct lh_pending {
	uint64_t request_id;
	router_circuit handle;
	Anosip__V1__CreateRequest *req; /* owned */
	uint64_t started_ms;
	struct lh_pending *next;
};

/* A cached answer from the lookup service. */
struct lh_lookup_entry {
	char nickname[CIRC_NICKNAME_MAX + 1];
	char lighthouse[32];
	uint64_t fetched_ms;
};

/* A `ctl lookup NICK` waiting for the lookup service. */
struct lh_query {
	uint64_t request_id;
	struct node_ctl *req;
	char nickname[CIRC_NICKNAME_MAX + 1];
	uint64_t started_ms;
	struct lh_query *next;
};

/* A SIP transaction passing through: where its response goes. */
struct lh_sip_tx {
	uint64_t token;	       /* ours, in the request we passed on */
	router_circuit caller; /* the caller's circuit, when it ends here ... */
	int source;	       /* ... else the requesting lighthouse (topo index) */
	uint64_t origin_tx;    /* the caller ua's or requesting lighthouse's token */
	router_circuit callee; /* the circuit the request went down, or 0 */
	int callee_lighthouse; /* the lighthouse it went to, or -1 */
	uint64_t created_ms;
	struct lh_sip_tx *next;
};

/* An INVITE waiting for the lookup service to say where its callee is. */
struct lh_sip_wait {
	uint64_t request_id;
	router_circuit caller;
	uint64_t caller_tx;
	char callee[CIRC_NICKNAME_MAX + 1];
	uint8_t *message; /* the scrubbed INVITE */
	size_t message_len;
	uint64_t started_ms;
	struct lh_sip_wait *next;
};

#define LH_SIP_TX_BUCKETS 4096
/* Transactions in flight at most (beyond: 503), and INVITEs waiting for
 * the lookup service. */
#define LH_SIP_MAX_TX 65536
#define LH_SIP_MAX_WAITS 4096
#define LH_SIP_MAX_TX_PER_CIRCUIT 64
/* A transaction with no final answer after this is forgotten (64*T1). */
#define LH_SIP_TX_TIMEOUT_MS 32000
/* Failed digest checks per nickname within the store's window
 * (LH_STORE_AUTH_WINDOW_S, counted from the first failure) before every
 * further REGISTER is refused until the window has passed. */
#define LH_AUTH_MAX_FAILURES 5

/* An ID Directory query relayed for a circuit (iddir_relay.c). */
struct lh_iddir_wait {
	uint64_t token; /* ours, in the routed query */
	router_circuit circuit;
	uint64_t ua_request_id;
	int directory;
	uint64_t started_ms;
	struct lh_iddir_wait *next;
};
#define LH_IDDIR_TIMEOUT_MS 8000
#define LH_IDDIR_MAX_WAITS 4096
#define LH_IDDIR_MAX_PER_CIRCUIT 8

struct lh {
	struct node *node;
	struct router *router;
	struct lh_store *store;
	int self;
	int lookup; /* topo index of the lookup service, -1 if none */
	int open_signup;
	unsigned binding_ttl_s;
	unsigned certificate_ttl_s;
	uint64_t epoch;
	uint64_t started_wall_ms;
	struct lh_circuit *circuits[LH_CIRCUIT_BUCKETS];
	struct lh_circuit *by_nickname[LH_CIRCUIT_BUCKETS]; /* a nickname's circuits */
	size_t n_circuits;
	struct lh_pending *pending;
	struct lh_query *queries;
	struct util_replay seen; /* CREATE ephemeral keys */
	double create_tokens;	 /* token bucket of LH_CREATE_RATE */
	uint64_t create_tokens_ms;
	struct lh_lookup_entry cache[LH_LOOKUP_CACHE];
	uv_timer_t timer;
	unsigned ticks;
	uint64_t creates_ok, creates_refused, signups, data_in, data_out, replays;
	/* SIP (sip.c) */
	char realm[64];
	int digest_md5; /* offer and accept MD5 digest (older clients) */
	uint8_t nonce_key[32];
	struct util_replay nonce_counts; /* (nonce, nc, cnonce) already accepted */
	struct lh_sip_tx *sip_tx[LH_SIP_TX_BUCKETS];
	struct lh_sip_wait *sip_waits;
	unsigned n_sip_tx, n_sip_waits;
	struct lh_iddir_wait *iddir_waits;
	unsigned n_iddir_waits;
	uint64_t sip_requests, sip_responses, sip_registered, sip_auth_failed, sip_errors;
};

/* circuits.c */
struct lh_circuit *lh_circuit_find(struct lh *lh, router_circuit handle);
struct lh_circuit *lh_circuit_add(struct lh *lh, router_circuit handle, const char *nickname,
				  const struct circ_keys *keys);
void lh_circuit_remove(struct lh *lh, router_circuit handle);
/* Another built circuit of the same nickname (a second device), or NULL. */
struct lh_circuit *lh_circuit_other(struct lh *lh, const char *nickname, router_circuit not );
void lh_circuits_free(struct lh *lh);
void lh_on_data(void *ctx, router_circuit circuit, const Anosip__V1__CellData *data);

/* lookup_client.c: claims and queries at the lookup service */
int lh_lookup_claim(struct lh *lh, const char *nickname, uint64_t *request_id);
void lh_lookup_on_answer(void *ctx, int source, const uint8_t *payload, size_t len);
void lh_lookup_expire(struct lh *lh, uint64_t now_ms);
int lh_lookup_cached(struct lh *lh, const char *nickname, char lighthouse[32]);
void lh_cmd_lookup(struct lh *lh, struct node_ctl *req, const char *nickname);

int lh_lookup_query(struct lh *lh, const char *nickname, uint64_t *request_id);

/* Where a SIP response goes: down the caller's circuit here, or back to
 * the lighthouse that asked. */
struct lh_sip_origin {
	router_circuit caller; /* 0 when source is set */
	int source;
	uint64_t transaction;
};

/* sip.c: SIP on circuits and between lighthouses, call routing (DESIGN.md §5) */
int lh_sip_init(struct lh *lh, char *err, size_t err_len);
void lh_sip_free(struct lh *lh);
void lh_sip_on_message(struct lh *lh, struct lh_circuit *c, const Anosip__V1__SipMessage *sm);
void lh_sip_on_routed(void *ctx, int source, const uint8_t *payload, size_t len);
/* Answers request with status, to o; headers: name/value pairs, then NULL. */
void lh_sip_reply(struct lh *lh, const struct lh_sip_origin *o, const osip_message_t *request,
		  int status, const char *const *headers);
/* registrar.c */
void lh_sip_on_password(struct lh *lh, struct lh_circuit *c, const Anosip__V1__SipPassword *p);
void lh_registrar_on_register(struct lh *lh, struct lh_circuit *c, const struct lh_sip_origin *o,
			      const osip_message_t *req);
/* A lookup answer: 1 if it was for a waiting INVITE. */
int lh_sip_on_lookup(struct lh *lh, uint64_t request_id, const char *lighthouse);
void lh_sip_expire(struct lh *lh, uint64_t now_ms);
/* circuits.c: seals a CircuitMessage down circuit c. */
int lh_send_back(struct lh *lh, struct lh_circuit *c, const Anosip__V1__CircuitMessage *m);

/* iddir_relay.c: ID Directory queries to and from the directory node */
void lh_iddir_on_query(struct lh *lh, struct lh_circuit *c, const Anosip__V1__IdDirEnvelope *q);
void lh_iddir_on_answer(void *ctx, int source, const uint8_t *payload, size_t len);
void lh_iddir_expire(struct lh *lh, uint64_t now_ms);
void lh_iddir_free(struct lh *lh);

/* lighthouse.c */
void lh_finish_create(struct lh *lh, router_circuit handle, Anosip__V1__CreateRequest *req,
		      int claim_accepted);
void lh_destroy(struct lh *lh, router_circuit handle, Anosip__V1__DestroyReason reason);

#endif
