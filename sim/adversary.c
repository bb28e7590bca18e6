/* Who colludes: fixed nodes, the most central ones, m drawn at random per
 * trial, and each remaining node with probability pf. */
#include "sim/world.h"

#include "sim/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const timing_names[] = {"none", "passive", "active"};
static const char *const class_names[] = {"any", "portals", "routers", "lighthouses"};

int sim_timing_parse(const char *name, enum sim_timing *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, timing_names[i]) == 0) {
			*out = (enum sim_timing)i;
			return 0;
		}
	return -EINVAL;
}

const char *sim_timing_name(enum sim_timing t)
{
	return timing_names[t];
}

static int class_parse(const char *name, enum sim_class *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, class_names[i]) == 0) {
			*out = (enum sim_class)i;
			return 0;
		}
	return -EINVAL;
}

/* "VALUE" or "VALUE:class"; the value part is returned for the caller. */
static int split_class(const char *text, char *value, size_t len, enum sim_class *c)
{
	const char *colon = strchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(value, text, n);
	value[n] = 0;
	*c = SIM_CLASS_ANY;
	return colon ? class_parse(colon + 1, c) : 0;
}

int sim_class_count_parse(const char *text, int *m, enum sim_class *c)
{
	char value[32], *end;
	if (split_class(text, value, sizeof(value), c) < 0)
		return -EINVAL;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || *end || v < 0 || v > SIM_MAX_NODES)
		return -EINVAL;
	*m = (int)v;
	return 0;
}

int sim_class_probability_parse(const char *text, double *p, enum sim_class *c)
{
	char value[32], *end;
	if (split_class(text, value, sizeof(value), c) < 0)
		return -EINVAL;
	errno = 0;
	double v = strtod(value, &end);
	if (errno || *end || !(v >= 0 && v <= 1))
		return -EINVAL;
	*p = v;
	return 0;
}

static int in_class(const struct topo *t, int x, enum sim_class c)
{
	unsigned roles = t->nodes[x].roles;
	switch (c) {
	case SIM_CLASS_ANY:
		return 1;
	case SIM_CLASS_PORTAL:
		return (roles & TOPO_ROLE_PORTAL) != 0;
	case SIM_CLASS_LIGHTHOUSE:
		return (roles & TOPO_ROLE_LIGHTHOUSE) != 0;
	case SIM_CLASS_ROUTER:
		return (roles & (TOPO_ROLE_PORTAL | TOPO_ROLE_LIGHTHOUSE)) == 0;
	}
	return 0;
}

/* Centrality: how many users' circuits pass a node, over every lighthouse
 * (the routing trees, leaves first, as in entropy.c). */
static int64_t *circuit_flow(const struct sim_world *w)
{
	int64_t *flow = calloc((size_t)w->n, sizeof(int64_t));
	int64_t *acc = malloc(sizeof(int64_t) * (size_t)w->n);
	if (!flow || !acc) {
		free(flow);
		free(acc);
		return NULL;
	}
	for (int s = 0; s < w->n_lh; s++) {
		const int32_t *next = w->next + (size_t)s * w->n;
		const int32_t *order = w->order + (size_t)s * w->n;
		memset(acc, 0, sizeof(int64_t) * (size_t)w->n);
		for (long i = w->lh_pop_start[s]; i < w->lh_pop_start[s + 1]; i++)
			acc[w->lh_pop_portal[i]] += w->lh_pop_count[i];
		for (int i = 0; i < w->n; i++) {
			int x = order[i];
			flow[x] += acc[x];
			if (next[x] != x)
				acc[next[x]] += acc[x];
		}
	}
	free(acc);
	return flow;
}

static int by_flow_desc(const void *a, const void *b, void *arg)
{
	const int64_t *flow = arg;
	int x = *(const int *)a, y = *(const int *)b;
	if (flow[x] != flow[y])
		return flow[x] < flow[y] ? 1 : -1;
	return x - y; /* ties: directory order */
}

int sim_adversary_plan_init(struct sim_adversary_plan *plan, const struct sim_world *w,
			    const struct sim_adversary *spec, char *err, size_t err_len)
{
	const struct topo *t = w->topo;
	uint8_t *taken = calloc((size_t)w->n, 1);
	int *members = malloc(sizeof(int) * (size_t)w->n);
	int64_t *flow = NULL;
	int rc = -ENOMEM, n_members = 0;
	memset(plan, 0, sizeof(*plan));
	plan->spec = spec;
	plan->pool = malloc(sizeof(int) * (size_t)w->n);
	plan->swaps = malloc(sizeof(int) * (size_t)(spec->random_m + 1));
	plan->central = malloc(sizeof(int) * (size_t)(spec->central_m + 1));
	if (!taken || !members || !plan->pool || !plan->swaps || !plan->central) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	for (int i = 0; i < spec->n_fixed; i++)
		taken[spec->fixed[i]] = 1;
	if (spec->central_m > 0) {
		if (!(flow = circuit_flow(w))) {
			snprintf(err, err_len, "out of memory");
			goto fail;
		}
		for (int x = 0; x < w->n; x++)
			if (in_class(t, x, spec->central_class) && !taken[x])
				members[n_members++] = x;
		if (spec->central_m > n_members) {
			snprintf(err, err_len, "--central %d: only %d such nodes", spec->central_m,
				 n_members);
			rc = -EINVAL;
			goto fail;
		}
		qsort_r(members, (size_t)n_members, sizeof(int), by_flow_desc, flow);
		for (int i = 0; i < spec->central_m; i++) {
			plan->central[i] = members[i];
			taken[members[i]] = 1;
		}
	}
	for (int x = 0; x < w->n; x++)
		if (in_class(t, x, spec->random_class) && !taken[x])
			plan->pool[plan->n_pool++] = x;
	if (spec->random_m > plan->n_pool) {
		snprintf(err, err_len, "--random %d: only %d such nodes left", spec->random_m,
			 plan->n_pool);
		rc = -EINVAL;
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	sim_adversary_plan_free(plan);
out:
	free(taken);
	free(members);
	free(flow);
	return rc;
}

void sim_adversary_plan_free(struct sim_adversary_plan *plan)
{
	free(plan->pool);
	free(plan->swaps);
	free(plan->central);
	memset(plan, 0, sizeof(*plan));
}

void sim_adversary_draw(struct sim_adversary_plan *plan, const struct sim_world *w,
			struct sim_rng *rng, uint8_t *compromised, int *chosen_portals)
{
	const struct sim_adversary *spec = plan->spec;
	memset(compromised, 0, (size_t)w->n);
	for (int i = 0; i < spec->n_fixed; i++)
		compromised[spec->fixed[i]] = 1;
	for (int i = 0; i < spec->central_m; i++)
		compromised[plan->central[i]] = 1;
	/* A partial shuffle of the pool: its first random_m are this trial's.
	 * It is undone afterwards, so every trial draws from the same pool. */
	for (int i = 0; i < spec->random_m; i++) {
		int j = i + (int)sim_rng_below(rng, (uint64_t)(plan->n_pool - i));
		int tmp = plan->pool[i];
		plan->pool[i] = plan->pool[j];
		plan->pool[j] = tmp;
		plan->swaps[i] = j;
		compromised[plan->pool[i]] = 1;
	}
	for (int i = spec->random_m - 1; i >= 0; i--) {
		int j = plan->swaps[i], tmp = plan->pool[i];
		plan->pool[i] = plan->pool[j];
		plan->pool[j] = tmp;
	}
	*chosen_portals = 0;
	for (int x = 0; x < w->n; x++)
		*chosen_portals += compromised[x] && (w->topo->nodes[x].roles & TOPO_ROLE_PORTAL);
	if (spec->pf > 0)
		for (int x = 0; x < w->n; x++)
			if (!compromised[x] && in_class(w->topo, x, spec->pf_class) &&
			    sim_rng_unit(rng) < spec->pf)
				compromised[x] = 1;
}
