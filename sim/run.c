/* Monte Carlo: per trial, draw the colluders and the targets, run one pass
 * per lighthouse that has targets (split over threads), and answer every
 * target from its lighthouse's pass. Randomness is drawn on the calling
 * thread only, from a stream per trial, and every shuffle is undone after
 * its trial, so a trial's draws depend on the seed and its number alone,
 * never on other trials, the thread count or timing. */
#include "sim/world.h"

#include "sim/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SIM_MAX_THREADS 16
/* Quantiles of d come from a histogram over [0, 1], exact to 1/65,536,
 * so memory does not grow with targets x trials. */
#define DEGREE_BINS 65536

struct trial {
	const struct sim_world *w;
	const uint8_t *compromised;
	enum sim_timing timing;
	const long *targets;	/* grouped by lighthouse slot */
	const long *slot_start; /* targets of slot s: [slot_start[s], slot_start[s+1]) */
	struct sim_target *results;
};

struct worker {
	const struct trial *trial;
	struct sim_pass pass;
	int index, count;
	uv_thread_t thread;
};

static void worker_run(void *arg)
{
	struct worker *k = arg;
	const struct trial *t = k->trial;
	for (int s = k->index; s < t->w->n_lh; s += k->count) {
		if (t->slot_start[s] == t->slot_start[s + 1])
			continue;
		sim_pass_run(t->w, s, t->compromised, &k->pass);
		for (long i = t->slot_start[s]; i < t->slot_start[s + 1]; i++)
			sim_pass_target(t->w, &k->pass, t->compromised, t->timing, t->targets[i],
					&t->results[i]);
	}
}

/* Mean and 95 % normal interval from a count, a sum and a sum of squares. */
static void interval(double n, double sum, double squares, double *mean, double *lo, double *hi)
{
	*mean = sum / n;
	double var = n > 1 ? (squares - sum * sum / n) / (n - 1) : 0;
	double half = var > 0 ? 1.96 * sqrt(var / n) : 0;
	*lo = *mean - half;
	*hi = *mean + half;
}

struct run_state {
	long *targets, *grouped, *perm, *swaps, *slot_start;
	struct sim_target *results;
	uint8_t *compromised;
	uint64_t *degree_bins;
	struct worker workers[SIM_MAX_THREADS];
	int n_workers;
	struct sim_adversary_plan plan;
};

static void run_state_free(struct run_state *st)
{
	free(st->targets);
	free(st->grouped);
	free(st->perm);
	free(st->swaps);
	free(st->slot_start);
	free(st->results);
	free(st->compromised);
	free(st->degree_bins);
	for (int i = 0; i < st->n_workers; i++)
		sim_pass_free(&st->workers[i].pass);
	sim_adversary_plan_free(&st->plan);
}

/* This trial's targets: every user, or a partial shuffle of all users,
 * undone again so the next trial starts from the same order. */
static long draw_targets(const struct sim_world *w, struct run_state *st, long want,
			 struct sim_rng *rng)
{
	if (want >= w->users) {
		for (long u = 0; u < w->users; u++)
			st->targets[u] = u;
		return w->users;
	}
	for (long i = 0; i < want; i++) {
		long j = i + (long)sim_rng_below(rng, (uint64_t)(w->users - i));
		long tmp = st->perm[i];
		st->perm[i] = st->perm[j];
		st->perm[j] = tmp;
		st->swaps[i] = j;
		st->targets[i] = st->perm[i];
	}
	for (long i = want - 1; i >= 0; i--) {
		long j = st->swaps[i], tmp = st->perm[i];
		st->perm[i] = st->perm[j];
		st->perm[j] = tmp;
	}
	return want;
}

static void group_by_lighthouse(const struct sim_world *w, struct run_state *st, long count)
{
	memset(st->slot_start, 0, sizeof(long) * ((size_t)w->n_lh + 1));
	for (long i = 0; i < count; i++)
		st->slot_start[w->user_lh[st->targets[i]] + 1]++;
	for (int s = 0; s < w->n_lh; s++)
		st->slot_start[s + 1] += st->slot_start[s];
	for (long i = 0; i < count; i++) {
		long u = st->targets[i];
		/* slot_start[s] is used as the cursor and restored below. */
		st->grouped[st->slot_start[w->user_lh[u]]++] = u;
	}
	for (int s = w->n_lh; s > 0; s--)
		st->slot_start[s] = st->slot_start[s - 1];
	st->slot_start[0] = 0;
}

/* The passes of one trial, over the workers; worker 0 is this thread, and
 * a worker whose thread cannot start runs here too, afterwards. */
static void run_workers(struct run_state *st, const struct trial *t)
{
	int started[SIM_MAX_THREADS] = {0};
	for (int i = 0; i < st->n_workers; i++) {
		st->workers[i].trial = t;
		st->workers[i].index = i;
		st->workers[i].count = st->n_workers;
	}
	for (int i = 1; i < st->n_workers; i++)
		started[i] =
		    uv_thread_create(&st->workers[i].thread, worker_run, &st->workers[i]) == 0;
	worker_run(&st->workers[0]);
	for (int i = 1; i < st->n_workers; i++) {
		if (started[i])
			uv_thread_join(&st->workers[i].thread);
		else
			worker_run(&st->workers[i]);
	}
}

static double degree_quantile(const uint64_t *bins, long all, double q, double lo, double hi)
{
	if (q <= 0)
		return lo;
	if (q >= 1)
		return hi;
	uint64_t rank = (uint64_t)(q * (double)(all - 1)), seen = 0;
	for (int b = 0; b < DEGREE_BINS; b++) {
		seen += bins[b];
		if (seen > rank)
			return fmin(hi, fmax(lo, (b + 0.5) / DEGREE_BINS));
	}
	return hi;
}

int sim_run(struct sim_world *w, const struct sim_run_config *cfg, struct sim_summary *out,
	    char *err, size_t err_len)
{
	struct run_state st = {0};
	const long per_trial = cfg->targets < w->users ? cfg->targets : w->users;
	const int threads = cfg->threads < 1
				? 1
				: (cfg->threads > SIM_MAX_THREADS ? SIM_MAX_THREADS : cfg->threads);
	const double log_users = w->users > 1 ? log2((double)w->users) : 0;
	uint64_t start_ns = uv_hrtime(), last_progress = start_ns;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!w->users || cfg->trials < 1 || per_trial < 1) {
		snprintf(err, err_len, "a run needs users, trials >= 1 and targets >= 1");
		return -EINVAL;
	}
	rc = sim_adversary_plan_init(&st.plan, w, &cfg->adversary, err, err_len);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	st.targets = malloc(sizeof(long) * (size_t)per_trial);
	st.grouped = malloc(sizeof(long) * (size_t)per_trial);
	st.slot_start = malloc(sizeof(long) * ((size_t)w->n_lh + 1));
	st.results = malloc(sizeof(*st.results) * (size_t)per_trial);
	st.compromised = malloc((size_t)w->n);
	st.degree_bins = calloc(DEGREE_BINS, sizeof(uint64_t));
	int sampling = per_trial < w->users;
	if (sampling) {
		st.perm = malloc(sizeof(long) * (size_t)w->users);
		st.swaps = malloc(sizeof(long) * (size_t)per_trial);
	}
	if (!st.targets || !st.grouped || !st.slot_start || !st.results || !st.compromised ||
	    !st.degree_bins || (sampling && (!st.perm || !st.swaps)))
		goto nomem;
	for (long u = 0; sampling && u < w->users; u++)
		st.perm[u] = u;
	for (st.n_workers = 0; st.n_workers < threads; st.n_workers++)
		if (sim_pass_init(&st.workers[st.n_workers].pass, w->n) < 0)
			goto nomem;

	double entropy_sum = 0, effective_sum = 0, hops_sum = 0;
	double compromised_sum = 0, compromised_portals_sum = 0, chosen_portals_sum = 0;
	double trial_degree_sum = 0, trial_degree_sq = 0, trial_linkage_sum = 0,
	       trial_linkage_sq = 0, target_degree_sq = 0, linked_all = 0;
	double degree_min = 1, degree_max = 0;
	long all = 0;
	for (int trial = 0; trial < cfg->trials; trial++) {
		struct sim_rng rng;
		sim_rng_init(&rng, cfg->seed, (uint64_t)trial + 1);
		int chosen_portals;
		sim_adversary_draw(&st.plan, w, &rng, st.compromised, &chosen_portals);
		long count = draw_targets(w, &st, per_trial, &rng);
		group_by_lighthouse(w, &st, count);
		struct trial t = {.w = w,
				  .compromised = st.compromised,
				  .timing = cfg->adversary.timing,
				  .targets = st.grouped,
				  .slot_start = st.slot_start,
				  .results = st.results};
		run_workers(&st, &t);

		int bad = 0, portals_bad = 0;
		for (int x = 0; x < w->n; x++) {
			bad += st.compromised[x];
			portals_bad +=
			    st.compromised[x] && (w->topo->nodes[x].roles & TOPO_ROLE_PORTAL);
		}
		compromised_sum += bad;
		compromised_portals_sum += portals_bad;
		chosen_portals_sum += chosen_portals;
		double degree_sum = 0, linked = 0;
		for (long i = 0; i < count; i++) {
			const struct sim_target *r = &st.results[i];
			double d = log_users > 0 ? r->entropy / log_users : 0;
			entropy_sum += r->entropy;
			effective_sum += exp2(r->entropy);
			hops_sum += r->hops;
			degree_sum += d;
			target_degree_sq += d * d;
			linked += r->full_linkage;
			degree_min = fmin(degree_min, d);
			degree_max = fmax(degree_max, d);
			int bin = (int)(d * DEGREE_BINS);
			st.degree_bins[bin < 0 ? 0 : bin >= DEGREE_BINS ? DEGREE_BINS - 1 : bin]++;
			if (cfg->per_target) {
				int portal, lighthouse;
				sim_world_user(w, st.grouped[i], &portal, &lighthouse);
				fprintf(cfg->per_target, "%d,%ld,%s,%s,%d,%.6f,%.6f,%d\n", trial,
					st.grouped[i], w->topo->nodes[portal].id,
					w->topo->nodes[lighthouse].id, r->hops, r->entropy, d,
					r->full_linkage);
			}
		}
		all += count;
		linked_all += linked;
		trial_degree_sum += degree_sum / (double)count;
		trial_degree_sq += (degree_sum / (double)count) * (degree_sum / (double)count);
		trial_linkage_sum += linked / (double)count;
		trial_linkage_sq += (linked / (double)count) * (linked / (double)count);
		uint64_t now = uv_hrtime();
		if (cfg->progress &&
		    (now - last_progress > 1000000000ull || trial + 1 == cfg->trials)) {
			fprintf(stderr, "anosip-sim: trial %d/%d, %.1f s\n", trial + 1, cfg->trials,
				(double)(now - start_ns) / 1e9);
			last_progress = now;
		}
	}

	out->trials = cfg->trials;
	out->targets = per_trial;
	out->compromised_mean = compromised_sum / cfg->trials;
	out->compromised_portals_mean = compromised_portals_sum / cfg->trials;
	out->chosen_portals_mean = chosen_portals_sum / cfg->trials;
	out->hops_mean = hops_sum / (double)all;
	out->entropy_mean = entropy_sum / (double)all;
	out->effective_set_mean = effective_sum / (double)all;
	if (cfg->trials > 1) {
		interval(cfg->trials, trial_degree_sum, trial_degree_sq, &out->degree_mean,
			 &out->degree_ci_low, &out->degree_ci_high);
		interval(cfg->trials, trial_linkage_sum, trial_linkage_sq, &out->linkage_mean,
			 &out->linkage_ci_low, &out->linkage_ci_high);
	} else { /* one trial: the spread over its targets */
		interval((double)all, trial_degree_sum * (double)all, target_degree_sq,
			 &out->degree_mean, &out->degree_ci_low, &out->degree_ci_high);
		interval((double)all, linked_all, linked_all, &out->linkage_mean,
			 &out->linkage_ci_low, &out->linkage_ci_high);
	}
	/* Both are fractions: an interval past 0 or 1 says nothing more. */
	out->degree_ci_low = fmax(0, out->degree_ci_low);
	out->degree_ci_high = fmin(1, out->degree_ci_high);
	out->linkage_ci_low = fmax(0, out->linkage_ci_low);
	out->linkage_ci_high = fmin(1, out->linkage_ci_high);
	for (int q = 0; q < 5; q++)
		out->degree_quantiles[q] =
		    degree_quantile(st.degree_bins, all, q / 4.0, degree_min, degree_max);
	out->seconds = (double)(uv_hrtime() - start_ns) / 1e9;
	rc = 0;
	goto out;
nomem:
	snprintf(err, err_len, "out of memory for %ld targets and %d threads", per_trial, threads);
out:
	run_state_free(&st);
	return rc;
}
