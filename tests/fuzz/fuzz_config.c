/* Fuzzes node_config_load (node/config.c), the node's INI config reader on
 * top of libinih. It reads a path, so the input is written to a fresh
 * temporary file under /dev/shm (fuzz_write_temp), removed afterwards.
 *
 * A config that loads must hold what node_run relies on: a valid id; key,
 * directory, authority and control paths that are absolute (relative ones
 * are taken from the config's folder) and end inside their arrays; a
 * listen address that parses or is empty; a log level that parses; link
 * timings inside their ranges with dead_ms above keepalive_ms and
 * reconnect_max_ms not below reconnect_min_ms. A config that does not load
 * must say why, in one line that starts with its path.
 *
 * libinih (Debian's build) reads lines into a 200-byte stack buffer and
 * does not grow it: a longer line is cut, and what follows the cut is read
 * as a line of its own. Memory stays bounded whatever the input; fuzz.sh
 * still limits inputs to 4096 bytes (-max_len), since a config is a few
 * short lines. */
#include "tests/fuzz/harness.h"

#include "node/node.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void in_range(unsigned v, unsigned lo, unsigned hi)
{
	if (v < lo || v > hi)
		fuzz_fail("a [link] value outside its range");
}

static void check_loaded(const struct node_config *c, const char *path)
{
	if (strcmp(c->path, path) != 0)
		fuzz_fail("the config does not name its own path");
	field_len(c->id, sizeof(c->id), "the id does not end inside its array");
	if (!util_id_valid(c->id))
		fuzz_fail("node_config_load accepted an invalid id");
	check_path(c->key_path, sizeof(c->key_path));
	check_path(c->directory_path, sizeof(c->directory_path));
	check_path(c->authority_path, sizeof(c->authority_path));
	check_path(c->control_path, sizeof(c->control_path));
	if (field_len(c->listen, sizeof(c->listen), "listen does not end inside its array")) {
		struct sockaddr_storage ss;
		if (util_parse_address(c->listen, &ss) < 0)
			fuzz_fail("node_config_load accepted a listen address that does not parse");
	}
	field_len(c->log_level, sizeof(c->log_level), "log_level does not end inside its array");
	enum log_level l;
	if (log_level_parse(c->log_level, &l) < 0)
		fuzz_fail("node_config_load accepted a log level that does not parse");
	in_range(c->keepalive_ms, 10, 600000);
	in_range(c->dead_ms, 50, 3600000);
	in_range(c->handshake_timeout_ms, 50, 600000);
	in_range(c->reconnect_min_ms, 1, 600000);
	in_range(c->reconnect_max_ms, 1, 3600000);
	in_range(c->max_pending_handshakes, 1, 100000);
	if (c->max_queue_bytes < 64 * 1024 || c->max_queue_bytes > 1u << 30)
		fuzz_fail("max_queue_bytes outside its range");
	if (c->dead_ms <= c->keepalive_ms)
		fuzz_fail("node_config_load accepted dead_ms not above keepalive_ms");
	if (c->reconnect_max_ms < c->reconnect_min_ms)
		fuzz_fail("node_config_load accepted reconnect_max_ms below reconnect_min_ms");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	if (fuzz_write_temp("config", data, size, path) < 0)
		return 0;
	/* Large (five 4 KiB paths): static, and cleared by node_config_load. */
	static struct node_config cfg;
	char err[512] = "";
	int rc = node_config_load(path, &cfg, err, sizeof(err));
	if (rc == 0) {
		check_loaded(&cfg, path);
	} else {
		if (rc != -EINVAL)
			fuzz_fail("node_config_load failed on a file that exists with not -EINVAL");
		if (err[0] == 0 || strncmp(err, path, strlen(path)) != 0)
			fuzz_fail("node_config_load failed without a line naming the file");
		if (strchr(err, '\n'))
			fuzz_fail("node_config_load's error is more than one line");
	}
	unlink(path);
	return 0;
}
