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
 *   control = mother.sock        sign_up = yes      log_level = info
 *   # the SIP front (DESIGN.md §5): the softphone uses sip_listen as its
 *   # registrar and outbound proxy; sip_direct is the address a caller's
 *   # softphone is redirected to (302) when this ua accepts a call
 *   sip_listen = 127.0.0.1:5060  sip_direct = 127.0.0.1:5070
 *   domain = anosip              realm = anosip
 *   password_file = mother.password   # first line; sets the account's
 *                                     # password hashes at open sign-up
 *   state = mother.db            # the softphone's registration
 *   digest = SHA-256 MD5         # challenges the softphone understands
 *   contacts = father grandma    # callers this ua reveals its address to
 *   # strangers (callers not in contacts): decline, or ask the ID
 *   # Directory who they are and accept a listed real ID, or run a command
 *   strangers = decline|iddir|ask    allow_real_ids = Alan Smith; Bob
 *   ask_command = /usr/local/bin/ask-me   iddir = node-0 */
#ifndef ANOSIP_UA_H
#define ANOSIP_UA_H

#include "circuit/circuit.h"
#include "node/node.h"

struct ua_config {
	char path[4096];
	char nickname[64];
	char key_path[4096];
	char lighthouse[32];
	int sign_up;
	char sip_listen[64];
	char sip_direct[64];
	char domain[64];
	char realm[64];
	int digest_sha256, digest_md5; /* challenges passed to the softphone */
	char password_path[4096];
	char state_path[4096];
	char contacts[32][CIRC_NICKNAME_MAX + 1];
	int n_contacts;
	/* Callers not in contacts (issue 5, DESIGN.md §5.5). */
	enum ua_strangers { UA_STRANGERS_DECLINE, UA_STRANGERS_IDDIR, UA_STRANGERS_ASK } strangers;
	char allow_real_ids[16][CIRC_IDDIR_REAL_ID_MAX + 1];
	int n_allow_real_ids;
	char ask_command[4096];
	char iddir[32];		 /* the ID Directory node; "" for the first in the directory */
	struct node_config node; /* client mode: directory, authority, control, portals */
};

/* Reads a ua config; one clear line in err on failure. */
int ua_config_load(const char *path, struct ua_config *cfg, char *err, size_t err_len);

/* Writes a fresh nickname key pair to cfg->key_path (refuses to overwrite). */
int ua_init_keys(const struct ua_config *cfg, char *err, size_t err_len);

/* Runs the ua until SIGINT/SIGTERM. */
int ua_run(const struct ua_config *cfg);

#endif
