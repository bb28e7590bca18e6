/* The operator commands' reading of a node config (`anosip lighthouse
 * user`, `anosip iddir`): only the role's own section, since the other
 * sections are the node's business and a config holding just that section
 * is fine; and the role's database path, resolved as the node does. */
#include "cli/cli.h"
#include "node/node.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct role_parse {
	struct node_config *cfg;
	const char *section;
};

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct role_parse *p = user;
	struct node_config *cfg = p->cfg;
	if (strcmp(section, p->section) != 0)
		return 1;
	if (cfg->n_extra == (int)(sizeof(cfg->extra) / sizeof(cfg->extra[0])) ||
	    strlen(name) >= sizeof(cfg->extra[0].key) ||
	    strlen(value) >= sizeof(cfg->extra[0].value))
		return 0;
	struct node_config_extra *x = &cfg->extra[cfg->n_extra++];
	snprintf(x->section, sizeof(x->section), "%s", section);
	snprintf(x->key, sizeof(x->key), "%s", name);
	snprintf(x->value, sizeof(x->value), "%s", value);
	return 1;
}

struct node_config *cli_role_config_load(const char *prog, const char *path, const char *section)
{
	struct node_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return NULL;
	}
	node_config_defaults(cfg, path);
	struct role_parse p = {.cfg = cfg, .section = section};
	int line = ini_parse(path, handler, &p);
	if (line == 0)
		return cfg;
	if (line < 0)
		fprintf(stderr, "%s: %s: cannot read the config\n", prog, path);
	else
		fprintf(stderr, "%s: %s:%d: syntax error or too long a setting\n", prog, path,
			line);
	free(cfg);
	return NULL;
}

int cli_role_database(const char *prog, const struct node_config *cfg, const char *section,
		      char *out, size_t len)
{
	const char *db = node_config_get(cfg, section, "database");
	if (!db) {
		fprintf(stderr, "%s: %s: [%s] database is missing\n", prog, cfg->path, section);
		return -1;
	}
	/* Relative to the config's folder, as the node resolves it. */
	if (node_config_path(cfg, db, out, len) < 0) {
		fprintf(stderr, "%s: %s: [%s] database path too long\n", prog, cfg->path, section);
		return -1;
	}
	return 0;
}
