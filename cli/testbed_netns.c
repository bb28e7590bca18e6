/* `testbed up --netns`: every node and every ua in a network namespace of
 * its own, with its own address on a bridge the testbed makes, so what
 * crosses the bridge is what would cross a real network between hosts.
 *
 * The plumbing is iproute2's `ip` (run through libuv, each call bounded):
 * one bridge per testbed in the root namespace (no address there), and per
 * process a namespace, a veth pair with one end on the bridge and the
 * other, eth0, in the namespace with the process's address. Control
 * sockets stay UNIX sockets in DIR, which every namespace shares.
 *
 * State in DIR: netns.bridge (the bridge's name and the testbed's tag) and
 * NAME.netns (the namespace and its address) for every process. Names:
 * bridge anbr-TAG, namespace anosip-TAG-NAME, host-side veth anvTAG-K, with
 * TAG four hex digits from DIR's inode, so two testbeds do not collide. */
#include "cli/testbed.h"

#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define IP_TIMEOUT_MS 10000
#define NETNS_SUBNET "10.87" /* a /16 private to the bridge */

const char *tb_ip_path(void)
{
	static const char *const places[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (access(places[i], X_OK) == 0)
			return places[i];
	return "ip";
}

/* Runs `ip ARGS...` (NULL-terminated); 0 when it exits 0. Its stderr goes
 * to ours, so a refusal (no permission, name taken) is seen. */
static int run_ip(const char *const *args)
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)tb_ip_path();
	for (; args[n - 1] && n < 31; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	int rc = util_run(argv, IP_TIMEOUT_MS, NULL);
	if (rc < 0) {
		fprintf(stderr, "anosip testbed: cannot run ip (iproute2): %s\n", uv_strerror(rc));
		return rc;
	}
	return rc == 0 ? 0 : -EIO;
}

/* The testbed's tag: four hex digits from DIR's inode. */
static int netns_tag(const char *dir, char tag[5])
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	snprintf(tag, 5, "%04x", (unsigned)((st.st_ino ^ (st.st_ino >> 16)) & 0xffff));
	return 0;
}

int tb_netns_enabled(const char *dir)
{
	char path[4096];
	tb_path(path, sizeof(path), dir, "netns", ".bridge");
	return access(path, F_OK) == 0;
}

int tb_netns_setup(const char *dir)
{
	char tag[5], bridge[16], path[4096], text[64];
	int rc = netns_tag(dir, tag);
	if (rc < 0)
		return rc;
	snprintf(bridge, sizeof(bridge), "anbr-%s", tag);
	/* The record first: whatever is made after it, down can find. */
	int n = snprintf(text, sizeof(text), "%s %s\n", bridge, tag);
	tb_path(path, sizeof(path), dir, "netns", ".bridge");
	if ((rc = util_write_file(path, text, (size_t)n, 0644)) < 0)
		return rc;
	/* No address of its own (not even IPv6 link-local) and no host
	 * firewall on bridged frames: the root namespace is not a host of
	 * this network, and the bridge is only a wire. */
	const char *add[] = {
	    "link", "add", bridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables",
	    "0",    NULL};
	const char *quiet[] = {"link", "set", bridge, "addrgenmode", "none", NULL};
	const char *up[] = {"link", "set", bridge, "up", NULL};
	if ((rc = run_ip(add)) < 0 || (rc = run_ip(quiet)) < 0 || (rc = run_ip(up)) < 0) {
		fprintf(stderr,
			"anosip testbed: cannot make bridge %s (the ip error is above; "
			"--netns needs root)\n",
			bridge);
		const char *del[] = {"link", "del", bridge, NULL};
		if (run_ip(del) == 0 || access("/sys/class/net", F_OK) != 0)
			unlink(path);
		return rc;
	}
	return 0;
}

static int read_bridge(const char *dir, char bridge[16], char tag[5])
{
	char path[4096];
	uint8_t *buf;
	size_t len;
	tb_path(path, sizeof(path), dir, "netns", ".bridge");
	int rc = util_read_file(path, 64, &buf, &len);
	if (rc < 0)
		return rc;
	rc = sscanf((char *)buf, "%15s %4s", bridge, tag) == 2 ? 0 : -EINVAL;
	free(buf);
	return rc;
}

int tb_netns_of(const char *dir, const char *name, char *ns, size_t ns_len, char *address,
		size_t address_len)
{
	char path[4096], ns_buf[128], addr_buf[64];
	uint8_t *buf;
	size_t len;
	tb_path(path, sizeof(path), dir, name, ".netns");
	int rc = util_read_file(path, 256, &buf, &len);
	if (rc < 0)
		return rc;
	rc = sscanf((char *)buf, "%127s %63s", ns_buf, addr_buf) == 2 ? 0 : -EINVAL;
	free(buf);
	if (rc == 0 && ns)
		snprintf(ns, ns_len, "%s", ns_buf);
	if (rc == 0 && address)
		snprintf(address, address_len, "%s", addr_buf);
	return rc;
}

/* Host number k (1 ... 65,000) as an address in the bridge's /16. */
static void host_address(int k, char *out, size_t len)
{
	snprintf(out, len, NETNS_SUBNET ".%d.%d", k / 250, k % 250 + 1);
}

int tb_netns_node_address(int index, char *out, size_t len)
{
	char host[32];
	host_address(index + 1, host, sizeof(host));
	return snprintf(out, len, "%s:7000", host) < (int)len ? 0 : -ENAMETOOLONG;
}

/* The next free host number for a ua: after every .netns file's. */
static int next_host(const char *dir)
{
	DIR *d = opendir(dir);
	int highest = 0;
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 7 || strcmp(de->d_name + l - 6, ".netns") != 0)
			continue;
		char name[256], address[64];
		snprintf(name, sizeof(name), "%.*s", (int)(l - 6), de->d_name);
		int a, b;
		if (tb_netns_of(dir, name, NULL, 0, address, sizeof(address)) == 0 &&
		    sscanf(address, NETNS_SUBNET ".%d.%d", &a, &b) == 2 &&
		    a * 250 + b - 1 > highest)
			highest = a * 250 + b - 1;
	}
	closedir(d);
	return highest + 1;
}

/* How many namespaces the testbed has (its .netns files). */
static int count_namespaces(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		n += l > 6 && strcmp(de->d_name + l - 6, ".netns") == 0;
	}
	closedir(d);
	return n;
}

static int netns_exists(const char *ns)
{
	char path[256];
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	return access(path, F_OK) == 0;
}

int tb_netns_add(const char *dir, const char *name, int host, char *address, size_t address_len)
{
	char bridge[16], tag[5], ns[128], veth[24], cidr[48], path[4096], text[256];
	int rc = read_bridge(dir, bridge, tag);
	if (rc < 0)
		return rc;
	if (tb_netns_of(dir, name, ns, sizeof(ns), address, address_len) == 0 && netns_exists(ns))
		return 0; /* made before (a restart, a second ua add) */
	if (count_namespaces(dir) >= TB_NETNS_MAX) {
		fprintf(stderr, "anosip testbed: the bridge has no room for %s (%d at most)\n",
			name, TB_NETNS_MAX);
		return -ENOSPC;
	}
	if (host <= 0 && (host = next_host(dir)) < 0)
		return host;
	snprintf(ns, sizeof(ns), "anosip-%s-%s", tag, name);
	snprintf(veth, sizeof(veth), "anv%s-%d", tag, host);
	host_address(host, address, address_len);
	snprintf(cidr, sizeof(cidr), "%s/16", address);
	/* The record first, so a failure halfway leaves something down can
	 * find and remove. */
	int n = snprintf(text, sizeof(text), "%s %s\n", ns, address);
	tb_path(path, sizeof(path), dir, name, ".netns");
	if ((rc = util_write_file(path, text, (size_t)n, 0644)) < 0)
		return rc;
	const char *steps[][12] = {
	    {"netns", "add", ns, NULL},
	    {"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns, NULL},
	    {"link", "set", veth, "addrgenmode", "none", NULL},
	    {"link", "set", veth, "master", bridge, "up", NULL},
	    {"-n", ns, "link", "set", "eth0", "addrgenmode", "none", NULL},
	    {"-n", ns, "addr", "add", cidr, "dev", "eth0", NULL},
	    {"-n", ns, "link", "set", "eth0", "up", NULL},
	    {"-n", ns, "link", "set", "lo", "up", NULL},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((rc = run_ip(steps[i])) < 0) {
			fprintf(stderr,
				"anosip testbed: setting up namespace %s failed at step %zu\n", ns,
				i + 1);
			const char *undo[] = {"netns", "del", ns, NULL};
			if (!netns_exists(ns) || run_ip(undo) == 0)
				unlink(path);
			return rc;
		}
	return 0;
}

/* Processes in namespace ns that the testbed did not stop (a softphone,
 * a capture, a stray process) keep it and its veth alive: they go too. */
static void kill_namespace_processes(const char *ns)
{
	char path[300];
	struct stat want;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	if (stat(path, &want) < 0)
		return;
	for (int round = 0; round < 2; round++) {
		DIR *d = opendir("/proc");
		int found = 0;
		if (!d)
			return;
		struct dirent *de;
		while ((de = readdir(d))) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);
			struct stat st;
			if (*end || pid <= 1 || pid == (long)getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
			if (stat(path, &st) == 0 && st.st_ino == want.st_ino &&
			    st.st_dev == want.st_dev) {
				kill((pid_t)pid, round == 0 ? SIGTERM : SIGKILL);
				found = 1;
			}
		}
		closedir(d);
		if (!found)
			return;
		tb_sleep_ms(round == 0 ? 500 : 100);
	}
}

int tb_netns_teardown(const char *dir)
{
	char bridge[16], tag[5], path[4096];
	int failed = 0;
	if (read_bridge(dir, bridge, tag) < 0)
		return 0;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 7 || strcmp(de->d_name + l - 6, ".netns") != 0)
				continue;
			char name[256], ns[128];
			snprintf(name, sizeof(name), "%.*s", (int)(l - 6), de->d_name);
			tb_path(path, sizeof(path), dir, name, ".netns");
			if (tb_netns_of(dir, name, ns, sizeof(ns), NULL, 0) == 0 &&
			    netns_exists(ns)) {
				kill_namespace_processes(ns);
				/* Deleting the namespace deletes its veth pair. */
				const char *del[] = {"netns", "del", ns, NULL};
				if (run_ip(del) < 0) {
					failed = 1; /* keep its record */
					continue;
				}
			}
			unlink(path);
		}
		closedir(d);
	}
	tb_path(path, sizeof(path), dir, "netns", ".bridge");
	char sys[64];
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", bridge);
	if (access(sys, F_OK) == 0) {
		const char *del[] = {"link", "del", bridge, NULL};
		if (run_ip(del) < 0)
			failed = 1;
	}
	if (!failed)
		unlink(path);
	return failed ? -EIO : 0;
}

int tb_netns_bridge(const char *dir, char *out, size_t len)
{
	char bridge[16], tag[5];
	int rc = read_bridge(dir, bridge, tag);
	if (rc == 0)
		snprintf(out, len, "%s", bridge);
	return rc;
}
