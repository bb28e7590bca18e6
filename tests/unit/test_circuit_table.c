/* router's circuit table (docs/protocol.md §4): what one hop keeps per
 * circuit — (incoming link, id) <-> (outgoing link, id), pending or open —
 * its accounting per client link, and the ids it hands out on a link. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "router/router_private.h"
#include "tests/unit/suites.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HIGH 0x80000000u

static int setup(void **state)
{
	struct circuit_table *t = calloc(1, sizeof(*t));
	if (!t || circuit_table_init(t) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct circuit_table *t = *state;
	circuit_table_free(t);
	free(t);
	return 0;
}

static void counts(const struct circuit_table *t, uint32_t link, unsigned want_circuits,
		   unsigned want_pending)
{
	unsigned circuits = 99, pending = 99;
	circuit_table_client_counts(t, link, &circuits, &pending);
	assert_int_equal(circuits, want_circuits);
	assert_int_equal(pending, want_pending);
}

/* No per-client entry is left anywhere. */
static int clients_empty(const struct circuit_table *t)
{
	for (size_t i = 0; i < t->client_buckets; i++)
		if (t->clients[i])
			return 0;
	return 1;
}

/* The list of every circuit is consistent and holds `want` of them. */
static void check_all_list(const struct circuit_table *t, size_t want)
{
	size_t n = 0;
	const struct circuit *prev = NULL;
	for (const struct circuit *c = t->all; c; c = c->next) {
		assert_ptr_equal(c->prev, prev);
		prev = c;
		n++;
		assert_true(n <= want);
	}
	assert_int_equal(n, want);
	assert_int_equal(t->count, want);
}

static void test_table_empty(void **state)
{
	struct circuit_table *t = *state;
	assert_int_equal(t->count, 0);
	assert_int_equal(t->pending, 0);
	assert_null(t->all);
	assert_true(t->buckets > 0);
	assert_int_equal(t->buckets & (t->buckets - 1), 0);
	assert_null(circuit_table_lookup_in(t, 1, 1));
	assert_null(circuit_table_lookup_out(t, 1, 1));
	assert_null(circuit_table_lookup_out(t, 0, 0));
	counts(t, 1, 0, 0);
	assert_true(clients_empty(t));
}

/* Found by (link, id) on its own side only. */
static void test_table_lookup_both_sides(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *c = circuit_table_add(t, 1, 5, 2, HIGH | 7, 1, 1234);
	assert_non_null(c);
	assert_int_equal(c->in_link, 1);
	assert_int_equal(c->in_id, 5);
	assert_int_equal(c->out_link, 2);
	assert_int_equal(c->out_id, HIGH | 7);
	assert_int_equal(c->in_client, 1);
	assert_int_equal(c->open, 0);
	assert_int_equal(c->created_ms, 1234);

	assert_ptr_equal(circuit_table_lookup_in(t, 1, 5), c);
	assert_ptr_equal(circuit_table_lookup_out(t, 2, HIGH | 7), c);
	/* Each pair only on its own side... */
	assert_null(circuit_table_lookup_out(t, 1, 5));
	assert_null(circuit_table_lookup_in(t, 2, HIGH | 7));
	/* ...and only with both halves right. */
	assert_null(circuit_table_lookup_in(t, 1, 6));
	assert_null(circuit_table_lookup_in(t, 3, 5));
	assert_null(circuit_table_lookup_out(t, 2, 7));
	assert_null(circuit_table_lookup_out(t, 1, HIGH | 7));

	circuit_table_remove(t, c);
	assert_null(circuit_table_lookup_in(t, 1, 5));
	assert_null(circuit_table_lookup_out(t, 2, HIGH | 7));
	check_all_list(t, 0);
}

/* Ids are per link: the same id on two links is two circuits. */
static void test_table_same_id_other_link(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *a = circuit_table_add(t, 1, 5, 2, HIGH | 9, 0, 0);
	struct circuit *b = circuit_table_add(t, 3, 5, 4, HIGH | 9, 0, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(circuit_table_lookup_in(t, 1, 5), a);
	assert_ptr_equal(circuit_table_lookup_in(t, 3, 5), b);
	assert_ptr_equal(circuit_table_lookup_out(t, 2, HIGH | 9), a);
	assert_ptr_equal(circuit_table_lookup_out(t, 4, HIGH | 9), b);
	circuit_table_remove(t, a);
	assert_null(circuit_table_lookup_in(t, 1, 5));
	assert_ptr_equal(circuit_table_lookup_in(t, 3, 5), b);
	assert_ptr_equal(circuit_table_lookup_out(t, 4, HIGH | 9), b);
	check_all_list(t, 1);
}

/* A circuit that ends here (out_link 0) is reachable only from its in side. */
static void test_table_endpoint(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *e = circuit_table_add(t, 7, 3, 0, 0, 1, 0);
	struct circuit *e2 = circuit_table_add(t, 8, 3, 0, 3, 0, 0);
	assert_non_null(e);
	assert_non_null(e2);
	assert_ptr_equal(circuit_table_lookup_in(t, 7, 3), e);
	assert_ptr_equal(circuit_table_lookup_in(t, 8, 3), e2);
	assert_null(circuit_table_lookup_out(t, 0, 0));
	assert_null(circuit_table_lookup_out(t, 0, 3));
	assert_null(circuit_table_lookup_out(t, 7, 3));
	assert_int_equal(t->pending, 2);
	circuit_table_set_open(t, e);
	assert_int_equal(t->pending, 1);
	circuit_table_remove(t, e);
	circuit_table_remove(t, e2);
	assert_null(circuit_table_lookup_in(t, 7, 3));
	assert_int_equal(t->count, 0);
	assert_int_equal(t->pending, 0);
	assert_true(clients_empty(t));
}

static void test_table_pending_accounting(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *a = circuit_table_add(t, 1, 1, 2, HIGH | 1, 0, 0);
	struct circuit *b = circuit_table_add(t, 1, 2, 2, HIGH | 2, 0, 0);
	struct circuit *c = circuit_table_add(t, 1, 3, 0, 0, 0, 0);
	assert_int_equal(t->count, 3);
	assert_int_equal(t->pending, 3);

	circuit_table_set_open(t, a);
	assert_true(a->open);
	assert_int_equal(t->pending, 2);
	circuit_table_set_open(t, a); /* a second CREATED changes nothing */
	assert_int_equal(t->pending, 2);
	assert_int_equal(t->count, 3);

	circuit_table_remove(t, a); /* open: pending unchanged */
	assert_int_equal(t->count, 2);
	assert_int_equal(t->pending, 2);
	circuit_table_remove(t, b); /* pending */
	assert_int_equal(t->count, 1);
	assert_int_equal(t->pending, 1);
	circuit_table_set_open(t, c);
	assert_int_equal(t->pending, 0);
	circuit_table_remove(t, c);
	assert_int_equal(t->count, 0);
	assert_int_equal(t->pending, 0);
	check_all_list(t, 0);
	/* Non-client circuits leave no client entries behind. */
	assert_true(clients_empty(t));
}

static void test_table_client_counts(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *c[5];
	for (uint32_t i = 0; i < 5; i++) {
		c[i] = circuit_table_add(t, 10, i + 1, 20, HIGH | (i + 1), 1, 0);
		assert_non_null(c[i]);
		counts(t, 10, i + 1, i + 1);
	}
	/* A relay link's circuits are not a client's. */
	struct circuit *relay = circuit_table_add(t, 11, 1, 20, HIGH | 100, 0, 0);
	assert_non_null(relay);
	counts(t, 11, 0, 0);
	counts(t, 20, 0, 0);
	counts(t, 10, 5, 5);
	/* Another client is counted apart. */
	struct circuit *other = circuit_table_add(t, 12, 1, 20, HIGH | 200, 1, 0);
	assert_non_null(other);
	counts(t, 12, 1, 1);
	counts(t, 10, 5, 5);

	circuit_table_set_open(t, c[0]);
	circuit_table_set_open(t, c[1]);
	counts(t, 10, 5, 3);
	circuit_table_set_open(t, c[1]);
	counts(t, 10, 5, 3);
	circuit_table_set_open(t, relay);
	counts(t, 10, 5, 3);
	assert_int_equal(t->pending, 4); /* c[2..4] and other */

	circuit_table_remove(t, c[0]); /* open */
	counts(t, 10, 4, 3);
	circuit_table_remove(t, c[2]); /* pending */
	counts(t, 10, 3, 2);
	circuit_table_remove(t, relay);
	counts(t, 10, 3, 2);
	circuit_table_remove(t, other);
	counts(t, 12, 0, 0);
	circuit_table_remove(t, c[1]);
	circuit_table_remove(t, c[3]);
	counts(t, 10, 1, 1);
	circuit_table_remove(t, c[4]);
	counts(t, 10, 0, 0);
	/* Empty entries are freed, not kept at zero. */
	assert_true(clients_empty(t));
	assert_int_equal(t->count, 0);
	assert_int_equal(t->pending, 0);

	/* And come back when the client does. */
	struct circuit *again = circuit_table_add(t, 10, 1, 0, 0, 1, 0);
	assert_non_null(again);
	counts(t, 10, 1, 1);
	circuit_table_set_open(t, again);
	counts(t, 10, 1, 0);
	assert_false(clients_empty(t)); /* open circuits keep the entry */
	circuit_table_remove(t, again);
	counts(t, 10, 0, 0);
	assert_true(clients_empty(t));
}

/* Removing from the head, the middle and the tail keeps the list whole. */
static void test_table_all_list(void **state)
{
	struct circuit_table *t = *state;
	struct circuit *c[6];
	for (uint32_t i = 0; i < 6; i++)
		c[i] = circuit_table_add(t, 1, i + 1, 2, HIGH | (i + 1), 0, 0);
	check_all_list(t, 6);
	circuit_table_remove(t, c[5]); /* the newest: head */
	check_all_list(t, 5);
	circuit_table_remove(t, c[0]); /* the oldest: tail */
	check_all_list(t, 4);
	circuit_table_remove(t, c[2]); /* middle */
	check_all_list(t, 3);
	assert_ptr_equal(circuit_table_lookup_in(t, 1, 2), c[1]);
	assert_ptr_equal(circuit_table_lookup_in(t, 1, 4), c[3]);
	assert_ptr_equal(circuit_table_lookup_out(t, 2, HIGH | 5), c[4]);
}

/* Freeing a table that still holds circuits and clients leaks nothing. */
static void test_table_free_non_empty(void **state)
{
	struct circuit_table *t = *state;
	for (uint32_t i = 1; i <= 3000; i++)
		assert_non_null(
		    circuit_table_add(t, 1 + i % 40, i, i % 3 ? 50 : 0, HIGH | i, (int)(i % 2), 0));
	circuit_table_free(t);
	assert_null(t->all);
	assert_null(t->by_in);
	assert_int_equal(t->count, 0);
	assert_int_equal(circuit_table_init(t), 0); /* for teardown */
}

/* --- ids --- */

static void test_new_id_high_bit(void **state)
{
	struct circuit_table *t = *state;
	for (int i = 0; i < 20000; i++) {
		uint32_t d = circuit_table_new_id(t, 1, 1);
		uint32_t u = circuit_table_new_id(t, 1, 0);
		assert_true(d & HIGH);
		assert_int_not_equal(d, HIGH);
		assert_int_not_equal(d, 0);
		assert_false(u & HIGH);
		assert_int_not_equal(u, 0);
	}
	/* Any true value means dialed. */
	assert_true(circuit_table_new_id(t, 1, 7) & HIGH);
}

/* Ids handed out on a busy link are never ones it already uses, on
 * either side of any circuit. */
static void test_new_id_busy_link(void **state)
{
	struct circuit_table *t = *state;
	/* Link 5's ids as the in side of some circuits, the out side of others. */
	for (uint32_t i = 1; i <= 2000; i++) {
		if (i % 2)
			assert_non_null(circuit_table_add(t, 5, i, 6, HIGH | i, 0, 0));
		else
			assert_non_null(circuit_table_add(t, 7, i, 5, HIGH | i, 0, 0));
	}
	for (int i = 0; i < 5000; i++) {
		uint32_t id = circuit_table_new_id(t, 5, i % 2);
		assert_null(circuit_table_lookup_in(t, 5, id));
		assert_null(circuit_table_lookup_out(t, 5, id));
	}
	/* Each new id is usable at once: adding it collides with nothing. */
	for (int i = 0; i < 500; i++) {
		uint32_t id = circuit_table_new_id(t, 5, 1);
		assert_non_null(circuit_table_add(t, 9, (uint32_t)i + 1, 5, id, 0, 0));
		assert_int_equal(circuit_table_lookup_out(t, 5, id)->in_id, (uint32_t)i + 1);
	}
}

/* The random source scripted, so new_id's rejections are exercised for
 * certain rather than by chance: values are served in order, then the
 * real generator takes over. */
static randombytes_implementation *real_rng;
static uint32_t script[8];
static size_t script_len, script_next;

static const char *scripted_name(void)
{
	return "scripted";
}

static uint32_t scripted_random(void)
{
	if (script_next < script_len)
		return script[script_next++];
	return real_rng->random();
}

static void scripted_buf(void *const buf, const size_t size)
{
	real_rng->buf(buf, size);
}

static randombytes_implementation scripted_rng = {
    .implementation_name = scripted_name,
    .random = scripted_random,
    .buf = scripted_buf,
};

static void script_set(const uint32_t *values, size_t n)
{
	assert_true(n <= sizeof(script) / sizeof(script[0]));
	memcpy(script, values, n * sizeof(*values));
	script_len = n;
	script_next = 0;
}

static int setup_scripted(void **state)
{
	if (sodium_init() < 0 || setup(state) != 0)
		return -1;
	const char *name = randombytes_implementation_name();
	if (strcmp(name, randombytes_internal_implementation.implementation_name()) == 0)
		real_rng = &randombytes_internal_implementation;
	else if (strcmp(name, randombytes_sysrandom_implementation.implementation_name()) == 0)
		real_rng = &randombytes_sysrandom_implementation;
	else
		return -1;
	script_len = script_next = 0;
	randombytes_set_implementation(&scripted_rng);
	return 0;
}

static int teardown_scripted(void **state)
{
	randombytes_set_implementation(real_rng);
	return teardown(state);
}

static void test_new_id_skips_used_and_zero(void **state)
{
	struct circuit_table *t = *state;
	/* On link 5: 0x42 is in use as an in id (the peer chose it), 0x80000077
	 * as an out id (we chose it); 0x80000099 as an in id too. */
	assert_non_null(circuit_table_add(t, 5, 0x42, 6, HIGH | 1, 0, 0));
	assert_non_null(circuit_table_add(t, 6, 1, 5, HIGH | 0x77, 0, 0));
	assert_non_null(circuit_table_add(t, 5, HIGH | 0x99, 6, HIGH | 2, 0, 0));

	/* Dialed: 0x77 becomes 0x80000077 (taken), 0x80000000 and 0 become
	 * the bare high bit (never an id), 0x99 becomes taken 0x80000099. */
	const uint32_t dialed[] = {0x77, HIGH | 0x77, HIGH, 0, 0x99, 0x12345678};
	script_set(dialed, 6);
	assert_int_equal(circuit_table_new_id(t, 5, 1), HIGH | 0x12345678);
	assert_int_equal(script_next, 6);

	/* Not dialed: the high bit is cleared, so HIGH|0x42 is 0x42 (taken),
	 * HIGH and 0 are 0 (never an id). */
	const uint32_t undialed[] = {HIGH | 0x42, 0x42, HIGH, 0, 0x43};
	script_set(undialed, 5);
	assert_int_equal(circuit_table_new_id(t, 5, 0), 0x43);
	assert_int_equal(script_next, 5);

	/* The same ids are free on another link. */
	const uint32_t elsewhere[] = {0x42, 0x77};
	script_set(elsewhere, 2);
	assert_int_equal(circuit_table_new_id(t, 8, 0), 0x42);
	assert_int_equal(circuit_table_new_id(t, 8, 1), HIGH | 0x77);

	/* Once removed, an id is free again. */
	circuit_table_remove(t, circuit_table_lookup_in(t, 5, 0x42));
	const uint32_t freed[] = {0x42};
	script_set(freed, 1);
	assert_int_equal(circuit_table_new_id(t, 5, 0), 0x42);
}

/* --- growth --- */

#define MANY 20000

static void test_table_growth(void **state)
{
	struct circuit_table *t = *state;
	size_t initial = t->buckets;
	struct circuit **c = calloc(MANY, sizeof(*c));
	assert_non_null(c);
	unsigned client_circuits[4] = {0};
	for (uint32_t i = 0; i < MANY; i++) {
		uint32_t in_link = 1 + i % 7, out_link = i % 10 == 0 ? 0 : 100 + i % 5;
		int client = in_link <= 4; /* links 1..4 are clients */
		c[i] = circuit_table_add(t, in_link, i + 1, out_link, out_link ? HIGH | (i + 1) : 0,
					 client, i);
		assert_non_null(c[i]);
		if (client)
			client_circuits[in_link - 1]++;
	}
	assert_int_equal(t->count, MANY);
	assert_int_equal(t->pending, MANY);
	assert_true(t->buckets >= MANY);
	assert_true(t->buckets >= initial * 16);
	assert_int_equal(t->buckets & (t->buckets - 1), 0);
	check_all_list(t, MANY);
	for (uint32_t link = 1; link <= 4; link++)
		counts(t, link, client_circuits[link - 1], client_circuits[link - 1]);

	for (uint32_t i = 0; i < MANY; i++) {
		assert_ptr_equal(circuit_table_lookup_in(t, c[i]->in_link, i + 1), c[i]);
		if (c[i]->out_link)
			assert_ptr_equal(
			    circuit_table_lookup_out(t, c[i]->out_link, HIGH | (i + 1)), c[i]);
		else
			assert_null(circuit_table_lookup_out(t, 0, i + 1));
	}

	/* Open every third; pending follows, per client too. */
	size_t opened = 0;
	unsigned client_open[4] = {0};
	for (uint32_t i = 0; i < MANY; i += 3) {
		circuit_table_set_open(t, c[i]);
		opened++;
		if (c[i]->in_client)
			client_open[c[i]->in_link - 1]++;
	}
	assert_int_equal(t->pending, MANY - opened);
	for (uint32_t link = 1; link <= 4; link++)
		counts(t, link, client_circuits[link - 1],
		       client_circuits[link - 1] - client_open[link - 1]);

	/* Remove the odd ones; the even ones stay findable, the odd ones gone. */
	for (uint32_t i = 1; i < MANY; i += 2) {
		uint32_t in_link = c[i]->in_link, out_link = c[i]->out_link;
		circuit_table_remove(t, c[i]);
		c[i] = NULL;
		assert_null(circuit_table_lookup_in(t, in_link, i + 1));
		if (out_link)
			assert_null(circuit_table_lookup_out(t, out_link, HIGH | (i + 1)));
	}
	assert_int_equal(t->count, MANY / 2);
	check_all_list(t, MANY / 2);
	size_t pending = 0;
	for (uint32_t i = 0; i < MANY; i += 2) {
		assert_ptr_equal(circuit_table_lookup_in(t, c[i]->in_link, i + 1), c[i]);
		if (c[i]->out_link)
			assert_ptr_equal(
			    circuit_table_lookup_out(t, c[i]->out_link, HIGH | (i + 1)), c[i]);
		pending += !c[i]->open;
	}
	assert_int_equal(t->pending, pending);

	/* Growth is possible again after shrinking the count. */
	for (uint32_t i = 1; i < MANY; i += 2) {
		c[i] = circuit_table_add(t, 200, i + 1, 201, HIGH | (i + 1), 0, 0);
		assert_non_null(c[i]);
	}
	for (uint32_t i = 0; i < MANY; i++)
		assert_ptr_equal(circuit_table_lookup_in(t, c[i]->in_link, i + 1), c[i]);

	/* Remove everything, newest first. */
	for (uint32_t i = MANY; i-- > 0;)
		circuit_table_remove(t, c[i]);
	assert_int_equal(t->count, 0);
	assert_int_equal(t->pending, 0);
	assert_null(t->all);
	assert_true(clients_empty(t));
	for (size_t b = 0; b < t->buckets; b++) {
		assert_null(t->by_in[b]);
		assert_null(t->by_out[b]);
	}
	free(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest tests[] = {
    T(test_table_empty),
    T(test_table_lookup_both_sides),
    T(test_table_same_id_other_link),
    T(test_table_endpoint),
    T(test_table_pending_accounting),
    T(test_table_client_counts),
    T(test_table_all_list),
    T(test_table_free_non_empty),
    T(test_new_id_high_bit),
    T(test_new_id_busy_link),
    cmocka_unit_test_setup_teardown(test_new_id_skips_used_and_zero, setup_scripted,
				    teardown_scripted),
    T(test_table_growth),
};

int test_circuit_table_suite(void)
{
	return cmocka_run_group_tests_name("circuit_table", tests, NULL, NULL);
}

int test_circuit_table_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
