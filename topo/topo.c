/* The tree, its sibling rings, and next-hop routing. */
#include "topo/topo.h"

#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_with(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_with(char *err, size_t err_len, const char *fmt, ...)
{
	if (err && err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->pre_order_index);
	free(t->by_id);
	free(t->child_store);
	free(t);
}

int topo_find(const struct topo *t, const char *id)
{
	/* Binary search: routed messages and CREATEs look ids up per message. */
	int lo = 0, hi = t->n - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(t->nodes[t->by_id[mid]].id, id);
		if (c == 0)
			return t->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Id lookup while building: sorted index for O(n log n) over big trees. */
struct id_slot {
	const char *id;
	int index;
};

static int id_slot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct id_slot *)a)->id, ((const struct id_slot *)b)->id);
}

static int id_slot_find(const struct id_slot *slots, int n, const char *id)
{
	struct id_slot key = {.id = id};
	const struct id_slot *hit = bsearch(&key, slots, (size_t)n, sizeof(*slots), id_slot_cmp);
	return hit ? hit->index : -1;
}

static int check_entries(const struct topo_entry *e, int n, struct id_slot *slots, char *err,
			 size_t err_len)
{
	for (int i = 0; i < n; i++) {
		/* A portal knows where users are; lighthouses, the lookup service
		 * and the ID Directory know who. One node holding both would
		 * undo the split the network exists for (DESIGN.md §2). */
		if ((e[i].roles & TOPO_ROLE_PORTAL) &&
		    (e[i].roles & (TOPO_ROLE_LIGHTHOUSE | TOPO_ROLE_LOOKUP | TOPO_ROLE_IDDIR)))
			return fail_with(
			    err, err_len,
			    "node %.40s: a portal may not also be a lighthouse, lookup "
			    "or iddir (it would know who and where)",
			    e[i].id);
		if (!util_id_valid(e[i].id))
			return fail_with(err, err_len,
					 "node #%d: id \"%.40s\" is not 1-31 of [a-z0-9._-]", i + 1,
					 e[i].id);
		struct sockaddr_storage ss;
		if (util_parse_address(e[i].address, &ss) < 0)
			return fail_with(err, err_len, "node %s: address \"%.70s\" is not IP:port",
					 e[i].id, e[i].address);
		slots[i].id = e[i].id;
		slots[i].index = i;
	}
	qsort(slots, (size_t)n, sizeof(*slots), id_slot_cmp);
	for (int i = 1; i < n; i++)
		if (strcmp(slots[i - 1].id, slots[i].id) == 0)
			return fail_with(err, err_len, "node id %s appears twice", slots[i].id);
	return 0;
}

/* Pre-order numbering without recursion (trees may be deep in the simulator). */
static int number_subtrees(struct topo *t, char *err, size_t err_len)
{
	int *stack = malloc(sizeof(int) * (size_t)t->n);
	int *next_child = calloc((size_t)t->n, sizeof(int));
	int counter = 0, top = 0;
	int rc = 0;
	if (!stack || !next_child) {
		rc = -ENOMEM;
		goto out;
	}
	stack[top++] = t->root;
	t->nodes[t->root].depth = 0;
	t->nodes[t->root].subtree_first = counter;
	t->pre_order_index[counter++] = t->root;
	while (top > 0) {
		int x = stack[top - 1];
		struct topo_node *nx = &t->nodes[x];
		if (next_child[x] < nx->n_children) {
			int c = nx->children[next_child[x]++];
			t->nodes[c].depth = nx->depth + 1;
			t->nodes[c].subtree_first = counter;
			t->pre_order_index[counter++] = c;
			stack[top++] = c;
		} else {
			nx->subtree_size = counter - nx->subtree_first;
			top--;
		}
	}
	/* Nodes not reached from the root sit on a cycle (their parents
	 * exist, so the only way to miss the root is to loop). */
	if (counter != t->n) {
		/* next_child is reused as a "reached" mark. */
		memset(next_child, 0, sizeof(int) * (size_t)t->n);
		for (int k = 0; k < counter; k++)
			next_child[t->pre_order_index[k]] = 1;
		for (int i = 0; i < t->n; i++)
			if (!next_child[i]) {
				rc = fail_with(
				    err, err_len,
				    "node %s: parent chain forms a cycle and never reaches "
				    "the root",
				    t->nodes[i].id);
				goto out;
			}
	}
out:
	free(stack);
	free(next_child);
	return rc;
}

int topo_build(const struct topo_entry *e, int n, uint64_t serial, struct topo **out, char *err,
	       size_t err_len)
{
	int rc;
	struct id_slot *slots = NULL;
	int *n_children = NULL;
	struct topo *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (n <= 0) {
		rc = fail_with(err, err_len, "the directory lists no nodes");
		goto fail;
	}
	t->n = n;
	t->serial = serial;
	t->root = -1;
	t->nodes = calloc((size_t)n, sizeof(*t->nodes));
	t->pre_order_index = calloc((size_t)n, sizeof(int));
	t->child_store = calloc((size_t)n, sizeof(int));
	slots = calloc((size_t)n, sizeof(*slots));
	n_children = calloc((size_t)n, sizeof(int));
	if (!t->nodes || !t->pre_order_index || !t->child_store || !slots || !n_children) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = check_entries(e, n, slots, err, err_len);
	if (rc < 0)
		goto fail;

	for (int i = 0; i < n; i++) {
		struct topo_node *nd = &t->nodes[i];
		memcpy(nd->id, e[i].id, sizeof(nd->id));
		memcpy(nd->address, e[i].address, sizeof(nd->address));
		nd->roles = e[i].roles;
		nd->keys = e[i].keys;
		if (e[i].parent[0] == 0) {
			if (t->root >= 0) {
				rc = fail_with(err, err_len, "two roots: %s and %s have no parent",
					       t->nodes[t->root].id, nd->id);
				goto fail;
			}
			t->root = i;
			nd->parent = -1;
			continue;
		}
		nd->parent = id_slot_find(slots, n, e[i].parent);
		if (nd->parent < 0) {
			rc = fail_with(err, err_len, "node %s: parent %s is not in the directory",
				       nd->id, e[i].parent);
			goto fail;
		}
		if (nd->parent == i) {
			rc =
			    fail_with(err, err_len, "node %s: is its own parent (a cycle)", nd->id);
			goto fail;
		}
		n_children[nd->parent]++;
	}
	if (t->root < 0) {
		rc = fail_with(err, err_len,
			       "no root: every node has a parent, so the tree has a cycle");
		goto fail;
	}

	/* Children lists, in directory order, carved out of one array. */
	int offset = 0;
	for (int i = 0; i < n; i++) {
		t->nodes[i].children = t->child_store + offset;
		offset += n_children[i];
	}
	for (int i = 0; i < n; i++) {
		int p = t->nodes[i].parent;
		if (p < 0)
			continue;
		struct topo_node *np = &t->nodes[p];
		t->nodes[i].ring_position = np->n_children;
		((int *)np->children)[np->n_children++] = i;
	}
	rc = number_subtrees(t, err, err_len);
	if (rc < 0)
		goto fail;
	/* check_entries sorted the slots by id. */
	t->by_id = malloc(sizeof(int) * (size_t)n);
	if (!t->by_id) {
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < n; i++)
		t->by_id[i] = slots[i].index;
	free(slots);
	free(n_children);
	*out = t;
	return 0;
fail:
	free(slots);
	free(n_children);
	topo_free(t);
	return rc;
}

int topo_in_subtree(const struct topo *t, int root, int x)
{
	const struct topo_node *r = &t->nodes[root];
	int pre = t->nodes[x].subtree_first;
	return pre >= r->subtree_first && pre < r->subtree_first + r->subtree_size;
}

/* The child of `self` whose subtree holds dest (dest strictly below self):
 * children's pre-order ranges are sorted, so binary search. */
static int child_toward(const struct topo *t, int self, int dest)
{
	const struct topo_node *s = &t->nodes[self];
	int pre = t->nodes[dest].subtree_first;
	int lo = 0, hi = s->n_children - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (t->nodes[s->children[mid]].subtree_first <= pre)
			lo = mid;
		else
			hi = mid - 1;
	}
	return s->children[lo];
}

int topo_next_hop(const struct topo *t, int self, int dest)
{
	if (self < 0 || self >= t->n || dest < 0 || dest >= t->n)
		return -1;
	if (self == dest)
		return self;
	if (topo_in_subtree(t, self, dest))
		return child_toward(t, self, dest);
	int p = t->nodes[self].parent;
	if (p < 0)
		return -1; /* unreachable: the root's subtree is everything */
	if (topo_in_subtree(t, p, dest) && dest != p) {
		/* dest is below one of my siblings: go around the ring, the
		 * shorter way (ties go forward, so every hop agrees). */
		int target = child_toward(t, p, dest);
		const struct topo_node *np = &t->nodes[p];
		int k = np->n_children;
		int i = t->nodes[self].ring_position;
		int j = t->nodes[target].ring_position;
		int forward = (j - i + k) % k;
		if (forward <= k - forward)
			return np->children[(i + 1) % k];
		return np->children[(i - 1 + k) % k];
	}
	return p;
}

int topo_neighbours(const struct topo *t, int self, int *out, int max)
{
	int count = 0;
	const struct topo_node *s = &t->nodes[self];
#define ADD(x)                                                                                     \
	do {                                                                                       \
		int v_ = (x), dup_ = 0;                                                            \
		for (int q_ = 0; q_ < count; q_++)                                                 \
			dup_ |= out[q_] == v_;                                                     \
		if (!dup_ && v_ != self && count < max)                                            \
			out[count++] = v_;                                                         \
	} while (0)
	if (s->parent >= 0) {
		ADD(s->parent);
		const struct topo_node *p = &t->nodes[s->parent];
		int k = p->n_children;
		if (k >= 2) {
			ADD(p->children[(s->ring_position + 1) % k]);
			ADD(p->children[(s->ring_position - 1 + k) % k]);
		}
	}
	for (int c = 0; c < s->n_children; c++)
		ADD(s->children[c]);
#undef ADD
	return count;
}

int topo_dials(const struct topo *t, int a, int b)
{
	if (t->nodes[a].parent == b)
		return 1;
	if (t->nodes[b].parent == a)
		return 0;
	return t->nodes[a].ring_position < t->nodes[b].ring_position;
}

static const char *const role_names[] = {"portal", "lighthouse", "lookup", "iddir"};

int topo_role_parse(const char *name, unsigned *role)
{
	for (unsigned i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(name, role_names[i]) == 0) {
			*role = 1u << i;
			return 0;
		}
	return -EINVAL;
}

void topo_roles_text(unsigned roles, char *out, size_t len)
{
	size_t used = 0;
	out[0] = 0;
	for (unsigned i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
		if (!(roles & (1u << i)))
			continue;
		int w = snprintf(out + used, len - used, "%s%s", used ? "," : "", role_names[i]);
		if (w < 0 || (size_t)w >= len - used) {
			out[used] = 0; /* snprintf left a cut-off name; keep whole ones */
			break;
		}
		used += (size_t)w;
	}
	if (!roles)
		snprintf(out, len, "router");
}
