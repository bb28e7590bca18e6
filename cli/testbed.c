/* `anosip testbed`: a whole network on this machine, for tests, demos and
 * experiments. `up` writes keys, the authority, the topology, the signed
 * directory and one config per node into DIR, starts every node in the
 * background and waits until every link is up. */
#include "cli/testbed.h"
#include "keys/keys.h"
#include "topo/topo.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Parses "links_up N" and "neighbours N" out of a status reply. */
static int node_ready(const char *dir, const char *id)
{
	char sock[4096];
	char *reply;
	tb_path(sock, sizeof(sock), dir, id, ".sock");
	if (ctl_request(sock, "status", 2000, &reply) < 0)
		return 0;
	const char *up = strstr(reply, "\nlinks_up ");
	const char *nb = strstr(reply, "\nneighbours ");
	int ready = up && nb && atoi(up + 10) == atoi(nb + 12);
	free(reply);
	return ready;
}

static int wait_ready(const char *dir, const struct topo *t, int timeout_s)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_s * 1000;
	for (;;) {
		int missing = -1;
		for (int i = 0; i < t->n && missing < 0; i++)
			if (!node_ready(dir, t->nodes[i].id))
				missing = i;
		if (missing < 0)
			return 0;
		if (util_now_ms() > deadline) {
			fprintf(stderr,
				"anosip testbed: %s does not have all its links up after %d s "
				"(see %s/%s.log)\n",
				t->nodes[missing].id, timeout_s, dir, t->nodes[missing].id);
			return -ETIMEDOUT;
		}
		tb_sleep_ms(50);
	}
}

static void print_nodes(const char *dir, const struct topo *t)
{
	printf("%-10s %-8s %-22s %-10s %-18s %s\n", "node", "pid", "address", "parent", "roles",
	       "control");
	for (int i = 0; i < t->n; i++) {
		const struct topo_node *nd = &t->nodes[i];
		char roles[64];
		topo_roles_text(nd->roles, roles, sizeof(roles));
		printf("%-10s %-8d %-22s %-10s %-18s %s/%s.sock\n", nd->id,
		       (int)tb_read_pid(dir, nd->id), nd->address,
		       nd->parent >= 0 ? t->nodes[nd->parent].id : "-", roles, dir, nd->id);
	}
	static char users[TESTBED_MAX_USERS][64];
	int n_users = tb_ua_list(dir, users, TESTBED_MAX_USERS);
	for (int i = 0; i < n_users; i++) {
		char name[TB_UA_NAME_MAX], address[64] = "-";
		snprintf(name, sizeof(name), "ua-%.63s", users[i]);
		tb_netns_of(dir, name, NULL, 0, address, sizeof(address));
		printf("%-10s %-8d %-22s %-10s %-18s %s/%s.sock\n", name,
		       (int)tb_read_pid(dir, name), address, "-", "user", dir, name);
	}
}

/* Lighthouses and portals of the directory, for placing users. */
static int nodes_with(const struct topo *t, unsigned role, int *out)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		if (t->nodes[i].roles & role)
			out[n++] = i;
	return n;
}

/* user-1 … user-N: homed round-robin on the lighthouses, each with two
 * portals (the second for failover). */
static int add_users(const struct testbed_options *o, const struct topo *t)
{
	int *lhs = calloc((size_t)t->n, sizeof(int)), *portals = calloc((size_t)t->n, sizeof(int));
	static char names[TESTBED_MAX_USERS][64];
	int rc = -ENOMEM;
	if (!lhs || !portals)
		goto out;
	int n_lh = nodes_with(t, TOPO_ROLE_LIGHTHOUSE, lhs);
	int n_portals = nodes_with(t, TOPO_ROLE_PORTAL, portals);
	rc = -EINVAL;
	if (!n_lh || !n_portals)
		goto out;
	for (int u = 0; u < o->users; u++) {
		char list[80];
		snprintf(names[u], 64, "user-%d", u + 1);
		/* The second portal half the list away: usually another subtree,
		 * so a failover avoids what broke the first path. */
		snprintf(list, sizeof(list), "%s %s", t->nodes[portals[u % n_portals]].id,
			 t->nodes[portals[(u + n_portals / 2) % n_portals]].id);
		rc = tb_ua_add(o->dir, t, names[u], t->nodes[lhs[u % n_lh]].id, list, o->log_level,
			       NULL);
		if (rc < 0)
			goto out;
	}
	rc = tb_ua_wait(o->dir, names, o->users, o->timeout_s);
out:
	free(lhs);
	free(portals);
	return rc;
}

/* Every process with a pid file in DIR, uas first; from the files alone,
 * so a testbed whose directory no longer loads still comes down. */
static int stop_all(const char *dir, int *nodes, int *users)
{
	DIR *d = opendir(dir);
	*nodes = *users = 0;
	if (!d)
		return -errno;
	for (int pass = 0; pass < 2; pass++) {
		rewinddir(d);
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 5 || l > 200 || strcmp(de->d_name + l - 4, ".pid") != 0)
				continue;
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(l - 4), de->d_name);
			int ua = strncmp(name, "ua-", 3) == 0;
			if (ua != (pass == 0))
				continue;
			tb_stop(dir, name, 0);
			++*(ua ? users : nodes);
		}
	}
	closedir(d);
	return 0;
}

static int testbed_down(const char *dir)
{
	char auth_pub[4096];
	int nodes, users;
	tb_path(auth_pub, sizeof(auth_pub), dir, "authority", ".pub");
	if (access(auth_pub, F_OK) != 0 && !tb_netns_enabled(dir)) {
		fprintf(stderr, "anosip testbed: %s: no testbed here\n", dir);
		return 1;
	}
	if (stop_all(dir, &nodes, &users) < 0) {
		fprintf(stderr, "anosip testbed: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int netns = tb_netns_enabled(dir), rc = 0;
	if (netns && (rc = tb_netns_teardown(dir)) < 0)
		fprintf(stderr,
			"anosip testbed: some namespaces or the bridge could not be removed "
			"(see above; DIR/*.netns and netns.bridge list what is left)\n");
	printf("testbed in %s stopped (%d nodes, %d users%s)\n", dir, nodes, users,
	       !netns	? ""
	       : rc < 0 ? ", namespaces NOT all removed"
			: ", namespaces and bridge removed");
	return rc < 0;
}

/* The processes: with --netns each node first gets its namespace. */
static int start_nodes(const struct testbed_options *o, const struct topo *t)
{
	int rc = 0;
	if (o->netns && (rc = tb_netns_setup(o->dir)) < 0)
		return rc;
	for (int i = 0; i < t->n && rc == 0; i++) {
		char address[64];
		if (o->netns)
			rc = tb_netns_add(o->dir, t->nodes[i].id, i + 1, address, sizeof(address));
		if (rc == 0)
			rc = tb_start(o->dir, t->nodes[i].id, "node");
		if (rc < 0)
			fprintf(stderr, "anosip testbed: starting %s: %s\n", t->nodes[i].id,
				strerror(-rc));
	}
	return rc;
}

static int testbed_up(const struct testbed_options *o)
{
	if (o->netns && geteuid() != 0)
		fprintf(stderr, "anosip testbed: --netns needs root (ip netns, veth, bridge)\n");
	if ((o->depth < 0) == !o->topology) {
		fprintf(stderr, "anosip testbed: one of --tree DEPTHxFANOUT (e.g. 2x3, or fan-out "
				"per level: 3,2,4) and --topology FILE\n");
		return 2;
	}
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "anosip testbed: %s: %s\n", o->dir, strerror(errno));
		return 1;
	}
	if (tb_netns_enabled(o->dir) || tb_any_running(o->dir)) {
		fprintf(
		    stderr,
		    "anosip testbed: a testbed is running in %s (testbed down --dir %s first)\n",
		    o->dir, o->dir);
		return 1;
	}
	struct topo_entry *e = NULL;
	struct topo *t = NULL;
	char err[512];
	int n = 0, status = 1, rc;
	if (o->topology) {
		rc = tb_layout_load(o->topology, &e, &n, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "anosip testbed: %s\n", err);
			return 1;
		}
		if (tb_layout_usable(e, n, o->topology) < 0)
			goto out;
	} else if (tb_tree_entries(o, &e, &n) < 0) {
		return 2;
	}
	if (o->netns && n + o->users > TB_NETNS_MAX) {
		fprintf(stderr,
			"anosip testbed: --netns takes %d nodes and users at most (%d here)\n",
			TB_NETNS_MAX, n + o->users);
		status = 2;
		goto out;
	}
	rc = tb_generate(o, e, n);
	if (rc == 0)
		rc = tb_sign_directory(o->dir, e, n);
	if (rc < 0) {
		fprintf(stderr, "anosip testbed: writing %s: %s\n", o->dir, strerror(-rc));
		goto out;
	}
	if (topo_build(e, n, 1, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip testbed: %s\n", err);
		goto out;
	}
	rc = start_nodes(o, t);
	if (rc == 0)
		rc = wait_ready(o->dir, t, o->timeout_s);
	if (rc == 0 && o->users > 0)
		rc = add_users(o, t);
	if (rc < 0) {
		testbed_down(o->dir);
		goto out;
	}
	printf("testbed %s up in %s: %d nodes, all links up",
	       o->topology ? o->topology : o->tree_text, o->dir, t->n);
	if (o->netns) {
		char bridge[32] = "?";
		tb_netns_bridge(o->dir, bridge, sizeof(bridge));
		printf(", a network namespace each on bridge %s", bridge);
	}
	if (o->users)
		printf(", %d users with open circuits", o->users);
	printf("\n");
	print_nodes(o->dir, t);
	status = 0;
out:
	topo_free(t);
	free(e);
	return status;
}

static int cmd_ua_verb(const struct testbed_options *o, const struct topo *t, const char *verb,
		       int argc, char **argv)
{
	if (strcmp(verb, "add") == 0 && argc == 1) {
		if (!o->lighthouse || !o->portals) {
			fprintf(stderr,
				"anosip testbed ua add: --lighthouse and --portals are needed\n");
			return 2;
		}
		char name[1][64], extra[2048] = "", address[64] = "127.0.0.1", direct[128] = "";
		if (!util_nickname_valid(argv[0])) {
			fprintf(stderr,
				"anosip testbed ua add: \"%.80s\" is not a nickname (1-63 of "
				"[a-z0-9._-])\n",
				argv[0]);
			return 2;
		}
		snprintf(name[0], 64, "%s", argv[0]);
		if (tb_netns_enabled(o->dir)) {
			char process[TB_UA_NAME_MAX];
			snprintf(process, sizeof(process), "ua-%s", argv[0]);
			if (tb_netns_add(o->dir, process, 0, address, sizeof(address)) < 0)
				return 1;
		}
		/* --sip-direct :PORT is this ua's own address (its namespace's). */
		if (o->sip_direct)
			snprintf(direct, sizeof(direct), "%s%s",
				 o->sip_direct[0] == ':' ? address : "", o->sip_direct);
		size_t n = 0;
		if (o->sip_listen)
			n +=
			    (size_t)snprintf(extra + n, sizeof(extra) - n,
					     "sip_listen = %s\nsip_direct = %s\nstate = ua-%s.db\n",
					     o->sip_listen, direct, argv[0]);
		if (o->contacts && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, "contacts = %s\n",
					      o->contacts);
		if (o->digest && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, "digest = %s\n",
					      o->digest);
		if (o->password_file && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, "password_file = %s\n",
					      o->password_file);
		if (n >= sizeof(extra)) {
			fprintf(stderr, "anosip testbed ua add: options too long\n");
			return 2;
		}
		if (tb_ua_add(o->dir, t, argv[0], o->lighthouse, o->portals, o->log_level, extra) <
			0 ||
		    tb_ua_wait(o->dir, name, 1, o->timeout_s) < 0)
			return 1;
		printf("ua %s: circuit open to %s%s%s\n", argv[0], o->lighthouse,
		       tb_netns_enabled(o->dir) ? ", its namespace's address " : "",
		       tb_netns_enabled(o->dir) ? address : "");
		return 0;
	}
	if (strcmp(verb, "wait") == 0 && argc >= 1) {
		static char names[TESTBED_MAX_USERS][64];
		int n = argc < TESTBED_MAX_USERS ? argc : TESTBED_MAX_USERS;
		for (int i = 0; i < n; i++)
			snprintf(names[i], 64, "%s", argv[i]);
		return tb_ua_wait(o->dir, names, n, o->timeout_s) < 0;
	}
	fprintf(stderr,
		"anosip testbed ua: add NICK --lighthouse NODE --portals LIST | wait NICK...\n");
	return 2;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: anosip testbed up --tree DEPTHxFANOUT|F1,F2,... | --topology FILE --dir DIR\n"
	    "           [--netns] [--users N] [--log-level LEVEL] [--timeout SECONDS]\n"
	    "       anosip testbed down --dir DIR\n"
	    "       anosip testbed status --dir DIR\n"
	    "       anosip testbed wait --dir DIR [--timeout SECONDS]\n"
	    "       anosip testbed start|stop --dir DIR NODE|ua-NICK [--kill]\n"
	    "       anosip testbed ua add --dir DIR NICK --lighthouse NODE --portals \"P1 P2\"\n"
	    "           [--sip-listen IP:PORT --sip-direct IP:PORT|:PORT] [--contacts \"N1 N2\"]\n"
	    "           [--password-file FILE] [--digest \"SHA-256 MD5\"]\n"
	    "       anosip testbed ua wait --dir DIR NICK... [--timeout SECONDS]\n"
	    "       anosip testbed graph --dir DIR [--out PREFIX]   (PREFIX.dot, PREFIX.svg)\n"
	    "  --users N: user-1..N homed round-robin on the lighthouses\n"
	    "  --netns: every node and ua in a network namespace of its own (root)\n");
}

int cmd_testbed(int argc, char **argv)
{
	struct testbed_options o = {.depth = -1, .log_level = "info", .timeout_s = 30};
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *verb = argv[1];
	static const struct option longopts[] = {{"tree", required_argument, NULL, 't'},
						 {"dir", required_argument, NULL, 'd'},
						 {"log-level", required_argument, NULL, 'l'},
						 {"timeout", required_argument, NULL, 'T'},
						 {"kill", no_argument, NULL, 'k'},
						 {"users", required_argument, NULL, 'u'},
						 {"lighthouse", required_argument, NULL, 'L'},
						 {"portals", required_argument, NULL, 'P'},
						 {"sip-listen", required_argument, NULL, 'S'},
						 {"sip-direct", required_argument, NULL, 'D'},
						 {"contacts", required_argument, NULL, 'C'},
						 {"password-file", required_argument, NULL, 'W'},
						 {"digest", required_argument, NULL, 'G'},
						 {"out", required_argument, NULL, 'O'},
						 {"netns", no_argument, NULL, 'N'},
						 {"topology", required_argument, NULL, 'Y'},
						 {NULL, 0, NULL, 0}};
	int opt;
	/* `testbed ua VERB ...`: the verb is the next word. */
	int ua = strcmp(verb, "ua") == 0;
	if (ua && argc < 3) {
		usage();
		return 2;
	}
	const char *ua_verb = ua ? argv[2] : NULL;
	optind = ua ? 3 : 2;
	while ((opt = getopt_long(argc, argv, "t:d:l:T:ku:L:P:S:D:C:W:G:O:NY:", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 't':
			if (tb_parse_tree(optarg, &o) < 0) {
				fprintf(stderr,
					"anosip testbed: --tree wants DEPTHxFANOUT or F1,F2,... "
					"(1 to %d levels), got %s\n",
					TESTBED_MAX_DEPTH, optarg);
				return 2;
			}
			break;
		case 'N':
			o.netns = 1;
			break;
		case 'Y':
			o.topology = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'l':
			o.log_level = optarg;
			break;
		case 'T':
			o.timeout_s = atoi(optarg);
			break;
		case 'k':
			o.kill = 1;
			break;
		case 'u':
			o.users = atoi(optarg);
			if (o.users < 0 || o.users > TESTBED_MAX_USERS) {
				fprintf(stderr, "anosip testbed: --users 0..%d\n",
					TESTBED_MAX_USERS);
				return 2;
			}
			break;
		case 'L':
			o.lighthouse = optarg;
			break;
		case 'P':
			o.portals = optarg;
			break;
		case 'S':
			o.sip_listen = optarg;
			break;
		case 'D':
			o.sip_direct = optarg;
			break;
		case 'C':
			o.contacts = optarg;
			break;
		case 'W':
			o.password_file = optarg;
			break;
		case 'G':
			o.digest = optarg;
			break;
		case 'O':
			o.out = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!o.dir || o.timeout_s <= 0) {
		usage();
		return 2;
	}
	if (strcmp(verb, "up") == 0)
		return testbed_up(&o);
	if (strcmp(verb, "down") == 0)
		return testbed_down(o.dir);
	struct topo *t;
	if (tb_load(o.dir, &t) < 0)
		return 1;
	int status = 0;
	if (ua) {
		status = cmd_ua_verb(&o, t, ua_verb, argc - optind, argv + optind);
	} else if (strcmp(verb, "status") == 0) {
		print_nodes(o.dir, t);
	} else if (strcmp(verb, "wait") == 0) {
		status = wait_ready(o.dir, t, o.timeout_s) < 0;
	} else if (strcmp(verb, "graph") == 0) {
		status = tb_graph(o.dir, t, o.out) < 0;
	} else if ((strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0) && optind < argc &&
		   strncmp(argv[optind], "ua-", 3) == 0) {
		status = verb[2] == 'a' ? tb_start(o.dir, argv[optind], "ua") < 0
					: tb_stop(o.dir, argv[optind], o.kill) < 0;
	} else if ((strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0) && optind < argc) {
		if (topo_find(t, argv[optind]) < 0) {
			fprintf(stderr, "anosip testbed: no node %s\n", argv[optind]);
			status = 1;
		} else if (verb[2] == 'a') {
			status = tb_start(o.dir, argv[optind], "node") < 0;
		} else {
			status = tb_stop(o.dir, argv[optind], o.kill) < 0;
		}
	} else {
		usage();
		status = 2;
	}
	topo_free(t);
	return status;
}
