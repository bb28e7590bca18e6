/* Fuzzes the LinkMessage decoder the way a node runs it on every complete
 * link message (node_dispatch in node/node.c):
 * anosip__v1__link_message__unpack on the whole input.
 *
 * The oracle is a repack comparison: a message that decodes is encoded
 * (A), A is decoded and encoded again (B), and A and B must be the same
 * bytes; each encoding must be as long as get_packed_size says. Since a
 * router forwards a Routed by re-encoding the one it decoded (router.c),
 * "what was decoded encodes to something that decodes" is what keeps an
 * honest forwarder's link to its next hop open.
 *
 * Decoding must also leave the tree consistent with what node/ and router/
 * read without checking, walked generically through the descriptors (so
 * new oneof members are covered as they are added): the oneof case is a
 * field of LinkMessage and its member is set; every message, string and
 * bytes field that claims content has it, and all of it is touched byte by
 * byte so that ASan sees any overrun. */
#include "tests/fuzz/harness.h"

#include "link.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting than any message of proto/ has. */
#define DEPTH_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

/* Encodes m into a malloc'd buffer; *len is its length. */
static uint8_t *pack(const Anosip__V1__LinkMessage *m, size_t *len)
{
	*len = anosip__v1__link_message__get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (!buf)
		return NULL;
	if (anosip__v1__link_message__pack(m, buf) != *len)
		fuzz_fail("LinkMessage packed size disagrees with pack");
	return buf;
}

static void touch(const uint8_t *p, size_t len)
{
	if (len && !p)
		fuzz_fail("a field claims a length but has no data");
	for (size_t i = 0; i < len; i++)
		sink ^= p[i];
}

/* Whether field f of m may be read: a oneof member only when its case is
 * set (the members share storage); any other field always, though a
 * message field may still be NULL. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	return 1;
}

/* Checks m and everything below it; returns 1 if some message in the tree
 * holds an unknown field numbered 0 (the libprotobuf-c quirk below). */
static int walk(const ProtobufCMessage *m, int depth)
{
	if (depth > DEPTH_MAX)
		fuzz_fail("decoded messages nest deeper than proto/ allows");
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	int field_zero = 0;
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		touch(m->unknown_fields[i].data, m->unknown_fields[i].len);
		if (m->unknown_fields[i].tag == 0)
			field_zero = 1;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!present(m, f))
			continue;
		size_t n = 1;
		const char *at = base + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			at = *(const char *const *)at;
			if (n && !at)
				fuzz_fail("a repeated field claims elements but has none");
		}
		for (size_t k = 0; k < n; k++) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessage *sub =
				    ((const ProtobufCMessage *const *)at)[k];
				if (!sub) {
					if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
						fuzz_fail("a oneof case is set without its member");
					continue;
				}
				field_zero |= walk(sub, depth + 1);
			} else if (f->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = ((const char *const *)at)[k];
				if (s)
					touch((const uint8_t *)s, strlen(s) + 1);
			} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
				const ProtobufCBinaryData *b =
				    &((const ProtobufCBinaryData *)at)[k];
				touch(b->data, b->len);
			}
		}
	}
	return field_zero;
}

static int check(const Anosip__V1__LinkMessage *m)
{
	if (m->body_case != ANOSIP__V1__LINK_MESSAGE__BODY__NOT_SET &&
	    !protobuf_c_message_descriptor_get_field(&anosip__v1__link_message__descriptor,
						     (unsigned)m->body_case))
		fuzz_fail("LinkMessage decoded with a body case that is not one of its fields");
	return walk(&m->base, 0);
}

/* libprotobuf-c 1.4.1 refuses a one-byte tag of field number 0 but takes
 * one in a longer, non-canonical varint ("80 00") as an unknown field, and
 * re-encodes it as the one-byte tag it refuses. Open finding, see
 * docs/robustness.md: the router forwards a Routed's or a Cell's unknown
 * fields, so the next hop cannot decode what an honest node forwards. Such
 * messages are left out of the repack comparison (walk() reports them;
 * regressions/fuzz_link_message/ keeps examples) until that is fixed. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Anosip__V1__LinkMessage *m = anosip__v1__link_message__unpack(NULL, size, data);
	if (!m)
		return 0;
	int field_zero = check(m);
	size_t a_len = 0, b_len = 0;
	uint8_t *a = field_zero ? NULL : pack(m, &a_len), *b = NULL;
	anosip__v1__link_message__free_unpacked(m, NULL);
	if (!a)
		return 0;

	Anosip__V1__LinkMessage *again = anosip__v1__link_message__unpack(NULL, a_len, a);
	if (!again)
		fuzz_fail("a re-encoded LinkMessage does not decode");
	if (check(again))
		fuzz_fail("a re-encoded LinkMessage holds a field numbered 0");
	b = pack(again, &b_len);
	if (b && (a_len != b_len || memcmp(a, b, a_len) != 0))
		fuzz_fail("LinkMessage re-encodes differently after a decode");
	anosip__v1__link_message__free_unpacked(again, NULL);
	free(a);
	free(b);
	return 0;
}
