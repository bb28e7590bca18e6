/* topo: tree building and the next-hop rule (DESIGN.md §3).
 *
 * The routing check is exhaustive: for every tree of depth 1-5 and fan-out
 * 1-5, and every ordered pair of nodes, the walk along topo_next_hop must
 * reach the destination over links topo_neighbours lists, in exactly the
 * up-across-down distance an independent model of the tree computes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/suites.h"
#include "topo/topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANC_MAX 16 /* deepest tree a model handles */

/* What the tests believe about a tree, computed from parent indices alone
 * (never from struct topo), so routing is checked against a second opinion. */
struct model {
	int n;
	int max_children;
	int *parent;
	int *depth;
	int *ring_pos;	 /* place among the parent's children, in directory order */
	int *n_children; /* size of the ring this node's children form */
	int *anc;	 /* anc[x * ANC_MAX + d]: x's ancestor at depth d */
	int *kid_off;	 /* children of x: kids[kid_off[x] .. kid_off[x + 1]) */
	int *kids;
};

static void model_free(struct model *m)
{
	free(m->parent);
	free(m->depth);
	free(m->ring_pos);
	free(m->n_children);
	free(m->anc);
	free(m->kid_off);
	free(m->kids);
	memset(m, 0, sizeof(*m));
}

/* Takes ownership of parent[] (n entries, -1 for the root). */
static void model_init(struct model *m, int *parent, int n)
{
	m->n = n;
	m->parent = parent;
	m->depth = calloc((size_t)n, sizeof(int));
	m->ring_pos = calloc((size_t)n, sizeof(int));
	m->n_children = calloc((size_t)n, sizeof(int));
	m->anc = calloc((size_t)n * ANC_MAX, sizeof(int));
	assert_non_null(m->depth);
	assert_non_null(m->ring_pos);
	assert_non_null(m->n_children);
	assert_non_null(m->anc);
	m->max_children = 0;
	for (int x = 0; x < n; x++) {
		int p = parent[x];
		if (p >= 0) {
			m->ring_pos[x] = m->n_children[p]++;
			if (m->n_children[p] > m->max_children)
				m->max_children = m->n_children[p];
		}
		int d = 0;
		for (int y = p; y >= 0; y = parent[y])
			d++;
		assert_true(d < ANC_MAX);
		m->depth[x] = d;
		int y = x;
		for (int k = d; k >= 0; k--) {
			m->anc[x * ANC_MAX + k] = y;
			y = parent[y];
		}
	}
	m->kid_off = calloc((size_t)n + 1, sizeof(int));
	m->kids = calloc((size_t)n, sizeof(int));
	assert_non_null(m->kid_off);
	assert_non_null(m->kids);
	for (int x = 0; x < n; x++)
		m->kid_off[x + 1] = m->kid_off[x] + m->n_children[x];
	for (int x = 0; x < n; x++)
		if (parent[x] >= 0)
			m->kids[m->kid_off[parent[x]] + m->ring_pos[x]] = x;
}

/* The up-across-down distance: up to the child of the lowest common
 * ancestor on src's side, the shorter way around that ring, then down. */
static int model_distance(const struct model *m, int src, int dst)
{
	const int *as = &m->anc[src * ANC_MAX], *ad = &m->anc[dst * ANC_MAX];
	int ds = m->depth[src], dd = m->depth[dst];
	int shallow = ds < dd ? ds : dd;
	int l = 0;
	while (l + 1 <= shallow && as[l + 1] == ad[l + 1])
		l++;
	if (l == ds || l == dd)
		return (ds - l) + (dd - l); /* one is the other's ancestor */
	int a = as[l + 1], b = ad[l + 1];
	int k = m->n_children[as[l]];
	int forward = (m->ring_pos[b] - m->ring_pos[a] + k) % k;
	int ring = forward < k - forward ? forward : k - forward;
	return (ds - l - 1) + ring + (dd - l - 1);
}

/* The looser bound from the design note: up + down + half the ring. */
static int model_bound(const struct model *m, int src, int dst, int fanout)
{
	const int *as = &m->anc[src * ANC_MAX], *ad = &m->anc[dst * ANC_MAX];
	int ds = m->depth[src], dd = m->depth[dst];
	int shallow = ds < dd ? ds : dd;
	int l = 0;
	while (l + 1 <= shallow && as[l + 1] == ad[l + 1])
		l++;
	int crosses = l != ds && l != dd;
	return (ds - l) + (dd - l) + (crosses ? fanout / 2 : 0);
}

/* Directory entries for a parent array: ids "n<i>", loopback addresses. */
static struct topo_entry *entries_for(const int *parent, int n)
{
	struct topo_entry *e = calloc((size_t)n, sizeof(*e));
	assert_non_null(e);
	for (int i = 0; i < n; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "n%d", i);
		snprintf(e[i].address, sizeof(e[i].address), "127.0.0.1:%d", 1024 + i);
		if (parent[i] >= 0)
			snprintf(e[i].parent, sizeof(e[i].parent), "n%d", parent[i]);
		e[i].keys.sign[0] = (uint8_t)i;
		e[i].keys.kx[0] = (uint8_t)(i >> 8);
	}
	return e;
}

static struct topo *build_or_fail(const struct topo_entry *e, int n)
{
	struct topo *t = NULL;
	char err[256] = "";
	int rc = topo_build(e, n, 1, &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("topo_build: %d %s", rc, err);
	assert_non_null(t);
	return t;
}

/* A complete tree of the given depth and fan-out in breadth-first order:
 * the children of i are f*i+1 .. f*i+f. */
static int *complete_tree(int depth, int fanout, int *n_out)
{
	int n = 0, level = 1;
	for (int d = 0; d <= depth; d++) {
		n += level;
		level *= fanout;
	}
	int *parent = malloc(sizeof(int) * (size_t)n);
	assert_non_null(parent);
	parent[0] = -1;
	for (int i = 1; i < n; i++)
		parent[i] = (i - 1) / fanout;
	*n_out = n;
	return parent;
}

/* Renumbers a tree with a fixed-seed shuffle, so directory order is no
 * longer breadth-first and children often come before their parents. */
static int *shuffled(const int *parent, int n, unsigned seed)
{
	int *perm = malloc(sizeof(int) * (size_t)n);
	int *out = malloc(sizeof(int) * (size_t)n);
	assert_non_null(perm);
	assert_non_null(out);
	for (int i = 0; i < n; i++)
		perm[i] = i;
	uint32_t s = seed;
	for (int i = n - 1; i > 0; i--) {
		s = s * 1664525u + 1013904223u;
		int j = (int)((s >> 8) % (uint32_t)(i + 1));
		int tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (int i = 0; i < n; i++)
		out[perm[i]] = parent[i] < 0 ? -1 : perm[parent[i]];
	free(perm);
	return out;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* topo_neighbours must be exactly parent, ring neighbours (each once) and
 * children; writes the list into nb (max entries) and returns its length. */
static int check_neighbours(const struct topo *t, const struct model *m, int x, int *nb, int max)
{
	int got = topo_neighbours(t, x, nb, max);
	int *want = malloc(sizeof(int) * (size_t)(m->max_children + 3));
	int *sorted = malloc(sizeof(int) * (size_t)(got + 1));
	assert_non_null(want);
	assert_non_null(sorted);
	int n = 0, p = m->parent[x];
	if (p >= 0) {
		want[n++] = p;
		int k = m->n_children[p];
		const int *ring = &m->kids[m->kid_off[p]];
		if (k >= 2)
			want[n++] = ring[(m->ring_pos[x] + 1) % k];
		if (k >= 3)
			want[n++] = ring[(m->ring_pos[x] + k - 1) % k];
	}
	for (int i = m->kid_off[x]; i < m->kid_off[x + 1]; i++)
		want[n++] = m->kids[i];
	memcpy(sorted, nb, sizeof(int) * (size_t)got);
	qsort(sorted, (size_t)got, sizeof(int), cmp_int);
	qsort(want, (size_t)n, sizeof(int), cmp_int);
	if (got != n || memcmp(sorted, want, sizeof(int) * (size_t)n) != 0)
		fail_msg("node n%d: topo_neighbours gave %d entries, the model %d", x, got, n);
	free(sorted);
	free(want);
	return got;
}

/* The directory-derived fields of struct topo agree with the model. */
static void check_shape(const struct topo *t, const struct model *m)
{
	assert_int_equal(t->n, m->n);
	for (int x = 0; x < m->n; x++) {
		assert_int_equal(t->nodes[x].parent, m->parent[x]);
		assert_int_equal(t->nodes[x].depth, m->depth[x]);
		assert_int_equal(t->nodes[x].n_children, m->n_children[x]);
		if (m->parent[x] >= 0)
			assert_int_equal(t->nodes[x].ring_position, m->ring_pos[x]);
		else
			assert_int_equal(t->root, x);
	}
}

/* Neighbour lists of every node, laid out nb[x * stride ...], and a check
 * that exactly one side of every link dials it (and the right side). */
static int *neighbour_table(const struct topo *t, const struct model *m, int stride, int *counts)
{
	int *nb = malloc(sizeof(int) * (size_t)m->n * (size_t)stride);
	assert_non_null(nb);
	for (int x = 0; x < m->n; x++)
		counts[x] = check_neighbours(t, m, x, &nb[x * stride], stride);
	for (int x = 0; x < m->n; x++) {
		for (int i = 0; i < counts[x]; i++) {
			int y = nb[x * stride + i];
			int xy = topo_dials(t, x, y), yx = topo_dials(t, y, x);
			if (xy + yx != 1)
				fail_msg("link n%d-n%d: dials %d and %d", x, y, xy, yx);
			int want = m->parent[x] == y ? 1 : m->parent[y] == x ? 0 : x < y;
			if (xy != want)
				fail_msg("link n%d-n%d: the wrong side dials", x, y);
		}
	}
	return nb;
}

/* The exhaustive walk. For each destination the next hop of every node is
 * asked once (topo_next_hop is a pure function of the three arguments) and
 * checked to be a neighbour; then every source walks that table. */
static void check_all_pairs(const struct topo *t, const struct model *m, int fanout)
{
	int n = m->n;
	int stride = m->max_children + 3;
	int *counts = malloc(sizeof(int) * (size_t)n);
	int *hop = malloc(sizeof(int) * (size_t)n);
	assert_non_null(counts);
	assert_non_null(hop);
	int *nb = neighbour_table(t, m, stride, counts);
	for (int dst = 0; dst < n; dst++) {
		for (int x = 0; x < n; x++) {
			int h = topo_next_hop(t, x, dst);
			hop[x] = h;
			if (x == dst) {
				if (h != x)
					fail_msg("next_hop(n%d, n%d) = %d, not itself", x, x, h);
				continue;
			}
			const int *list = &nb[x * stride];
			int ok = 0;
			for (int i = 0; i < counts[x] && !ok; i++)
				ok = list[i] == h;
			if (!ok)
				fail_msg("next_hop(n%d -> n%d) = %d is not a neighbour", x, dst, h);
		}
		for (int src = 0; src < n; src++) {
			int x = src, steps = 0;
			while (x != dst) {
				x = hop[x];
				if (++steps > n)
					fail_msg("n%d -> n%d: loops", src, dst);
			}
			int want = model_distance(m, src, dst);
			if (steps != want)
				fail_msg("n%d -> n%d: %d hops, the up-across-down path is %d", src,
					 dst, steps, want);
			if (steps > model_bound(m, src, dst, fanout))
				fail_msg("n%d -> n%d: %d hops exceed the bound", src, dst, steps);
		}
	}
	free(nb);
	free(counts);
	free(hop);
}

/* Builds, checks the shape, walks all pairs; consumes parent[]. */
static void check_tree(int *parent, int n, int fanout)
{
	struct model m;
	model_init(&m, parent, n);
	struct topo_entry *e = entries_for(parent, n);
	struct topo *t = build_or_fail(e, n);
	check_shape(t, &m);
	check_all_pairs(t, &m, fanout);
	topo_free(t);
	free(e);
	model_free(&m);
}

static void check_complete_tree(int depth, int fanout)
{
	int n;
	int *parent = complete_tree(depth, fanout, &n);
	check_tree(parent, n, fanout);
}

/* One test per tree shape, so a failure names the shape. */
#define SHAPE_TEST(d, f)                                                                           \
	static void test_routing_all_pairs_depth##d##_fanout##f(void **state)                      \
	{                                                                                          \
		(void)state;                                                                       \
		check_complete_tree(d, f);                                                         \
	}
#define SHAPE_TESTS(d)                                                                             \
	SHAPE_TEST(d, 1) SHAPE_TEST(d, 2) SHAPE_TEST(d, 3) SHAPE_TEST(d, 4) SHAPE_TEST(d, 5)
SHAPE_TESTS(1)
SHAPE_TESTS(2)
SHAPE_TESTS(3)
SHAPE_TESTS(4)
SHAPE_TESTS(5)

static void test_tree_sizes(void **state)
{
	(void)state;
	int n;
	free(complete_tree(2, 3, &n));
	assert_int_equal(n, 13);
	free(complete_tree(5, 5, &n));
	assert_int_equal(n, 3906);
	free(complete_tree(5, 1, &n));
	assert_int_equal(n, 6);
}

static void test_routing_shuffled_directory_order(void **state)
{
	(void)state;
	static const int shapes[][2] = {{3, 4}, {2, 5}, {4, 3}, {4, 2}};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		int n;
		int *bfs = complete_tree(shapes[i][0], shapes[i][1], &n);
		int *parent = shuffled(bfs, n, 12345u + (unsigned)i);
		free(bfs);
		check_tree(parent, n, shapes[i][1]);
	}
}

/* A hand-built tree mixing fan-outs 1, 2 and 4, listed in an awkward order
 * (children before parents, siblings interleaved with cousins). */
static const char *const uneven[][2] = {
    {"c2a1", "c2a"}, {"a", "root"}, {"b1a", "b1"}, {"c2a", "c2"},   {"b", "root"}, {"c1", "c"},
    {"root", ""},    {"b1b", "b1"}, {"c", "root"}, {"c2", "c"},	    {"a1", "a"},   {"b1", "b"},
    {"c3", "c"},     {"b1c", "b1"}, {"d", "root"}, {"a1x", "a1"},   {"b2", "b"},   {"c4", "c"},
    {"c3a", "c3"},   {"b1d", "b1"}, {"a1y", "a1"}, {"c2a2", "c2a"}, {"c3b", "c3"}, {"c3c", "c3"},
    {"c3d", "c3"},   {"e", "d"},    {"e1", "e"},   {"e2", "e"},	    {"e11", "e1"}, {"e111", "e11"},
};
#define UNEVEN_N ((int)(sizeof(uneven) / sizeof(uneven[0])))

static int uneven_index(const char *id)
{
	for (int i = 0; i < UNEVEN_N; i++)
		if (strcmp(uneven[i][0], id) == 0)
			return i;
	return -1;
}

static void test_routing_uneven_tree(void **state)
{
	(void)state;
	int *parent = malloc(sizeof(int) * UNEVEN_N);
	assert_non_null(parent);
	for (int i = 0; i < UNEVEN_N; i++)
		parent[i] = uneven[i][1][0] ? uneven_index(uneven[i][1]) : -1;
	struct model m;
	model_init(&m, parent, UNEVEN_N);
	struct topo_entry *e = calloc(UNEVEN_N, sizeof(*e));
	assert_non_null(e);
	for (int i = 0; i < UNEVEN_N; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "%s", uneven[i][0]);
		snprintf(e[i].parent, sizeof(e[i].parent), "%s", uneven[i][1]);
		snprintf(e[i].address, sizeof(e[i].address), "[::1]:%d", 2000 + i);
	}
	struct topo *t = build_or_fail(e, UNEVEN_N);
	check_shape(t, &m);
	check_all_pairs(t, &m, m.max_children);
	/* Spot checks the model cannot get wrong with the code. */
	int c3a = topo_find(t, "c3a"), c3d = topo_find(t, "c3d"), c3b = topo_find(t, "c3b");
	assert_int_equal(topo_next_hop(t, c3a, c3d), c3d); /* ring of 4 wraps around */
	assert_int_equal(topo_next_hop(t, c3a, c3b), c3b);
	int e111 = topo_find(t, "e111"), a1x = topo_find(t, "a1x");
	assert_int_equal(topo_next_hop(t, e111, a1x), topo_find(t, "e11"));
	assert_int_equal(t->nodes[e111].depth, 5);
	assert_int_equal(topo_find(t, "nope"), -1);
	topo_free(t);
	free(e);
	model_free(&m);
}

/* A root with k leaf children: the simplest rings. */
static struct topo *star(int k)
{
	int *parent = malloc(sizeof(int) * (size_t)(k + 1));
	assert_non_null(parent);
	parent[0] = -1;
	for (int i = 1; i <= k; i++)
		parent[i] = 0;
	struct topo_entry *e = entries_for(parent, k + 1);
	struct topo *t = build_or_fail(e, k + 1);
	free(e);
	free(parent);
	return t;
}

static void test_neighbours_ring_of_one(void **state)
{
	(void)state;
	struct topo *t = star(1);
	int nb[8];
	assert_int_equal(topo_neighbours(t, 1, nb, 8), 1);
	assert_int_equal(nb[0], 0);
	assert_int_equal(topo_neighbours(t, 0, nb, 8), 1);
	assert_int_equal(nb[0], 1);
	topo_free(t);
}

static void test_neighbours_ring_of_two_is_one_link(void **state)
{
	(void)state;
	struct topo *t = star(2);
	int nb[8];
	/* Forward and backward neighbour are the same node: one link, not two. */
	assert_int_equal(topo_neighbours(t, 1, nb, 8), 2);
	qsort(nb, 2, sizeof(int), cmp_int);
	assert_int_equal(nb[0], 0);
	assert_int_equal(nb[1], 2);
	assert_int_equal(topo_neighbours(t, 2, nb, 8), 2);
	qsort(nb, 2, sizeof(int), cmp_int);
	assert_int_equal(nb[0], 0);
	assert_int_equal(nb[1], 1);
	assert_int_equal(topo_dials(t, 1, 2), 1);
	assert_int_equal(topo_dials(t, 2, 1), 0);
	topo_free(t);
}

static void test_neighbours_ring_of_three(void **state)
{
	(void)state;
	struct topo *t = star(3);
	int nb[8];
	for (int x = 1; x <= 3; x++) {
		assert_int_equal(topo_neighbours(t, x, nb, 8), 3);
		qsort(nb, 3, sizeof(int), cmp_int);
		assert_int_equal(nb[0], 0);
		/* The two other siblings, whatever x is. */
		assert_int_equal(nb[1] + nb[2], 6 - x);
		assert_true(nb[1] != x && nb[2] != x);
	}
	assert_int_equal(topo_neighbours(t, 0, nb, 8), 3);
	/* First and last of the ring: the earlier in directory order dials. */
	assert_int_equal(topo_dials(t, 1, 3), 1);
	assert_int_equal(topo_dials(t, 3, 1), 0);
	assert_int_equal(topo_dials(t, 1, 0), 1);
	assert_int_equal(topo_dials(t, 0, 1), 0);
	topo_free(t);
}

static void test_neighbours_respects_max(void **state)
{
	(void)state;
	struct topo *t = star(5);
	int nb[8] = {-7, -7, -7, -7, -7, -7, -7, -7};
	assert_int_equal(topo_neighbours(t, 0, nb, 2), 2);
	assert_int_equal(nb[2], -7);
	nb[0] = -7;
	assert_int_equal(topo_neighbours(t, 3, nb, 0), 0);
	assert_int_equal(nb[0], -7);
	topo_free(t);
}

static void test_ring_tie_goes_forward(void **state)
{
	(void)state;
	struct topo *t = star(4);
	/* n1 -> n3 is two hops either way; ties go forward (toward n2), and
	 * from n2 the forward way is then strictly shorter. */
	assert_int_equal(topo_next_hop(t, 1, 3), 2);
	assert_int_equal(topo_next_hop(t, 2, 3), 3);
	assert_int_equal(topo_next_hop(t, 3, 1), 4);
	assert_int_equal(topo_next_hop(t, 4, 1), 1);
	assert_int_equal(topo_next_hop(t, 4, 2), 1);
	topo_free(t);
}

static void test_next_hop_self_and_out_of_range(void **state)
{
	(void)state;
	int n;
	int *parent = complete_tree(2, 3, &n);
	struct topo_entry *e = entries_for(parent, n);
	struct topo *t = build_or_fail(e, n);
	for (int x = 0; x < n; x++)
		assert_int_equal(topo_next_hop(t, x, x), x);
	assert_int_equal(topo_next_hop(t, -1, 0), -1);
	assert_int_equal(topo_next_hop(t, 0, -1), -1);
	assert_int_equal(topo_next_hop(t, n, 0), -1);
	assert_int_equal(topo_next_hop(t, 0, n), -1);
	assert_int_equal(topo_next_hop(t, 1 << 30, 1 << 30), -1);
	topo_free(t);
	free(e);
	free(parent);
}

static void test_single_node_tree(void **state)
{
	(void)state;
	struct topo *t = star(0);
	int nb[4];
	assert_int_equal(t->n, 1);
	assert_int_equal(t->root, 0);
	assert_int_equal(topo_neighbours(t, 0, nb, 4), 0);
	assert_int_equal(topo_next_hop(t, 0, 0), 0);
	topo_free(t);
}

static void test_in_subtree(void **state)
{
	(void)state;
	int n;
	int *parent = complete_tree(3, 2, &n);
	struct model m;
	model_init(&m, parent, n);
	struct topo_entry *e = entries_for(parent, n);
	struct topo *t = build_or_fail(e, n);
	for (int r = 0; r < n; r++)
		for (int x = 0; x < n; x++) {
			int want = m.depth[x] >= m.depth[r] && m.anc[x * ANC_MAX + m.depth[r]] == r;
			assert_int_equal(topo_in_subtree(t, r, x), want);
		}
	topo_free(t);
	free(e);
	model_free(&m);
}

static void test_roles(void **state)
{
	(void)state;
	unsigned role = 0;
	assert_int_equal(topo_role_parse("lighthouse", &role), 0);
	assert_int_equal(role, TOPO_ROLE_LIGHTHOUSE);
	assert_int_equal(topo_role_parse("iddir", &role), 0);
	assert_int_equal(role, TOPO_ROLE_IDDIR);
	assert_int_not_equal(topo_role_parse("router", &role), 0);
	assert_int_not_equal(topo_role_parse("Portal", &role), 0);
	char text[64];
	topo_roles_text(TOPO_ROLE_PORTAL | TOPO_ROLE_LOOKUP, text, sizeof(text));
	assert_string_equal(text, "portal,lookup");
	topo_roles_text(0, text, sizeof(text));
	assert_string_equal(text, "router");
}

/* A buffer too small for every role keeps only whole names. */
static void test_roles_text_truncates_at_a_name(void **state)
{
	(void)state;
	char text[10];
	topo_roles_text(TOPO_ROLE_PORTAL | TOPO_ROLE_LIGHTHOUSE, text, sizeof(text));
	assert_string_equal(text, "portal");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tree_sizes),
    cmocka_unit_test(test_routing_all_pairs_depth1_fanout1),
    cmocka_unit_test(test_routing_all_pairs_depth1_fanout2),
    cmocka_unit_test(test_routing_all_pairs_depth1_fanout3),
    cmocka_unit_test(test_routing_all_pairs_depth1_fanout4),
    cmocka_unit_test(test_routing_all_pairs_depth1_fanout5),
    cmocka_unit_test(test_routing_all_pairs_depth2_fanout1),
    cmocka_unit_test(test_routing_all_pairs_depth2_fanout2),
    cmocka_unit_test(test_routing_all_pairs_depth2_fanout3),
    cmocka_unit_test(test_routing_all_pairs_depth2_fanout4),
    cmocka_unit_test(test_routing_all_pairs_depth2_fanout5),
    cmocka_unit_test(test_routing_all_pairs_depth3_fanout1),
    cmocka_unit_test(test_routing_all_pairs_depth3_fanout2),
    cmocka_unit_test(test_routing_all_pairs_depth3_fanout3),
    cmocka_unit_test(test_routing_all_pairs_depth3_fanout4),
    cmocka_unit_test(test_routing_all_pairs_depth3_fanout5),
    cmocka_unit_test(test_routing_all_pairs_depth4_fanout1),
    cmocka_unit_test(test_routing_all_pairs_depth4_fanout2),
    cmocka_unit_test(test_routing_all_pairs_depth4_fanout3),
    cmocka_unit_test(test_routing_all_pairs_depth4_fanout4),
    cmocka_unit_test(test_routing_all_pairs_depth4_fanout5),
    cmocka_unit_test(test_routing_all_pairs_depth5_fanout1),
    cmocka_unit_test(test_routing_all_pairs_depth5_fanout2),
    cmocka_unit_test(test_routing_all_pairs_depth5_fanout3),
    cmocka_unit_test(test_routing_all_pairs_depth5_fanout4),
    cmocka_unit_test(test_routing_all_pairs_depth5_fanout5),
    cmocka_unit_test(test_routing_shuffled_directory_order),
    cmocka_unit_test(test_routing_uneven_tree),
    cmocka_unit_test(test_neighbours_ring_of_one),
    cmocka_unit_test(test_neighbours_ring_of_two_is_one_link),
    cmocka_unit_test(test_neighbours_ring_of_three),
    cmocka_unit_test(test_neighbours_respects_max),
    cmocka_unit_test(test_ring_tie_goes_forward),
    cmocka_unit_test(test_next_hop_self_and_out_of_range),
    cmocka_unit_test(test_single_node_tree),
    cmocka_unit_test(test_in_subtree),
    cmocka_unit_test(test_roles),
    cmocka_unit_test(test_roles_text_truncates_at_a_name),
};

int test_topo_suite(void)
{
	return cmocka_run_group_tests_name("topo", tests, NULL, NULL);
}

int test_topo_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
