/* ua internals shared by its files. */
#ifndef ANOSIP_UA_PRIVATE_H
#define ANOSIP_UA_PRIVATE_H

#include "circuit/circuit.h"
#include "ua/ua.h"

#define UA_TICK_MS 100
/* Longer than the routers' own timeout (10 s), so a late CREATED finds us
 * still waiting rather than gone. */
#define UA_CREATE_TIMEOUT_MS 12000
#define UA_REBUILD_MIN_MS 200
/* The cap on the backoff between builds after a lost circuit or a failed
 * build (plus up to a quarter of jitter). A failed build costs one cell to
 * where the path breaks, less than the keep-alives the ua sends its portal
 * every second, and this cap bounds how long a ua stays away after its
 * lighthouse (or a router on its path) is back: with 5 s, users came back
 * 6 s after a lighthouse restarted (tests/integration/test_faults.py). */
#define UA_REBUILD_MAX_MS 1000
/* A refusal that retrying will not change (nickname taken, no account). */
#define UA_REFUSED_RETRY_MS 5000
#define UA_PORTAL_FAILOVER_MS 3000
#define UA_ECHO_TIMEOUT_MS 5000
/* Builds refused this many times in a row through one portal: try the next. */
#define UA_PORTAL_FAILOVER_BUILDS 2
/* Once builds have failed through every portal, the trouble lies beyond
 * them (the lighthouse, or the routers next to it): the ua stays where it
 * is and moves on for failing builds at most this often. Moving on after
 * every second failed build cost a link handshake every 1.3 s per user
 * while a lighthouse was down (tests/integration/test_faults.py). */
#define UA_PORTAL_ROUND_MS 10000

enum ua_circuit_state { UA_NO_CIRCUIT, UA_CREATING, UA_OPEN };

struct ua_sip;
struct ua_iddir_req;

/* An ID Directory answer (NULL with error when there is none; r->ok may
 * be false with error set). r lives only during the call. */
typedef void (*ua_iddir_fn)(void *ctx, const Anosip__V1__IdDirResult *r, const char *error);
#define UA_IDDIR_TIMEOUT_MS 10000

struct ua {
	struct node *node;
	const struct ua_config *cfg;
	struct keys_pair keys; /* the nickname's */
	int lighthouse;	       /* topo index */
	enum ua_circuit_state state;
	uint32_t link;	     /* the portal link the circuit is on */
	uint32_t circuit_id; /* on that link */
	struct circ_client client;
	struct circ_keys ckeys;
	uint8_t *certificate;
	size_t certificate_len;
	uint64_t create_sent_ms, open_since_ms, link_lost_ms, next_build_ms;
	unsigned backoff_ms;
	uv_timer_t timer;
	uint64_t built, rebuilds, refused;
	unsigned failed_builds; /* in a row, through the current portal */
	/* Portals moved to for failing builds since the last open circuit,
	 * and when the last such move was. */
	unsigned build_failovers;
	uint64_t build_failover_ms;
	Anosip__V1__DestroyReason last_destroy;
	uint64_t build_started_ms, last_build_ms;
	/* ctl echo: sequential round trips. */
	struct node_ctl *echo_req;
	unsigned echo_left, echo_ok, echo_size;
	uint64_t echo_seq, echo_sent_ns, echo_deadline_ms;
	double echo_min_ms, echo_max_ms, echo_sum_ms;
	struct ua_sip *sip; /* NULL without sip_listen */
	struct ua_iddir_req *iddir_reqs;
};

/* ua.c: seals m and sends it up the open circuit: 0, or -ENOTCONN when
 * no circuit is open. */
int ua_circuit_send(struct ua *ua, const Anosip__V1__CircuitMessage *m);

/* iddir_client.c: queries to the ID Directory through the circuit. q's
 * asker and directory are filled in here; fn is called exactly once (an
 * answer, an error, a timeout, or the ua stopping) unless this returns
 * < 0: -ENOENT without a directory, -ENOTCONN without an open circuit. */
int ua_iddir_query(struct ua *ua, Anosip__V1__IdDirQuery *q, ua_iddir_fn fn, void *ctx);
void ua_iddir_on_answer(struct ua *ua, const Anosip__V1__IdDirEnvelope *e);
/* Times out pending queries (all of them when all is set). */
void ua_iddir_expire(struct ua *ua, uint64_t now_ms, int all);
int ua_iddir_control(struct ua *ua, struct node_ctl *req, int argc, char **argv);

/* sip_front.c, sip_proxy.c, sip_direct.c: the SIP front (DESIGN.md §5) */
int ua_sip_start(struct ua *ua, struct ua_sip **out);
void ua_sip_stop(struct ua_sip *s);
void ua_sip_on_circuit_open(struct ua_sip *s);
void ua_sip_on_message(struct ua_sip *s, const Anosip__V1__SipMessage *m);
void ua_sip_on_password_answer(struct ua_sip *s, const Anosip__V1__SipPasswordAnswer *a);
void ua_sip_tick(struct ua_sip *s, uint64_t now_ms);
void ua_sip_metrics(struct ua_sip *s, struct node_ctl *req);
int ua_sip_control(struct ua_sip *s, struct node_ctl *req, int argc, char **argv);

#endif
