/* Fuzzes the decoders of routed node messages (proto/routed.proto).
 *
 * The whole input is offered to each of Routed, RoutedSigned, RoutedBody
 * and Ping, and the nesting a destination node follows is walked as well:
 * RoutedSigned.body is a RoutedBody, whose payload is a Ping for the ping
 * and pong types. Whatever decodes is re-encoded (the packed size must
 * match what pack writes) and freed. */
#include "tests/fuzz/harness.h"

#include "routed.pb-c.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-encodes a decoded message; pack must write exactly get_packed_size. */
static void repack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return;
	if (protobuf_c_message_pack(m, buf) != n)
		fuzz_fail("packed size disagrees with pack");
	free(buf);
}

static void ping(const uint8_t *data, size_t size)
{
	Anosip__V1__Ping *p = anosip__v1__ping__unpack(NULL, size, data);
	if (!p)
		return;
	repack(&p->base);
	anosip__v1__ping__free_unpacked(p, NULL);
}

static void body(const uint8_t *data, size_t size)
{
	Anosip__V1__RoutedBody *b = anosip__v1__routed_body__unpack(NULL, size, data);
	if (!b)
		return;
	repack(&b->base);
	if (b->type == ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PING ||
	    b->type == ANOSIP__V1__ROUTED_TYPE__ROUTED_TYPE_PONG)
		ping(b->payload.data, b->payload.len);
	anosip__v1__routed_body__free_unpacked(b, NULL);
}

static void routed_signed(const uint8_t *data, size_t size)
{
	Anosip__V1__RoutedSigned *s = anosip__v1__routed_signed__unpack(NULL, size, data);
	if (!s)
		return;
	repack(&s->base);
	body(s->body.data, s->body.len);
	anosip__v1__routed_signed__free_unpacked(s, NULL);
}

static void routed(const uint8_t *data, size_t size)
{
	Anosip__V1__Routed *r = anosip__v1__routed__unpack(NULL, size, data);
	if (!r)
		return;
	repack(&r->base);
	anosip__v1__routed__free_unpacked(r, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	routed(data, size);
	routed_signed(data, size);
	body(data, size);
	ping(data, size);
	return 0;
}
