/* The node's INI config, read with libinih. */
#include "node/node.h"

#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config_parse {
	struct node_config *cfg;
	char base_dir[4096];
	char problem[200];
	int failed;
	int have_id, have_key, have_directory, have_authority, have_control;
	int have_reconnect_max;
};

static int set_path(struct config_parse *p, char *dst, size_t cap, const char *value)
{
	return util_path_join(p->base_dir, value, dst, cap);
}

static int set_uint(const char *value, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (errno || *end || !*value || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int is_role_section(const char *section)
{
	static const char *const roles[] = {"portal", "lighthouse", "lookup", "iddir"};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(section, roles[i]) == 0)
			return 1;
	return 0;
}

const char *node_config_get(const struct node_config *cfg, const char *section, const char *key)
{
	for (int i = 0; i < cfg->n_extra; i++)
		if (strcmp(cfg->extra[i].section, section) == 0 &&
		    strcmp(cfg->extra[i].key, key) == 0)
			return cfg->extra[i].value;
	return NULL;
}

int node_config_path(const struct node_config *cfg, const char *value, char *out, size_t len)
{
	char base[4096];
	snprintf(base, sizeof(base), "%s", cfg->path);
	char *slash = strrchr(base, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(base, sizeof(base), ".");
	return util_path_join(base, value, out, len);
}

int node_config_check_section(const struct node_config *cfg, const char *section,
			      const char *const *known, char *err, size_t err_len)
{
	for (int i = 0; i < cfg->n_extra; i++) {
		if (strcmp(cfg->extra[i].section, section) != 0)
			continue;
		int ok = 0;
		for (const char *const *k = known; *k && !ok; k++)
			ok = strcmp(*k, cfg->extra[i].key) == 0;
		if (!ok) {
			snprintf(err, err_len, "%s: unknown key \"%.40s\" in [%s]", cfg->path,
				 cfg->extra[i].key, section);
			return -EINVAL;
		}
	}
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *p = user;
	struct node_config *c = p->cfg;
	int rc = 0;
	if (p->failed)
		return 1;
	if (strcmp(section, "node") == 0) {
		if (strcmp(name, "id") == 0) {
			if (!util_id_valid(value))
				rc = -EINVAL;
			else
				snprintf(c->id, sizeof(c->id), "%s", value);
			p->have_id = 1;
		} else if (strcmp(name, "key") == 0) {
			rc = set_path(p, c->key_path, sizeof(c->key_path), value);
			p->have_key = 1;
		} else if (strcmp(name, "directory") == 0) {
			rc = set_path(p, c->directory_path, sizeof(c->directory_path), value);
			p->have_directory = 1;
		} else if (strcmp(name, "directory_floor") == 0) {
			rc = set_path(p, c->directory_floor_path, sizeof(c->directory_floor_path),
				      value);
		} else if (strcmp(name, "authority") == 0) {
			rc = set_path(p, c->authority_path, sizeof(c->authority_path), value);
			p->have_authority = 1;
		} else if (strcmp(name, "control") == 0) {
			rc = set_path(p, c->control_path, sizeof(c->control_path), value);
			p->have_control = 1;
		} else if (strcmp(name, "listen") == 0) {
			struct sockaddr_storage ss;
			if (util_parse_address(value, &ss) < 0 ||
			    strlen(value) >= sizeof(c->listen))
				rc = -EINVAL;
			else
				snprintf(c->listen, sizeof(c->listen), "%s", value);
		} else if (strcmp(name, "log_level") == 0) {
			enum log_level l;
			if (log_level_parse(value, &l) < 0)
				rc = -EINVAL;
			else
				snprintf(c->log_level, sizeof(c->log_level), "%s", value);
		} else {
			snprintf(p->problem, sizeof(p->problem), "unknown key \"%.40s\" in [node]",
				 name);
			goto fail;
		}
	} else if (strcmp(section, "link") == 0) {
		unsigned v;
		if (strcmp(name, "keepalive_ms") == 0)
			rc = set_uint(value, 10, 600000, &c->keepalive_ms);
		else if (strcmp(name, "dead_ms") == 0)
			rc = set_uint(value, 50, 3600000, &c->dead_ms);
		else if (strcmp(name, "handshake_timeout_ms") == 0)
			rc = set_uint(value, 50, 600000, &c->handshake_timeout_ms);
		else if (strcmp(name, "reconnect_min_ms") == 0)
			rc = set_uint(value, 1, 600000, &c->reconnect_min_ms);
		else if (strcmp(name, "reconnect_max_ms") == 0) {
			rc = set_uint(value, 1, 3600000, &c->reconnect_max_ms);
			p->have_reconnect_max = 1;
		} else if (strcmp(name, "max_pending_handshakes") == 0)
			rc = set_uint(value, 1, 100000, &c->max_pending_handshakes);
		else if (strcmp(name, "max_clients") == 0)
			rc = set_uint(value, 1, 1000000, &c->max_clients);
		else if (strcmp(name, "max_queue_bytes") == 0) {
			rc = set_uint(value, 64 * 1024, 1u << 30, &v);
			c->max_queue_bytes = v;
		} else {
			snprintf(p->problem, sizeof(p->problem), "unknown key \"%.40s\" in [link]",
				 name);
			goto fail;
		}
	} else if (is_role_section(section)) {
		if (c->n_extra == (int)(sizeof(c->extra) / sizeof(c->extra[0])) ||
		    strlen(name) >= sizeof(c->extra[0].key) ||
		    strlen(value) >= sizeof(c->extra[0].value)) {
			snprintf(p->problem, sizeof(p->problem), "too many or too long settings");
			goto fail;
		}
		struct node_config_extra *x = &c->extra[c->n_extra++];
		snprintf(x->section, sizeof(x->section), "%s", section);
		snprintf(x->key, sizeof(x->key), "%s", name);
		snprintf(x->value, sizeof(x->value), "%s", value);
	} else {
		snprintf(p->problem, sizeof(p->problem), "unknown section [%.40s]", section);
		goto fail;
	}
	if (rc < 0) {
		snprintf(p->problem, sizeof(p->problem), "bad value for %.40s: \"%.60s\"", name,
			 value);
		goto fail;
	}
	return 1;
fail:
	p->failed = 1;
	return 0; /* inih reports this line */
}

void node_config_defaults(struct node_config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
	cfg->keepalive_ms = 1000;
	cfg->dead_ms = 5000;
	cfg->handshake_timeout_ms = 5000;
	cfg->reconnect_min_ms = 100;
	/* A restarted neighbour is dialed again at most this long (plus a
	 * quarter of jitter) after it is back: with 5 s, a lighthouse down
	 * for 8 s had its links back 5.4 to 6 s after it started, its users
	 * 5.6 to 6.2 s; with 2 s, its users up to 3.7 s
	 * (tests/integration/test_faults.py). One connection attempt a
	 * second to a dead peer costs it nothing. */
	cfg->reconnect_max_ms = 1000;
	cfg->max_queue_bytes = 4u << 20;
	cfg->max_pending_handshakes = 64;
	cfg->max_clients = 20000;
}

int node_config_load(const char *path, struct node_config *cfg, char *err, size_t err_len)
{
	struct config_parse p = {.cfg = cfg};
	node_config_defaults(cfg, path);

	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(p.base_dir, sizeof(p.base_dir), "%s", dirname(copy));
	int r = ini_parse(path, handler, &p);
	if (r == -1) {
		snprintf(err, err_len, "%s: cannot open config", path);
		return -ENOENT;
	}
	if (r != 0) {
		snprintf(err, err_len, "%s:%d: %s", path, r, p.failed ? p.problem : "syntax error");
		return -EINVAL;
	}
	const char *missing = !p.have_id	  ? "id"
			      : !p.have_key	  ? "key"
			      : !p.have_directory ? "directory"
			      : !p.have_authority ? "authority"
			      : !p.have_control	  ? "control"
						  : NULL;
	if (missing) {
		snprintf(err, err_len, "%s: [node] %s is missing", path, missing);
		return -EINVAL;
	}
	if (cfg->dead_ms <= cfg->keepalive_ms) {
		snprintf(err, err_len, "%s: [link] dead_ms must exceed keepalive_ms", path);
		return -EINVAL;
	}
	/* A config written when the cap was 5 s may raise only the minimum:
	 * the cap follows it rather than refusing the file. */
	if (cfg->reconnect_max_ms < cfg->reconnect_min_ms && !p.have_reconnect_max)
		cfg->reconnect_max_ms = cfg->reconnect_min_ms;
	if (cfg->reconnect_max_ms < cfg->reconnect_min_ms) {
		snprintf(err, err_len, "%s: [link] reconnect_max_ms is below reconnect_min_ms",
			 path);
		return -EINVAL;
	}
	return 0;
}
