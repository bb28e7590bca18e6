/* Monte Carlo: per trial, draw the colluders and the targets, run one pass
 * per lighthouse that has targets (split over threads), and answer every
 * target from its lighthouse's pass. Randomness is drawn on the calling
 * thread only, from a stream per trial, so the output depends on the seed
 * alone, never on the thread count or timing. */
#include "sim/world.h"

#include "sim/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SIM_MAX_THREADS 16

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Mean and 95 % normal interval of the per-trial means. */
static void interval(const double *v, int n, double *mean, double *lo, double *hi)
{
	double sum = 0, sq = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	*mean = sum / n;
	for (int i = 0; i < n; i++)
		sq += (v[i] - *mean) * (v[i] - *mean);
	double half = n > 1 ? 1.96 * sqrt(sq / (n - 1)) / sqrt((double)n) : 0;
	*lo = *mean - half;
	*hi = *mean + half;
}

struct run_state {
	long *targets, *grouped, *perm, *slot_start;
	struct sim_target *results;
	uint8_t *compromised;
	double *trial_degree, *trial_linkage, *all_degrees;
	struct worker workers[SIM_MAX_THREADS];
	int n_workers;
	struct sim_adversary_plan plan;
};

static void run_state_free(struct run_state *st)
{
	free(st->targets);
	free(st->grouped);
	free(st->perm);
	free(st->slot_start);
	free(st->results);
	free(st->compromised);
	free(st->trial_degree);
	free(st->trial_linkage);
	free(st->all_degrees);
	for (int i = 0; i < st->n_workers; i++)
		sim_pass_free(&st->workers[i].pass);
	sim_adversary_plan_free(&st->plan);
}

/* This trial's targets: every user, or a partial shuffle of all users. */
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
		st->targets[i] = st->perm[i];
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
	st.perm = malloc(sizeof(long) * (size_t)w->users);
	st.slot_start = malloc(sizeof(long) * ((size_t)w->n_lh + 1));
	st.results = malloc(sizeof(*st.results) * (size_t)per_trial);
	st.compromised = malloc((size_t)w->n);
	st.trial_degree = malloc(sizeof(double) * (size_t)cfg->trials);
	st.trial_linkage = malloc(sizeof(double) * (size_t)cfg->trials);
	st.all_degrees = malloc(sizeof(double) * (size_t)per_trial * (size_t)cfg->trials);
	if (!st.targets || !st.grouped || !st.perm || !st.slot_start || !st.results ||
	    !st.compromised || !st.trial_degree || !st.trial_linkage || !st.all_degrees) {
		snprintf(err, err_len, "out of memory for %ld targets x %d trials", per_trial,
			 cfg->trials);
		goto out;
	}
	for (long u = 0; u < w->users; u++)
		st.perm[u] = u;
	for (st.n_workers = 0; st.n_workers < threads; st.n_workers++)
		if (sim_pass_init(&st.workers[st.n_workers].pass, w->n) < 0)
			goto out;
	out->peak_bytes = w->bytes + (size_t)threads * (size_t)w->n * (5 * 4 + 8) +
			  (size_t)w->users * sizeof(long) +
			  (size_t)per_trial * (size_t)cfg->trials * sizeof(double);

	double entropy_sum = 0, effective_sum = 0, hops_sum = 0;
	double compromised_sum = 0, compromised_portals_sum = 0;
	long all = 0;
	for (int trial = 0; trial < cfg->trials; trial++) {
		struct sim_rng rng;
		sim_rng_init(&rng, cfg->seed, (uint64_t)trial + 1);
		sim_adversary_draw(&st.plan, w, &rng, st.compromised);
		long count = draw_targets(w, &st, per_trial, &rng);
		group_by_lighthouse(w, &st, count);

		struct trial t = {.w = w,
				  .compromised = st.compromised,
				  .timing = cfg->adversary.timing,
				  .targets = st.grouped,
				  .slot_start = st.slot_start,
				  .results = st.results};
		for (int i = 0; i < st.n_workers; i++) {
			st.workers[i] = (struct worker){.trial = &t,
							.pass = st.workers[i].pass,
							.index = i,
							.count = st.n_workers};
		}
		/* Worker 0 is this thread; a worker whose thread cannot start
		 * runs here too, afterwards. */
		int started[SIM_MAX_THREADS] = {0};
		for (int i = 1; i < st.n_workers; i++)
			started[i] = uv_thread_create(&st.workers[i].thread, worker_run,
						      &st.workers[i]) == 0;
		worker_run(&st.workers[0]);
		for (int i = 1; i < st.n_workers; i++) {
			if (started[i])
				uv_thread_join(&st.workers[i].thread);
			else
				worker_run(&st.workers[i]);
		}

		int bad = 0, portals_bad = 0;
		for (int x = 0; x < w->n; x++) {
			bad += st.compromised[x];
			portals_bad +=
			    st.compromised[x] && (w->topo->nodes[x].roles & TOPO_ROLE_PORTAL);
		}
		compromised_sum += bad;
		compromised_portals_sum += portals_bad;
		double degree_sum = 0, linked = 0;
		for (long i = 0; i < count; i++) {
			const struct sim_target *r = &st.results[i];
			double d = log_users > 0 ? r->entropy / log_users : 0;
			entropy_sum += r->entropy;
			effective_sum += exp2(r->entropy);
			hops_sum += r->hops;
			degree_sum += d;
			linked += r->full_linkage;
			st.all_degrees[all++] = d;
			if (cfg->per_target) {
				int portal, lighthouse;
				sim_world_user(w, st.grouped[i], &portal, &lighthouse);
				fprintf(cfg->per_target, "%d,%ld,%s,%s,%d,%.6f,%.6f,%d\n", trial,
					st.grouped[i], w->topo->nodes[portal].id,
					w->topo->nodes[lighthouse].id, r->hops, r->entropy, d,
					r->full_linkage);
			}
		}
		st.trial_degree[trial] = degree_sum / (double)count;
		st.trial_linkage[trial] = linked / (double)count;
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
	out->hops_mean = hops_sum / (double)all;
	out->entropy_mean = entropy_sum / (double)all;
	out->effective_set_mean = effective_sum / (double)all;
	if (cfg->trials > 1) {
		interval(st.trial_degree, cfg->trials, &out->degree_mean, &out->degree_ci_low,
			 &out->degree_ci_high);
		interval(st.trial_linkage, cfg->trials, &out->linkage_mean, &out->linkage_ci_low,
			 &out->linkage_ci_high);
	} else { /* one trial: the spread over its targets */
		interval(st.all_degrees, (int)all, &out->degree_mean, &out->degree_ci_low,
			 &out->degree_ci_high);
		double p = st.trial_linkage[0], half = 1.96 * sqrt(p * (1 - p) / (double)all);
		out->linkage_mean = p;
		out->linkage_ci_low = p - half;
		out->linkage_ci_high = p + half;
	}
	/* Both are fractions: an interval past 0 or 1 says nothing more. */
	out->degree_ci_low = fmax(0, out->degree_ci_low);
	out->degree_ci_high = fmin(1, out->degree_ci_high);
	out->linkage_ci_low = fmax(0, out->linkage_ci_low);
	out->linkage_ci_high = fmin(1, out->linkage_ci_high);
	qsort(st.all_degrees, (size_t)all, sizeof(double), cmp_double);
	for (int q = 0; q < 5; q++)
		out->degree_quantiles[q] = st.all_degrees[(size_t)((double)(all - 1) * q / 4.0)];
	out->seconds = (double)(uv_hrtime() - start_ns) / 1e9;
	rc = 0;
out:
	run_state_free(&st);
	return rc;
}
