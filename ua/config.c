/* The ua's INI config, read with libinih. */
#include "ua/ua.h"

#include "circuit/circuit.h"
#include "keys/keys.h"
#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct ua_parse {
	struct ua_config *cfg;
	char base[4096];
	char problem[200];
	int failed;
};

static int set_path(const struct ua_parse *p, char *dst, size_t cap, const char *value)
{
	return util_path_join(p->base, value, dst, cap);
}

static int set_portals(struct node_config *nc, const char *value)
{
	char copy[512];
	snprintf(copy, sizeof(copy), "%s", value);
	char *save = NULL;
	nc->n_portals = 0;
	for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		if (nc->n_portals == (int)(sizeof(nc->portals) / sizeof(nc->portals[0])) ||
		    !util_id_valid(w))
			return -EINVAL;
		snprintf(nc->portals[nc->n_portals++], sizeof(nc->portals[0]), "%s", w);
	}
	return nc->n_portals ? 0 : -EINVAL;
}

static int set_contacts(struct ua_config *c, const char *value)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", value);
	char *save = NULL;
	c->n_contacts = 0;
	for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		if (c->n_contacts == (int)(sizeof(c->contacts) / sizeof(c->contacts[0])) ||
		    !circ_nickname_valid(w))
			return -EINVAL;
		snprintf(c->contacts[c->n_contacts++], sizeof(c->contacts[0]), "%s", w);
	}
	return 0;
}

/* "Alan Smith; Bob": real IDs separated by semicolons. */
static int set_real_ids(struct ua_config *c, const char *value)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", value);
	char *save = NULL;
	c->n_allow_real_ids = 0;
	for (char *w = strtok_r(copy, ";", &save); w; w = strtok_r(NULL, ";", &save)) {
		while (*w == ' ')
			w++;
		size_t n = strlen(w);
		while (n && w[n - 1] == ' ')
			w[--n] = 0;
		if (!n)
			continue;
		if (c->n_allow_real_ids ==
			(int)(sizeof(c->allow_real_ids) / sizeof(c->allow_real_ids[0])) ||
		    n > CIRC_IDDIR_REAL_ID_MAX)
			return -EINVAL;
		snprintf(c->allow_real_ids[c->n_allow_real_ids++], sizeof(c->allow_real_ids[0]),
			 "%s", w);
	}
	return 0;
}

static int set_digest(struct ua_config *c, const char *value)
{
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", value);
	char *save = NULL;
	c->digest_sha256 = c->digest_md5 = 0;
	for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		if (strcasecmp(w, "SHA-256") == 0)
			c->digest_sha256 = 1;
		else if (strcasecmp(w, "MD5") == 0)
			c->digest_md5 = 1;
		else
			return -EINVAL;
	}
	return c->digest_sha256 || c->digest_md5 ? 0 : -EINVAL;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ua_parse *p = user;
	struct ua_config *c = p->cfg;
	struct node_config *nc = &c->node;
	int rc = 0;
	if (p->failed)
		return 1;
	if (strcmp(section, "ua") != 0) {
		snprintf(p->problem, sizeof(p->problem), "unknown section [%.40s]", section);
		goto fail;
	}
	if (strcmp(name, "nickname") == 0) {
		rc = circ_nickname_valid(value) ? 0 : -EINVAL;
		snprintf(c->nickname, sizeof(c->nickname), "%s", value);
	} else if (strcmp(name, "key") == 0) {
		rc = set_path(p, c->key_path, sizeof(c->key_path), value);
	} else if (strcmp(name, "lighthouse") == 0) {
		rc = util_id_valid(value) ? 0 : -EINVAL;
		snprintf(c->lighthouse, sizeof(c->lighthouse), "%s", value);
	} else if (strcmp(name, "portals") == 0) {
		rc = set_portals(nc, value);
	} else if (strcmp(name, "directory") == 0) {
		rc = set_path(p, nc->directory_path, sizeof(nc->directory_path), value);
	} else if (strcmp(name, "authority") == 0) {
		rc = set_path(p, nc->authority_path, sizeof(nc->authority_path), value);
	} else if (strcmp(name, "control") == 0) {
		rc = set_path(p, nc->control_path, sizeof(nc->control_path), value);
	} else if (strcmp(name, "sign_up") == 0) {
		c->sign_up = strcmp(value, "yes") == 0;
		rc = c->sign_up || strcmp(value, "no") == 0 ? 0 : -EINVAL;
	} else if (strcmp(name, "sip_listen") == 0 || strcmp(name, "sip_direct") == 0) {
		struct sockaddr_storage ss;
		rc = strlen(value) < sizeof(c->sip_listen) ? util_parse_address(value, &ss)
							   : -EINVAL;
		snprintf(name[4] == 'l' ? c->sip_listen : c->sip_direct, sizeof(c->sip_listen),
			 "%s", value);
	} else if (strcmp(name, "domain") == 0 || strcmp(name, "realm") == 0) {
		rc =
		    strlen(value) && strlen(value) < sizeof(c->domain) &&
			    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789.-") == strlen(value)
			? 0
			: -EINVAL;
		snprintf(name[0] == 'd' ? c->domain : c->realm, sizeof(c->domain), "%s", value);
	} else if (strcmp(name, "digest") == 0) {
		rc = set_digest(c, value);
	} else if (strcmp(name, "strangers") == 0) {
		c->strangers = strcmp(value, "iddir") == 0 ? UA_STRANGERS_IDDIR
			       : strcmp(value, "ask") == 0 ? UA_STRANGERS_ASK
							   : UA_STRANGERS_DECLINE;
		rc = c->strangers != UA_STRANGERS_DECLINE || strcmp(value, "decline") == 0
			 ? 0
			 : -EINVAL;
	} else if (strcmp(name, "allow_real_ids") == 0) {
		rc = set_real_ids(c, value);
	} else if (strcmp(name, "ask_command") == 0) {
		rc = set_path(p, c->ask_command, sizeof(c->ask_command), value);
	} else if (strcmp(name, "iddir") == 0) {
		rc = util_id_valid(value) ? 0 : -EINVAL;
		snprintf(c->iddir, sizeof(c->iddir), "%s", value);
	} else if (strcmp(name, "password_file") == 0) {
		rc = set_path(p, c->password_path, sizeof(c->password_path), value);
	} else if (strcmp(name, "state") == 0) {
		rc = set_path(p, c->state_path, sizeof(c->state_path), value);
	} else if (strcmp(name, "directory_floor") == 0) {
		rc = set_path(p, c->node.directory_floor_path, sizeof(c->node.directory_floor_path),
			      value);
	} else if (strcmp(name, "contacts") == 0) {
		rc = set_contacts(c, value);
	} else if (strcmp(name, "log_level") == 0) {
		enum log_level l;
		rc = log_level_parse(value, &l);
		snprintf(nc->log_level, sizeof(nc->log_level), "%s", value);
	} else {
		snprintf(p->problem, sizeof(p->problem), "unknown key \"%.40s\" in [ua]", name);
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
	return 0;
}

int ua_config_load(const char *path, struct ua_config *cfg, char *err, size_t err_len)
{
	struct ua_parse p = {.cfg = cfg};
	memset(cfg, 0, sizeof(*cfg));
	struct node_config *nc = &cfg->node;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	node_config_defaults(nc, path);
	/* A ua is a client: one link, a smaller queue. It dials its portal
	 * again as often as nodes dial a neighbour (reconnect_max_ms, 1 s). */
	nc->client = 1;
	nc->max_queue_bytes = 1u << 20;
	nc->max_pending_handshakes = 1;
	nc->max_clients = 1;
	cfg->sign_up = 1;
	snprintf(cfg->domain, sizeof(cfg->domain), "anosip");
	snprintf(cfg->realm, sizeof(cfg->realm), "anosip");
	cfg->digest_sha256 = cfg->digest_md5 = 1;
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(p.base, sizeof(p.base), "%s", dirname(copy));
	int r = ini_parse(path, handler, &p);
	if (r == -1) {
		snprintf(err, err_len, "%s: cannot open config", path);
		return -ENOENT;
	}
	if (r != 0) {
		snprintf(err, err_len, "%s:%d: %s", path, r, p.failed ? p.problem : "syntax error");
		return -EINVAL;
	}
	const char *missing = !cfg->nickname[0]	       ? "nickname"
			      : !cfg->key_path[0]      ? "key"
			      : !cfg->lighthouse[0]    ? "lighthouse"
			      : !nc->n_portals	       ? "portals"
			      : !nc->directory_path[0] ? "directory"
			      : !nc->authority_path[0] ? "authority"
			      : !nc->control_path[0]   ? "control"
						       : NULL;
	if (!missing && cfg->sip_listen[0] && !cfg->sip_direct[0])
		missing = "sip_direct (needed with sip_listen)";
	if (!missing && cfg->strangers == UA_STRANGERS_ASK && !cfg->ask_command[0])
		missing = "ask_command (needed with strangers = ask)";
	if (missing) {
		snprintf(err, err_len, "%s: [ua] %s is missing", path, missing);
		return -EINVAL;
	}
	snprintf(nc->id, sizeof(nc->id), "ua");
	/* The link stays anonymous; the node keeps its directory floor next
	 * to the nickname key (node_directory_floor). */
	snprintf(nc->key_path, sizeof(nc->key_path), "%s", cfg->key_path);
	return 0;
}

int ua_init_keys(const struct ua_config *cfg, char *err, size_t err_len)
{
	char prefix[4096];
	struct stat st;
	size_t n = strlen(cfg->key_path);
	if (n < 5 || strcmp(cfg->key_path + n - 4, ".key") != 0) {
		snprintf(err, err_len, "%s: key file must end in .key", cfg->key_path);
		return -EINVAL;
	}
	if (stat(cfg->key_path, &st) == 0) {
		snprintf(err, err_len, "%s exists: not overwriting a nickname key", cfg->key_path);
		return -EEXIST;
	}
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(n - 4), cfg->key_path);
	struct keys_pair k;
	int rc = keys_generate(&k);
	if (rc == 0)
		rc = keys_save(prefix, &k);
	keys_wipe(&k);
	if (rc < 0)
		snprintf(err, err_len, "%s: %s", cfg->key_path, strerror(-rc));
	return rc;
}
