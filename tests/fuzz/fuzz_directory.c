/* Fuzzes topo_directory_parse (topo/directory.c) and, through it,
 * topo_build's shape checks (topo/topo.c).
 *
 * The first byte picks a mode, the rest is the data:
 *   even  raw: the data is a SignedDirectory file checked against the fixed
 *         authority key (decoding and the signature check);
 *   odd   signed: the data is the directory body (an encoded Directory)
 *         which the harness signs with the authority key, so the decoding,
 *         the per-node checks and the tree's shape checks are reached.
 * A directory that parses is also walked: for small trees, from every node
 * to every node, topo_next_hop must only ever step to a node that
 * topo_neighbours lists and must arrive within n hops, and of two
 * neighbours exactly one dials (topo.h's contract; DESIGN.md §3). */
#include "tests/fuzz/harness.h"

#include "topo/topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Walking every pair is quadratic; larger trees are only parsed. */
#define WALK_NODES_MAX 24

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	return 0;
}

static int listed(const int *list, int n, int x)
{
	for (int i = 0; i < n; i++)
		if (list[i] == x)
			return 1;
	return 0;
}

static void walk(const struct topo *t)
{
	int nb[WALK_NODES_MAX];
	char roles[64];
	for (int a = 0; a < t->n; a++) {
		if (topo_find(t, t->nodes[a].id) != a)
			fuzz_fail("topo_find does not find a node by its id");
		topo_roles_text(t->nodes[a].roles, roles, sizeof(roles));
		if (!topo_in_subtree(t, t->root, a) || !topo_in_subtree(t, a, a))
			fuzz_fail("topo_in_subtree: root or self does not contain a node");
	}
	if (t->n > WALK_NODES_MAX)
		return;
	for (int a = 0; a < t->n; a++) {
		int k = topo_neighbours(t, a, nb, WALK_NODES_MAX);
		for (int i = 0; i < k; i++)
			if (topo_dials(t, a, nb[i]) == topo_dials(t, nb[i], a))
				fuzz_fail("neither or both of two neighbours dial");
		for (int d = 0; d < t->n; d++) {
			int at = a;
			for (int hops = 0; at != d; hops++) {
				if (hops >= t->n)
					fuzz_fail("topo_next_hop does not arrive within n hops");
				int next = topo_next_hop(t, at, d);
				int m = topo_neighbours(t, at, nb, WALK_NODES_MAX);
				if (next < 0 || !listed(nb, m, next))
					fuzz_fail("topo_next_hop steps to a node that is not a "
						  "neighbour");
				at = next;
			}
			if (topo_next_hop(t, d, d) != d)
				fuzz_fail("topo_next_hop(dest, dest) is not dest");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int signed_mode = data[0] & 1;
	data++;
	size--;

	const struct fuzz_fixtures *f = fuzz_fixtures();
	uint8_t *file = NULL;
	size_t file_len = size;
	if (signed_mode) {
		file = fuzz_sign_directory(data, size, &file_len);
		if (!file)
			return 0;
	}
	struct topo *t = NULL;
	char err[256] = "";
	int rc = topo_directory_parse(file ? file : data, file_len, f->authority.pub.sign, &t, err,
				      sizeof(err));
	if (rc == 0) {
		if (!t || t->n < 1)
			fuzz_fail("topo_directory_parse succeeded without a topology");
		walk(t);
	} else if (t) {
		fuzz_fail("topo_directory_parse failed but handed out a topology");
	} else if (rc == -EINVAL && err[0] == 0) {
		fuzz_fail("topo_directory_parse failed without saying why");
	}
	topo_free(t);
	free(file);
	return 0;
}
