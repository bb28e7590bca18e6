/* Routing policies. "tree" is topo_next_hop itself, the function every node
 * runs; the others are alternatives a researcher compares it with, built
 * on the same tree and never used by a node. */
#include "sim/sim.h"

#include <errno.h>
#include <string.h>

static const char *const policy_names[] = {"tree", "updown", "ring-walk"};

int sim_policy_parse(const char *name, enum sim_policy *out)
{
	for (int i = 0; i < (int)(sizeof(policy_names) / sizeof(policy_names[0])); i++)
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum sim_policy)i;
			return 0;
		}
	return -EINVAL;
}

const char *sim_policy_name(enum sim_policy p)
{
	return policy_names[p];
}

/* Going up from self: walk the sibling ring, the shorter way, to the first
 * child of the parent, which alone goes up. Every circuit leaving a ring
 * then reaches the parent over one link, so a colluding parent no longer
 * learns which child's subtree a circuit came from. */
static int ring_walk_up(const struct topo *t, int self)
{
	const struct topo_node *s = &t->nodes[self];
	const struct topo_node *p = &t->nodes[s->parent];
	int k = p->n_children, i = s->ring_position;
	if (i == 0)
		return s->parent;
	return k - i <= i ? p->children[(i + 1) % k] : p->children[i - 1];
}

int sim_policy_next_hop(const struct topo *t, enum sim_policy policy, int self, int dest)
{
	if (self < 0 || self >= t->n || dest < 0 || dest >= t->n)
		return -1;
	if (policy == SIM_POLICY_TREE || self == dest || topo_in_subtree(t, self, dest))
		return topo_next_hop(t, self, dest);
	int parent = t->nodes[self].parent;
	if (policy == SIM_POLICY_UPDOWN)
		return parent;
	if (topo_in_subtree(t, parent, dest) && dest != parent)
		return topo_next_hop(t, self, dest); /* across the ring, as the nodes do */
	return ring_walk_up(t, self);
}
