/* anosip-sim: how anonymous is a Mist hierarchy against colluding nodes?
 * Options, the world, the runs; docs/simulator.md is the manual. */
#include "sim/report.h"
#include "sim/sim.h"

#include "keys/keys.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_PF_LIST 16
#define MAX_FIXED 4096

struct options {
	struct sim_shape shape;
	const char *topology, *directory, *authority, *population;
	long users;
	struct sim_spread place, home;
	enum sim_policy policy;
	struct sim_run_config run;
	const char *out, *per_target, *plot;
	int figure3, m_points, n_pf;
	double pf_list[MAX_PF_LIST];
	char *fixed_ids;
	unsigned char given[64]; /* given[OPT_x - OPT_SHAPE]: the option was on the line */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anosip-sim [topology] [population] [adversary] [run] [output]\n"
		"topology (one of):\n"
		"  --shape DxF | F1,F2,...     a tree: D levels of fan-out F, or fan-out per level "
		"(default 4x6)\n"
		"    --portals leaves|depth:D|all      (default leaves)\n"
		"    --lighthouses depth:D|leaves      (default depth:1)\n"
		"  --topology FILE.ini         a topology description, as `anosip directory sign` "
		"reads\n"
		"  --directory FILE --authority AUTHORITY.pub   a signed directory\n"
		"population:\n"
		"  --users U                   users (default 10000)\n"
		"  --place uniform|zipf:S      over portals (default uniform)\n"
		"  --home uniform|zipf:S|nearest   lighthouse of each user (default uniform)\n"
		"  --population FILE.ini       [portal] sections of \"lighthouse = count\"\n"
		"  --policy tree|updown|ring-walk  routing (default tree: what nodes run)\n"
		"adversary:\n"
		"  --compromise ID,ID,...      these nodes collude\n"
		"  --random M[:CLASS]          M nodes drawn per trial\n"
		"  --central M[:CLASS]         the M nodes most circuits pass\n"
		"  --pf P[:CLASS]              each other node with probability P, per trial\n"
		"                              CLASS: any|portals|routers|lighthouses\n"
		"  --timing none|passive|active    traffic correlation (default none)\n"
		"run:\n"
		"  --trials T (10)  --targets K|all (1000)  --seed S (1)  --threads N (2)\n"
		"output:\n"
		"  --out FILE.csv              summary CSV (default stdout)\n"
		"  --per-target FILE.csv       one row per target\n"
		"  --figure3                   sweep m = 0..P random portals per pf (+ --pf-list, "
		"--m-points)\n"
		"  --pf-list P,P,...           (default 0,0.05,0.1,0.2)\n"
		"  --m-points K                (default 11)\n"
		"  --plot FILE.png|FILE.svg    draw Figure 3 with gnuplot (needs --figure3)\n"
		"  --quiet                     no progress on stderr\n");
}

static int fail(const char *what, const char *value)
{
	fprintf(stderr, "anosip-sim: %s: \"%s\"\n", what, value);
	return 2;
}

static int parse_long(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_pf_list(const char *text, struct options *o)
{
	char copy[256], *save = NULL;
	if (strlen(text) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, text);
	o->n_pf = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		double v = strtod(tok, &end);
		if (*end || !(v >= 0 && v <= 1) || o->n_pf == MAX_PF_LIST)
			return -EINVAL;
		o->pf_list[o->n_pf++] = v;
	}
	return o->n_pf ? 0 : -EINVAL;
}

enum {
	OPT_SHAPE = 256,
	OPT_PORTALS,
	OPT_LIGHTHOUSES,
	OPT_TOPOLOGY,
	OPT_DIRECTORY,
	OPT_AUTHORITY,
	OPT_USERS,
	OPT_PLACE,
	OPT_HOME,
	OPT_POPULATION,
	OPT_POLICY,
	OPT_COMPROMISE,
	OPT_RANDOM,
	OPT_CENTRAL,
	OPT_PF,
	OPT_TIMING,
	OPT_TRIALS,
	OPT_TARGETS,
	OPT_SEED,
	OPT_THREADS,
	OPT_OUT,
	OPT_PER_TARGET,
	OPT_FIGURE3,
	OPT_PF_LIST,
	OPT_M_POINTS,
	OPT_PLOT,
	OPT_QUIET,
	OPT_HELP,
};

/* In the enum's order: messages name an option as longopts[OPT_x - OPT_SHAPE]. */
static const struct option longopts[] = {{"shape", required_argument, NULL, OPT_SHAPE},
					 {"portals", required_argument, NULL, OPT_PORTALS},
					 {"lighthouses", required_argument, NULL, OPT_LIGHTHOUSES},
					 {"topology", required_argument, NULL, OPT_TOPOLOGY},
					 {"directory", required_argument, NULL, OPT_DIRECTORY},
					 {"authority", required_argument, NULL, OPT_AUTHORITY},
					 {"users", required_argument, NULL, OPT_USERS},
					 {"place", required_argument, NULL, OPT_PLACE},
					 {"home", required_argument, NULL, OPT_HOME},
					 {"population", required_argument, NULL, OPT_POPULATION},
					 {"policy", required_argument, NULL, OPT_POLICY},
					 {"compromise", required_argument, NULL, OPT_COMPROMISE},
					 {"random", required_argument, NULL, OPT_RANDOM},
					 {"central", required_argument, NULL, OPT_CENTRAL},
					 {"pf", required_argument, NULL, OPT_PF},
					 {"timing", required_argument, NULL, OPT_TIMING},
					 {"trials", required_argument, NULL, OPT_TRIALS},
					 {"targets", required_argument, NULL, OPT_TARGETS},
					 {"seed", required_argument, NULL, OPT_SEED},
					 {"threads", required_argument, NULL, OPT_THREADS},
					 {"out", required_argument, NULL, OPT_OUT},
					 {"per-target", required_argument, NULL, OPT_PER_TARGET},
					 {"figure3", no_argument, NULL, OPT_FIGURE3},
					 {"pf-list", required_argument, NULL, OPT_PF_LIST},
					 {"m-points", required_argument, NULL, OPT_M_POINTS},
					 {"plot", required_argument, NULL, OPT_PLOT},
					 {"quiet", no_argument, NULL, OPT_QUIET},
					 {"help", no_argument, NULL, OPT_HELP},
					 {NULL, 0, NULL, 0}};

#define GIVEN(o, opt) ((o)->given[(opt)-OPT_SHAPE])

/* Options that would be silently ignored, or would silently change what
 * another asks for, are refused instead. */
static int check_combinations(const struct options *o)
{
	static const struct {
		int a, b;
	} conflicts[] = {
	    {OPT_TOPOLOGY, OPT_DIRECTORY},   {OPT_POPULATION, OPT_USERS},
	    {OPT_POPULATION, OPT_PLACE},     {OPT_POPULATION, OPT_HOME},
	    {OPT_TOPOLOGY, OPT_SHAPE},	     {OPT_TOPOLOGY, OPT_PORTALS},
	    {OPT_TOPOLOGY, OPT_LIGHTHOUSES}, {OPT_DIRECTORY, OPT_SHAPE},
	    {OPT_DIRECTORY, OPT_PORTALS},    {OPT_DIRECTORY, OPT_LIGHTHOUSES},
	    {OPT_FIGURE3, OPT_COMPROMISE},   {OPT_FIGURE3, OPT_RANDOM},
	    {OPT_FIGURE3, OPT_CENTRAL},	     {OPT_FIGURE3, OPT_PF},
	    {OPT_FIGURE3, OPT_PER_TARGET},
	};
	for (size_t i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++)
		if (GIVEN(o, conflicts[i].a) && GIVEN(o, conflicts[i].b)) {
			fprintf(stderr, "anosip-sim: --%s and --%s do not go together%s\n",
				longopts[conflicts[i].a - OPT_SHAPE].name,
				longopts[conflicts[i].b - OPT_SHAPE].name,
				conflicts[i].a == OPT_FIGURE3
				    ? " (the sweep sets the adversary: m random portals, "
				      "pf on every other node)"
				    : "");
			return 2;
		}
	static const int need_figure3[] = {OPT_PF_LIST, OPT_M_POINTS, OPT_PLOT};
	for (size_t i = 0; i < sizeof(need_figure3) / sizeof(need_figure3[0]); i++)
		if (GIVEN(o, need_figure3[i]) && !o->figure3) {
			fprintf(stderr,
				"anosip-sim: --%s shapes the --figure3 sweep: add --figure3\n",
				longopts[need_figure3[i] - OPT_SHAPE].name);
			return 2;
		}
	if (o->authority && !o->directory)
		return fail("--authority checks", "--directory");
	if (o->directory && !o->authority)
		return fail("--directory needs", "--authority AUTHORITY.pub");
	if (o->plot) {
		const char *dot = strrchr(o->plot, '.');
		if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0))
			return fail("--plot draws FILE.png or FILE.svg", o->plot);
		if (!o->out)
			return fail("--plot reads the sweep back and needs", "--out FILE.csv");
	}
	if (o->out && o->per_target && strcmp(o->out, o->per_target) == 0)
		return fail("--out and --per-target name the same file", o->out);
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	long v;
	int opt;
	sim_shape_parse("4x6", &o->shape);
	o->shape.portals.kind = SIM_PLACE_LEAVES;
	o->shape.lighthouses = (struct sim_role_place){.kind = SIM_PLACE_DEPTH, .depth = 1};
	o->users = 10000;
	o->run = (struct sim_run_config){.trials = 10, .targets = 1000, .seed = 1, .threads = 2};
	o->run.progress = 1;
	o->m_points = 11;
	parse_pf_list("0,0.05,0.1,0.2", o);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		struct sim_adversary *a = &o->run.adversary;
		if (opt >= OPT_SHAPE && opt - OPT_SHAPE < (int)sizeof(o->given))
			o->given[opt - OPT_SHAPE] = 1;
		switch (opt) {
		case OPT_SHAPE:
			if (sim_shape_parse(optarg, &o->shape) < 0)
				return fail("--shape wants DxF or F1,F2,...", optarg);
			break;
		case OPT_PORTALS:
			if (sim_role_place_parse(optarg, &o->shape.portals) < 0)
				return fail("--portals wants leaves, depth:D or all", optarg);
			break;
		case OPT_LIGHTHOUSES:
			if (sim_role_place_parse(optarg, &o->shape.lighthouses) < 0)
				return fail("--lighthouses wants depth:D or leaves", optarg);
			break;
		case OPT_TOPOLOGY:
			o->topology = optarg;
			break;
		case OPT_DIRECTORY:
			o->directory = optarg;
			break;
		case OPT_AUTHORITY:
			o->authority = optarg;
			break;
		case OPT_USERS:
			if (parse_long(optarg, 1, SIM_MAX_USERS, &o->users) < 0)
				return fail("--users wants 1 to 50000000", optarg);
			break;
		case OPT_PLACE:
			if (sim_spread_parse(optarg, &o->place) < 0)
				return fail("--place wants uniform or zipf:S", optarg);
			break;
		case OPT_HOME:
			if (sim_spread_parse(optarg, &o->home) < 0)
				return fail("--home wants uniform, zipf:S or nearest", optarg);
			break;
		case OPT_POPULATION:
			o->population = optarg;
			break;
		case OPT_POLICY:
			if (sim_policy_parse(optarg, &o->policy) < 0)
				return fail("--policy wants tree, updown or ring-walk", optarg);
			break;
		case OPT_COMPROMISE:
			o->fixed_ids = optarg;
			break;
		case OPT_RANDOM:
			if (sim_class_count_parse(optarg, &a->random_m, &a->random_class) < 0)
				return fail("--random wants M or M:CLASS", optarg);
			break;
		case OPT_CENTRAL:
			if (sim_class_count_parse(optarg, &a->central_m, &a->central_class) < 0)
				return fail("--central wants M or M:CLASS", optarg);
			break;
		case OPT_PF:
			if (sim_class_probability_parse(optarg, &a->pf, &a->pf_class) < 0)
				return fail("--pf wants P in [0,1] or P:CLASS", optarg);
			break;
		case OPT_TIMING:
			if (sim_timing_parse(optarg, &a->timing) < 0)
				return fail("--timing wants none, passive or active", optarg);
			break;
		case OPT_TRIALS:
			if (parse_long(optarg, 1, 1000000, &v) < 0)
				return fail("--trials wants 1 to 1000000", optarg);
			o->run.trials = (int)v;
			break;
		case OPT_TARGETS:
			if (strcmp(optarg, "all") == 0)
				o->run.targets = SIM_MAX_USERS;
			else if (parse_long(optarg, 1, SIM_MAX_USERS, &o->run.targets) < 0)
				return fail("--targets wants a count or all", optarg);
			break;
		case OPT_SEED:
			if (parse_long(optarg, 0, INT64_MAX, &v) < 0)
				return fail("--seed wants a number", optarg);
			o->run.seed = (uint64_t)v;
			break;
		case OPT_THREADS:
			if (parse_long(optarg, 1, 16, &v) < 0)
				return fail("--threads wants 1 to 16", optarg);
			o->run.threads = (int)v;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_PER_TARGET:
			o->per_target = optarg;
			break;
		case OPT_FIGURE3:
			o->figure3 = 1;
			break;
		case OPT_PF_LIST:
			if (parse_pf_list(optarg, o) < 0)
				return fail("--pf-list wants up to 16 probabilities", optarg);
			break;
		case OPT_M_POINTS:
			if (parse_long(optarg, 2, 1000, &v) < 0)
				return fail("--m-points wants 2 to 1000", optarg);
			o->m_points = (int)v;
			break;
		case OPT_PLOT:
			o->plot = optarg;
			break;
		case OPT_QUIET:
			o->run.progress = 0;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		return fail("unexpected argument", argv[optind]);
	return check_combinations(o);
}

/* What went wrong: the callee's line, or the error code's text where the
 * callee had none to give (out of memory, mostly). */
static const char *why(const char *err, int rc)
{
	return err[0] ? err : strerror(rc < 0 ? -rc : rc);
}

static int load_topology(const struct options *o, struct topo **t)
{
	char err[512] = "";
	int rc;
	if (o->directory) {
		struct keys_public authority;
		if (keys_load_public(o->authority, &authority) < 0) {
			fprintf(stderr, "anosip-sim: %s: not a readable .pub file\n", o->authority);
			return -EINVAL;
		}
		rc = topo_directory_load(o->directory, authority.sign, t, err, sizeof(err));
	} else if (o->topology) {
		struct topo_entry *entries = NULL;
		int n;
		uint64_t serial;
		rc = topo_description_load(o->topology, &entries, &n, &serial, err, sizeof(err));
		if (rc == 0)
			rc = topo_build(entries, n, serial, t, err, sizeof(err));
		free(entries);
	} else {
		rc = sim_shape_build(&o->shape, t, err, sizeof(err));
	}
	if (rc < 0)
		fprintf(stderr, "anosip-sim: topology: %s\n", why(err, rc));
	return rc;
}

/* --compromise a,b,c: node ids into indices. */
static int resolve_fixed(const struct options *o, const struct topo *t, int *fixed, int *n)
{
	*n = 0;
	if (!o->fixed_ids)
		return 0;
	char *copy = strdup(o->fixed_ids), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		int x = topo_find(t, id);
		if (x < 0 || *n == MAX_FIXED) {
			fprintf(stderr, "anosip-sim: --compromise: %s %s\n", id,
				x < 0 ? "is not a node of the topology" : "is one too many");
			rc = -EINVAL;
			break;
		}
		fixed[(*n)++] = x;
	}
	free(copy);
	return rc;
}

static void count_roles(const struct topo *t, struct report_row *row)
{
	row->nodes = t->n;
	for (int x = 0; x < t->n; x++) {
		if (t->nodes[x].roles & TOPO_ROLE_PORTAL)
			row->portals++;
		else
			row->routers++; /* the paper's R: every node that is not a portal */
		row->lighthouses += (t->nodes[x].roles & TOPO_ROLE_LIGHTHOUSE) != 0;
	}
}

/* The formula's m is the portals chosen to collude (fixed, central,
 * random; in the figure-3 sweep the m random ones); its pf then applies on
 * top, as in the paper. */
static int run_one(struct sim_world *w, struct options *o, struct report_row *row, FILE *out)
{
	char err[512] = "";
	int rc = sim_run(w, &o->run, &row->summary, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "anosip-sim: %s\n", why(err, rc));
		return -1;
	}
	row->random_m = o->run.adversary.random_m;
	row->pf = o->run.adversary.pf;
	row->formula_m = row->summary.chosen_portals_mean;
	sim_formula_eval(row->portals, row->routers, row->formula_m, row->pf, &row->formula);
	report_row(out, row);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct topo *t = NULL;
	struct sim_world *w = NULL;
	FILE *out = stdout;
	int fixed[MAX_FIXED];
	char err[512] = "";
	int status = parse_options(argc, argv, &o);
	if (status)
		return status;
	status = 1;
	if (sodium_init() < 0)
		return 1;
	if (load_topology(&o, &t) < 0)
		goto done;
	if (resolve_fixed(&o, t, fixed, &o.run.adversary.n_fixed) < 0)
		goto done;
	o.run.adversary.fixed = fixed;
	int rc = sim_world_new(t, o.policy, &w, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "anosip-sim: %s\n", why(err, rc));
		goto done;
	}
	rc = o.population
		 ? sim_population_load(w, o.population, SIM_MAX_USERS, err, sizeof(err))
		 : sim_population_random(w, o.users, o.place, o.home, o.run.seed, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "anosip-sim: population: %s\n", why(err, rc));
		goto done;
	}
	if (o.out && !(out = fopen(o.out, "w"))) {
		fprintf(stderr, "anosip-sim: %s: %s\n", o.out, strerror(errno));
		out = stdout;
		goto done;
	}
	if (o.per_target) {
		if (!(o.run.per_target = fopen(o.per_target, "w"))) {
			fprintf(stderr, "anosip-sim: %s: %s\n", o.per_target, strerror(errno));
			goto done;
		}
		report_per_target_header(o.run.per_target);
	}

	struct report_row row = {.policy = sim_policy_name(o.policy),
				 .timing = sim_timing_name(o.run.adversary.timing),
				 .users = sim_world_users(w)};
	count_roles(t, &row);
	uint64_t start = uv_hrtime();
	long trials = 0, targets = 0;
	report_header(out);
	if (!o.figure3) {
		if (run_one(w, &o, &row, out) < 0)
			goto done;
		trials = row.summary.trials;
		targets = row.summary.targets;
	} else {
		/* Figure 3: m random portals collude, every other node with pf. */
		o.run.adversary.random_class = SIM_CLASS_PORTAL;
		o.run.adversary.pf_class = SIM_CLASS_ANY;
		for (int i = 0; i < o.n_pf; i++)
			for (int k = 0; k < o.m_points; k++) {
				o.run.adversary.pf = o.pf_list[i];
				o.run.adversary.random_m =
				    (int)((long)row.portals * k / (o.m_points - 1));
				if (run_one(w, &o, &row, out) < 0)
					goto done;
				trials += row.summary.trials;
				targets += row.summary.targets * row.summary.trials;
			}
		targets /= trials ? trials : 1;
	}
	double seconds = (double)(uv_hrtime() - start) / 1e9;
	uv_rusage_t ru;
	uv_getrusage(&ru);
	if (o.run.progress)
		fprintf(stderr,
			"anosip-sim: %d nodes, %ld users, %ld trials x %ld targets in %.2f s "
			"(%.1f trials/s), peak RSS %.1f MiB\n",
			t->n, row.users, trials, targets, seconds, trials / seconds,
			(double)ru.ru_maxrss / 1024.0);
	if (o.plot) {
		fflush(out);
		if (report_plot_figure3(o.out, o.plot, o.pf_list, o.n_pf, err, sizeof(err)) < 0) {
			fprintf(stderr, "anosip-sim: plot: %s\n", err);
			goto done;
		}
	}
	status = 0;
done:
	if (out != stdout && fclose(out) != 0)
		status = 1;
	if (o.run.per_target && fclose(o.run.per_target) != 0)
		status = 1;
	sim_world_free(w);
	topo_free(t);
	return status;
}
