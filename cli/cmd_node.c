/* `anosip node` runs a node with its modules; `anosip ctl` talks to one. */
#include "cli/cli.h"
#include "node/node.h"
#include "iddir/iddir.h"
#include "lighthouse/lighthouse.h"
#include "lookup/lookup.h"
#include "router/router.h"
#include "ua/ua.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The modules every node runs, in start order. Roles join this table as
 * they are built. */
static const struct node_module *const node_modules[] = {
    &router_module,
    &lookup_module,
    &iddir_module,
    &lh_module,
};

int cmd_node(int argc, char **argv)
{
	const char *config = NULL;
	int opt;
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (opt == 'c')
			config = optarg;
		else
			goto usage;
	}
	if (!config || optind != argc)
		goto usage;
	struct node_config cfg;
	char err[512];
	if (node_config_load(config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip node: %s\n", err);
		return 1;
	}
	int rc = node_run(&cfg, node_modules, sizeof(node_modules) / sizeof(node_modules[0]));
	return rc < 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: anosip node -c CONFIG\n");
	return 2;
}

int cmd_ua(int argc, char **argv)
{
	const char *config = NULL;
	int init = 0, opt;
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"init", no_argument, NULL, 'i'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "c:i", longopts, NULL)) != -1) {
		if (opt == 'c')
			config = optarg;
		else if (opt == 'i')
			init = 1;
		else
			goto usage;
	}
	if (!config || optind != argc)
		goto usage;
	struct ua_config *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	int status = 1;
	if (!cfg)
		return 1;
	if (ua_config_load(config, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip ua: %s\n", err);
		goto out;
	}
	if (init) {
		if (ua_init_keys(cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "anosip ua: %s\n", err);
			goto out;
		}
		printf("wrote the nickname key pair for %s to %s (mode 0600)\n", cfg->nickname,
		       cfg->key_path);
		status = 0;
		goto out;
	}
	status = ua_run(cfg) < 0 ? 1 : 0;
out:
	free(cfg);
	return status;
usage:
	fprintf(stderr, "usage: anosip ua -c CONFIG [--init]\n");
	return 2;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_request(const char *socket_path, const char *command, int timeout_ms, char **reply)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		goto fail;
	}
	char line[600];
	int n = snprintf(line, sizeof(line), "%s\n", command);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		rc = -E2BIG;
		goto fail;
	}
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -EIO;
		goto fail;
	}
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto fail;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *b = realloc(buf, cap);
			if (!b) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = b;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		buf = calloc(1, 1);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	*reply = buf;
	return 0;
fail:
	close(fd);
	free(buf);
	return rc;
}

int cmd_ctl(int argc, char **argv)
{
	const char *sock = NULL;
	int timeout_s = 30;
	int opt;
	static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
						 {"timeout", required_argument, NULL, 't'},
						 {NULL, 0, NULL, 0}};
	/* "+": options end at the first command word (ping -c would be ours). */
	while ((opt = getopt_long(argc, argv, "+s:t:", longopts, NULL)) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 't')
			timeout_s = atoi(optarg);
		else
			goto usage;
	}
	if (!sock || optind >= argc || timeout_s <= 0)
		goto usage;
	char command[512] = "";
	for (int i = optind; i < argc; i++) {
		size_t used = strlen(command);
		if (snprintf(command + used, sizeof(command) - used, "%s%s", used ? " " : "",
			     argv[i]) >= (int)(sizeof(command) - used)) {
			fprintf(stderr, "anosip ctl: command too long\n");
			return 2;
		}
	}
	char *reply;
	int rc = ctl_request(sock, command, timeout_s * 1000, &reply);
	if (rc < 0) {
		fprintf(stderr, "anosip ctl: %s: %s\n", sock, strerror(-rc));
		return 1;
	}
	fputs(reply, stdout);
	/* Scripts read the exit code: any error or timeout line is a failure. */
	int failed = strncmp(reply, "error:", 6) == 0 || strstr(reply, "\nerror:") ||
		     strncmp(reply, "timeout", 7) == 0 || strstr(reply, "\ntimeout");
	free(reply);
	return failed ? 1 : 0;
usage:
	fprintf(stderr,
		"usage: anosip ctl -s SOCKET [-t SECONDS] COMMAND [ARGS]\n"
		"commands: status links metrics ping NODE [COUNT [HOP_LIMIT]] "
		"send-discard NEIGHBOUR COUNT [BYTES] send-routed NODE COUNT [BYTES] help\n");
	return 2;
}
