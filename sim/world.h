/* sim's private picture of a world: the routing tree toward every
 * lighthouse and the population, laid out flat for the per-trial passes. */
#ifndef ANOSIP_SIM_WORLD_H
#define ANOSIP_SIM_WORLD_H

#include "sim/sim.h"

#include <stdint.h>

struct sim_world {
	const struct topo *topo;
	enum sim_policy policy;
	int n;	      /* nodes */
	int n_lh;     /* lighthouses */
	int *lh_node; /* lighthouse slot -> node index */
	int *lh_slot; /* node index -> lighthouse slot, or -1 */
	/* Per lighthouse slot s, n entries each: next[s*n + x] is x's next hop
	 * toward the lighthouse (itself at the lighthouse); order[s*n + ...]
	 * lists the nodes so that every node comes before its next hop.
	 * (Hop counts are walked when needed rather than kept: at 1,000
	 * lighthouses x 100,000 nodes each table is 400 MB.) */
	int32_t *next;
	int32_t *order;

	/* The population. */
	long users;
	int32_t *user_portal; /* node index */
	int32_t *user_lh;     /* lighthouse slot */
	int32_t *users_at;    /* per node: users whose portal it is */
	int32_t *peopled;     /* the nodes with users_at > 0 */
	int n_peopled;
	/* Per lighthouse slot, the portals with users homed there:
	 * lh_pop_portal/count[lh_pop_start[s] .. lh_pop_start[s+1]). */
	long *lh_pop_start;
	int32_t *lh_pop_portal;
	int32_t *lh_pop_count;
	/* The homing the adversary assumes: with "nearest" only users of
	 * portals whose nearest lighthouse is s can be s's; otherwise any user
	 * may be. nearest[x] is the slot nearest to node x (fewest hops, ties
	 * to directory order). */
	int home_nearest;
	int32_t *nearest;
	size_t bytes; /* what the world allocated, for the memory report */
};

/* Links from x to the lighthouse of slot s, walked. */
int sim_world_slot_hops(const struct sim_world *w, int s, int x);

/* Builds lh_pop_* and users_at from user_portal / user_lh. */
int sim_world_index_population(struct sim_world *w);

/* --- entropy.c: one pass over a lighthouse's routing tree ---------------- */

/* Per node x of a lighthouse's routing tree (x's subtree: the circuits
 * and users whose route to the lighthouse passes x):
 *   circuits         circuits to the lighthouse through x
 *   open_circuits    of those, the unknown ones (from honest portals) of
 *                    x's region: not behind a cut, an honest node whose
 *                    next hop colludes
 *   open_candidates  the users at honest portals of x's region who could
 *                    be homed on the lighthouse
 *   closed           the sum of n * log2(m / n) over the cuts below x, n
 *                    and m their regions' open circuits and candidates. */
struct sim_pass {
	int32_t *circuits, *open_circuits, *open_candidates;
	double *closed;
};
int sim_pass_init(struct sim_pass *p, int n);
void sim_pass_free(struct sim_pass *p);
void sim_pass_run(const struct sim_world *w, int slot, const uint8_t *compromised,
		  struct sim_pass *p);
/* The entropy about user u's nickname from a pass over u's lighthouse. */
void sim_pass_target(const struct sim_world *w, const struct sim_pass *p,
		     const uint8_t *compromised, enum sim_timing timing, long u,
		     struct sim_target *out);

/* --- adversary.c ---------------------------------------------------------- */

struct sim_adversary_plan {
	const struct sim_adversary *spec;
	int *pool; /* random draws come from here (class members not fixed) */
	int n_pool;
	int *swaps;   /* a trial's shuffle, to undo it */
	int *central; /* the central_m most central class members */
};
int sim_adversary_plan_init(struct sim_adversary_plan *plan, const struct sim_world *w,
			    const struct sim_adversary *spec, char *err, size_t err_len);
void sim_adversary_plan_free(struct sim_adversary_plan *plan);
struct sim_rng;
/* Fills compromised[n] for one trial; *chosen_portals counts the portals
 * among the fixed, central and random colluders (not those of pf). */
void sim_adversary_draw(struct sim_adversary_plan *plan, const struct sim_world *w,
			struct sim_rng *rng, uint8_t *compromised, int *chosen_portals);

#endif
