/* topo: the network's topology — the authority-signed directory, the tree's
 * shape checks, and the one next-hop function that nodes and the simulator
 * share (DESIGN.md §3).
 *
 * Nodes are addressed by their index in directory order; ids are the
 * public names. The children of one parent form a ring in directory order. */
#ifndef ANOSIP_TOPO_H
#define ANOSIP_TOPO_H

#include "keys/keys.h"

#include <stddef.h>
#include <stdint.h>

enum topo_role {
	TOPO_ROLE_PORTAL = 1u << 0,
	TOPO_ROLE_LIGHTHOUSE = 1u << 1,
	TOPO_ROLE_LOOKUP = 1u << 2,
	TOPO_ROLE_IDDIR = 1u << 3,
};

#define TOPO_ADDRESS_MAX 63
#define TOPO_MAX_NODES 65536
#define TOPO_FILE_MAX (8u << 20)

struct topo_node {
	char id[32];
	char address[TOPO_ADDRESS_MAX + 1];
	int parent; /* index, -1 for the root */
	unsigned roles;
	struct keys_public keys;
	int depth;
	int n_children;
	const int *children; /* indices in directory order */
	int ring_position;   /* this node's place among its parent's children */
	int subtree_first;   /* pre-order number; a subtree is [first, first+size) */
	int subtree_size;
};

struct topo {
	int n;
	int root;
	uint64_t serial;
	struct topo_node *nodes;
	int *pre_order_index; /* pre-order number -> node index */
	int *by_id;	      /* node indices sorted by id, for topo_find */
	int *child_store;
};

/* What a topology is built from: the directory's own content, unsigned. */
struct topo_entry {
	char id[32];
	char address[TOPO_ADDRESS_MAX + 1];
	char parent[32]; /* "" for the root */
	unsigned roles;
	struct keys_public keys;
};

/* Checks shape (one root, every parent exists, no cycles, unique valid ids)
 * and builds the topology. On failure returns -EINVAL and writes one line
 * naming the problem into err. *out is owned by the caller: topo_free(). */
int topo_build(const struct topo_entry *entries, int n, uint64_t serial, struct topo **out,
	       char *err, size_t err_len);
void topo_free(struct topo *t);

/* Index of the node with this id, or -1. */
int topo_find(const struct topo *t, const char *id);

/* 1 if x is in the subtree rooted at root (a node is in its own subtree). */
int topo_in_subtree(const struct topo *t, int root, int x);

/* The neighbour to forward to on the way from self to dest: a child whose
 * subtree holds dest; else the ring sibling in the shorter direction toward
 * the sibling whose subtree holds dest; else the parent. Returns self when
 * dest == self and -1 when the arguments are out of range. */
int topo_next_hop(const struct topo *t, int self, int dest);

/* The nodes self keeps a link with: parent, children, ring siblings (each
 * once). Returns how many were written (at most max). */
int topo_neighbours(const struct topo *t, int self, int *out, int max);

/* 1 if a is the side that dials the link between neighbours a and b: a child
 * dials its parent; of two ring siblings the one earlier in directory order
 * dials. */
int topo_dials(const struct topo *t, int a, int b);

/* Role names ("portal", "lighthouse", "lookup", "iddir"). */
int topo_role_parse(const char *name, unsigned *role);
void topo_roles_text(unsigned roles, char *out, size_t len);

/* --- the signed directory file (a SignedDirectory protobuf) --- */

/* Verifies the authority's signature, decodes, and builds. Errors are one
 * line in err; the return is negative. */
int topo_directory_parse(const uint8_t *buf, size_t len, const uint8_t authority_sign[32],
			 struct topo **out, char *err, size_t err_len);
int topo_directory_load(const char *path, const uint8_t authority_sign[32], struct topo **out,
			char *err, size_t err_len);

/* Encodes and signs a directory. *out is malloc'd, the caller frees it. */
int topo_directory_sign(const struct topo_entry *entries, int n, uint64_t serial,
			const struct keys_pair *authority, uint8_t **out, size_t *out_len);

/* Reads a topology description (INI, see docs/directory.md) into entries.
 * *entries is malloc'd, the caller frees it. */
int topo_description_load(const char *path, struct topo_entry **entries, int *n, uint64_t *serial,
			  char *err, size_t err_len);

#endif
