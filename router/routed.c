/* Routed message crypto: crypto_box_seal to the destination's X25519 key of
 * a body signed with the source's Ed25519 key. Routers on the way see only
 * the destination id and the hop limit. */
#include "router/router_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char routed_context[] = "anosip-routed-v1";

/* What the source signs: context, destination id, encoded body. Binding the
 * destination stops a node from re-sealing a signed body to someone else. */
static uint8_t *signed_input(const char *dest_id, const uint8_t *body, size_t body_len, size_t *len)
{
	size_t ctx = sizeof(routed_context) - 1, id = strlen(dest_id);
	uint8_t *m = malloc(ctx + 1 + id + body_len);
	if (!m)
		return NULL;
	memcpy(m, routed_context, ctx);
	m[ctx] = (uint8_t)id;
	memcpy(m + ctx + 1, dest_id, id);
	memcpy(m + ctx + 1 + id, body, body_len);
	*len = ctx + 1 + id + body_len;
	return m;
}

int routed_seal(const struct keys_pair *source_keys, const char *source_id,
		const struct topo_node *dest, Anosip__V1__RoutedType type, uint32_t hop_limit,
		const uint8_t *payload, size_t payload_len, struct routed_out *out)
{
	int rc = -ENOMEM;
	uint8_t *body = NULL, *m = NULL, *inner = NULL;
	Anosip__V1__RoutedBody b = ANOSIP__V1__ROUTED_BODY__INIT;
	b.source = (char *)source_id;
	b.type = type;
	randombytes_buf(&b.message_id, sizeof(b.message_id));
	b.sent_unix_ms = util_wall_ms();
	b.hop_limit = hop_limit;
	b.payload.data = (uint8_t *)payload;
	b.payload.len = payload_len;
	size_t body_len = anosip__v1__routed_body__get_packed_size(&b);
	body = malloc(body_len);
	if (!body)
		goto out;
	anosip__v1__routed_body__pack(&b, body);
	size_t m_len;
	m = signed_input(dest->id, body, body_len, &m_len);
	if (!m)
		goto out;
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, m, m_len, source_keys->sign_secret);

	Anosip__V1__RoutedSigned s = ANOSIP__V1__ROUTED_SIGNED__INIT;
	s.body.data = body;
	s.body.len = body_len;
	s.signature.data = sig;
	s.signature.len = sizeof(sig);
	size_t inner_len = anosip__v1__routed_signed__get_packed_size(&s);
	inner = malloc(inner_len);
	if (!inner)
		goto out;
	anosip__v1__routed_signed__pack(&s, inner);
	out->sealed_len = inner_len + crypto_box_SEALBYTES;
	out->sealed = malloc(out->sealed_len);
	if (!out->sealed)
		goto out;
	crypto_box_seal(out->sealed, inner, inner_len, dest->keys.kx);
	out->message_id = b.message_id;
	rc = 0;
out:
	free(body);
	free(m);
	free(inner);
	return rc;
}

int routed_open(const struct topo *t, int self, const struct keys_pair *self_keys,
		const uint8_t *sealed, size_t sealed_len, Anosip__V1__RoutedBody **body_out,
		int *source)
{
	int reason = NODE_DROP_SEALED;
	uint8_t *inner = NULL, *m = NULL;
	Anosip__V1__RoutedSigned *s = NULL;
	Anosip__V1__RoutedBody *b = NULL;
	if (sealed_len < crypto_box_SEALBYTES)
		goto out;
	size_t inner_len = sealed_len - crypto_box_SEALBYTES;
	inner = malloc(inner_len ? inner_len : 1);
	if (!inner)
		goto out;
	if (crypto_box_seal_open(inner, sealed, sealed_len, self_keys->pub.kx,
				 self_keys->kx_secret) != 0)
		goto out;
	reason = NODE_DROP_DECODE;
	s = anosip__v1__routed_signed__unpack(NULL, inner_len, inner);
	if (!s || s->signature.len != crypto_sign_BYTES)
		goto out;
	b = anosip__v1__routed_body__unpack(NULL, s->body.len, s->body.data);
	if (!b || !b->source)
		goto out;
	reason = NODE_DROP_BAD_SIGNATURE;
	int src = topo_find(t, b->source);
	if (src < 0)
		goto out;
	size_t m_len;
	m = signed_input(t->nodes[self].id, s->body.data, s->body.len, &m_len);
	if (!m ||
	    crypto_sign_verify_detached(s->signature.data, m, m_len, t->nodes[src].keys.sign) != 0)
		goto out;
	*body_out = b;
	*source = src;
	b = NULL;
	reason = 0;
out:
	if (b)
		anosip__v1__routed_body__free_unpacked(b, NULL);
	if (s)
		anosip__v1__routed_signed__free_unpacked(s, NULL);
	free(inner);
	free(m);
	return reason;
}
