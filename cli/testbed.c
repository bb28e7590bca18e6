/* `anosip testbed`: a whole network on this machine, for tests, demos and
 * experiments. `up` writes keys, the authority, the topology, the signed
 * directory and one config per node into DIR, starts every node in the
 * background and waits until every link is up. */
#include "cli/cli.h"
#include "keys/keys.h"
#include "topo/topo.h"
#include "util/util.h"

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

#define TESTBED_MAX_NODES 1000

struct testbed_options {
	const char *dir;
	int depth, fanout;
	const char *log_level;
	int timeout_s;
	int kill;
};

static int path_in(char *out, size_t len, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(out, len, "%s/%s%s", dir, name, ext);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Free TCP ports on loopback: all bound at once so they differ, then
 * released for the nodes. */
static int pick_ports(int n, int *ports)
{
	int *fds = calloc((size_t)n, sizeof(int));
	int rc = 0, opened = 0;
	if (!fds)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &al) < 0) {
			rc = -errno;
			if (fds[i] >= 0)
				close(fds[i]);
			break;
		}
		opened++;
		ports[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	return rc;
}

static int load_testbed(const char *dir, struct topo **t)
{
	char path[4096], err[512];
	struct keys_public auth;
	path_in(path, sizeof(path), dir, "authority", ".pub");
	if (keys_load_public(path, &auth) < 0) {
		fprintf(stderr, "anosip testbed: %s: no testbed here\n", dir);
		return -ENOENT;
	}

	path_in(path, sizeof(path), dir, "directory", ".bin");
	if (topo_directory_load(path, auth.sign, t, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip testbed: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Alive and not a zombie: nodes outlive `testbed up`, so their parent is
 * whatever reaps orphans here, which may take its time. */
static int pid_alive(pid_t pid)
{
	char path[64], stat_line[256];
	if (kill(pid, 0) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(stat_line, 1, sizeof(stat_line) - 1, f);
	fclose(f);
	stat_line[n] = 0;
	const char *close_paren = strrchr(stat_line, ')');
	return !(close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

static pid_t read_pid(const char *dir, const char *id)
{
	char path[4096];
	uint8_t *buf;
	size_t len;
	path_in(path, sizeof(path), dir, id, ".pid");
	if (util_read_file(path, 32, &buf, &len) < 0)
		return 0;
	pid_t pid = (pid_t)atoi((char *)buf);
	free(buf);
	return pid > 0 && pid_alive(pid) ? pid : 0;
}

static int start_node(const char *dir, const char *id)
{
	char self[4096], conf[4096], log_path[4096], pid_path[4096];
	if (cli_self_path(self, sizeof(self)) < 0)
		return -errno;
	path_in(conf, sizeof(conf), dir, id, ".conf");
	path_in(log_path, sizeof(log_path), dir, id, ".log");
	path_in(pid_path, sizeof(pid_path), dir, id, ".pid");
	if (read_pid(dir, id)) {
		fprintf(stderr, "anosip testbed: %s is already running\n", id);
		return -EEXIST;
	}
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -errno;
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_process_t proc;
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE},
	    {.flags = UV_INHERIT_FD, .data.fd = log_fd},
	    {.flags = UV_INHERIT_FD, .data.fd = log_fd},
	};
	char *args[] = {self, "node", "-c", conf, NULL};
	uv_process_options_t opts = {
	    .file = self,
	    .args = args,
	    .flags = UV_PROCESS_DETACHED,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	int rc = uv_spawn(&loop, &proc, &opts);
	close(log_fd);
	if (rc == 0) {
		char text[32];
		int n = snprintf(text, sizeof(text), "%d\n", proc.pid);
		rc = util_write_file(pid_path, text, (size_t)n, 0600);
		uv_unref((uv_handle_t *)&proc);
		uv_close((uv_handle_t *)&proc, NULL);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int stop_node(const char *dir, const char *id, int hard)
{
	pid_t pid = read_pid(dir, id);
	char pid_path[4096];
	path_in(pid_path, sizeof(pid_path), dir, id, ".pid");
	if (!pid) {
		unlink(pid_path);
		return 0;
	}
	kill(pid, hard ? SIGKILL : SIGTERM);
	for (int waited = 0; waited < 5000 && pid_alive(pid); waited += 10)
		sleep_ms(10);
	if (pid_alive(pid)) {
		fprintf(stderr, "anosip testbed: %s (pid %d) ignored SIGTERM, killing\n", id,
			(int)pid);
		kill(pid, SIGKILL);
		for (int waited = 0; waited < 2000 && pid_alive(pid); waited += 10)
			sleep_ms(10);
	}
	unlink(pid_path);
	return 0;
}

/* Parses "links_up N" and "neighbours N" out of a status reply. */
static int node_ready(const char *dir, const char *id)
{
	char sock[4096];
	char *reply;
	path_in(sock, sizeof(sock), dir, id, ".sock");
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
		sleep_ms(50);
	}
}

static int write_node_config(const char *dir, const char *id, const char *log_level)
{
	char path[4096], sock[4096], text[2048];
	path_in(path, sizeof(path), dir, id, ".conf");
	path_in(sock, sizeof(sock), dir, id, ".sock");
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
	return util_write_file(path, text, (size_t)n, 0644);
}

static int generate(const struct testbed_options *o, struct topo_entry *e, int n)
{
	char path[4096];
	int *ports = calloc((size_t)n, sizeof(int));
	FILE *topo_file = NULL;
	int rc = ports ? pick_ports(n, ports) : -ENOMEM;
	if (rc < 0)
		goto out;
	struct keys_pair k;
	path_in(path, sizeof(path), o->dir, "authority", "");
	rc = keys_generate(&k);
	if (rc == 0)
		rc = keys_save(path, &k);
	keys_wipe(&k);
	if (rc < 0)
		goto out;
	path_in(path, sizeof(path), o->dir, "topology", ".ini");
	topo_file = fopen(path, "w");
	if (!topo_file) {
		rc = -errno;
		goto out;
	}
	fprintf(topo_file, "# written by anosip testbed up --tree %dx%d\n[directory]\nserial = 1\n",
		o->depth, o->fanout);
	/* Breadth-first ids: node-0 is the root, each level follows. */
	int next_child = 1;
	for (int i = 0; i < n; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "node-%d", i);
		snprintf(e[i].address, sizeof(e[i].address), "127.0.0.1:%d", ports[i]);
	}
	for (int i = 0; i < n && next_child < n; i++)
		for (int c = 0; c < o->fanout && next_child < n; c++)
			snprintf(e[next_child++].parent, sizeof(e[0].parent), "%s", e[i].id);
	for (int i = 0; i < n; i++) {
		path_in(path, sizeof(path), o->dir, e[i].id, "");
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
		rc = write_node_config(o->dir, e[i].id, o->log_level);
		if (rc < 0)
			goto out;
	}
out:
	if (topo_file && fclose(topo_file) != 0 && rc == 0)
		rc = -errno;
	free(ports);
	return rc;
}

static int sign_directory(const char *dir, const struct topo_entry *e, int n)
{
	char path[4096];
	struct keys_pair auth;
	uint8_t *signed_dir = NULL;
	size_t len;
	path_in(path, sizeof(path), dir, "authority", ".key");
	int rc = keys_load_secret(path, &auth);
	if (rc == 0)
		rc = topo_directory_sign(e, n, 1, &auth, &signed_dir, &len);
	keys_wipe(&auth);
	if (rc == 0) {
		path_in(path, sizeof(path), dir, "directory", ".bin");
		rc = util_write_file(path, signed_dir, len, 0644);
	}
	free(signed_dir);
	return rc;
}

static void print_nodes(const char *dir, const struct topo *t)
{
	printf("%-10s %-8s %-22s %-10s %s\n", "node", "pid", "address", "parent", "control");
	for (int i = 0; i < t->n; i++) {
		const struct topo_node *nd = &t->nodes[i];
		printf("%-10s %-8d %-22s %-10s %s/%s.sock\n", nd->id, (int)read_pid(dir, nd->id),
		       nd->address, nd->parent >= 0 ? t->nodes[nd->parent].id : "-", dir, nd->id);
	}
}

static int testbed_down(const char *dir)
{
	struct topo *t;
	if (load_testbed(dir, &t) < 0)
		return 1;
	for (int i = 0; i < t->n; i++)
		stop_node(dir, t->nodes[i].id, 0);
	printf("testbed in %s stopped (%d nodes)\n", dir, t->n);
	topo_free(t);
	return 0;
}

static int testbed_up(const struct testbed_options *o)
{
	if (o->depth < 0 || o->fanout < 1) {
		fprintf(stderr, "anosip testbed: --tree DEPTHxFANOUT is required (e.g. 2x3)\n");
		return 2;
	}
	long n = 1, level = 1;
	for (int d = 0; d < o->depth && n <= TESTBED_MAX_NODES; d++) {
		level *= o->fanout;
		n += level;
	}
	if (n > TESTBED_MAX_NODES) {
		fprintf(stderr, "anosip testbed: %dx%d has more than %d nodes\n", o->depth,
			o->fanout, TESTBED_MAX_NODES);
		return 2;
	}
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "anosip testbed: %s: %s\n", o->dir, strerror(errno));
		return 1;
	}
	struct topo *old;
	char auth_pub[4096];
	path_in(auth_pub, sizeof(auth_pub), o->dir, "authority", ".pub");
	if (access(auth_pub, F_OK) == 0 && load_testbed(o->dir, &old) == 0) {
		for (int i = 0; i < old->n; i++)
			if (read_pid(o->dir, old->nodes[i].id)) {
				fprintf(stderr,
					"anosip testbed: a testbed is running in %s "
					"(testbed down --dir %s first)\n",
					o->dir, o->dir);
				topo_free(old);
				return 1;
			}
		topo_free(old);
	}
	struct topo_entry *e = calloc((size_t)n, sizeof(*e));
	struct topo *t = NULL;
	char err[512];
	int status = 1;
	int rc = e ? generate(o, e, (int)n) : -ENOMEM;
	if (rc == 0)
		rc = sign_directory(o->dir, e, (int)n);
	if (rc < 0) {
		fprintf(stderr, "anosip testbed: writing %s: %s\n", o->dir, strerror(-rc));
		goto out;
	}
	if (topo_build(e, (int)n, 1, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip testbed: %s\n", err);
		goto out;
	}
	for (int i = 0; i < t->n; i++) {
		rc = start_node(o->dir, t->nodes[i].id);
		if (rc < 0) {
			fprintf(stderr, "anosip testbed: starting %s: %s\n", t->nodes[i].id,
				strerror(-rc));
			break;
		}
	}
	if (rc == 0)
		rc = wait_ready(o->dir, t, o->timeout_s);
	if (rc < 0) {
		testbed_down(o->dir);
		goto out;
	}
	printf("testbed %dx%d up in %s: %d nodes, all links up\n", o->depth, o->fanout, o->dir,
	       t->n);
	print_nodes(o->dir, t);
	status = 0;
out:
	topo_free(t);
	free(e);
	return status;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: anosip testbed up --tree DEPTHxFANOUT --dir DIR [--log-level LEVEL] "
		"[--timeout SECONDS]\n"
		"       anosip testbed down --dir DIR\n"
		"       anosip testbed status --dir DIR\n"
		"       anosip testbed wait --dir DIR [--timeout SECONDS]\n"
		"       anosip testbed start|stop --dir DIR NODE [--kill]\n");
}

int cmd_testbed(int argc, char **argv)
{
	struct testbed_options o = {.depth = -1, .fanout = 0, .log_level = "info", .timeout_s = 30};
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
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "t:d:l:T:k", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (sscanf(optarg, "%dx%d", &o.depth, &o.fanout) != 2) {
				fprintf(stderr,
					"anosip testbed: --tree wants DEPTHxFANOUT, got %s\n",
					optarg);
				return 2;
			}
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
	if (load_testbed(o.dir, &t) < 0)
		return 1;
	int status = 0;
	if (strcmp(verb, "status") == 0) {
		print_nodes(o.dir, t);
	} else if (strcmp(verb, "wait") == 0) {
		status = wait_ready(o.dir, t, o.timeout_s) < 0;
	} else if ((strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0) && optind < argc) {
		if (topo_find(t, argv[optind]) < 0) {
			fprintf(stderr, "anosip testbed: no node %s\n", argv[optind]);
			status = 1;
		} else if (verb[2] == 'a') {
			status = start_node(o.dir, argv[optind]) < 0;
		} else {
			status = stop_node(o.dir, argv[optind], o.kill) < 0;
		}
	} else {
		usage();
		status = 2;
	}
	topo_free(t);
	return status;
}
