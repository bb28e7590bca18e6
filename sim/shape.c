/* Trees from a shape: depth, fan-out per level, where portals and
 * lighthouses sit. The result goes through topo_build like any directory. */
#include "sim/sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_positive(const char *text, char **end, long max, int *out)
{
	errno = 0;
	long v = strtol(text, end, 10);
	if (errno || *end == text || v < 1 || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int sim_shape_parse(const char *text, struct sim_shape *shape)
{
	struct sim_shape s = *shape;
	char *end;
	int a;
	if (parse_positive(text, &end, SIM_MAX_NODES, &a) < 0)
		return -EINVAL;
	if (*end == 'x') {
		int fanout;
		if (a > SIM_SHAPE_MAX_DEPTH ||
		    parse_positive(end + 1, &end, SIM_MAX_NODES, &fanout) < 0 || *end)
			return -EINVAL;
		s.depth = a;
		for (int i = 0; i < a; i++)
			s.fanout[i] = fanout;
	} else {
		s.depth = 0;
		s.fanout[s.depth++] = a;
		while (*end == ',') {
			if (s.depth == SIM_SHAPE_MAX_DEPTH ||
			    parse_positive(end + 1, &end, SIM_MAX_NODES, &s.fanout[s.depth]) < 0)
				return -EINVAL;
			s.depth++;
		}
		if (*end)
			return -EINVAL;
	}
	*shape = s;
	return 0;
}

int sim_role_place_parse(const char *text, struct sim_role_place *place)
{
	char *end;
	if (strcmp(text, "leaves") == 0) {
		place->kind = SIM_PLACE_LEAVES;
		return 0;
	}
	if (strcmp(text, "all") == 0) {
		place->kind = SIM_PLACE_ALL;
		return 0;
	}
	if (strncmp(text, "depth:", 6) == 0) {
		errno = 0;
		long d = strtol(text + 6, &end, 10);
		if (errno || end == text + 6 || *end || d < 0 || d > SIM_SHAPE_MAX_DEPTH)
			return -EINVAL;
		place->kind = SIM_PLACE_DEPTH;
		place->depth = (int)d;
		return 0;
	}
	return -EINVAL;
}

static int place_holds(const struct sim_role_place *p, int depth, int max_depth)
{
	switch (p->kind) {
	case SIM_PLACE_LEAVES:
		return depth == max_depth;
	case SIM_PLACE_DEPTH:
		return depth == p->depth;
	case SIM_PLACE_ALL:
		return 1;
	}
	return 0;
}

int sim_shape_build(const struct sim_shape *shape, struct topo **out, char *err, size_t err_len)
{
	if (shape->depth < 1 || shape->depth > SIM_SHAPE_MAX_DEPTH) {
		snprintf(err, err_len, "a shape has 1 to %d levels", SIM_SHAPE_MAX_DEPTH);
		return -EINVAL;
	}
	if (shape->lighthouses.kind == SIM_PLACE_ALL) {
		snprintf(err, err_len, "lighthouses go at the leaves or at one depth, not \"all\"");
		return -EINVAL;
	}
	long n = 1, level = 1;
	for (int d = 0; d < shape->depth; d++) {
		level *= shape->fanout[d];
		n += level;
		if (n > SIM_MAX_NODES) {
			snprintf(err, err_len, "the shape has more than %d nodes", SIM_MAX_NODES);
			return -EINVAL;
		}
	}
	struct topo_entry *e = calloc((size_t)n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	/* Breadth first: the children of node i are a contiguous run, so
	 * directory order keeps each ring in child order. */
	long next = 1, first_of_level = 0, level_size = 1;
	int portals = 0, lighthouses = 0;
	int rc = 0;
	for (int d = 0; d <= shape->depth; d++) {
		for (long i = first_of_level; i < first_of_level + level_size; i++) {
			snprintf(e[i].id, sizeof(e[i].id), "n%ld", i);
			snprintf(e[i].address, sizeof(e[i].address), "10.%ld.%ld.%ld:7000",
				 (i >> 16) & 255, (i >> 8) & 255, i & 255);
			int lighthouse = place_holds(&shape->lighthouses, d, shape->depth);
			int portal = !lighthouse && place_holds(&shape->portals, d, shape->depth);
			if (lighthouse && shape->portals.kind != SIM_PLACE_ALL &&
			    place_holds(&shape->portals, d, shape->depth)) {
				snprintf(err, err_len,
					 "depth %d would hold both portals and lighthouses "
					 "(a node may not know who and where)",
					 d);
				rc = -EINVAL;
				goto out;
			}
			e[i].roles = (portal ? TOPO_ROLE_PORTAL : 0) |
				     (lighthouse ? TOPO_ROLE_LIGHTHOUSE : 0);
			portals += portal;
			lighthouses += lighthouse;
			if (d == shape->depth)
				continue;
			for (int c = 0; c < shape->fanout[d]; c++, next++)
				snprintf(e[next].parent, sizeof(e[next].parent), "n%ld", i);
		}
		first_of_level += level_size;
		if (d < shape->depth)
			level_size *= shape->fanout[d];
	}
	if (!portals || !lighthouses) {
		snprintf(err, err_len, "the shape has no %s", portals ? "lighthouse" : "portal");
		rc = -EINVAL;
		goto out;
	}
	rc = topo_build(e, (int)n, 1, out, err, err_len);
out:
	free(e);
	return rc;
}
