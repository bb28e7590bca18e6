/* The adversary's posterior about one nickname, from one leaves-first pass
 * over its lighthouse's routing tree (docs/simulator.md §2 has the model).
 *
 * What a colluder sees of a circuit: its previous and next hop and, since
 * Create names it in the clear at every hop, the lighthouse it goes to; a
 * portal also sees the user's address, the lighthouse also the nickname.
 * Colluders on adjacent hops share a link and so join their views.
 *
 * Without timing, the adversary follows the target's circuit back from its
 * lighthouse while the hops collude and stops at the first honest node h.
 * The target is then, uniformly, one of the C circuits that reached the
 * lighthouse through h. Each is a known user's (a colluding portal saw it
 * start) or unknown. The colluders' views cut the routing tree: an honest
 * node x whose next hop colludes is a cut, where the colluder counted the
 * circuits that came from x. A cut's region is its subtree less the
 * regions of the cuts inside it, h's region what is left under h; an
 * unknown circuit is one of its region's honest candidates (users who
 * could be homed on the lighthouse), all alike. With n unknown circuits
 * among m candidates in each region g,
 *   H = log2 C + (1/C) * sum over g of n_g * log2(m_g / n_g)
 * (n <= m; a user whose lighthouse the adversary does not know is as
 * likely as any other to be homed there).
 *
 * With timing (a colluding lighthouse correlating, or the adversary
 * calling the target itself), every colluder on the path recognises the
 * circuit. The adversary then knows the first colluding hop from the user's
 * side, and that no other colluder carries it: the target is one of the
 * candidates of h's region, h that hop's predecessor, H = log2 m. */
#include "sim/world.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sim_pass_init(struct sim_pass *p, int n)
{
	size_t cells = (size_t)n;
	memset(p, 0, sizeof(*p));
	p->circuits = malloc(cells * sizeof(int32_t));
	p->open_circuits = malloc(cells * sizeof(int32_t));
	p->open_candidates = malloc(cells * sizeof(int32_t));
	p->closed = malloc(cells * sizeof(double));
	if (!p->circuits || !p->open_circuits || !p->open_candidates || !p->closed) {
		sim_pass_free(p);
		return -ENOMEM;
	}
	return 0;
}

void sim_pass_free(struct sim_pass *p)
{
	free(p->circuits);
	free(p->open_circuits);
	free(p->open_candidates);
	free(p->closed);
	memset(p, 0, sizeof(*p));
}

/* n unknown circuits spread over m candidates: n * log2(m / n). */
static double group_uncertainty(int32_t n, int32_t m)
{
	if (n <= 0 || m <= n)
		return 0;
	return (double)n * log2((double)m / (double)n);
}

void sim_pass_run(const struct sim_world *w, int slot, const uint8_t *compromised,
		  struct sim_pass *p)
{
	const int n = w->n;
	const int32_t *next = w->next + (size_t)slot * n;
	const int32_t *order = w->order + (size_t)slot * n;
	size_t ints = sizeof(int32_t) * (size_t)n;
	memset(p->circuits, 0, ints);
	memset(p->open_circuits, 0, ints);
	memset(p->open_candidates, 0, ints);
	memset(p->closed, 0, sizeof(double) * (size_t)n);

	for (long i = w->lh_pop_start[slot]; i < w->lh_pop_start[slot + 1]; i++) {
		int x = w->lh_pop_portal[i];
		int32_t count = w->lh_pop_count[i];
		p->circuits[x] += count;
		if (!compromised[x])
			p->open_circuits[x] += count;
	}
	/* Who could be homed here: with nearest homing only the users of
	 * portals nearest to this lighthouse, otherwise every user. */
	for (int i = 0; i < w->n_peopled; i++) {
		int x = w->peopled[i];
		if (compromised[x] || (w->home_nearest && w->nearest[x] != slot))
			continue;
		p->open_candidates[x] += w->users_at[x];
	}

	for (int i = 0; i < n; i++) {
		int x = order[i], y = next[x];
		if (y == x)
			continue; /* the lighthouse: the root of its routing tree */
		p->circuits[y] += p->circuits[x];
		p->closed[y] += p->closed[x];
		if (!compromised[x] && compromised[y]) {
			/* x is a cut: y counted what came from x's region. */
			p->closed[y] +=
			    group_uncertainty(p->open_circuits[x], p->open_candidates[x]);
		} else if (!compromised[x]) {
			p->open_circuits[y] += p->open_circuits[x];
			p->open_candidates[y] += p->open_candidates[x];
		}
		/* A colluder's region is empty: its own users are known, and
		 * what reached it came through cuts or other colluders. */
	}
}

void sim_pass_target(const struct sim_world *w, const struct sim_pass *p,
		     const uint8_t *compromised, enum sim_timing timing, long u,
		     struct sim_target *out)
{
	const int slot = w->user_lh[u], l = w->lh_node[slot];
	const int32_t *next = w->next + (size_t)slot * w->n;
	const int portal = w->user_portal[u];
	int hops = 0, h = -1;
	double entropy = 0;
	/* One walk along the circuit: its length, the predecessor of the
	 * first colluder from the user's side (the timing case; -1 when the
	 * portal colludes, the lighthouse when none does), and the last honest
	 * hop, where the walk back from the lighthouse stops (-1: none). */
	int first_cut = -2, last_honest = -1, prev = -1;
	for (int x = portal;; prev = x, x = next[x], hops++) {
		if (compromised[x] && first_cut == -2)
			first_cut = prev;
		if (!compromised[x])
			last_honest = x;
		if (x == l)
			break;
	}
	if (timing == SIM_TIMING_ACTIVE || (timing == SIM_TIMING_PASSIVE && compromised[l])) {
		h = first_cut == -2 ? l : first_cut;
		if (h >= 0 && p->open_candidates[h] > 0)
			entropy = log2((double)p->open_candidates[h]);
	} else {
		h = last_honest;
		if (h >= 0) {
			double c = p->circuits[h];
			double rest = p->closed[h] +
				      group_uncertainty(p->open_circuits[h], p->open_candidates[h]);
			entropy = log2(c) + rest / c;
		}
	}
	if (!(entropy > 1e-9))
		entropy = 0;
	out->entropy = entropy;
	out->hops = hops;
	out->full_linkage = entropy == 0;
}

int sim_target_entropy(const struct sim_world *w, const uint8_t *compromised,
		       enum sim_timing timing, long u, struct sim_target *out)
{
	if (u < 0 || u >= w->users)
		return -EINVAL;
	struct sim_pass p;
	if (sim_pass_init(&p, w->n) < 0)
		return -ENOMEM;
	sim_pass_run(w, w->user_lh[u], compromised, &p);
	sim_pass_target(w, &p, compromised, timing, u, out);
	sim_pass_free(&p);
	return 0;
}
