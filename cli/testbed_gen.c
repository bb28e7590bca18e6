/* Writing a testbed: the tree's ids, parents and roles (from --tree or
 * a --topology file), then addresses, keys, the topology file, the node
 * configs and the signed directory. */
#include "cli/testbed.h"

#include "keys/keys.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_node_config(const char *dir, const char *id, unsigned roles, const char *log_level)
{
	char path[4096], sock[4096], text[2048];
	tb_path(path, sizeof(path), dir, id, ".conf");
	tb_path(sock, sizeof(sock), dir, id, ".sock");
	if (strlen(sock) >= 108) {
		fprintf(stderr,
			"anosip testbed: control socket path %s is too long for a UNIX "
			"socket; use a shorter --dir\n",
			sock);
		return -ENAMETOOLONG;
	}
	int n = snprintf(text, sizeof(text),
			 "# anosip node config, written by anosip testbed\n"
			 "[node]\nid = %s\nkey = %s.key\ndirectory = directory.bin\n"
			 "authority = authority.pub\ncontrol = %s.sock\nlog_level = %s\n\n"
			 "[link]\nkeepalive_ms = 1000\ndead_ms = 5000\n"
			 "reconnect_min_ms = 100\nreconnect_max_ms = 1000\n",
			 id, id, id, log_level);
	if (roles & TOPO_ROLE_LIGHTHOUSE)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "\n[lighthouse]\ndatabase = %s.lighthouse.db\nopen_signup = yes\n",
			      id);
	if (roles & TOPO_ROLE_LOOKUP)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "\n[lookup]\ndatabase = %s.lookup.db\n", id);
	if (roles & TOPO_ROLE_IDDIR)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "\n[iddir]\ndatabase = %s.iddir.db\n", id);
	return util_write_file(path, text, (size_t)n, 0644);
}

/* The testbed's roles: the root runs the lookup service and the ID
 * Directory, the first level
 * are lighthouses, the leaves are portals (in a one-level tree the root is
 * also the lighthouse; a lone root is everything). */
static void assign_roles(struct topo_entry *e, int n, int depth)
{
	/* Leaves (nodes no one names as parent) are portals. The parent ids
	 * are assigned breadth first, so a node is a parent iff some later
	 * node names it; one pass from the end finds them. */
	for (int i = 0; i < n; i++) {
		int is_parent = 0;
		for (int j = i + 1; j < n && !is_parent; j++)
			is_parent = strcmp(e[j].parent, e[i].id) == 0;
		if (!is_parent && i > 0)
			e[i].roles |= TOPO_ROLE_PORTAL;
	}
	e[0].roles |= TOPO_ROLE_LOOKUP | TOPO_ROLE_IDDIR;
	/* In a one-level tree the root's children are the portals, so the
	 * root is the lighthouse (a node may not be both). */
	if (depth <= 1)
		e[0].roles |= TOPO_ROLE_LIGHTHOUSE;
	for (int i = 1; i < n && depth > 1; i++)
		if (strcmp(e[i].parent, e[0].id) == 0)
			e[i].roles |= TOPO_ROLE_LIGHTHOUSE;
}

/* Ids, parents and roles from --tree: node-0 the root, then level by
 * level, each node's children a run of fanout[level] (so every ring is in
 * directory order). */
int tb_tree_entries(const struct testbed_options *o, struct topo_entry **out, int *count)
{
	long n = 1, level = 1;
	for (int d = 0; d < o->depth; d++) {
		level *= o->fanout[d];
		n += level;
		if (n > TESTBED_MAX_NODES) {
			fprintf(stderr, "anosip testbed: --tree %s has more than %d nodes\n",
				o->tree_text, TESTBED_MAX_NODES);
			return -E2BIG;
		}
	}
	struct topo_entry *e = calloc((size_t)n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	long next = 1, first = 0, size = 1;
	for (int d = 0; d <= o->depth; d++) {
		for (long i = first; i < first + size; i++) {
			snprintf(e[i].id, sizeof(e[i].id), "node-%ld", i);
			for (int c = 0; d < o->depth && c < o->fanout[d]; c++, next++)
				snprintf(e[next].parent, sizeof(e[next].parent), "node-%ld", i);
		}
		first += size;
		if (d < o->depth)
			size *= o->fanout[d];
	}
	assign_roles(e, (int)n, o->depth);
	*out = e;
	*count = (int)n;
	return 0;
}

/* Addresses, keys, the topology file and the node configs for the
 * entries (ids, parents and roles already set). */
int tb_generate(const struct testbed_options *o, struct topo_entry *e, int n)
{
	char path[4096];
	int *ports = calloc((size_t)n, sizeof(int));
	FILE *topo_file = NULL;
	int rc = ports ? (o->netns ? 0 : tb_pick_ports(n, ports)) : -ENOMEM;
	if (rc < 0)
		goto out;
	struct keys_pair k;
	tb_path(path, sizeof(path), o->dir, "authority", "");
	rc = keys_generate(&k);
	if (rc == 0)
		rc = keys_save(path, &k);
	keys_wipe(&k);
	if (rc < 0)
		goto out;
	tb_path(path, sizeof(path), o->dir, "topology", ".ini");
	topo_file = fopen(path, "w");
	if (!topo_file) {
		rc = -errno;
		goto out;
	}
	fprintf(topo_file, "# written by anosip testbed up %s %s%s\n[directory]\nserial = 1\n",
		o->topology ? "--topology" : "--tree", o->topology ? o->topology : o->tree_text,
		o->netns ? " --netns" : "");
	for (int i = 0; i < n; i++) {
		if (o->netns)
			rc = tb_netns_node_address(i, e[i].address, sizeof(e[i].address));
		else
			snprintf(e[i].address, sizeof(e[i].address), "127.0.0.1:%d", ports[i]);
		if (rc < 0)
			goto out;
	}
	for (int i = 0; i < n; i++) {
		tb_path(path, sizeof(path), o->dir, e[i].id, "");
		rc = keys_generate(&k);
		if (rc == 0)
			rc = keys_save(path, &k);
		e[i].keys = k.pub;
		keys_wipe(&k);
		if (rc < 0)
			goto out;
		fprintf(topo_file, "\n[node %s]\naddress = %s\n", e[i].id, e[i].address);
		if (e[i].parent[0])
			fprintf(topo_file, "parent = %s\n", e[i].parent);
		fprintf(topo_file, "keys = %s.pub\n", e[i].id);
		char roles[64];
		topo_roles_text(e[i].roles, roles, sizeof(roles));
		if (e[i].roles)
			fprintf(topo_file, "roles = %s\n", roles);
		rc = write_node_config(o->dir, e[i].id, e[i].roles, o->log_level);
		if (rc < 0)
			goto out;
	}
out:
	if (topo_file && fclose(topo_file) != 0 && rc == 0)
		rc = -errno;
	free(ports);
	return rc;
}

int tb_sign_directory(const char *dir, const struct topo_entry *e, int n)
{
	char path[4096];
	struct keys_pair auth;
	uint8_t *signed_dir = NULL;
	size_t len;
	tb_path(path, sizeof(path), dir, "authority", ".key");
	int rc = keys_load_secret(path, &auth);
	if (rc == 0)
		rc = topo_directory_sign(e, n, 1, &auth, &signed_dir, &len);
	keys_wipe(&auth);
	if (rc == 0) {
		tb_path(path, sizeof(path), dir, "directory", ".bin");
		rc = util_write_file(path, signed_dir, len, 0644);
	}
	free(signed_dir);
	return rc;
}

/* A --topology file needs what the testbed's own trees have. */
int tb_layout_usable(const struct topo_entry *e, int n, const char *path)
{
	unsigned have = 0;
	for (int i = 0; i < n; i++)
		have |= e[i].roles;
	const unsigned need[] = {TOPO_ROLE_LIGHTHOUSE, TOPO_ROLE_PORTAL, TOPO_ROLE_LOOKUP};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(have & need[i])) {
			char role[32];
			topo_roles_text(need[i], role, sizeof(role));
			fprintf(stderr, "anosip testbed: %s: no node has the %s role\n", path,
				role);
			return -EINVAL;
		}
	return 0;
}

/* "DxF" (D levels of fan-out F; 0xF is a lone root) or "F1,F2,..." (the
 * fan-out of each level). */
int tb_parse_tree(const char *text, struct testbed_options *o)
{
	int depth, fanout, used;
	o->tree_text = text;
	if (sscanf(text, "%dx%d%n", &depth, &fanout, &used) == 2 && !text[used]) {
		if (depth < 0 || depth > TESTBED_MAX_DEPTH || fanout < 1)
			return -EINVAL;
		o->depth = depth;
		for (int d = 0; d < depth; d++)
			o->fanout[d] = fanout;
		return 0;
	}
	o->depth = 0;
	for (const char *p = text; *p;) {
		char *end;
		long f = strtol(p, &end, 10);
		if (end == p || f < 1 || f > TESTBED_MAX_NODES || o->depth == TESTBED_MAX_DEPTH ||
		    (*end && *end != ','))
			return -EINVAL;
		o->fanout[o->depth++] = (int)f;
		p = *end ? end + 1 : end;
	}
	return o->depth > 0 ? 0 : -EINVAL;
}
