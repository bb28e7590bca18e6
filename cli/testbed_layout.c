/* `testbed up --topology FILE`: any shape of tree, read with inih. The
 * file is the topology description `anosip directory sign` reads
 * (docs/operations.md) with its addresses and keys left out — the testbed
 * picks those itself (given ones are ignored, so a deployment's own file
 * can be tried as it is):
 *
 *   [node root]
 *   roles = lookup, iddir
 *   [node lh-a]
 *   parent = root
 *   roles = lighthouse
 *
 * Shape checks (one root, parents exist, no cycles, role clashes) are
 * topo_build's, run by the caller on the finished entries. */
#include "cli/testbed.h"

#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT_MAX_NODES 1000

struct layout {
	struct topo_entry *e;
	int n;
	char *err;
	size_t err_len;
};

static int layout_line(void *user, const char *section, const char *name, const char *value)
{
	struct layout *l = user;
	if (l->err[0])
		return 0; /* keep the first problem */
	if (strcmp(section, "directory") == 0 || strcmp(section, "keys") == 0)
		return 1;
	if (strncmp(section, "node ", 5) != 0) {
		snprintf(l->err, l->err_len, "[%.40s] is not [node ID]", section);
		return 0;
	}
	const char *id = section + 5;
	if (!util_id_valid(id)) {
		snprintf(l->err, l->err_len, "node id \"%.40s\" is not 1-31 of [a-z0-9._-]", id);
		return 0;
	}
	/* inih calls in file order: a new section is a new node. */
	if (l->n == 0 || strcmp(l->e[l->n - 1].id, id) != 0) {
		for (int i = 0; i < l->n; i++)
			if (strcmp(l->e[i].id, id) == 0) {
				snprintf(l->err, l->err_len, "node %s appears twice", id);
				return 0;
			}
		if (l->n == LAYOUT_MAX_NODES) {
			snprintf(l->err, l->err_len, "more than %d nodes", LAYOUT_MAX_NODES);
			return 0;
		}
		memset(&l->e[l->n], 0, sizeof(l->e[0]));
		snprintf(l->e[l->n].id, sizeof(l->e[0].id), "%s", id);
		l->n++;
	}
	struct topo_entry *e = &l->e[l->n - 1];
	if (strcmp(name, "parent") == 0) {
		if (!util_id_valid(value)) {
			snprintf(l->err, l->err_len, "node %s: parent \"%.40s\" is not an id", id,
				 value);
			return 0;
		}
		snprintf(e->parent, sizeof(e->parent), "%s", value);
	} else if (strcmp(name, "roles") == 0) {
		char copy[256], *save = NULL;
		snprintf(copy, sizeof(copy), "%s", value);
		for (char *r = strtok_r(copy, ", ", &save); r; r = strtok_r(NULL, ", ", &save)) {
			unsigned role;
			if (strcmp(r, "router") == 0)
				continue;
			if (topo_role_parse(r, &role) < 0) {
				snprintf(l->err, l->err_len, "node %s: no role \"%.30s\"", id, r);
				return 0;
			}
			e->roles |= role;
		}
	}
	/* address, keys, sign_public, kx_public: the testbed's own. */
	return 1;
}

/* A node section without lines never reaches the handler: inih reports
 * only name = value lines. Such nodes would be lost, so say so. */
static int count_sections(const char *text)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, "[node ")); p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

int tb_layout_load(const char *path, struct topo_entry **entries, int *n, char *err, size_t err_len)
{
	uint8_t *text = NULL;
	size_t len;
	struct layout l = {.err = err, .err_len = err_len};
	err[0] = 0;
	int rc = util_read_file(path, 1u << 20, &text, &len);
	if (rc < 0) {
		snprintf(err, err_len, "%s: cannot be read (%s)", path, strerror(-rc));
		return rc;
	}
	l.e = calloc(LAYOUT_MAX_NODES, sizeof(*l.e));
	if (!l.e) {
		free(text);
		return -ENOMEM;
	}
	int line = ini_parse_string((char *)text, layout_line, &l);
	if (line != 0 || err[0]) {
		char detail[256];
		snprintf(detail, sizeof(detail), "%s", err[0] ? err : "not INI");
		snprintf(err, err_len, "%s:%d: %s", path, line, detail);
		rc = -EINVAL;
	} else if (l.n == 0) {
		snprintf(err, err_len, "%s: no [node ID] sections", path);
		rc = -EINVAL;
	} else if (count_sections((char *)text) != l.n) {
		snprintf(err, err_len, "%s: a [node ID] section without a parent or roles line",
			 path);
		rc = -EINVAL;
	}
	free(text);
	if (rc < 0) {
		free(l.e);
		return rc;
	}
	*entries = l.e;
	*n = l.n;
	return 0;
}
