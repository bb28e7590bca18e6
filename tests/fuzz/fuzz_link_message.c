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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* The walk of harness.c: the oneof case is a field of LinkMessage with its
 * member set, and every field is read to its end. Returns 1 if the tree
 * holds an unknown field numbered 0. */
static int check(const Anosip__V1__LinkMessage *m)
{
	return fuzz_walk_message(&m->base);
}

/* libprotobuf-c 1.4.1 refuses a one-byte tag of field number 0 but takes
 * one in a longer, non-canonical varint ("80 00") as an unknown field, and
 * re-encodes it as the one-byte tag it refuses. Open finding, see
 * docs/robustness.md: the router forwards a Routed's or a Cell's unknown
 * fields, so the next hop cannot decode what an honest node forwards. Such
 * messages are left out of the repack comparison (check() reports them;
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
