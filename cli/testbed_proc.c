/* Processes of a testbed: pid files, starting detached, stopping. */
#include "cli/testbed.h"

#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

int tb_path(char *out, size_t len, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(out, len, "%s/%s%s", dir, name, ext);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Free TCP ports on loopback: all bound at once so they differ, then
 * released for the nodes. */
int tb_pick_ports(int n, int *ports)
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

int tb_load(const char *dir, struct topo **t)
{
	char path[4096], err[512];
	struct keys_public auth;
	tb_path(path, sizeof(path), dir, "authority", ".pub");
	if (keys_load_public(path, &auth) < 0) {
		fprintf(stderr, "anosip testbed: %s: no testbed here\n", dir);
		return -ENOENT;
	}

	tb_path(path, sizeof(path), dir, "directory", ".bin");
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

pid_t tb_read_pid(const char *dir, const char *id)
{
	char path[4096];
	uint8_t *buf;
	size_t len;
	tb_path(path, sizeof(path), dir, id, ".pid");
	if (util_read_file(path, 32, &buf, &len) < 0)
		return 0;
	pid_t pid = (pid_t)atoi((char *)buf);
	free(buf);
	return pid > 0 && pid_alive(pid) ? pid : 0;
}

int tb_any_running(const char *dir)
{
	DIR *d = opendir(dir);
	int running = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while (!running && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || l > 200 || strcmp(de->d_name + l - 4, ".pid") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(l - 4), de->d_name);
		running = tb_read_pid(dir, name) != 0;
	}
	closedir(d);
	return running;
}

int tb_start(const char *dir, const char *name, const char *subcommand)
{
	char self[4096], conf[4096], log_path[4096], pid_path[4096];
	if (cli_self_path(self, sizeof(self)) < 0)
		return -errno;
	tb_path(conf, sizeof(conf), dir, name, ".conf");
	tb_path(log_path, sizeof(log_path), dir, name, ".log");
	tb_path(pid_path, sizeof(pid_path), dir, name, ".pid");
	if (tb_read_pid(dir, name)) {
		fprintf(stderr, "anosip testbed: %s is already running\n", name);
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
	/* In a --netns testbed the process runs in its namespace: `ip netns
	 * exec` enters it and execs the command, so the pid stays the same. */
	char ns[128];
	char *plain[] = {self, (char *)subcommand, "-c", conf, NULL};
	char *in_ns[] = {(char *)tb_ip_path(), "netns", "exec", ns,  self,
			 (char *)subcommand,   "-c",	conf,	NULL};
	int netns = tb_netns_of(dir, name, ns, sizeof(ns), NULL, 0) == 0;
	char **args = netns ? in_ns : plain;
	uv_process_options_t opts = {
	    .file = args[0],
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

void tb_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int tb_stop(const char *dir, const char *id, int hard)
{
	pid_t pid = tb_read_pid(dir, id);
	char pid_path[4096];
	tb_path(pid_path, sizeof(pid_path), dir, id, ".pid");
	if (!pid) {
		unlink(pid_path);
		return 0;
	}
	kill(pid, hard ? SIGKILL : SIGTERM);
	for (int waited = 0; waited < 5000 && pid_alive(pid); waited += 10)
		tb_sleep_ms(10);
	if (pid_alive(pid)) {
		fprintf(stderr, "anosip testbed: %s (pid %d) ignored SIGTERM, killing\n", id,
			(int)pid);
		kill(pid, SIGKILL);
		for (int waited = 0; waited < 2000 && pid_alive(pid); waited += 10)
			tb_sleep_ms(10);
	}
	unlink(pid_path);
	return 0;
}
