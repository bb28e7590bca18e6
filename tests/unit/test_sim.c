/* sim: the anonymity metric on worlds small enough to work out by hand
 * (docs/simulator.md §2), the paper's formula, shapes and policies.
 *
 * The hand world, "2x2": n0 the root; lighthouses n1, n2 below it; portals
 * n3, n4 under n1 and n5, n6 under n2. Users (portal: lighthouse x count):
 *   n3: n1 x2     n4: n1 x1, n2 x1     n5: n2 x2     n6: n1 x1
 * Circuits to n1: n3->n1, n4->n1, n5->n2->n1, n6->n2->n1 (across the ring
 * at n2, as the nodes route). Users are numbered in file order: u0, u1 at
 * n3 (n1); u2 at n4 (n1); u3 at n4 (n2); u4, u5 at n5 (n2); u6 at n6 (n1). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* H of a distribution given as (count, probability) pairs. */
static double entropy_of(int pairs, ...)
{
	va_list ap;
	double h = 0, total = 0;
	va_start(ap, pairs);
	for (int i = 0; i < pairs; i++) {
		int count = va_arg(ap, int);
		double p = va_arg(ap, double);
		h -= count * p * log2(p);
		total += count * p;
	}
	va_end(ap);
	assert_true(fabs(total - 1) < EPS); /* the test's own distribution sums to 1 */
	return h;
}

struct world_fixture {
	char dir[64];
	struct topo *topo;
	struct sim_world *world;
	uint8_t compromised[64];
};

static void shape_topo(const char *shape_text, const char *lighthouses, struct topo **t)
{
	struct sim_shape shape = {.portals = {.kind = SIM_PLACE_LEAVES}};
	char err[256];
	assert_int_equal(sim_shape_parse(shape_text, &shape), 0);
	assert_int_equal(sim_role_place_parse(lighthouses, &shape.lighthouses), 0);
	int rc = sim_shape_build(&shape, t, err, sizeof(err));
	if (rc < 0)
		fail_msg("%s", err);
}

static void world_with_population(struct world_fixture *f, const char *shape,
				  const char *lighthouses, const char *population)
{
	char path[256], err[256];
	memset(f, 0, sizeof(*f));
	assert_int_equal(helper_tmpdir(f->dir, sizeof(f->dir)), 0);
	shape_topo(shape, lighthouses, &f->topo);
	assert_int_equal(sim_world_new(f->topo, SIM_POLICY_TREE, &f->world, err, sizeof(err)), 0);
	assert_int_equal(helper_write(f->dir, "population.ini", population, strlen(population),
				      0600, path, sizeof(path)),
			 0);
	int rc = sim_population_load(f->world, path, 1000, err, sizeof(err));
	if (rc < 0)
		fail_msg("%s", err);
}

static void world_done(struct world_fixture *f)
{
	sim_world_free(f->world);
	topo_free(f->topo);
	helper_rmdir(f->dir);
}

static const char hand_population[] = "[n3]\nn1 = 2\n[n4]\nn1 = 1\nn2 = 1\n"
				      "[n5]\nn2 = 2\n[n6]\nn1 = 1\n";

static void hand_world(struct world_fixture *f, const char *colluders)
{
	world_with_population(f, "2x2", "depth:1", hand_population);
	char copy[64];
	snprintf(copy, sizeof(copy), "%s", colluders);
	for (char *id = strtok(copy, ","); id; id = strtok(NULL, ","))
		f->compromised[topo_find(f->topo, id)] = 1;
}

static double entropy_for(struct world_fixture *f, enum sim_timing timing, long user)
{
	struct sim_target r;
	assert_int_equal(sim_target_entropy(f->world, f->compromised, timing, user, &r), 0);
	return r.entropy;
}

static void test_hand_world_routes(void **state)
{
	struct world_fixture f;
	hand_world(&f, "");
	int n1 = topo_find(f.topo, "n1");
	assert_int_equal(sim_world_users(f.world), 7);
	assert_int_equal(sim_world_hops(f.world, topo_find(f.topo, "n3"), n1), 1);
	assert_int_equal(sim_world_hops(f.world, topo_find(f.topo, "n6"), n1), 2);
	int portal, lighthouse;
	sim_world_user(f.world, 6, &portal, &lighthouse);
	assert_string_equal(f.topo->nodes[portal].id, "n6");
	assert_string_equal(f.topo->nodes[lighthouse].id, "n1");
	world_done(&f);
}

/* Nobody colludes: every user is as likely as any other. */
static void test_no_adversary_is_full_anonymity(void **state)
{
	struct world_fixture f;
	hand_world(&f, "");
	for (long u = 0; u < 7; u++)
		assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, u) - log2(7)) < EPS);
	world_done(&f);
}

/* n2 colludes. The target (u6, at n6, homed on n1) is one of n1's 4
 * circuits; n2 saw exactly one of them pass, and saw it come from n6,
 * which has one user; the other 3 came straight from n3 or n4 (4 users).
 * n5's users are out: n2 saw no circuit for n1 come from n5. */
static void test_colluding_router_splits_the_set(void **state)
{
	struct world_fixture f;
	hand_world(&f, "n2");
	double expect = entropy_of(2, 1, 1.0 / 4, 4, 3.0 / 16);
	assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, 6) - expect) < EPS);
	/* The same for a target that came straight from n3. */
	assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, 0) - expect) < EPS);
	world_done(&f);
}

/* n3 (a portal) colludes: it knows its 2 users go to n1, so each is the
 * target with 1/4; the other 2 circuits are 2 of the 5 users of n4-n6. */
static void test_colluding_portal_without_timing(void **state)
{
	struct world_fixture f;
	hand_world(&f, "n3");
	double expect = entropy_of(2, 2, 1.0 / 4, 5, 1.0 / 10);
	assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, 0) - expect) < EPS);
	assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, 2) - expect) < EPS);
	world_done(&f);
}

/* The adversary holds the target's portal and calls the nickname: the one
 * circuit that carries the call is the target's. For a target elsewhere
 * it learns the target is none of n3's users: 5 remain. */
static void test_target_portal_with_active_timing_links(void **state)
{
	struct world_fixture f;
	hand_world(&f, "n3");
	struct sim_target r;
	assert_int_equal(sim_target_entropy(f.world, f.compromised, SIM_TIMING_ACTIVE, 0, &r), 0);
	assert_true(r.entropy == 0);
	assert_int_equal(r.full_linkage, 1);
	assert_true(fabs(entropy_for(&f, SIM_TIMING_ACTIVE, 2) - log2(5)) < EPS);
	/* Passive timing needs the lighthouse: n1 is honest, nothing changes. */
	assert_true(fabs(entropy_for(&f, SIM_TIMING_PASSIVE, 0) -
			 entropy_for(&f, SIM_TIMING_NONE, 0)) < EPS);
	world_done(&f);
}

/* Every hop of u6's circuit (n6 -> n2 -> n1) colludes: full linkage. */
static void test_path_inside_the_adversary_is_linked(void **state)
{
	struct world_fixture f;
	hand_world(&f, "n6,n2,n1");
	struct sim_target r;
	assert_int_equal(sim_target_entropy(f.world, f.compromised, SIM_TIMING_NONE, 6, &r), 0);
	assert_true(r.entropy == 0);
	assert_int_equal(r.full_linkage, 1);
	world_done(&f);
}

/* The lighthouse and the router collude, the portal does not: the walk back
 * stops at the portal, whose users are the set. n3 has 2 (H = 1); n6 has
 * only u6 (H = 0: a portal of one user hides nobody). */
static void test_walk_back_stops_at_honest_portal(void **state)
{
	struct world_fixture f;
	hand_world(&f, "n1,n2");
	assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, 0) - 1) < EPS);
	assert_true(entropy_for(&f, SIM_TIMING_NONE, 6) == 0);
	world_done(&f);
}

/* A 1-node-wide chain n0 - n1 (lighthouse) - n2 - n3 (the one portal):
 * every user is at the same portal, so no set of colluders short of the
 * portal with timing can tell them apart. */
static void test_chain(void **state)
{
	struct world_fixture f;
	world_with_population(&f, "1,1,1", "depth:1", "[n3]\nn1 = 8\n");
	static const char *const sets[] = {"", "n2", "n1", "n1,n2", "n3", "n0,n1,n2"};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		memset(f.compromised, 0, sizeof(f.compromised));
		char copy[32];
		snprintf(copy, sizeof(copy), "%s", sets[i]);
		for (char *id = strtok(copy, ","); id; id = strtok(NULL, ","))
			f.compromised[topo_find(f.topo, id)] = 1;
		for (long u = 0; u < 8; u++)
			assert_true(fabs(entropy_for(&f, SIM_TIMING_NONE, u) - 3) < EPS);
	}
	memset(f.compromised, 0, sizeof(f.compromised));
	f.compromised[topo_find(f.topo, "n3")] = 1;
	assert_true(entropy_for(&f, SIM_TIMING_ACTIVE, 0) == 0);
	f.compromised[topo_find(f.topo, "n1")] = 1;
	f.compromised[topo_find(f.topo, "n2")] = 1;
	assert_true(entropy_for(&f, SIM_TIMING_NONE, 0) == 0); /* the whole path */
	world_done(&f);
}

/* Relabelling: the same tree written with other ids and in another
 * directory order (siblings keep their ring order) gives every user the
 * same entropy under the corresponding colluders. */
static void test_relabelling_changes_nothing(void **state)
{
	/* Depth first and renamed; parents by the same positions. */
	static const char *const ids_b[] = {"root", "west", "w-a", "w-b", "east", "e-a", "e-b"};
	static const int parent_b[] = {-1, 0, 1, 1, 0, 4, 4};
	static const int b_to_a[] = {0, 1, 3, 4, 2, 5, 6};
	struct topo_entry e[7];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 7; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "%s", ids_b[i]);
		snprintf(e[i].address, sizeof(e[i].address), "10.0.0.%d:7000", i + 1);
		if (parent_b[i] >= 0)
			snprintf(e[i].parent, sizeof(e[i].parent), "%s", ids_b[parent_b[i]]);
		int a = b_to_a[i];
		e[i].roles = a == 1 || a == 2 ? TOPO_ROLE_LIGHTHOUSE
			     : a >= 3	      ? TOPO_ROLE_PORTAL
					      : 0;
	}
	struct topo *tb;
	struct sim_world *wb;
	char err[256], path[256];
	assert_int_equal(topo_build(e, 7, 1, &tb, err, sizeof(err)), 0);
	assert_int_equal(sim_world_new(tb, SIM_POLICY_TREE, &wb, err, sizeof(err)), 0);
	static const char relabelled[] = "[w-a]\nwest = 2\n[w-b]\nwest = 1\neast = 1\n"
					 "[e-a]\neast = 2\n[e-b]\nwest = 1\n";
	struct world_fixture f;
	hand_world(&f, "");
	assert_int_equal(
	    helper_write(f.dir, "b.ini", relabelled, strlen(relabelled), 0600, path, sizeof(path)),
	    0);
	assert_int_equal(sim_population_load(wb, path, 1000, err, sizeof(err)), 0);

	static const char *const colluder_sets[] = {"n2", "n3", "n1,n2", "n0,n5", "n6,n2,n1"};
	for (size_t s = 0; s < sizeof(colluder_sets) / sizeof(colluder_sets[0]); s++) {
		uint8_t comp_a[7] = {0}, comp_b[7] = {0};
		char copy[32];
		snprintf(copy, sizeof(copy), "%s", colluder_sets[s]);
		for (char *id = strtok(copy, ","); id; id = strtok(NULL, ",")) {
			int a = topo_find(f.topo, id);
			comp_a[a] = 1;
			for (int i = 0; i < 7; i++)
				if (b_to_a[i] == a)
					comp_b[topo_find(tb, ids_b[i])] = 1;
		}
		for (enum sim_timing t = SIM_TIMING_NONE; t <= SIM_TIMING_ACTIVE; t++)
			for (long u = 0; u < 7; u++) {
				struct sim_target ra, rb;
				assert_int_equal(sim_target_entropy(f.world, comp_a, t, u, &ra), 0);
				assert_int_equal(sim_target_entropy(wb, comp_b, t, u, &rb), 0);
				assert_true(fabs(ra.entropy - rb.entropy) < EPS);
				assert_int_equal(ra.hops, rb.hops);
			}
	}
	sim_world_free(wb);
	topo_free(tb);
	world_done(&f);
}

/* Homing on the nearest lighthouse tells the adversary, before any node
 * colludes, that a nickname of n1 is one of the users near n1. */
static void test_nearest_homing_narrows_the_set(void **state)
{
	struct topo *t;
	struct sim_world *w;
	char err[256];
	shape_topo("2x2", "depth:1", &t);
	assert_int_equal(sim_world_new(t, SIM_POLICY_TREE, &w, err, sizeof(err)), 0);
	struct sim_spread uniform = {.kind = SIM_SPREAD_UNIFORM};
	struct sim_spread nearest = {.kind = SIM_SPREAD_NEAREST};
	assert_int_equal(sim_population_random(w, 400, uniform, nearest, 7, err, sizeof(err)), 0);
	uint8_t none[7] = {0};
	long users_of_first = 0;
	int portal, lighthouse;
	sim_world_user(w, 0, &portal, &lighthouse);
	for (long u = 0; u < 400; u++) {
		int p, l;
		sim_world_user(w, u, &p, &l);
		assert_int_equal(l, t->nodes[p].parent); /* nearest: its own parent */
		users_of_first += l == lighthouse;
	}
	struct sim_target r;
	assert_int_equal(sim_target_entropy(w, none, SIM_TIMING_NONE, 0, &r), 0);
	assert_true(fabs(r.entropy - log2((double)users_of_first)) < EPS);
	sim_world_free(w);
	topo_free(t);
}

/* A population that cannot be made leaves no half-built world behind. */
static void test_failed_population_leaves_no_trace(void **state)
{
	struct topo *t;
	struct sim_world *w;
	char err[256];
	shape_topo("2x2", "depth:1", &t);
	assert_int_equal(sim_world_new(t, SIM_POLICY_TREE, &w, err, sizeof(err)), 0);
	struct sim_spread uniform = {.kind = SIM_SPREAD_UNIFORM};
	struct sim_spread nearest = {.kind = SIM_SPREAD_NEAREST};
	assert_int_equal(sim_population_random(w, 10, nearest, uniform, 1, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(sim_world_users(w), 0);
	struct sim_run_config cfg = {.trials = 1, .targets = 1, .threads = 1};
	struct sim_summary sum;
	assert_int_equal(sim_run(w, &cfg, &sum, err, sizeof(err)), -EINVAL);
	assert_int_equal(sim_population_random(w, 10, uniform, uniform, 1, err, sizeof(err)), 0);
	assert_int_equal(sim_run(w, &cfg, &sum, err, sizeof(err)), 0);
	sim_world_free(w);
	topo_free(t);
}

/* The paper's formula at values worked by hand. */
static void test_formula_hand_values(void **state)
{
	struct sim_formula f;
	/* N = 2, P = R = 1, m = 0: p = 1/2, H = -2 (1/2) log2 (1/2) = 1, d = 1. */
	assert_int_equal(sim_formula_eval(1, 1, 0, 0, &f), 0);
	assert_true(fabs(f.p - 0.5) < EPS && fabs(f.entropy - 1) < EPS && fabs(f.degree - 1) < EPS);
	/* P = R = 10, m = 5, pf = 0.5: p = (20 - 10 - 0.25) / 20 = 0.4875,
	 * H = 9.75 * 1.0365259 = 10.106127, d = H / 4.3219281 = 2.338338. */
	assert_int_equal(sim_formula_eval(10, 10, 5, 0.5, &f), 0);
	assert_true(fabs(f.p - 0.4875) < EPS);
	assert_true(fabs(f.entropy - 10.106127) < 1e-5);
	assert_true(fabs(f.degree - 2.338338) < 1e-5);
	/* p = 0 (every portal colludes for sure, P = R = 1): undefined. */
	assert_int_equal(sim_formula_eval(1, 1, 1, 1, &f), 0);
	assert_true(f.p == 0 && isnan(f.entropy) && isnan(f.degree));
	assert_int_equal(sim_formula_eval(0, 5, 0, 0, &f), -EINVAL);
}

static void test_shape_parse_and_build(void **state)
{
	struct sim_shape s = {0};
	assert_int_equal(sim_shape_parse("3x4", &s), 0);
	assert_int_equal(s.depth, 3);
	assert_int_equal(s.fanout[2], 4);
	assert_int_equal(sim_shape_parse("2,5,1", &s), 0);
	assert_int_equal(s.depth, 3);
	assert_int_equal(s.fanout[1], 5);
	static const char *const bad[] = {"",	  "x3",	  "3x",	 "0x2", "2x0",
					  "17x2", "2,,3", "2,a", "-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sim_shape_parse(bad[i], &s), -EINVAL);
	struct topo *t;
	shape_topo("2,3", "depth:1", &t);
	assert_int_equal(t->n, 1 + 2 + 6);
	int portals = 0, lighthouses = 0;
	for (int x = 0; x < t->n; x++) {
		portals += (t->nodes[x].roles & TOPO_ROLE_PORTAL) != 0;
		lighthouses += (t->nodes[x].roles & TOPO_ROLE_LIGHTHOUSE) != 0;
	}
	assert_int_equal(portals, 6);
	assert_int_equal(lighthouses, 2);
	topo_free(t);
	/* Portals and lighthouses on the same level would know who and where. */
	struct sim_shape clash = {.portals = {.kind = SIM_PLACE_LEAVES}};
	char err[256];
	assert_int_equal(sim_shape_parse("2x2", &clash), 0);
	assert_int_equal(sim_role_place_parse("leaves", &clash.lighthouses), 0);
	assert_int_equal(sim_shape_build(&clash, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "both"));
}

/* Every policy reaches every lighthouse from every node over tree links
 * or ring links. With fan-out 4 a ring is never more than 2 hops across,
 * as short as up and down again, so updown and ring-walk are never shorter
 * than tree here (with wider rings updown can be: docs/simulator.md). */
static void test_policies_reach_and_compare(void **state)
{
	struct topo *t;
	shape_topo("3x4", "depth:2", &t);
	for (enum sim_policy p = SIM_POLICY_TREE; p <= SIM_POLICY_RING_WALK; p++) {
		struct sim_world *w;
		char err[256];
		assert_int_equal(sim_world_new(t, p, &w, err, sizeof(err)), 0);
		for (int l = 0; l < t->n; l++) {
			if (!(t->nodes[l].roles & TOPO_ROLE_LIGHTHOUSE))
				continue;
			for (int x = 0; x < t->n; x++) {
				int hops = 0, y = x;
				while (y != l) {
					int nb[8], k = topo_neighbours(t, y, nb, 8), ok = 0;
					int next = sim_policy_next_hop(t, p, y, l);
					for (int i = 0; i < k; i++)
						ok |= nb[i] == next;
					assert_true(ok);
					y = next;
					assert_true(++hops <= t->n);
				}
				assert_int_equal(sim_world_hops(w, x, l), hops);
				int tree_hops = 0;
				for (y = x; y != l; y = topo_next_hop(t, y, l))
					tree_hops++;
				if (p == SIM_POLICY_TREE)
					assert_int_equal(hops, tree_hops);
				else
					assert_true(hops >= tree_hops);
			}
		}
		sim_world_free(w);
	}
	topo_free(t);
}

/* The population file's errors name the line and what is wrong. */
static void test_population_file_errors(void **state)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"[n9]\nn1 = 1\n", "not a portal"},
	    {"[n1]\nn1 = 1\n", "not a portal"},
	    {"[n3]\nn4 = 1\n", "not a lighthouse"},
	    {"[n3]\nn1 = -2\n", "not a user count"},
	    {"[n3]\nn1 = many\n", "not a user count"},
	    {"[n3]\nn1 = 0\n", "no users"},
	    {"n1 = 3\n", "not a portal"},
	    {"[n3]\nn1 = 600\n[n4]\nn1 = 401\n", "more than 1000 users"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[64], path[256], err[256];
		struct topo *t;
		struct sim_world *w;
		assert_int_equal(helper_tmpdir(dir, sizeof(dir)), 0);
		shape_topo("2x2", "depth:1", &t);
		assert_int_equal(sim_world_new(t, SIM_POLICY_TREE, &w, err, sizeof(err)), 0);
		assert_int_equal(helper_write(dir, "p.ini", cases[i].text, strlen(cases[i].text),
					      0600, path, sizeof(path)),
				 0);
		assert_int_equal(sim_population_load(w, path, 1000, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].expect))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].expect);
		sim_world_free(w);
		topo_free(t);
		helper_rmdir(dir);
	}
}

/* A run is a function of the seed: threads and repeats change nothing. */
static void test_run_deterministic(void **state)
{
	struct topo *t;
	struct sim_world *w;
	char err[256];
	shape_topo("3x3", "depth:1", &t);
	assert_int_equal(sim_world_new(t, SIM_POLICY_TREE, &w, err, sizeof(err)), 0);
	struct sim_spread uniform = {.kind = SIM_SPREAD_UNIFORM};
	assert_int_equal(sim_population_random(w, 500, uniform, uniform, 3, err, sizeof(err)), 0);
	struct sim_run_config cfg = {.trials = 4, .targets = 100, .seed = 11, .threads = 1};
	cfg.adversary.random_m = 5;
	cfg.adversary.pf = 0.1;
	struct sim_summary a, b, c;
	assert_int_equal(sim_run(w, &cfg, &a, err, sizeof(err)), 0);
	cfg.threads = 3;
	assert_int_equal(sim_run(w, &cfg, &b, err, sizeof(err)), 0);
	cfg.seed = 12;
	assert_int_equal(sim_run(w, &cfg, &c, err, sizeof(err)), 0);
	assert_true(a.entropy_mean == b.entropy_mean && a.degree_mean == b.degree_mean);
	assert_true(a.compromised_mean == b.compromised_mean);
	assert_true(a.entropy_mean != c.entropy_mean);
	assert_true(a.degree_mean > 0 && a.degree_mean <= 1);
	assert_true(a.degree_ci_low <= a.degree_mean && a.degree_mean <= a.degree_ci_high);
	/* 5 random + about 10 % of the other 35. */
	assert_true(a.compromised_mean >= 5 && a.compromised_mean < 20);
	sim_world_free(w);
	topo_free(t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hand_world_routes),
    cmocka_unit_test(test_no_adversary_is_full_anonymity),
    cmocka_unit_test(test_colluding_router_splits_the_set),
    cmocka_unit_test(test_colluding_portal_without_timing),
    cmocka_unit_test(test_target_portal_with_active_timing_links),
    cmocka_unit_test(test_path_inside_the_adversary_is_linked),
    cmocka_unit_test(test_walk_back_stops_at_honest_portal),
    cmocka_unit_test(test_chain),
    cmocka_unit_test(test_relabelling_changes_nothing),
    cmocka_unit_test(test_nearest_homing_narrows_the_set),
    cmocka_unit_test(test_failed_population_leaves_no_trace),
    cmocka_unit_test(test_formula_hand_values),
    cmocka_unit_test(test_shape_parse_and_build),
    cmocka_unit_test(test_policies_reach_and_compare),
    cmocka_unit_test(test_population_file_errors),
    cmocka_unit_test(test_run_deterministic),
};

int test_sim_suite(void)
{
	if (sodium_init() < 0)
		return (int)(sizeof(tests) / sizeof(tests[0]));
	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}

int test_sim_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
