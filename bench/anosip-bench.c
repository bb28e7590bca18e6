/* anosip-bench: the in-process half of `make bench` (scripts/bench.sh).
 *
 * Each subcommand measures one layer with no I/O and prints "key value"
 * lines: the raw AEAD rate for one frame (the ceiling a link is held
 * against), the link codec, one forwarding hop, the end-to-end work of a
 * routed message, and the crypto of one circuit build. The live network half
 * is in scripts/bench.sh, with `circuit-load` (bench/circuit_load.c), the
 * load client that builds circuits through a testbed.
 *
 * The machine is shared and noisy, so every figure is the median of --runs
 * runs, each bounded by time (--seconds) and by an iteration cap: a slow
 * machine makes the numbers smaller, never the run longer. Rates are given
 * per wall-clock second (what the network measurements compare with) and per
 * CPU second of this thread (steadier when other processes take the core). */
#include "circuit/circuit.h"
#include "keys/keys.h"
#include "link/link.h"
#include "link.pb-c.h"
#include "router/router_private.h"
#include "topo/topo.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_RUNS_MAX 15
#define BENCH_CASES_MAX 8	  /* measured together, interleaved */
#define BENCH_BATCH 32		  /* operations between clock reads */
#define BENCH_OPS_MAX 20000000ull /* per run, whatever --seconds says */
#define BENCH_WARMUP_S 0.05
#define AEAD_PLAIN (LINK_FRAME_SIZE - LINK_TAG_SIZE)
#define BODY_MAX 4096
#define SRC_ID "node-0"
#define DST_ID "node-6"

static const char routed_context[] = "anosip-routed-v1"; /* as router/routed.c */

/* bench/circuit_load.c: the live circuit load client. */
int circuit_load_main(int argc, char **argv);

struct bench_opts {
	int runs;
	double seconds;
	long payload; /* routed Discard payload; -1: the largest that fits one frame */
	long body;    /* routed-crypto body; -1: the body of such a message */
	long discard; /* link Discard data bytes, as `ctl send-discard` sends */
};

/* One operation; returns 0, or -1 when a result is wrong (our bug). */
typedef int (*bench_op)(void *ctx);

/* --- timing --- */

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[BENCH_RUNS_MAX];
	memcpy(s, v, (size_t)n * sizeof(double));
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Runs op for `seconds` (or BENCH_OPS_MAX operations); rates per second. */
static int run_once(bench_op op, void *ctx, double seconds, double *wall_rate, double *cpu_rate)
{
	uint64_t ops = 0;
	double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w;
	do {
		for (int i = 0; i < BENCH_BATCH; i++)
			if (op(ctx) < 0)
				return -1;
		ops += BENCH_BATCH;
		w = clock_s(CLOCK_MONOTONIC);
	} while (w - w0 < seconds && ops < BENCH_OPS_MAX);
	double c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	*wall_rate = (double)ops / (w - w0);
	*cpu_rate = c > 0 ? (double)ops / c : *wall_rate;
	return 0;
}

struct bench_case {
	const char *name; /* key prefix of its output lines */
	bench_op op;
	void *ctx;
};

/* Measures each case opts->runs times, interleaved so that a noisy moment
 * hurts one run of each rather than every run of one, and prints
 * NAME_per_s (median, wall clock), NAME_per_cpu_s and NAME_runs. */
static int measure(const struct bench_case *cases, int n, const struct bench_opts *o)
{
	double wall[BENCH_CASES_MAX][BENCH_RUNS_MAX], cpu[BENCH_CASES_MAX][BENCH_RUNS_MAX], dw, dc;
	if (n > BENCH_CASES_MAX)
		return -EINVAL;
	for (int c = 0; c < n; c++)
		if (run_once(cases[c].op, cases[c].ctx, BENCH_WARMUP_S, &dw, &dc) < 0)
			goto wrong;
	for (int r = 0; r < o->runs; r++)
		for (int c = 0; c < n; c++)
			if (run_once(cases[c].op, cases[c].ctx, o->seconds, &wall[c][r],
				     &cpu[c][r]) < 0)
				goto wrong;
	for (int c = 0; c < n; c++) {
		printf("%s_per_s %.0f\n", cases[c].name, median(wall[c], o->runs));
		printf("%s_per_cpu_s %.0f\n", cases[c].name, median(cpu[c], o->runs));
		printf("%s_runs ", cases[c].name);
		for (int r = 0; r < o->runs; r++)
			printf("%s%.0f", r ? "," : "", wall[c][r]);
		printf("\n");
	}
	fflush(stdout);
	return 0;
wrong:
	fprintf(stderr, "anosip-bench: a benchmark produced a wrong result\n");
	return -EPROTO;
}

/* --- aead: the ceiling --- */

struct aead_ctx {
	uint8_t key[32];
	uint64_t counter;
	uint8_t plain[AEAD_PLAIN];
	uint8_t sealed[LINK_FRAME_SIZE];
	uint8_t fixed[LINK_FRAME_SIZE]; /* sealed under the zero nonce, for open-only */
	uint8_t opened[AEAD_PLAIN];
};

static void aead_nonce(uint64_t counter, uint8_t nonce[12])
{
	memset(nonce, 0, 12);
	memcpy(nonce + 4, &counter, 8);
}

static int op_aead_seal(void *p)
{
	struct aead_ctx *a = p;
	uint8_t nonce[12];
	aead_nonce(a->counter++, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(a->sealed, NULL, a->plain, AEAD_PLAIN, NULL, 0,
						  NULL, nonce, a->key);
	return 0;
}

static int op_aead_open(void *p)
{
	struct aead_ctx *a = p;
	uint8_t nonce[12] = {0};
	return crypto_aead_chacha20poly1305_ietf_decrypt(a->opened, NULL, NULL, a->fixed,
							 LINK_FRAME_SIZE, NULL, 0, nonce, a->key);
}

/* What a link does to a frame at both ends: seal, then open. */
static int op_aead_pair(void *p)
{
	struct aead_ctx *a = p;
	uint8_t nonce[12];
	aead_nonce(a->counter++, nonce);
	crypto_aead_chacha20poly1305_ietf_encrypt(a->sealed, NULL, a->plain, AEAD_PLAIN, NULL, 0,
						  NULL, nonce, a->key);
	return crypto_aead_chacha20poly1305_ietf_decrypt(a->opened, NULL, NULL, a->sealed,
							 LINK_FRAME_SIZE, NULL, 0, nonce, a->key);
}

static int bench_aead(const struct bench_opts *o)
{
	struct aead_ctx *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	uint8_t zero[12] = {0};
	crypto_aead_chacha20poly1305_ietf_keygen(a->key);
	randombytes_buf(a->plain, sizeof(a->plain));
	crypto_aead_chacha20poly1305_ietf_encrypt(a->fixed, NULL, a->plain, AEAD_PLAIN, NULL, 0,
						  NULL, zero, a->key);
	printf("aead_plaintext_bytes %d\naead_frame_bytes %d\n", AEAD_PLAIN, LINK_FRAME_SIZE);
	const struct bench_case cases[] = {
	    {"aead_seal", op_aead_seal, a},
	    {"aead_open", op_aead_open, a},
	    {"aead_pair", op_aead_pair, a},
	};
	int rc = measure(cases, 3, o);
	sodium_memzero(a, sizeof(*a));
	free(a);
	return rc;
}

/* --- codec: link_seal_message + link_open_frame, no I/O --- */

struct codec_ctx {
	struct link_session tx, rx;
	Anosip__V1__LinkMessage msg;
	Anosip__V1__Discard discard;
	uint8_t data[LINK_FRAME_PAYLOAD];
	uint8_t packed[LINK_FRAME_PAYLOAD];
	size_t packed_len;
	uint8_t frames[2 * LINK_FRAME_SIZE];
};

static int op_codec(void *p)
{
	struct codec_ctx *c = p;
	const uint8_t *m;
	size_t len;
	long n = link_seal_message(&c->tx, c->packed, c->packed_len, c->frames, sizeof(c->frames));
	if (n != LINK_FRAME_SIZE || link_open_frame(&c->rx, c->frames, &m, &len) != 1 ||
	    len != c->packed_len)
		return -1;
	return 0;
}

/* The codec plus the protobuf work node_send and node_dispatch add. */
static int op_codec_pb(void *p)
{
	struct codec_ctx *c = p;
	const uint8_t *m;
	size_t len = anosip__v1__link_message__get_packed_size(&c->msg);
	if (len > sizeof(c->packed))
		return -1;
	anosip__v1__link_message__pack(&c->msg, c->packed);
	long n = link_seal_message(&c->tx, c->packed, len, c->frames, sizeof(c->frames));
	if (n != LINK_FRAME_SIZE || link_open_frame(&c->rx, c->frames, &m, &len) != 1)
		return -1;
	Anosip__V1__LinkMessage *u = anosip__v1__link_message__unpack(NULL, len, m);
	int ok = u && u->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD;
	anosip__v1__link_message__free_unpacked(u, NULL);
	return ok ? 0 : -1;
}

static int bench_codec(const struct bench_opts *o)
{
	struct codec_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	randombytes_buf(c->tx.tx_key, 32);
	memcpy(c->rx.rx_key, c->tx.tx_key, 32);
	anosip__v1__discard__init(&c->discard);
	anosip__v1__link_message__init(&c->msg);
	c->discard.data.data = c->data;
	c->discard.data.len = (size_t)o->discard;
	c->msg.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_DISCARD;
	c->msg.discard = &c->discard;
	c->packed_len = anosip__v1__link_message__get_packed_size(&c->msg);
	int rc = -EMSGSIZE;
	if (c->packed_len <= LINK_FRAME_PAYLOAD) {
		anosip__v1__link_message__pack(&c->msg, c->packed);
		printf("codec_discard_bytes %ld\ncodec_message_bytes %zu\n", o->discard,
		       c->packed_len);
		const struct bench_case cases[] = {
		    {"codec", op_codec, c},
		    {"codec_pb", op_codec_pb, c},
		};
		rc = measure(cases, 2, o);
	} else {
		fprintf(stderr, "anosip-bench: a %ld-byte Discard does not fit one frame\n",
			o->discard);
	}
	link_session_wipe(&c->tx);
	link_session_wipe(&c->rx);
	free(c);
	return rc;
}

/* --- routed messages: sizes, real code, raw crypto --- */

/* The largest routed Discard payload whose LinkMessage fits one frame
 * whatever its random message id and hop limit, and the sizes that follow. */
struct routed_fit {
	long payload;
	size_t body, signed_len, message;
};

static size_t routed_message_size(size_t payload, struct routed_fit *fit)
{
	static uint8_t filler[LINK_MESSAGE_MAX];
	Anosip__V1__RoutedBody b = ANOSIP__V1__ROUTED_BODY__INIT;
	b.source = (char *)SRC_ID;
	b.type = ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD;
	b.message_id = UINT64_MAX; /* the longest varint */
	b.sent_unix_ms = util_wall_ms();
	b.hop_limit = 255;
	b.payload.data = filler;
	b.payload.len = payload;
	Anosip__V1__RoutedSigned s = ANOSIP__V1__ROUTED_SIGNED__INIT;
	s.body.data = filler;
	s.body.len = anosip__v1__routed_body__get_packed_size(&b);
	s.signature.data = filler;
	s.signature.len = crypto_sign_BYTES;
	Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
	r.destination = (char *)DST_ID;
	r.hop_limit = 255;
	r.sealed.data = filler;
	r.sealed.len = anosip__v1__routed_signed__get_packed_size(&s) + crypto_box_SEALBYTES;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	m.routed = &r;
	fit->body = s.body.len;
	fit->signed_len = r.sealed.len - crypto_box_SEALBYTES;
	fit->message = anosip__v1__link_message__get_packed_size(&m);
	return fit->message;
}

static void routed_fit_compute(struct routed_fit *fit)
{
	struct routed_fit probe;
	memset(fit, 0, sizeof(*fit));
	fit->payload = -1;
	for (size_t p = 0; p <= LINK_FRAME_PAYLOAD; p++) {
		if (routed_message_size(p, &probe) > LINK_FRAME_PAYLOAD)
			break;
		*fit = probe;
		fit->payload = (long)p;
	}
}

static int bench_routed_fit(const struct bench_opts *o)
{
	struct routed_fit fit;
	routed_fit_compute(&fit);
	printf("routed_fit_payload %ld\nrouted_fit_body_bytes %zu\n"
	       "routed_fit_signed_bytes %zu\nrouted_fit_message_bytes %zu\n"
	       "link_frame_payload %d\n",
	       fit.payload, fit.body, fit.signed_len, fit.message, LINK_FRAME_PAYLOAD);
	return fit.payload < 0 ? -EMSGSIZE : 0;
}

/* Direct libsodium calls, as routed_seal and routed_open make them. */
struct rcrypto_ctx {
	uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES], sign_sk[crypto_sign_SECRETKEYBYTES];
	uint8_t box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];
	size_t body_len, m_len, inner_len;
	uint8_t m[sizeof(routed_context) + 32 + BODY_MAX]; /* context || id || body */
	uint8_t inner[BODY_MAX + crypto_sign_BYTES];	   /* body || signature */
	uint8_t sealed[BODY_MAX + crypto_sign_BYTES + crypto_box_SEALBYTES];
	uint8_t fixed[BODY_MAX + crypto_sign_BYTES + crypto_box_SEALBYTES];
	uint8_t opened[BODY_MAX + crypto_sign_BYTES];
};

static void rcrypto_source(struct rcrypto_ctx *c, uint8_t *sealed)
{
	crypto_sign_detached(c->inner + c->body_len, NULL, c->m, c->m_len, c->sign_sk);
	crypto_box_seal(sealed, c->inner, c->inner_len, c->box_pk);
}

static int rcrypto_dest(struct rcrypto_ctx *c, const uint8_t *sealed)
{
	if (crypto_box_seal_open(c->opened, sealed, c->inner_len + crypto_box_SEALBYTES, c->box_pk,
				 c->box_sk) != 0)
		return -1;
	return crypto_sign_verify_detached(c->opened + c->body_len, c->m, c->m_len, c->sign_pk);
}

static int op_rcrypto_source(void *p)
{
	struct rcrypto_ctx *c = p;
	rcrypto_source(c, c->sealed);
	return 0;
}

static int op_rcrypto_dest(void *p)
{
	struct rcrypto_ctx *c = p;
	return rcrypto_dest(c, c->fixed);
}

static int op_rcrypto_msg(void *p)
{
	struct rcrypto_ctx *c = p;
	rcrypto_source(c, c->sealed);
	return rcrypto_dest(c, c->sealed);
}

static long default_body(const struct bench_opts *o)
{
	struct routed_fit fit;
	if (o->body > 0)
		return o->body;
	if (o->payload >= 0)
		routed_message_size((size_t)o->payload, &fit);
	else
		routed_fit_compute(&fit);
	return (long)fit.body;
}

static int bench_routed_crypto(const struct bench_opts *o)
{
	struct rcrypto_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	long body = default_body(o);
	size_t ctx = sizeof(routed_context) - 1, id = strlen(DST_ID);
	c->body_len = (size_t)body;
	c->inner_len = c->body_len + crypto_sign_BYTES;
	c->m_len = ctx + 1 + id + c->body_len;
	crypto_sign_keypair(c->sign_pk, c->sign_sk);
	crypto_box_keypair(c->box_pk, c->box_sk);
	memcpy(c->m, routed_context, ctx);
	c->m[ctx] = (uint8_t)id;
	memcpy(c->m + ctx + 1, DST_ID, id);
	randombytes_buf(c->m + ctx + 1 + id, c->body_len);
	memcpy(c->inner, c->m + ctx + 1 + id, c->body_len);
	rcrypto_source(c, c->fixed);
	printf("routed_crypto_body_bytes %ld\nrouted_crypto_sealed_bytes %zu\n", body,
	       c->inner_len + crypto_box_SEALBYTES);
	const struct bench_case cases[] = {
	    {"routed_crypto_source", op_rcrypto_source, c},
	    {"routed_crypto_dest", op_rcrypto_dest, c},
	    {"routed_crypto_msg", op_rcrypto_msg, c},
	};
	int rc = measure(cases, 3, o);
	sodium_memzero(c, sizeof(*c));
	free(c);
	return rc;
}

/* The router's own code: routed_seal / routed_open (crypto, protobuf,
 * allocations), and one forwarding hop. */
struct rcodec_ctx {
	struct keys_pair src, dst;
	struct topo *topo;
	int dst_index;
	size_t payload;
	uint8_t filler[BODY_MAX];
	struct routed_out fixed;
	/* one forwarding hop: a frame in, a frame out */
	struct link_session in, out;
	uint8_t frame_in[LINK_FRAME_SIZE];
	uint8_t packed[LINK_MESSAGE_MAX];
	uint8_t frames_out[LINK_FRAMES_MAX * LINK_FRAME_SIZE];
};

static int op_rcodec_source(void *p)
{
	struct rcodec_ctx *c = p;
	struct routed_out out;
	if (routed_seal(&c->src, SRC_ID, &c->topo->nodes[c->dst_index],
			ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD, ROUTER_DEFAULT_HOP_LIMIT,
			c->filler, c->payload, &out) < 0)
		return -1;
	free(out.sealed);
	return 0;
}

static int rcodec_dest(struct rcodec_ctx *c, const struct routed_out *in)
{
	Anosip__V1__RoutedBody *body;
	int source;
	if (routed_open(c->topo, c->dst_index, &c->dst, in->sealed, in->sealed_len, &body,
			&source) != 0)
		return -1;
	/* Opening the same message again is fine here: no replay set. */
	anosip__v1__routed_body__free_unpacked(body, NULL);
	return 0;
}

static int op_rcodec_dest(void *p)
{
	struct rcodec_ctx *c = p;
	return rcodec_dest(c, &c->fixed);
}

static int op_rcodec_msg(void *p)
{
	struct rcodec_ctx *c = p;
	struct routed_out out;
	if (routed_seal(&c->src, SRC_ID, &c->topo->nodes[c->dst_index],
			ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD, ROUTER_DEFAULT_HOP_LIMIT,
			c->filler, c->payload, &out) < 0)
		return -1;
	int rc = rcodec_dest(c, &out);
	free(out.sealed);
	return rc;
}

/* A forwarding node's work per message, less the socket calls: open the
 * frame, decode, look up the destination, re-encode with one hop less, seal.
 * The incoming frame is the same each time; rewinding the receive counter
 * lets it open again. */
static int op_forward(void *p)
{
	struct rcodec_ctx *c = p;
	const uint8_t *m;
	size_t len;
	c->in.rx_counter = 0;
	if (link_open_frame(&c->in, c->frame_in, &m, &len) != 1)
		return -1;
	Anosip__V1__LinkMessage *u = anosip__v1__link_message__unpack(NULL, len, m);
	if (!u || u->body_case != ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED ||
	    topo_find(c->topo, u->routed->destination) != c->dst_index) {
		anosip__v1__link_message__free_unpacked(u, NULL);
		return -1;
	}
	Anosip__V1__Routed fwd = *u->routed;
	fwd.hop_limit--;
	Anosip__V1__LinkMessage out = ANOSIP__V1__LINK_MESSAGE__INIT;
	out.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	out.routed = &fwd;
	len = anosip__v1__link_message__get_packed_size(&out);
	anosip__v1__link_message__pack(&out, c->packed);
	long n = link_seal_message(&c->out, c->packed, len, c->frames_out, sizeof(c->frames_out));
	anosip__v1__link_message__free_unpacked(u, NULL);
	return n > 0 ? 0 : -1;
}

static int rcodec_setup(struct rcodec_ctx *c, const struct bench_opts *o, const char *prefix)
{
	struct topo_entry e[2];
	char err[256];
	memset(e, 0, sizeof(e));
	if (keys_generate(&c->src) < 0 || keys_generate(&c->dst) < 0)
		return -EIO;
	snprintf(e[0].id, sizeof(e[0].id), "%s", SRC_ID);
	snprintf(e[0].address, sizeof(e[0].address), "127.0.0.1:9");
	e[0].keys = c->src.pub;
	snprintf(e[1].id, sizeof(e[1].id), "%s", DST_ID);
	snprintf(e[1].address, sizeof(e[1].address), "127.0.0.1:10");
	snprintf(e[1].parent, sizeof(e[1].parent), "%s", SRC_ID);
	e[1].keys = c->dst.pub;
	if (topo_build(e, 2, 1, &c->topo, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip-bench: %s\n", err);
		return -EINVAL;
	}
	c->dst_index = topo_find(c->topo, DST_ID);
	if (o->payload >= 0) {
		c->payload = (size_t)o->payload;
	} else {
		struct routed_fit fit;
		routed_fit_compute(&fit);
		c->payload = (size_t)fit.payload;
	}
	if (c->payload > BODY_MAX)
		return -EMSGSIZE;
	randombytes_buf(c->filler, c->payload);
	if (routed_seal(&c->src, SRC_ID, &c->topo->nodes[c->dst_index],
			ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_DISCARD, ROUTER_DEFAULT_HOP_LIMIT,
			c->filler, c->payload, &c->fixed) < 0)
		return -ENOMEM;

	/* The frame a forwarder receives: the routed message, sealed once. */
	struct link_session up;
	memset(&up, 0, sizeof(up));
	randombytes_buf(up.tx_key, 32);
	memcpy(c->in.rx_key, up.tx_key, 32);
	randombytes_buf(c->out.tx_key, 32);
	Anosip__V1__Routed r = ANOSIP__V1__ROUTED__INIT;
	r.destination = (char *)DST_ID;
	r.hop_limit = ROUTER_DEFAULT_HOP_LIMIT;
	r.sealed.data = c->fixed.sealed;
	r.sealed.len = c->fixed.sealed_len;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_ROUTED;
	m.routed = &r;
	size_t len = anosip__v1__link_message__get_packed_size(&m);
	anosip__v1__link_message__pack(&m, c->packed);
	long n = link_seal_message(&up, c->packed, len, c->frames_out, sizeof(c->frames_out));
	link_session_wipe(&up);
	if (n < 0)
		return -EMSGSIZE;
	memcpy(c->frame_in, c->frames_out, LINK_FRAME_SIZE);
	printf("%s_payload_bytes %zu\n%s_message_bytes %zu\n%s_frames %ld\n", prefix, c->payload,
	       prefix, len, prefix, n / LINK_FRAME_SIZE);
	if (strcmp(prefix, "forward") == 0 && n != LINK_FRAME_SIZE) {
		/* The forwarding benchmark opens exactly one frame. */
		fprintf(stderr,
			"anosip-bench: a %zu-byte routed payload takes %ld frames; "
			"use --payload of at most the routed-fit payload\n",
			c->payload, n / LINK_FRAME_SIZE);
		return -EMSGSIZE;
	}
	return 0;
}

static void rcodec_free(struct rcodec_ctx *c)
{
	free(c->fixed.sealed);
	topo_free(c->topo);
	keys_wipe(&c->src);
	keys_wipe(&c->dst);
	link_session_wipe(&c->in);
	link_session_wipe(&c->out);
	free(c);
}

static int bench_routed_codec(const struct bench_opts *o)
{
	struct rcodec_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = rcodec_setup(c, o, "routed_codec");
	if (rc == 0) {
		const struct bench_case cases[] = {
		    {"routed_codec_source", op_rcodec_source, c},
		    {"routed_codec_dest", op_rcodec_dest, c},
		    {"routed_codec_msg", op_rcodec_msg, c},
		};
		rc = measure(cases, 3, o);
	}
	rcodec_free(c);
	return rc;
}

static int bench_forward(const struct bench_opts *o)
{
	struct rcodec_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = rcodec_setup(c, o, "forward");
	if (rc == 0) {
		const struct bench_case cases[] = {{"forward", op_forward, c}};
		rc = measure(cases, 1, o);
	}
	rcodec_free(c);
	return rc;
}

/* --- circuit: one build's crypto, every side, no I/O --- */

#define CIRC_LH_ID "node-1"
#define CIRC_NICK "bench-crypto-0123456789"

struct ccrypto_ctx {
	struct keys_pair lh, nick;
	uint8_t *cert; /* a real certificate, for CreateConfirm */
	size_t cert_len;
	/* a request opened again and again by the server-only case */
	uint8_t *fixed;
	size_t fixed_len;
	uint64_t fixed_ms;
	/* a CREATED and the client state it answers, for the finish-only case */
	struct circ_client fixed_cc;
	Anosip__V1__Created fixed_created;
};

/* The lighthouse: circ_server_open, then circ_server_accept. */
static int ccrypto_server(struct ccrypto_ctx *c, const uint8_t *sealed, size_t len,
			  Anosip__V1__Created *created)
{
	Anosip__V1__CreateRequest *req;
	struct circ_keys keys;
	if (circ_server_open(&c->lh, CIRC_LH_ID, sealed, len, util_wall_ms(), &req) < 0)
		return -1;
	Anosip__V1__CreateConfirm confirm = ANOSIP__V1__CREATE_CONFIRM__INIT;
	confirm.certificate.data = c->cert;
	confirm.certificate.len = c->cert_len;
	confirm.binding_expires_s = 3600;
	int rc = circ_server_accept(&c->lh, CIRC_LH_ID, req, &confirm, created, &keys);
	anosip__v1__create_request__free_unpacked(req, NULL);
	circ_keys_wipe(&keys);
	return rc < 0 ? -1 : 0;
}

static int ccrypto_client_create(struct ccrypto_ctx *c, struct circ_client *cc, uint8_t **sealed,
				 size_t *len)
{
	return circ_client_create(cc, &c->nick, CIRC_NICK, CIRC_LH_ID, c->lh.pub.kx, 1, sealed,
				  len) < 0
		   ? -1
		   : 0;
}

static int ccrypto_client_finish(struct circ_client *cc, const Anosip__V1__Created *created)
{
	struct circ_keys keys;
	Anosip__V1__CreateConfirm *confirm = NULL;
	if (circ_client_finish(cc, created, &keys, &confirm) < 0)
		return -1;
	int ok = confirm->certificate.len > 0;
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	circ_keys_wipe(&keys);
	return ok ? 0 : -1;
}

/* One whole build: create, open + accept, finish. */
static int op_ccrypto_build(void *p)
{
	struct ccrypto_ctx *c = p;
	struct circ_client cc;
	Anosip__V1__Created created;
	uint8_t *sealed;
	size_t len;
	if (ccrypto_client_create(c, &cc, &sealed, &len) < 0)
		return -1;
	int rc = ccrypto_server(c, sealed, len, &created);
	free(sealed);
	if (rc == 0) {
		rc = ccrypto_client_finish(&cc, &created);
		circ_created_free(&created);
	}
	return rc;
}

static int op_ccrypto_create(void *p)
{
	struct ccrypto_ctx *c = p;
	struct circ_client cc;
	uint8_t *sealed;
	size_t len;
	if (ccrypto_client_create(c, &cc, &sealed, &len) < 0)
		return -1;
	free(sealed);
	sodium_memzero(&cc, sizeof(cc));
	return 0;
}

/* A fresh fixed request when the one we have nears the lighthouse's
 * CIRC_CREATE_MAX_AGE_MS (long --seconds); and its CREATED. */
static int ccrypto_refresh(struct ccrypto_ctx *c)
{
	if (c->fixed && util_now_ms() - c->fixed_ms < CIRC_CREATE_MAX_AGE_MS / 2)
		return 0;
	free(c->fixed);
	if (c->fixed_created.server_public.data)
		circ_created_free(&c->fixed_created);
	c->fixed = NULL;
	memset(&c->fixed_created, 0, sizeof(c->fixed_created));
	if (ccrypto_client_create(c, &c->fixed_cc, &c->fixed, &c->fixed_len) < 0 ||
	    ccrypto_server(c, c->fixed, c->fixed_len, &c->fixed_created) < 0)
		return -1;
	c->fixed_ms = util_now_ms();
	return 0;
}

static int op_ccrypto_server(void *p)
{
	struct ccrypto_ctx *c = p;
	Anosip__V1__Created created;
	if (ccrypto_refresh(c) < 0 || ccrypto_server(c, c->fixed, c->fixed_len, &created) < 0)
		return -1;
	circ_created_free(&created);
	return 0;
}

/* circ_client_finish wipes the client state: each run finishes a copy. */
static int op_ccrypto_finish(void *p)
{
	struct ccrypto_ctx *c = p;
	struct circ_client cc = c->fixed_cc;
	return ccrypto_client_finish(&cc, &c->fixed_created);
}

/* The certificate a sign-up makes the lighthouse sign. */
static int op_ccrypto_cert(void *p)
{
	struct ccrypto_ctx *c = p;
	uint8_t *cert;
	size_t len;
	uint64_t now = util_wall_ms() / 1000;
	if (circ_certificate_sign(&c->lh, CIRC_LH_ID, CIRC_NICK, c->nick.pub.sign, now,
				  now + 30 * 86400, &cert, &len) < 0)
		return -1;
	free(cert);
	return 0;
}

static int bench_circuit_crypto(const struct bench_opts *o)
{
	struct ccrypto_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = -EIO;
	uint64_t now = util_wall_ms() / 1000;
	if (keys_generate(&c->lh) < 0 || keys_generate(&c->nick) < 0 ||
	    circ_certificate_sign(&c->lh, CIRC_LH_ID, CIRC_NICK, c->nick.pub.sign, now,
				  now + 30 * 86400, &c->cert, &c->cert_len) < 0 ||
	    ccrypto_refresh(c) < 0)
		goto out;
	printf("circuit_crypto_create_bytes %zu\ncircuit_crypto_certificate_bytes %zu\n",
	       c->fixed_len, c->cert_len);
	const struct bench_case cases[] = {
	    {"circuit_crypto_build", op_ccrypto_build, c},
	    {"circuit_crypto_client_create", op_ccrypto_create, c},
	    {"circuit_crypto_server", op_ccrypto_server, c},
	    {"circuit_crypto_client_finish", op_ccrypto_finish, c},
	    {"circuit_crypto_certificate", op_ccrypto_cert, c},
	};
	rc = measure(cases, 5, o);
out:
	free(c->fixed);
	if (c->fixed_created.server_public.data)
		circ_created_free(&c->fixed_created);
	free(c->cert);
	keys_wipe(&c->lh);
	keys_wipe(&c->nick);
	sodium_memzero(c, sizeof(*c));
	free(c);
	return rc;
}

/* --- the subcommand table --- */

static int bench_all(const struct bench_opts *o);

static const struct {
	const char *name;
	int (*run)(const struct bench_opts *o);
	const char *help;
} subcommands[] = {
    {"aead", bench_aead, "raw ChaCha20-Poly1305 IETF seal/open of one frame (the ceiling)"},
    {"codec", bench_codec, "link_seal_message + link_open_frame of one-frame messages"},
    {"routed-fit", bench_routed_fit, "largest routed payload that fits one frame"},
    {"forward", bench_forward, "one forwarding hop: open, decode, encode, seal"},
    {"routed-crypto", bench_routed_crypto,
     "crypto_box_seal + sign, box_seal_open + verify (libsodium only)"},
    {"routed-codec", bench_routed_codec, "routed_seal + routed_open (the router's code)"},
    {"circuit-crypto", bench_circuit_crypto,
     "circuit build crypto: create, server open + accept, finish, certificate"},
    {"all", bench_all, "every one of the above"},
};
#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static int bench_all(const struct bench_opts *o)
{
	for (size_t i = 0; i + 1 < N_SUBCOMMANDS; i++) {
		int rc = subcommands[i].run(o);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: anosip-bench [--runs N] [--seconds S] [--payload BYTES] "
		"[--body BYTES] [--discard BYTES] COMMAND\n"
		"  --runs N         runs per figure, median reported (1..%d, default 3)\n"
		"  --seconds S      time budget of one run (0.01..10, default 0.4)\n"
		"  --payload BYTES  routed Discard payload (default: largest in one frame)\n"
		"  --body BYTES     routed-crypto body (default: that message's body)\n"
		"  --discard BYTES  link Discard data for codec (default 400)\n"
		"commands:\n",
		BENCH_RUNS_MAX);
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(stderr, "  %-14s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(stderr, "  %-14s %s\n", "circuit-load",
		"live: builds circuits through a testbed's portal (circuit-load --help)");
}

static int parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .runs = 3, .seconds = 0.4, .payload = -1, .body = -1, .discard = 400};
	int i = 1;
	/* The live load client has options of its own. */
	if (argc >= 2 && strcmp(argv[1], "circuit-load") == 0) {
		if (sodium_init() < 0) {
			fprintf(stderr, "anosip-bench: sodium_init failed\n");
			return 1;
		}
		return circuit_load_main(argc - 1, argv + 1);
	}
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		long v;
		char *end;
		if (strcmp(argv[i], "--runs") == 0 &&
		    parse_long(argv[i + 1], 1, BENCH_RUNS_MAX, &v) == 0) {
			o.runs = (int)v;
		} else if (strcmp(argv[i], "--seconds") == 0) {
			o.seconds = strtod(argv[i + 1], &end);
			if (*end || !(o.seconds >= 0.01 && o.seconds <= 10))
				goto usage;
		} else if (strcmp(argv[i], "--payload") == 0 &&
			   parse_long(argv[i + 1], 0, BODY_MAX, &v) == 0) {
			o.payload = v;
		} else if (strcmp(argv[i], "--body") == 0 &&
			   parse_long(argv[i + 1], 1, BODY_MAX, &v) == 0) {
			o.body = v;
		} else if (strcmp(argv[i], "--discard") == 0 &&
			   parse_long(argv[i + 1], 0, LINK_FRAME_PAYLOAD, &v) == 0) {
			o.discard = v;
		} else {
			goto usage;
		}
	}
	if (i + 1 != argc)
		goto usage;
	if (sodium_init() < 0) {
		fprintf(stderr, "anosip-bench: sodium_init failed\n");
		return 1;
	}
	for (size_t s = 0; s < N_SUBCOMMANDS; s++) {
		if (strcmp(argv[i], subcommands[s].name) != 0)
			continue;
		printf("bench_runs %d\nbench_seconds %.2f\n", o.runs, o.seconds);
		int rc = subcommands[s].run(&o);
		if (rc < 0 && rc != -EPROTO)
			fprintf(stderr, "anosip-bench: %s: %s\n", argv[i], strerror(-rc));
		return rc < 0 ? 1 : 0;
	}
usage:
	usage();
	return 2;
}
