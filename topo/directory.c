/* The directory on disk: a SignedDirectory protobuf signed by the authority,
 * and the INI topology description the authority signs it from. */
#include "topo/topo.h"

#include "directory.pb-c.h"
#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRECTORY_VERSION 1
static const char directory_context[] = "anosip-directory-v1";

/* Signature input: the context string, then the encoded Directory. */
static uint8_t *signed_bytes(const uint8_t *body, size_t len, size_t *out_len)
{
	return util_with_context(directory_context, body, len, out_len);
}

static int entry_from_node(const Anosip__V1__DirectoryNode *dn, struct topo_entry *e, char *err,
			   size_t err_len)
{
	memset(e, 0, sizeof(*e));
	if (!dn->id || strlen(dn->id) >= sizeof(e->id)) {
		snprintf(err, err_len, "a node id is missing or too long");
		return -EINVAL;
	}
	strcpy(e->id, dn->id);
	if (!dn->address || strlen(dn->address) >= sizeof(e->address) || !dn->parent ||
	    strlen(dn->parent) >= sizeof(e->parent)) {
		snprintf(err, err_len, "node %s: address or parent too long", e->id);
		return -EINVAL;
	}
	strcpy(e->address, dn->address);
	strcpy(e->parent, dn->parent);
	if (dn->sign_public.len != KEYS_SIGN_PUBLIC || dn->kx_public.len != KEYS_KX_PUBLIC) {
		snprintf(err, err_len, "node %s: public keys have the wrong length", e->id);
		return -EINVAL;
	}
	memcpy(e->keys.sign, dn->sign_public.data, KEYS_SIGN_PUBLIC);
	memcpy(e->keys.kx, dn->kx_public.data, KEYS_KX_PUBLIC);
	for (size_t r = 0; r < dn->n_roles; r++) {
		unsigned role;
		if (topo_role_parse(dn->roles[r], &role) < 0) {
			snprintf(err, err_len, "node %s: unknown role \"%.20s\"", e->id,
				 dn->roles[r]);
			return -EINVAL;
		}
		e->roles |= role;
	}
	return 0;
}

int topo_directory_parse(const uint8_t *buf, size_t len, const uint8_t authority_sign[32],
			 struct topo **out, char *err, size_t err_len)
{
	int rc = -EINVAL;
	Anosip__V1__SignedDirectory *sd = NULL;
	Anosip__V1__Directory *d = NULL;
	struct topo_entry *entries = NULL;
	uint8_t *m = NULL;

	if (len > TOPO_FILE_MAX) {
		snprintf(err, err_len, "directory too large (%zu bytes)", len);
		goto out;
	}
	sd = anosip__v1__signed_directory__unpack(NULL, len, buf);
	if (!sd) {
		snprintf(err, err_len, "not a signed directory (does not decode)");
		goto out;
	}
	if (sd->signature.len != crypto_sign_BYTES) {
		snprintf(err, err_len, "directory signature missing or of the wrong length");
		goto out;
	}
	size_t m_len;
	m = signed_bytes(sd->directory.data, sd->directory.len, &m_len);
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	if (sodium_init() < 0 ||
	    crypto_sign_verify_detached(sd->signature.data, m, m_len, authority_sign) != 0) {
		snprintf(err, err_len,
			 "directory signature does not verify with the authority key");
		goto out;
	}
	d = anosip__v1__directory__unpack(NULL, sd->directory.len, sd->directory.data);
	if (!d) {
		snprintf(err, err_len, "signed directory body does not decode");
		goto out;
	}
	if (d->version != DIRECTORY_VERSION) {
		snprintf(err, err_len, "directory format version %u, this build reads %u",
			 d->version, DIRECTORY_VERSION);
		goto out;
	}
	if (d->n_nodes == 0 || d->n_nodes > TOPO_MAX_NODES) {
		snprintf(err, err_len, "directory lists %zu nodes (1..%d allowed)", d->n_nodes,
			 TOPO_MAX_NODES);
		goto out;
	}
	entries = calloc(d->n_nodes, sizeof(*entries));
	if (!entries) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->n_nodes; i++)
		if (entry_from_node(d->nodes[i], &entries[i], err, err_len) < 0)
			goto out;
	rc = topo_build(entries, (int)d->n_nodes, d->serial, out, err, err_len);
out:
	free(m);
	free(entries);
	if (d)
		anosip__v1__directory__free_unpacked(d, NULL);
	if (sd)
		anosip__v1__signed_directory__free_unpacked(sd, NULL);
	return rc;
}

int topo_directory_load(const char *path, const uint8_t authority_sign[32], struct topo **out,
			char *err, size_t err_len)
{
	uint8_t *buf;
	size_t len;
	int rc = util_read_file(path, TOPO_FILE_MAX, &buf, &len);
	if (rc < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	char inner[256];
	rc = topo_directory_parse(buf, len, authority_sign, out, inner, sizeof(inner));
	if (rc < 0)
		snprintf(err, err_len, "%s: %s", path, inner);
	free(buf);
	return rc;
}

int topo_directory_sign(const struct topo_entry *entries, int n, uint64_t serial,
			const struct keys_pair *authority, uint8_t **out, size_t *out_len)
{
	int rc = -ENOMEM;
	Anosip__V1__DirectoryNode *nodes = calloc((size_t)n, sizeof(*nodes));
	Anosip__V1__DirectoryNode **node_ptrs = calloc((size_t)n, sizeof(*node_ptrs));
	char **role_store = calloc((size_t)n * 4, sizeof(char *));
	uint8_t *body = NULL, *m = NULL;
	if (!nodes || !node_ptrs || !role_store)
		goto out;
	static const char *const names[] = {"portal", "lighthouse", "lookup", "iddir"};
	for (int i = 0; i < n; i++) {
		Anosip__V1__DirectoryNode *dn = &nodes[i];
		anosip__v1__directory_node__init(dn);
		dn->id = (char *)entries[i].id;
		dn->address = (char *)entries[i].address;
		dn->parent = (char *)entries[i].parent;
		dn->sign_public.data = (uint8_t *)entries[i].keys.sign;
		dn->sign_public.len = KEYS_SIGN_PUBLIC;
		dn->kx_public.data = (uint8_t *)entries[i].keys.kx;
		dn->kx_public.len = KEYS_KX_PUBLIC;
		dn->roles = &role_store[i * 4];
		for (unsigned r = 0; r < 4; r++)
			if (entries[i].roles & (1u << r))
				dn->roles[dn->n_roles++] = (char *)names[r];
		node_ptrs[i] = dn;
	}
	Anosip__V1__Directory d;
	anosip__v1__directory__init(&d);
	d.version = DIRECTORY_VERSION;
	d.serial = serial;
	d.created_unix = util_wall_ms() / 1000;
	d.n_nodes = (size_t)n;
	d.nodes = node_ptrs;
	size_t body_len = anosip__v1__directory__get_packed_size(&d);
	body = malloc(body_len ? body_len : 1);
	if (!body)
		goto out;
	anosip__v1__directory__pack(&d, body);
	size_t m_len;
	m = signed_bytes(body, body_len, &m_len);
	if (!m)
		goto out;
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, m, m_len, authority->sign_secret);

	Anosip__V1__SignedDirectory sd;
	anosip__v1__signed_directory__init(&sd);
	sd.directory.data = body;
	sd.directory.len = body_len;
	sd.signature.data = sig;
	sd.signature.len = sizeof(sig);
	*out_len = anosip__v1__signed_directory__get_packed_size(&sd);
	*out = malloc(*out_len);
	if (!*out)
		goto out;
	anosip__v1__signed_directory__pack(&sd, *out);
	rc = 0;
out:
	free(m);
	free(body);
	free(role_store);
	free(node_ptrs);
	free(nodes);
	return rc;
}

/* --- topology description (INI) --- */

struct description_parse {
	char base_dir[4096];
	struct topo_entry *entries;
	int n, cap;
	uint64_t serial;
	char *err;
	size_t err_len;
	int failed;
	int have_keys; /* of the current entry */
};

static int description_fail(struct description_parse *p, const char *what, const char *name,
			    const char *value)
{
	if (!p->failed)
		snprintf(p->err, p->err_len, "%s \"%.40s = %.60s\"", what, name, value);
	p->failed = 1;
	return 0;
}

static int description_handler(void *user, const char *section, const char *name, const char *value)
{
	struct description_parse *p = user;
	if (strcmp(section, "directory") == 0) {
		if (strcmp(name, "serial") == 0) {
			char *end;
			p->serial = strtoull(value, &end, 10);
			if (*end || !*value)
				return description_fail(p, "bad serial", name, value);
			return 1;
		}
		return description_fail(p, "unknown key in [directory]:", name, value);
	}
	if (strncmp(section, "node ", 5) != 0)
		return description_fail(p, "unknown section", section, "");
	const char *id = section + 5;
	if (p->n == 0 || strcmp(p->entries[p->n - 1].id, id) != 0) {
		if (p->n == TOPO_MAX_NODES)
			return description_fail(p, "too many nodes at", section, "");
		if (p->n == p->cap) {
			int cap = p->cap ? p->cap * 2 : 16;
			struct topo_entry *e = realloc(p->entries, sizeof(*e) * (size_t)cap);
			if (!e)
				return 0;
			p->entries = e;
			p->cap = cap;
		}
		struct topo_entry *e = &p->entries[p->n++];
		memset(e, 0, sizeof(*e));
		if (strlen(id) >= sizeof(e->id))
			return description_fail(p, "node id too long:", section, "");
		strcpy(e->id, id);
	}
	struct topo_entry *e = &p->entries[p->n - 1];
	if (strcmp(name, "address") == 0) {
		if (strlen(value) >= sizeof(e->address))
			return description_fail(p, "address too long:", name, value);
		strcpy(e->address, value);
	} else if (strcmp(name, "parent") == 0) {
		if (strlen(value) >= sizeof(e->parent))
			return description_fail(p, "parent too long:", name, value);
		strcpy(e->parent, value);
	} else if (strcmp(name, "roles") == 0) {
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", value);
		char *save = NULL;
		for (char *tok = strtok_r(copy, " ,", &save); tok;
		     tok = strtok_r(NULL, " ,", &save)) {
			unsigned role;
			if (strcmp(tok, "router") == 0)
				continue;
			if (topo_role_parse(tok, &role) < 0)
				return description_fail(p, "unknown role in", name, value);
			e->roles |= role;
		}
	} else if (strcmp(name, "keys") == 0) {
		char path[8192];
		if (util_path_join(p->base_dir, value, path, sizeof(path)) < 0 ||
		    keys_load_public(path, &e->keys) < 0)
			return description_fail(p, "cannot read public keys from", name, value);
	} else if (strcmp(name, "sign_public") == 0) {
		if (util_hex_decode(value, e->keys.sign, KEYS_SIGN_PUBLIC) < 0)
			return description_fail(p, "bad key", name, value);
	} else if (strcmp(name, "kx_public") == 0) {
		if (util_hex_decode(value, e->keys.kx, KEYS_KX_PUBLIC) < 0)
			return description_fail(p, "bad key", name, value);
	} else {
		return description_fail(p, "unknown key", name, value);
	}
	return 1;
}

int topo_description_load(const char *path, struct topo_entry **entries, int *n, uint64_t *serial,
			  char *err, size_t err_len)
{
	struct description_parse p = {.err = err, .err_len = err_len, .serial = 1};
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(p.base_dir, sizeof(p.base_dir), "%s", dirname(copy));
	int r = ini_parse(path, description_handler, &p);
	if (r == -1) {
		snprintf(err, err_len, "%s: cannot open", path);
		goto fail;
	}
	if (r != 0 || p.failed) {
		char inner[256];
		snprintf(inner, sizeof(inner), "%s", p.failed ? err : "syntax error");
		snprintf(err, err_len, "%s:%d: %s", path, r > 0 ? r : 0, inner);
		goto fail;
	}
	static const uint8_t zero[KEYS_SIGN_PUBLIC];
	for (int i = 0; i < p.n; i++)
		if (sodium_memcmp(p.entries[i].keys.sign, zero, sizeof(zero)) == 0 ||
		    sodium_memcmp(p.entries[i].keys.kx, zero, sizeof(zero)) == 0) {
			snprintf(err, err_len, "%s: node %s has no public keys", path,
				 p.entries[i].id);
			goto fail;
		}
	*entries = p.entries;
	*n = p.n;
	*serial = p.serial;
	return 0;
fail:
	free(p.entries);
	return -EINVAL;
}
