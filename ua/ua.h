/* ua: `anosip ua`, the softphone backend on the user's device — holds the
 * nickname's key pair, keeps an anonymous link to a portal (the next in
 * its list when one is gone), and a Mist circuit through it to the home
 * lighthouse, rebuilt with backoff whenever it dies (DESIGN.md §1, §4.3).
 *
 * Config (INI):
 *   [ua]
 *   nickname = mother            key = mother.key
 *   lighthouse = node-1          portals = node-4 node-5
 *   directory = directory.bin    authority = authority.pub
 *   control = mother.sock        sign_up = yes      log_level = info */
#ifndef ANOSIP_UA_H
#define ANOSIP_UA_H

#include "node/node.h"

struct ua_config {
	char path[4096];
	char nickname[64];
	char key_path[4096];
	char lighthouse[32];
	int sign_up;
	struct node_config node; /* client mode: directory, authority, control, portals */
};

/* Reads a ua config; one clear line in err on failure. */
int ua_config_load(const char *path, struct ua_config *cfg, char *err, size_t err_len);

/* Writes a fresh nickname key pair to cfg->key_path (refuses to overwrite). */
int ua_init_keys(const struct ua_config *cfg, char *err, size_t err_len);

/* Runs the ua until SIGINT/SIGTERM. */
int ua_run(const struct ua_config *cfg);

#endif
