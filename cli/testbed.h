/* cli: the testbed's private helpers, shared by testbed*.c. */
#ifndef ANOSIP_CLI_TESTBED_H
#define ANOSIP_CLI_TESTBED_H

#include "cli/cli.h"
#include "topo/topo.h"
#include "util/util.h"

#include <sys/types.h>

#define TESTBED_MAX_NODES 1000
#define TESTBED_MAX_DEPTH 16
#define TESTBED_MAX_USERS 2000

struct testbed_options {
	const char *dir;
	int depth;		       /* levels below the root (--tree) */
	int fanout[TESTBED_MAX_DEPTH]; /* children per node at each level */
	const char *topology;	       /* --topology FILE instead of --tree */
	const char *tree_text;	       /* as given, for messages */
	int netns;
	const char *log_level;
	int timeout_s;
	int kill;
	int users;
	const char *lighthouse, *portals;
	/* ua add: the SIP front */
	const char *sip_listen, *sip_direct, *contacts, *password_file, *digest;
	const char *out; /* graph: the output prefix */
};

/* Writing it (testbed_gen.c). --tree "DxF" or "F1,F2,..." into o. */
int tb_parse_tree(const char *text, struct testbed_options *o);
/* Ids, parents and roles of --tree's tree; *out is the caller's (free). */
int tb_tree_entries(const struct testbed_options *o, struct topo_entry **out, int *count);
/* A --topology file needs a lighthouse, a portal and the lookup service. */
int tb_layout_usable(const struct topo_entry *e, int n, const char *path);
/* Addresses, keys, DIR/topology.ini and a config per node. */
int tb_generate(const struct testbed_options *o, struct topo_entry *e, int n);
/* DIR/directory.bin, signed with DIR/authority.key. */
int tb_sign_directory(const char *dir, const struct topo_entry *e, int n);

/* DIR/NAME.EXT into out. */
int tb_path(char *out, size_t len, const char *dir, const char *name, const char *ext);
/* Loads DIR's directory (checked with DIR/authority.pub). */
int tb_load(const char *dir, struct topo **t);
/* n free TCP ports on 127.0.0.1. */
int tb_pick_ports(int n, int *ports);
/* The pid in DIR/NAME.pid if that process is alive (not a zombie), else 0. */
pid_t tb_read_pid(const char *dir, const char *name);
/* Starts `anosip SUBCOMMAND -c DIR/NAME.conf` detached, logging to
 * DIR/NAME.log, its pid in DIR/NAME.pid. */
int tb_start(const char *dir, const char *name, const char *subcommand);
/* 1 when a process with a pid file in DIR is alive. */
int tb_any_running(const char *dir);
/* SIGTERM (or SIGKILL when hard), waits up to 5 s, then SIGKILL. */
int tb_stop(const char *dir, const char *name, int hard);
void tb_sleep_ms(int ms);

/* Namespaces (testbed_netns.c): with --netns every process runs in a
 * network namespace of its own on a bridge the testbed makes. */
int tb_netns_enabled(const char *dir);
/* iproute2's ip: /usr/sbin/ip or /sbin/ip when there (root's PATH may
 * not be ours), else "ip" from PATH. */
const char *tb_ip_path(void);
/* A bridge takes at most 1,023 ports: nodes and uas of one testbed. */
#define TB_NETNS_MAX 1000
/* Makes the bridge and records it in DIR/netns.bridge. */
int tb_netns_setup(const char *dir);
/* The namespace for process NAME (a node id or ua-NICK): made, with host
 * number `host` in the bridge's /16 (0: the next free one), unless it
 * exists; its address (no port) into address. */
int tb_netns_add(const char *dir, const char *name, int host, char *address, size_t address_len);
/* NAME's namespace and address, or -ENOENT when NAME has none. */
int tb_netns_of(const char *dir, const char *name, char *ns, size_t ns_len, char *address,
		size_t address_len);
/* The address node `index` (0-based, directory order) gets: IP:7000. */
int tb_netns_node_address(int index, char *out, size_t len);
int tb_netns_bridge(const char *dir, char *out, size_t len);
/* Deletes every namespace of the testbed and its bridge. */
int tb_netns_teardown(const char *dir);

/* Layouts (testbed_layout.c): a topology file for `up --topology`, INI
 * sections [node ID] with parent = and roles =; addresses and keys are
 * the testbed's to choose. *entries is malloc'd, the caller frees it. */
int tb_layout_load(const char *path, struct topo_entry **entries, int *n, char *err,
		   size_t err_len);

/* The picture (testbed_graph.c): the tree, its sibling rings, the users and
 * the path of every open circuit, as OUT.dot and (with Graphviz) OUT.svg. */
int tb_graph(const char *dir, const struct topo *t, const char *out);

/* Users (testbed_ua.c): a ua named NICK lives in DIR/ua-NICK.{conf,key,pub,log,pid,sock}
 * (and with --netns in its own namespace, made by tb_ua_add). */
#define TB_UA_NAME_MAX (3 + UTIL_NICKNAME_MAX + 1)
/* extra: more [ua] lines for its config (the SIP front), or NULL. */
int tb_ua_add(const char *dir, const struct topo *t, const char *nickname, const char *lighthouse,
	      const char *portals, const char *log_level, const char *extra);
/* Waits until every listed ua has an open circuit. */
int tb_ua_wait(const char *dir, char (*nicknames)[64], int n, int timeout_s);
/* Nicknames of the testbed's users (from DIR/ua-*.conf); returns the count. */
int tb_ua_list(const char *dir, char (*nicknames)[64], int max);

#endif
