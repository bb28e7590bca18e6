/* Fuzzes ua_config_load (ua/config.c), the `anosip ua` INI config reader on
 * top of libinih. It reads a path, so the input is written to a fresh
 * temporary file under /dev/shm (fuzz_write_temp), removed afterwards.
 *
 * A config that loads must hold what ua_run relies on: the config's own
 * path (in the ua's and the node part's fields); a nickname of 1 to 63 of
 * [a-z0-9._-]; a lighthouse that is a node id (1 to 31 of the same); 1 to 8
 * portals, each a node id; key, directory, authority and control paths
 * that are absolute (relative ones are taken from the config's folder);
 * every string ending inside its array; sign_up 0 or 1; a log level that
 * parses; and the node part in client mode: id "ua", no listen address, no
 * role sections, link timings inside the ranges node_config_load allows
 * (dead_ms above keepalive_ms, reconnect_max_ms not below
 * reconnect_min_ms). A config that does not load must say why, in one
 * line that starts with its path.
 *
 * libinih cuts lines at 199 bytes (see fuzz_config.c); fuzz.sh limits
 * inputs to 4096 bytes (-max_len), as a config is a few short lines. */
#include "tests/fuzz/harness.h"

#include "ua/ua.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A string field must end inside its array. */
static size_t field_len(const char *s, size_t cap, const char *what)
{
	const char *end = memchr(s, 0, cap);
	if (!end)
		fuzz_fail(what);
	return (size_t)(end - s);
}

static void check_path(const char *s, size_t cap)
{
	size_t n = field_len(s, cap, "a config path does not end inside its array");
	if (n == 0 || s[0] != '/')
		fuzz_fail("a config path is not absolute");
}

/* A node id: 1 to 31 of [a-z0-9._-] (docs/protocol.md section 0). */
static int id_ok(const char *s, size_t cap)
{
	size_t n = field_len(s, cap, "an id does not end inside its array");
	if (n < 1 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static void in_range(unsigned v, unsigned lo, unsigned hi)
{
	if (v < lo || v > hi)
		fuzz_fail("a link timing outside its range");
}

static void check_loaded(const struct ua_config *c, const char *path)
{
	const struct node_config *n = &c->node;
	field_len(c->path, sizeof(c->path), "the path does not end inside its array");
	if (strcmp(c->path, path) != 0 || strcmp(n->path, path) != 0)
		fuzz_fail("the config does not name its own path");
	field_len(c->nickname, sizeof(c->nickname), "the nickname does not end inside its array");
	if (!fuzz_nickname_ok(c->nickname))
		fuzz_fail("ua_config_load accepted an invalid nickname");
	if (!id_ok(c->lighthouse, sizeof(c->lighthouse)))
		fuzz_fail("ua_config_load accepted an invalid lighthouse");
	if (n->n_portals < 1 || n->n_portals > (int)(sizeof(n->portals) / sizeof(n->portals[0])))
		fuzz_fail("ua_config_load accepted a portal count outside 1..8");
	for (int i = 0; i < n->n_portals; i++)
		if (!id_ok(n->portals[i], sizeof(n->portals[i])))
			fuzz_fail("ua_config_load accepted an invalid portal");
	check_path(c->key_path, sizeof(c->key_path));
	check_path(n->directory_path, sizeof(n->directory_path));
	check_path(n->authority_path, sizeof(n->authority_path));
	check_path(n->control_path, sizeof(n->control_path));
	if (c->sign_up != 0 && c->sign_up != 1)
		fuzz_fail("sign_up is neither 0 nor 1");
	field_len(n->log_level, sizeof(n->log_level), "log_level does not end inside its array");
	enum log_level l;
	if (log_level_parse(n->log_level, &l) < 0)
		fuzz_fail("ua_config_load accepted a log level that does not parse");
	if (!n->client || strcmp(n->id, "ua") != 0 || n->listen[0] || n->n_extra)
		fuzz_fail("the ua's node part is not a client");
	in_range(n->keepalive_ms, 10, 600000);
	in_range(n->dead_ms, 50, 3600000);
	in_range(n->handshake_timeout_ms, 50, 600000);
	in_range(n->reconnect_min_ms, 1, 600000);
	in_range(n->reconnect_max_ms, 1, 3600000);
	in_range(n->max_pending_handshakes, 1, 100000);
	if (n->max_queue_bytes < 64 * 1024 || n->max_queue_bytes > 1u << 30)
		fuzz_fail("max_queue_bytes outside its range");
	if (n->dead_ms <= n->keepalive_ms || n->reconnect_max_ms < n->reconnect_min_ms)
		fuzz_fail("link timings that contradict each other");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	if (fuzz_write_temp("ua-config", data, size, path) < 0)
		return 0;
	/* Large (five 4 KiB paths): static, and cleared by ua_config_load. */
	static struct ua_config cfg;
	char err[512] = "";
	int rc = ua_config_load(path, &cfg, err, sizeof(err));
	if (rc == 0) {
		check_loaded(&cfg, path);
	} else {
		if (rc != -EINVAL)
			fuzz_fail("ua_config_load failed on a file that exists with not -EINVAL");
		if (err[0] == 0 || strncmp(err, path, strlen(path)) != 0)
			fuzz_fail("ua_config_load failed without a line naming the file");
		if (strchr(err, '\n'))
			fuzz_fail("ua_config_load's error is more than one line");
	}
	unlink(path);
	return 0;
}
