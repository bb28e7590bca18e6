/* Fuzzes the lookup service's decoders (proto/routed.proto): HomeClaim and
 * HomeQuery, which the lookup node decodes from the payload of a routed
 * message from a lighthouse (on_claim, on_query in lookup/lookup.c), and
 * HomeAnswer, which a lighthouse decodes from the lookup node's answer
 * (lh_lookup_on_answer in lighthouse/lookup_client.c). The input goes to
 * each of the three decoders.
 *
 * Oracles, for each decoder the input decodes with:
 *  - the decoded tree is what the code reading it without checks relies
 *    on (fuzz_walk_message: strings and bytes readable to their ends);
 *    in particular nickname and lighthouse are never NULL, which the
 *    consumers test but proto3 promises;
 *  - a repack comparison: decode, encode (A, as long as get_packed_size
 *    says), decode A, encode (B): A and B are the same bytes and A decodes
 *    to the same fields. Nobody forwards these messages (the lookup node
 *    answers with a HomeAnswer of its own), so an unknown field numbered 0
 *    (libprotobuf-c's quirk, docs/robustness.md finding 2) is left out of
 *    the comparison as in fuzz_link_message;
 *  - what the consumers keep fits where they keep it: a HomeAnswer that
 *    lh_lookup_on_answer takes (a valid nickname, a lighthouse of at most
 *    31 bytes) fits the cache entry's 64- and 32-byte arrays. */
#include "tests/fuzz/harness.h"

#include "routed.pb-c.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fields of any of the three, for comparing. */
struct home {
	const char *nickname, *lighthouse;
	uint64_t request_id;
	int claim_accepted;
};

static struct home fields(const ProtobufCMessage *m)
{
	struct home h = {NULL, "", 0, 0};
	if (m->descriptor == &anosip__v1__home_claim__descriptor) {
		const Anosip__V1__HomeClaim *c = (const Anosip__V1__HomeClaim *)m;
		h.nickname = c->nickname;
		h.request_id = c->request_id;
	} else if (m->descriptor == &anosip__v1__home_query__descriptor) {
		const Anosip__V1__HomeQuery *q = (const Anosip__V1__HomeQuery *)m;
		h.nickname = q->nickname;
		h.request_id = q->request_id;
	} else {
		const Anosip__V1__HomeAnswer *a = (const Anosip__V1__HomeAnswer *)m;
		h.nickname = a->nickname;
		h.lighthouse = a->lighthouse;
		h.request_id = a->request_id;
		h.claim_accepted = a->claim_accepted;
	}
	if (!h.nickname || !h.lighthouse)
		fuzz_fail("a decoded Home message has a NULL string");
	return h;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (!buf)
		fuzz_fail("out of memory");
	if (protobuf_c_message_pack(m, buf) != *len)
		fuzz_fail("a Home message's packed size disagrees with pack");
	return buf;
}

static void consumers(const ProtobufCMessage *m)
{
	if (m->descriptor != &anosip__v1__home_answer__descriptor)
		return;
	const Anosip__V1__HomeAnswer *a = (const Anosip__V1__HomeAnswer *)m;
	/* lh_lookup_on_answer's test, then its copies. */
	if (!a->nickname || !a->lighthouse || !fuzz_nickname_ok(a->nickname) ||
	    strlen(a->lighthouse) > 31)
		return;
	if (strlen(a->nickname) + 1 > CIRC_NICKNAME_MAX + 1 || strlen(a->lighthouse) + 1 > 32)
		fuzz_fail("a HomeAnswer the lighthouse takes does not fit its cache entry");
}

static void one(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
	if (!m)
		return;
	int field_zero = fuzz_walk_message(m);
	struct home h = fields(m);
	consumers(m);
	if (field_zero) {
		protobuf_c_message_free_unpacked(m, NULL);
		return;
	}
	size_t a_len, b_len;
	uint8_t *a = pack(m, &a_len);
	ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, a_len, a);
	if (!again)
		fuzz_fail("a re-encoded Home message does not decode");
	if (fuzz_walk_message(again))
		fuzz_fail("a re-encoded Home message holds a field numbered 0");
	struct home g = fields(again);
	if (strcmp(g.nickname, h.nickname) != 0 || strcmp(g.lighthouse, h.lighthouse) != 0 ||
	    g.request_id != h.request_id || g.claim_accepted != h.claim_accepted)
		fuzz_fail("a Home message decodes to other fields after a re-encode");
	uint8_t *b = pack(again, &b_len);
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fuzz_fail("a Home message re-encodes differently after a decode");
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(&anosip__v1__home_claim__descriptor, data, size);
	one(&anosip__v1__home_query__descriptor, data, size);
	one(&anosip__v1__home_answer__descriptor, data, size);
	return 0;
}
