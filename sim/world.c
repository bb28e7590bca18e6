/* A world: every lighthouse's routing tree under the policy, and the users.
 *
 * The routing tree toward lighthouse L is next_hop(x, L) for every node x:
 * circuits to L follow it, so it is the one structure every question about
 * L's circuits is answered on (entropy.c walks it leaves first). */
#include "sim/world.h"

#include "sim/rng.h"

#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_spread_parse(const char *text, struct sim_spread *out)
{
	if (strcmp(text, "uniform") == 0) {
		*out = (struct sim_spread){.kind = SIM_SPREAD_UNIFORM};
		return 0;
	}
	if (strcmp(text, "nearest") == 0) {
		*out = (struct sim_spread){.kind = SIM_SPREAD_NEAREST};
		return 0;
	}
	if (strncmp(text, "zipf:", 5) == 0) {
		char *end;
		errno = 0;
		double s = strtod(text + 5, &end);
		if (errno || end == text + 5 || *end || !(s > 0 && s <= 10))
			return -EINVAL;
		*out = (struct sim_spread){.kind = SIM_SPREAD_ZIPF, .zipf_s = s};
		return 0;
	}
	return -EINVAL;
}

static void *world_alloc(struct sim_world *w, size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size);
	if (p)
		w->bytes += count * size;
	return p;
}

/* Forgets a population that could not be completed, so the world is
 * never left half-built. */
static void population_reset(struct sim_world *w)
{
	free(w->user_portal);
	free(w->user_lh);
	free(w->users_at);
	free(w->peopled);
	free(w->lh_pop_start);
	free(w->lh_pop_portal);
	free(w->lh_pop_count);
	w->user_portal = w->user_lh = w->users_at = w->peopled = NULL;
	w->lh_pop_start = NULL;
	w->lh_pop_portal = w->lh_pop_count = NULL;
	w->users = 0;
	w->n_peopled = 0;
	w->home_nearest = 0;
}

void sim_world_free(struct sim_world *w)
{
	if (!w)
		return;
	population_reset(w);
	free(w->lh_node);
	free(w->lh_slot);
	free(w->next);
	free(w->order);
	free(w->nearest);
	free(w);
}

/* hops toward one lighthouse, remembered along each walk; a policy that
 * loops is caught by the walk growing past n. best_hops and nearest keep
 * the nearest lighthouse of every node over the slots built so far. */
static int routing_tree_build(struct sim_world *w, int s, int *walk, int *bucket, int *hops,
			      int *best_hops)
{
	const int n = w->n, l = w->lh_node[s];
	int32_t *next = w->next + (size_t)s * n;
	int32_t *order = w->order + (size_t)s * n;
	int max_hops = 0;
	for (int x = 0; x < n; x++) {
		next[x] = sim_policy_next_hop(w->topo, w->policy, x, l);
		hops[x] = -1;
	}
	hops[l] = 0;
	for (int x = 0; x < n; x++) {
		int len = 0, y = x;
		while (hops[y] < 0) {
			if (len == n || next[y] < 0)
				return -ELOOP;
			walk[len++] = y;
			y = next[y];
		}
		int h = hops[y];
		for (int i = len - 1; i >= 0; i--)
			hops[walk[i]] = ++h;
		if (len && hops[x] > max_hops)
			max_hops = hops[x];
	}
	for (int x = 0; x < n; x++)
		if (s == 0 || hops[x] < best_hops[x]) {
			best_hops[x] = hops[x];
			w->nearest[x] = s;
		}
	/* Farthest first: a node always precedes its next hop. */
	memset(bucket, 0, sizeof(int) * ((size_t)max_hops + 2));
	for (int x = 0; x < n; x++)
		bucket[max_hops - hops[x] + 1]++;
	for (int i = 1; i <= max_hops + 1; i++)
		bucket[i] += bucket[i - 1];
	for (int x = 0; x < n; x++)
		order[bucket[max_hops - hops[x]]++] = x;
	return 0;
}

int sim_world_new(const struct topo *t, enum sim_policy policy, struct sim_world **out, char *err,
		  size_t err_len)
{
	int rc = -ENOMEM;
	int *walk = NULL, *bucket = NULL, *hops = NULL, *best_hops = NULL;
	struct sim_world *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->topo = t;
	w->policy = policy;
	w->n = t->n;
	for (int x = 0; x < t->n; x++)
		w->n_lh += (t->nodes[x].roles & TOPO_ROLE_LIGHTHOUSE) != 0;
	if (w->n_lh == 0) {
		snprintf(err, err_len, "the topology has no lighthouse");
		rc = -EINVAL;
		goto fail;
	}
	size_t cells = (size_t)w->n_lh * (size_t)w->n;
	w->lh_node = world_alloc(w, (size_t)w->n_lh, sizeof(int));
	w->lh_slot = world_alloc(w, (size_t)w->n, sizeof(int));
	w->next = world_alloc(w, cells, sizeof(int32_t));
	w->order = world_alloc(w, cells, sizeof(int32_t));
	w->nearest = world_alloc(w, (size_t)w->n, sizeof(int32_t));
	walk = malloc(sizeof(int) * (size_t)w->n);
	bucket = malloc(sizeof(int) * ((size_t)w->n + 2));
	hops = malloc(sizeof(int) * (size_t)w->n);
	best_hops = malloc(sizeof(int) * (size_t)w->n);
	if (!w->lh_node || !w->lh_slot || !w->next || !w->order || !w->nearest || !walk ||
	    !bucket || !hops || !best_hops) {
		snprintf(err, err_len, "out of memory for %d lighthouses x %d nodes", w->n_lh,
			 w->n);
		goto fail;
	}
	for (int x = 0, s = 0; x < t->n; x++) {
		w->lh_slot[x] = -1;
		if (t->nodes[x].roles & TOPO_ROLE_LIGHTHOUSE) {
			w->lh_slot[x] = s;
			w->lh_node[s++] = x;
		}
	}
	for (int s = 0; s < w->n_lh; s++) {
		rc = routing_tree_build(w, s, walk, bucket, hops, best_hops);
		if (rc < 0) {
			snprintf(err, err_len, "policy %s loops on the way to %s",
				 sim_policy_name(policy), t->nodes[w->lh_node[s]].id);
			goto fail;
		}
	}
	free(walk);
	free(bucket);
	free(hops);
	free(best_hops);
	*out = w;
	return 0;
fail:
	free(walk);
	free(bucket);
	free(hops);
	free(best_hops);
	sim_world_free(w);
	return rc;
}

int sim_world_index_population(struct sim_world *w)
{
	const int n = w->n, n_lh = w->n_lh;
	long *by_slot_start = calloc((size_t)n_lh + 1, sizeof(long));
	int32_t *by_slot = malloc(sizeof(int32_t) * (size_t)(w->users ? w->users : 1));
	long *seen = malloc(sizeof(long) * (size_t)n);
	w->users_at = world_alloc(w, (size_t)n, sizeof(int32_t));
	w->peopled = world_alloc(w, (size_t)n, sizeof(int32_t));
	w->lh_pop_start = world_alloc(w, (size_t)n_lh + 1, sizeof(long));
	w->lh_pop_portal = world_alloc(w, (size_t)w->users, sizeof(int32_t));
	w->lh_pop_count = world_alloc(w, (size_t)w->users, sizeof(int32_t));
	int rc = -ENOMEM;
	if (!by_slot_start || !by_slot || !seen || !w->users_at || !w->peopled ||
	    !w->lh_pop_start || !w->lh_pop_portal || !w->lh_pop_count)
		goto out;
	for (long u = 0; u < w->users; u++) {
		w->users_at[w->user_portal[u]]++;
		by_slot_start[w->user_lh[u] + 1]++;
	}
	for (int x = 0; x < n; x++)
		if (w->users_at[x])
			w->peopled[w->n_peopled++] = x;
	for (int s = 0; s < n_lh; s++)
		by_slot_start[s + 1] += by_slot_start[s];
	long *fill = w->lh_pop_start; /* borrowed as a cursor, rebuilt below */
	memcpy(fill, by_slot_start, sizeof(long) * (size_t)n_lh);
	for (long u = 0; u < w->users; u++)
		by_slot[fill[w->user_lh[u]]++] = w->user_portal[u];
	/* Per lighthouse, one (portal, count) entry per portal. */
	for (int x = 0; x < n; x++)
		seen[x] = -1;
	long used = 0;
	for (int s = 0; s < n_lh; s++) {
		w->lh_pop_start[s] = used;
		for (long i = by_slot_start[s]; i < by_slot_start[s + 1]; i++) {
			int p = by_slot[i];
			if (seen[p] < w->lh_pop_start[s]) {
				seen[p] = used;
				w->lh_pop_portal[used] = p;
				w->lh_pop_count[used++] = 0;
			}
			w->lh_pop_count[seen[p]]++;
		}
	}
	w->lh_pop_start[n_lh] = used;
	rc = 0;
out:
	free(by_slot_start);
	free(by_slot);
	free(seen);
	return rc;
}

/* Zipf over `count` ranks: cumulative weights 1/rank^s. */
static double *zipf_table(int count, double s)
{
	double *cdf = malloc(sizeof(double) * (size_t)count);
	if (!cdf)
		return NULL;
	double total = 0;
	for (int i = 0; i < count; i++) {
		total += 1.0 / pow((double)(i + 1), s);
		cdf[i] = total;
	}
	for (int i = 0; i < count; i++)
		cdf[i] /= total;
	return cdf;
}

static int draw(struct sim_rng *r, struct sim_spread spread, const double *cdf, int count)
{
	if (spread.kind != SIM_SPREAD_ZIPF)
		return (int)sim_rng_below(r, (uint64_t)count);
	double v = sim_rng_unit(r);
	int lo = 0, hi = count - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] > v)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int population_begin(struct sim_world *w, long users, char *err, size_t err_len)
{
	if (w->user_portal) {
		snprintf(err, err_len, "the world already has a population");
		return -EINVAL;
	}
	if (users < 1 || users > SIM_MAX_USERS) {
		snprintf(err, err_len, "users must be 1 to %ld", SIM_MAX_USERS);
		return -EINVAL;
	}
	w->users = users;
	w->user_portal = world_alloc(w, (size_t)users, sizeof(int32_t));
	w->user_lh = world_alloc(w, (size_t)users, sizeof(int32_t));
	if (!w->user_portal || !w->user_lh) {
		population_reset(w);
		snprintf(err, err_len, "out of memory for %ld users", users);
		return -ENOMEM;
	}
	return 0;
}

/* The last step of both ways in: index, or forget. */
static int population_end(struct sim_world *w, char *err, size_t err_len)
{
	if (sim_world_index_population(w) == 0)
		return 0;
	snprintf(err, err_len, "out of memory indexing %ld users", w->users);
	population_reset(w);
	return -ENOMEM;
}

int sim_population_random(struct sim_world *w, long users, struct sim_spread place,
			  struct sim_spread home, uint64_t seed, char *err, size_t err_len)
{
	if (place.kind == SIM_SPREAD_NEAREST) {
		snprintf(err, err_len, "users are placed uniform or zipf:S, not nearest");
		return -EINVAL;
	}
	int *portals = malloc(sizeof(int) * (size_t)w->n);
	double *place_cdf = NULL, *home_cdf = NULL;
	int n_portals = 0, rc = -ENOMEM;
	if (!portals)
		goto nomem;
	for (int x = 0; x < w->n; x++)
		if (w->topo->nodes[x].roles & TOPO_ROLE_PORTAL)
			portals[n_portals++] = x;
	if (!n_portals) {
		snprintf(err, err_len, "the topology has no portal");
		rc = -EINVAL;
		goto out;
	}
	if (place.kind == SIM_SPREAD_ZIPF && !(place_cdf = zipf_table(n_portals, place.zipf_s)))
		goto nomem;
	if (home.kind == SIM_SPREAD_ZIPF && !(home_cdf = zipf_table(w->n_lh, home.zipf_s)))
		goto nomem;
	rc = population_begin(w, users, err, err_len);
	if (rc < 0)
		goto out;
	struct sim_rng rng;
	sim_rng_init(&rng, seed, 0);
	for (long u = 0; u < users; u++) {
		int p = portals[draw(&rng, place, place_cdf, n_portals)];
		w->user_portal[u] = p;
		w->user_lh[u] = home.kind == SIM_SPREAD_NEAREST
				    ? w->nearest[p]
				    : draw(&rng, home, home_cdf, w->n_lh);
	}
	w->home_nearest = home.kind == SIM_SPREAD_NEAREST;
	rc = population_end(w, err, err_len);
	goto out;
nomem:
	snprintf(err, err_len, "out of memory");
out:
	free(portals);
	free(place_cdf);
	free(home_cdf);
	return rc;
}

/* The population file is INI read by inih: [portal-id] sections holding
 * "lighthouse-id = count" lines. Two passes: count, then fill. */
struct population_file {
	struct sim_world *w;
	long users, max_users;
	int fill;
	char *err;
	size_t err_len;
};

static int population_line(void *user, const char *section, const char *name, const char *value)
{
	struct population_file *f = user;
	const struct topo *t = f->w->topo;
	int p = topo_find(t, section), l = topo_find(t, name);
	char *end;
	errno = 0;
	long count = strtol(value, &end, 10);
	if (f->err[0])
		return 0; /* keep the first problem, which ini_parse's line names */
	if (p < 0 || !(t->nodes[p].roles & TOPO_ROLE_PORTAL)) {
		snprintf(f->err, f->err_len, "[%.40s] is not a portal of the topology", section);
		return 0;
	}
	if (l < 0 || !(t->nodes[l].roles & TOPO_ROLE_LIGHTHOUSE)) {
		snprintf(f->err, f->err_len, "%.40s is not a lighthouse of the topology", name);
		return 0;
	}
	if (errno || end == value || *end || count < 0) {
		snprintf(f->err, f->err_len, "[%.40s] %.40s: \"%.20s\" is not a user count",
			 section, name, value);
		return 0;
	}
	if (count > f->max_users - f->users) {
		snprintf(f->err, f->err_len, "more than %ld users in all", f->max_users);
		return 0;
	}
	if (f->fill)
		for (long i = 0; i < count; i++) {
			f->w->user_portal[f->users + i] = p;
			f->w->user_lh[f->users + i] = f->w->lh_slot[l];
		}
	f->users += count;
	return 1;
}

int sim_population_load(struct sim_world *w, const char *path, long max_users, char *err,
			size_t err_len)
{
	struct population_file f = {.w = w, .max_users = max_users};
	char detail[200] = "";
	uint8_t *text = NULL;
	size_t len;
	if (max_users > SIM_MAX_USERS)
		f.max_users = SIM_MAX_USERS;
	f.err = detail;
	f.err_len = sizeof(detail);
	/* Read once, parse twice (count, then fill) from the same bytes: a
	 * file that changes in between, or a pipe, cannot disagree with
	 * itself. A line per portal and lighthouse stays far below 64 MiB. */
	int rc = util_read_file(path, 64u << 20, &text, &len);
	if (rc < 0) {
		snprintf(err, err_len, "%s: cannot be read (%s)", path,
			 rc == -EINVAL	? "not a regular file"
			 : rc == -EFBIG ? "larger than 64 MiB"
					: strerror(-rc));
		return -EINVAL;
	}
	int line =
	    strlen((char *)text) == len ? ini_parse_string((char *)text, population_line, &f) : -2;
	if (line == 0 && f.users == 0)
		snprintf(detail, sizeof(detail), "no users");
	if (line != 0 || f.users == 0) {
		if (line == -2)
			snprintf(err, err_len, "%s: holds a NUL byte: not a text file", path);
		else
			snprintf(err, err_len, "%s:%d: %s", path, line,
				 detail[0] ? detail : "not INI");
		rc = -EINVAL;
		goto out;
	}
	rc = population_begin(w, f.users, err, err_len);
	if (rc < 0)
		goto out;
	f.users = 0;
	f.fill = 1;
	ini_parse_string((char *)text, population_line, &f);
	rc = population_end(w, err, err_len);
out:
	free(text);
	return rc;
}

long sim_world_users(const struct sim_world *w)
{
	return w->users;
}

int sim_world_lighthouses(const struct sim_world *w)
{
	return w->n_lh;
}

void sim_world_user(const struct sim_world *w, long u, int *portal, int *lighthouse)
{
	*portal = w->user_portal[u];
	*lighthouse = w->lh_node[w->user_lh[u]];
}

int sim_world_slot_hops(const struct sim_world *w, int s, int x)
{
	const int32_t *next = w->next + (size_t)s * w->n;
	int hops = 0;
	for (; next[x] != x; x = next[x])
		hops++;
	return hops;
}

int sim_world_hops(const struct sim_world *w, int x, int l)
{
	if (x < 0 || x >= w->n || l < 0 || l >= w->n || w->lh_slot[l] < 0)
		return -1;
	return sim_world_slot_hops(w, w->lh_slot[l], x);
}
