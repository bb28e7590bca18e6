/* sim: the entropy / anonymity simulator (DESIGN.md §7, docs/simulator.md).
 *
 * A world is a topology (the very struct topo the nodes load), a routing
 * policy, and a population of users, each at a portal and homed on a
 * lighthouse; a user's circuit is the route from its portal to its
 * lighthouse. A trial draws a set of colluding nodes and, for sampled
 * target nicknames, computes the adversary's posterior over which user
 * (location) holds the nickname and its Shannon entropy H. */
#ifndef ANOSIP_SIM_H
#define ANOSIP_SIM_H

#include "topo/topo.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --- topology from a shape ---------------------------------------------- */

#define SIM_SHAPE_MAX_DEPTH 16
#define SIM_MAX_NODES (1 << 22)
#define SIM_MAX_USERS 50000000L

/* Which nodes carry a role: every leaf, every node at one depth, or (for
 * portals only) every node that is not a lighthouse. */
struct sim_role_place {
	enum { SIM_PLACE_LEAVES, SIM_PLACE_DEPTH, SIM_PLACE_ALL } kind;
	int depth;
};

struct sim_shape {
	int depth;			   /* levels below the root, 1..SIM_SHAPE_MAX_DEPTH */
	int fanout[SIM_SHAPE_MAX_DEPTH];   /* children per node at each level */
	struct sim_role_place portals;	   /* default: the leaves */
	struct sim_role_place lighthouses; /* default: depth 1 */
};

/* "DxF" (D levels of fan-out F) or "F1,F2,...". 0 or -EINVAL. */
int sim_shape_parse(const char *text, struct sim_shape *shape);
/* "leaves", "depth:D", "all". 0 or -EINVAL. */
int sim_role_place_parse(const char *text, struct sim_role_place *place);
/* Builds the tree: ids n0, n1, ... in breadth-first order (the root is n0).
 * *out is the caller's: topo_free(). Errors are one line in err. */
int sim_shape_build(const struct sim_shape *shape, struct topo **out, char *err, size_t err_len);

/* --- routing policies ----------------------------------------------------- */

enum sim_policy {
	SIM_POLICY_TREE,      /* topo_next_hop: what the nodes run */
	SIM_POLICY_UPDOWN,    /* no sibling rings: up to the common ancestor, down */
	SIM_POLICY_RING_WALK, /* before going up, walk the ring to the first sibling */
};
int sim_policy_parse(const char *name, enum sim_policy *out);
const char *sim_policy_name(enum sim_policy p);
/* The next hop from self toward dest under the policy (self when equal). */
int sim_policy_next_hop(const struct topo *t, enum sim_policy p, int self, int dest);

/* --- the world: routes and population ------------------------------------- */

enum sim_spread_kind { SIM_SPREAD_UNIFORM, SIM_SPREAD_ZIPF, SIM_SPREAD_NEAREST };
struct sim_spread {
	enum sim_spread_kind kind;
	double zipf_s; /* exponent for SIM_SPREAD_ZIPF */
};
/* "uniform", "zipf:S", and for homing "nearest". 0 or -EINVAL. */
int sim_spread_parse(const char *text, struct sim_spread *out);

struct sim_world;

/* Computes every lighthouse's routes under the policy (the routing tree
 * toward it). The world borrows t, which must outlive it; *out is the
 * caller's: sim_world_free(). */
int sim_world_new(const struct topo *t, enum sim_policy policy, struct sim_world **out, char *err,
		  size_t err_len);
void sim_world_free(struct sim_world *w);

/* Places users at random (deterministic for the seed): over portals
 * uniform or Zipf (by directory order), homed uniform, Zipf or on the
 * nearest lighthouse (fewest hops, ties to directory order). */
int sim_population_random(struct sim_world *w, long users, struct sim_spread place,
			  struct sim_spread home, uint64_t seed, char *err, size_t err_len);
/* Reads a population file (INI: a section per portal id, "lighthouse-id =
 * count" lines; docs/simulator.md). The adversary knows nothing of how
 * these users chose their lighthouses (uniform homing prior). A file with
 * more than max_users users in all is refused. */
int sim_population_load(struct sim_world *w, const char *path, long max_users, char *err,
			size_t err_len);

long sim_world_users(const struct sim_world *w);
int sim_world_lighthouses(const struct sim_world *w);
/* The portal and lighthouse (node indices) of user u. */
void sim_world_user(const struct sim_world *w, long u, int *portal, int *lighthouse);
/* Hops from node x to lighthouse node l under the world's policy, or -1. */
int sim_world_hops(const struct sim_world *w, int x, int l);

/* --- the adversary -------------------------------------------------------- */

enum sim_class { SIM_CLASS_ANY, SIM_CLASS_PORTAL, SIM_CLASS_ROUTER, SIM_CLASS_LIGHTHOUSE };

enum sim_timing {
	SIM_TIMING_NONE,    /* colluders pool only what contiguous hops share */
	SIM_TIMING_PASSIVE, /* a compromised lighthouse correlates its circuits'
			       traffic with every colluder on the path */
	SIM_TIMING_ACTIVE,  /* the adversary calls the target and watches: any
			       colluder on the path recognises the circuit */
};
int sim_timing_parse(const char *name, enum sim_timing *out);
const char *sim_timing_name(enum sim_timing t);

struct sim_adversary {
	int *fixed; /* node indices always compromised (caller's array) */
	int n_fixed;
	int random_m; /* drawn per trial among random_class */
	enum sim_class random_class;
	int central_m; /* the most central nodes of central_class */
	enum sim_class central_class;
	double pf; /* each other node of pf_class, per trial */
	enum sim_class pf_class;
	enum sim_timing timing;
};
/* "M" or "M:class", "P" or "P:class". 0 or -EINVAL. */
int sim_class_count_parse(const char *text, int *m, enum sim_class *c);
int sim_class_probability_parse(const char *text, double *p, enum sim_class *c);

/* --- one target, exactly -------------------------------------------------- */

struct sim_target {
	double entropy;	  /* H, bits */
	int hops;	  /* links on the target's circuit */
	int full_linkage; /* 1 when H == 0 */
};

/* The adversary's entropy about user u's nickname when the nodes with
 * compromised[x] != 0 collude. For tests and small worlds: it walks the
 * whole routing tree of u's lighthouse. */
int sim_target_entropy(const struct sim_world *w, const uint8_t *compromised,
		       enum sim_timing timing, long u, struct sim_target *out);

/* --- Monte Carlo runs ----------------------------------------------------- */

struct sim_run_config {
	struct sim_adversary adversary;
	int trials;
	long targets; /* per trial; >= users means every user once */
	uint64_t seed;
	int threads;
	FILE *per_target; /* optional: a CSV row per target */
	int progress;	  /* progress lines on stderr */
};

struct sim_summary {
	int trials;
	long targets;
	double compromised_mean; /* nodes per trial */
	double compromised_portals_mean;
	double chosen_portals_mean; /* of those, chosen (fixed, central, random), not by pf */
	double hops_mean;
	double entropy_mean;		      /* H over all targets */
	double effective_set_mean;	      /* 2^H */
	double degree_mean;		      /* d = H / log2(users) */
	double degree_ci_low, degree_ci_high; /* 95 %, over trials */
	double linkage_mean;		      /* fraction with H = 0 */
	double linkage_ci_low, linkage_ci_high;
	double degree_quantiles[5]; /* min, 25 %, median, 75 %, max over targets
				       (the middle three to 1/65,536) */
	double seconds;
};

int sim_run(struct sim_world *w, const struct sim_run_config *cfg, struct sim_summary *out,
	    char *err, size_t err_len);

/* --- the paper's closed formula (ANOSIP §5) -------------------------------- */

struct sim_formula {
	double p;	/* (N - R - (m/P)*pf) / N */
	double entropy; /* -N p log2 p, as the paper sums N equal terms */
	double degree;	/* H / log2 N */
};
/* N = portals + routers. Returns -EINVAL when P or N is 0. A p outside
 * (0, 1] leaves entropy and degree NaN (the formula is then undefined). */
int sim_formula_eval(long portals, long routers, double m, double pf, struct sim_formula *out);

#endif
