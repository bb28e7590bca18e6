/* The lighthouse's built circuits (handle -> nickname and keys) and what
 * comes over them. */
#include "lighthouse/lh_private.h"

#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static size_t bucket(router_circuit handle)
{
	return (size_t)((handle * 0x9E3779B97F4A7C15ull) >> 40) % LH_CIRCUIT_BUCKETS;
}

struct lh_circuit *lh_circuit_find(struct lh *lh, router_circuit handle)
{
	for (struct lh_circuit *c = lh->circuits[bucket(handle)]; c; c = c->next)
		if (c->handle == handle)
			return c;
	return NULL;
}

struct lh_circuit *lh_circuit_add(struct lh *lh, router_circuit handle, const char *nickname,
				  const struct circ_keys *keys)
{
	struct lh_circuit *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->handle = handle;
	snprintf(c->nickname, sizeof(c->nickname), "%s", nickname);
	c->keys = *keys;
	size_t b = bucket(handle);
	c->next = lh->circuits[b];
	lh->circuits[b] = c;
	lh->n_circuits++;
	return c;
}

struct lh_circuit *lh_circuit_other(struct lh *lh, const char *nickname, router_circuit not )
{
	/* A scan, on the rare path of a nickname's circuit dying. */
	for (size_t b = 0; b < LH_CIRCUIT_BUCKETS; b++)
		for (struct lh_circuit *c = lh->circuits[b]; c; c = c->next)
			if (c->handle != not &&strcmp(c->nickname, nickname) == 0)
				return c;
	return NULL;
}

void lh_circuit_remove(struct lh *lh, router_circuit handle)
{
	for (struct lh_circuit **pp = &lh->circuits[bucket(handle)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->handle == handle) {
			struct lh_circuit *c = *pp;
			*pp = c->next;
			circ_keys_wipe(&c->keys);
			free(c->certificate);
			free(c);
			lh->n_circuits--;
			return;
		}
	}
}

void lh_circuits_free(struct lh *lh)
{
	for (size_t b = 0; b < LH_CIRCUIT_BUCKETS; b++)
		while (lh->circuits[b]) {
			struct lh_circuit *c = lh->circuits[b];
			lh->circuits[b] = c->next;
			circ_keys_wipe(&c->keys);
			free(c->certificate);
			free(c);
		}
	lh->n_circuits = 0;
}

/* Seals a CircuitMessage back down the circuit. */
int lh_send_back(struct lh *lh, struct lh_circuit *c, const Anosip__V1__CircuitMessage *m)
{
	size_t len = anosip__v1__circuit_message__get_packed_size(m);
	uint8_t *plain = malloc(len ? len : 1), *sealed = NULL;
	size_t sealed_len;
	int rc = -ENOMEM;
	if (!plain)
		return rc;
	anosip__v1__circuit_message__pack(m, plain);
	rc = circ_data_seal(&c->keys, plain, len, &sealed, &sealed_len);
	free(plain);
	if (rc < 0)
		return rc;
	Anosip__V1__CellData d = ANOSIP__V1__CELL_DATA__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	d.sealed.data = sealed;
	d.sealed.len = sealed_len;
	cell.body_case = ANOSIP__V1__CELL__BODY_DATA;
	cell.data = &d;
	rc = router_circuit_send(lh->router, c->handle, &cell);
	free(sealed);
	if (rc == 0)
		lh->data_out++;
	return rc;
}

void lh_on_data(void *ctx, router_circuit circuit, const Anosip__V1__CellData *data)
{
	struct lh *lh = ctx;
	struct lh_circuit *c = lh_circuit_find(lh, circuit);
	if (!c) {
		node_count_drop(lh->node, NODE_DROP_UNKNOWN_CIRCUIT);
		return;
	}
	uint8_t *plain;
	size_t len;
	int rc = circ_data_open(&c->keys, data->sealed.data, data->sealed.len, &plain, &len);
	if (rc < 0) {
		node_count_drop(lh->node,
				rc == CIRC_ERR_REPLAY ? NODE_DROP_REPLAY : NODE_DROP_SEALED);
		return;
	}
	lh->data_in++;
	Anosip__V1__CircuitMessage *m = anosip__v1__circuit_message__unpack(NULL, len, plain);
	sodium_memzero(plain, len);
	free(plain);
	if (!m) {
		node_count_drop(lh->node, NODE_DROP_DECODE);
		return;
	}
	if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO) {
		Anosip__V1__CircuitMessage reply = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
		reply.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_ECHO_REPLY;
		reply.echo_reply = m->echo;
		lh_send_back(lh, c, &reply);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP) {
		lh_sip_on_message(lh, c, m->sip);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD) {
		lh_sip_on_password(lh, c, m->password);
	} else if (m->body_case == ANOSIP__V1__CIRCUIT_MESSAGE__BODY_IDDIR_QUERY) {
		lh_iddir_on_query(lh, c, m->iddir_query);
	} else {
		node_count_drop(lh->node, NODE_DROP_UNKNOWN_MESSAGE);
	}
	anosip__v1__circuit_message__free_unpacked(m, NULL);
}
