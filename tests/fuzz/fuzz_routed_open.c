/* Fuzzes routed_open (router/routed.c), what a destination node runs on
 * the sealed part of every routed message addressed to it, and the
 * routed_seal -> routed_open round trip.
 *
 * The node is "beta" of the harness's fixed three-node topology
 * (fuzz_topology: beta the root, alpha and gamma its children). The first
 * byte picks a mode (bits 0-1) and a node of the topology (bits 2-3, modulo
 * 3: the signer in mode 2, the source in mode 3); the rest is the data:
 *   0  raw: the data is the sealed payload, as any node on the way could
 *      send it (the crypto_box_seal_open check);
 *   1  sealed: the data is the RoutedSigned plaintext, which the harness
 *      seals to beta's X25519 key, so the RoutedSigned decoding, the
 *      RoutedBody decoding, the source lookup and the signature check run;
 *   2  signed: the data is the RoutedBody, which the harness really signs
 *      with the chosen node's key (the rule of router/routed.c) and seals
 *      to beta, so decoding and the source lookup past the signature run.
 *      The outcome is known in advance: accepted from that node exactly
 *      when the body decodes and names that node as its source, otherwise
 *      refused as undecodable or as a bad signature;
 *   3  round trip: after a type byte (modulo 8: the known types and some
 *      unknown ones) and a 32-bit hop limit (little-endian), the data is a
 *      payload. routed_seal from the chosen node to beta must give a
 *      payload that routed_open accepts with the same source, type, hop
 *      limit, message id and payload, and that neither alpha nor gamma can
 *      open.
 * In every mode a refusal must be one of routed_open's reasons and leave
 * the body alone; an accepted body names the source it returns and is
 * freed. */
#include "tests/fuzz/harness.h"

#include "node/node.h"
#include "router/router_private.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_topology();
	return 0;
}

/* Opens sealed as node self; checks routed_open's contract and returns its
 * result. On 0, *body is the decoded body (the caller frees it). */
static int open_checked(int self, const uint8_t *sealed, size_t len, Anosip__V1__RoutedBody **body,
			int *source)
{
	const struct topo *t = fuzz_topology();
	*body = NULL;
	*source = -1;
	int rc = routed_open(t, self, fuzz_node_keys(self), sealed, len, body, source);
	if (rc == 0) {
		if (!*body || *source < 0 || *source >= t->n)
			fuzz_fail("routed_open accepted without a body or a source");
		if (!(*body)->source || strcmp((*body)->source, t->nodes[*source].id) != 0)
			fuzz_fail("routed_open returned a source the body does not name");
	} else {
		if (*body || *source != -1)
			fuzz_fail("routed_open refused but handed out a body or a source");
		if (rc != NODE_DROP_SEALED && rc != NODE_DROP_DECODE &&
		    rc != NODE_DROP_BAD_SIGNATURE)
			fuzz_fail("routed_open refused for an unexpected reason");
	}
	return rc;
}

/* Seals plain to node self's X25519 key as crypto_box_seal does, with the
 * harness's fixed ephemeral key (fuzz_seal_fixed): the same bytes every
 * run, and no key pair made per input. Returns a malloc'd buffer. */
static uint8_t *seal_to(int self, const uint8_t *plain, size_t len, size_t *out_len)
{
	uint8_t *out = malloc(len + crypto_box_SEALBYTES);
	if (out)
		*out_len = fuzz_seal_fixed(plain, len, fuzz_node_keys(self)->pub.kx, out);
	return out;
}

static void open_and_free(int self, const uint8_t *sealed, size_t len)
{
	Anosip__V1__RoutedBody *body;
	int source;
	if (open_checked(self, sealed, len, &body, &source) == 0)
		anosip__v1__routed_body__free_unpacked(body, NULL);
}

static void run_sealed(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *sealed = seal_to(FUZZ_TOPO_SELF, data, size, &len);
	if (!sealed)
		return;
	open_and_free(FUZZ_TOPO_SELF, sealed, len);
	free(sealed);
}

static void run_signed(int signer, const uint8_t *data, size_t size)
{
	const struct topo *t = fuzz_topology();
	size_t inner_len, len;
	uint8_t *inner = fuzz_sign_routed(fuzz_node_keys(signer), t->nodes[FUZZ_TOPO_SELF].id, data,
					  size, &inner_len);
	if (!inner)
		return;
	uint8_t *sealed = seal_to(FUZZ_TOPO_SELF, inner, inner_len, &len);
	free(inner);
	if (!sealed)
		return;

	/* What routed_open must answer, worked out on our own. */
	int expect = NODE_DROP_DECODE;
	Anosip__V1__RoutedBody *b = anosip__v1__routed_body__unpack(NULL, size, data);
	if (b && b->source) {
		int named = topo_find(t, b->source);
		expect = named == signer ? 0 : NODE_DROP_BAD_SIGNATURE;
	}
	if (b)
		anosip__v1__routed_body__free_unpacked(b, NULL);

	Anosip__V1__RoutedBody *body;
	int source;
	int rc = open_checked(FUZZ_TOPO_SELF, sealed, len, &body, &source);
	if (rc != expect)
		fuzz_fail("routed_open's answer to a really signed body is not the expected one");
	if (rc == 0) {
		if (source != signer)
			fuzz_fail("routed_open accepted a signed body from another source");
		anosip__v1__routed_body__free_unpacked(body, NULL);
	}
	free(sealed);
}

static void run_round_trip(int src, const uint8_t *data, size_t size)
{
	const struct topo *t = fuzz_topology();
	uint8_t head[5] = {0};
	size_t h = size < sizeof(head) ? size : sizeof(head);
	memcpy(head, data, h);
	data += h;
	size -= h;
	Anosip__V1__RoutedType type = (Anosip__V1__RoutedType)(head[0] & 7);
	uint32_t hop_limit = (uint32_t)head[1] | (uint32_t)head[2] << 8 | (uint32_t)head[3] << 16 |
			     (uint32_t)head[4] << 24;

	struct routed_out out;
	memset(&out, 0, sizeof(out));
	if (routed_seal(fuzz_node_keys(src), t->nodes[src].id, &t->nodes[FUZZ_TOPO_SELF], type,
			hop_limit, size ? data : NULL, size, &out) != 0)
		fuzz_fail("routed_seal failed");

	Anosip__V1__RoutedBody *body;
	int source;
	if (open_checked(FUZZ_TOPO_SELF, out.sealed, out.sealed_len, &body, &source) != 0)
		fuzz_fail("routed_open refused what routed_seal sealed");
	if (source != src || body->type != type || body->hop_limit != hop_limit ||
	    body->message_id != out.message_id || body->payload.len != size ||
	    (size && memcmp(body->payload.data, data, size) != 0))
		fuzz_fail("routed_seal -> routed_open changed the message");
	anosip__v1__routed_body__free_unpacked(body, NULL);

	/* Sealed to beta: no other node opens it. */
	for (int other = 0; other < t->n; other++) {
		if (other == FUZZ_TOPO_SELF)
			continue;
		if (open_checked(other, out.sealed, out.sealed_len, &body, &source) !=
		    NODE_DROP_SEALED)
			fuzz_fail("a node opened a routed message sealed to another");
	}
	free(out.sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] & 3;
	int node = (data[0] >> 2 & 3) % FUZZ_TOPO_NODES;
	data++;
	size--;
	switch (mode) {
	case 0:
		open_and_free(FUZZ_TOPO_SELF, data, size);
		break;
	case 1:
		run_sealed(data, size);
		break;
	case 2:
		run_signed(node, data, size);
		break;
	default:
		run_round_trip(node, data, size);
		break;
	}
	return 0;
}
