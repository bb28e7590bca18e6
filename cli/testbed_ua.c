/* The testbed's users: one `anosip ua` per nickname, homed on a chosen
 * lighthouse, linked to a chosen list of portals. */
#include "cli/testbed.h"

#include "ua/ua.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tb_ua_add(const char *dir, const struct topo *t, const char *nickname, const char *lighthouse,
	      const char *portals, const char *log_level, const char *extra)
{
	char name[TB_UA_NAME_MAX], path[4096], text[4096], address[64];
	if (!util_nickname_valid(nickname)) {
		fprintf(stderr,
			"anosip testbed: \"%.80s\" is not a nickname (1-63 of [a-z0-9._-])\n",
			nickname);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "ua-%s", nickname);
	if (tb_read_pid(dir, name)) {
		fprintf(stderr, "anosip testbed: %s is already running\n", name);
		return -EEXIST;
	}
	int lh = topo_find(t, lighthouse);
	if (lh < 0 || !(t->nodes[lh].roles & TOPO_ROLE_LIGHTHOUSE)) {
		fprintf(stderr, "anosip testbed: %s is not a lighthouse\n", lighthouse);
		return -EINVAL;
	}
	tb_path(path, sizeof(path), dir, name, ".sock");
	if (strlen(path) >= 108) {
		fprintf(stderr, "anosip testbed: %s is too long for a UNIX socket\n", path);
		return -ENAMETOOLONG;
	}
	int n = snprintf(text, sizeof(text),
			 "# anosip ua config, written by anosip testbed\n[ua]\nnickname = %s\n"
			 "key = %s.key\nlighthouse = %s\nportals = %s\ndirectory = directory.bin\n"
			 "authority = authority.pub\ncontrol = %s.sock\nlog_level = %s\n%s",
			 nickname, name, lighthouse, portals, name, log_level, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -E2BIG;
	/* With --netns the ua gets its namespace (the user's device) now,
	 * once its name is known to be good. */
	int rc = tb_netns_enabled(dir) ? tb_netns_add(dir, name, 0, address, sizeof(address)) : 0;
	if (rc < 0)
		return rc;
	tb_path(path, sizeof(path), dir, name, ".conf");
	rc = util_write_file(path, text, (size_t)n, 0644);
	if (rc < 0)
		return rc;
	struct ua_config *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	if (!cfg)
		return -ENOMEM;
	rc = ua_config_load(path, cfg, err, sizeof(err));
	if (rc == 0) {
		char key[4096];
		tb_path(key, sizeof(key), dir, name, ".key");
		if (access(key, F_OK) != 0)
			rc = ua_init_keys(cfg, err, sizeof(err));
	}
	free(cfg);
	if (rc < 0) {
		fprintf(stderr, "anosip testbed: %s\n", err);
		return rc;
	}
	return tb_start(dir, name, "ua");
}

static int ua_open(const char *dir, const char *nickname)
{
	char name[TB_UA_NAME_MAX], sock[4096];
	char *reply;
	snprintf(name, sizeof(name), "ua-%s", nickname);
	tb_path(sock, sizeof(sock), dir, name, ".sock");
	if (ctl_request(sock, "circuit", 2000, &reply) < 0)
		return 0;
	int open = strstr(reply, "\ncircuit open\n") != NULL;
	free(reply);
	return open;
}

int tb_ua_wait(const char *dir, char (*nicknames)[64], int n, int timeout_s)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_s * 1000;
	for (int i = 0; i < n; i++) {
		while (!ua_open(dir, nicknames[i])) {
			if (util_now_ms() > deadline) {
				fprintf(stderr,
					"anosip testbed: ua %s has no open circuit after %d s "
					"(see %s/ua-%s.log)\n",
					nicknames[i], timeout_s, dir, nicknames[i]);
				return -ETIMEDOUT;
			}
			tb_sleep_ms(50);
		}
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int tb_ua_list(const char *dir, char (*nicknames)[64], int max)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "ua-", 3) != 0 || len < 9 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0 || len - 8 >= 64)
			continue;
		snprintf(nicknames[n], 64, "%.*s", (int)(len - 8), de->d_name + 3);
		n++;
	}
	closedir(d);
	qsort(nicknames, (size_t)n, 64, by_name);
	return n;
}
