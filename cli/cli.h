/* cli: the `anosip` binary's subcommands (one table in main.c). */
#ifndef ANOSIP_CLI_H
#define ANOSIP_CLI_H

#include <stddef.h>

int cmd_keygen(int argc, char **argv);
int cmd_directory(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_lighthouse(int argc, char **argv);
int cmd_iddir(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_ua(int argc, char **argv);
int cmd_testbed(int argc, char **argv);

/* Sends one command line to a control socket and reads the whole reply.
 * *reply is malloc'd (NUL-terminated), the caller frees it. Returns 0 or
 * -errno (-ETIMEDOUT when timeout_ms passes). */
int ctl_request(const char *socket_path, const char *command, int timeout_ms, char **reply);

struct node_config;

/* role_config.c: a node config's [section] only, for the operator
 * commands; one line naming the problem (after prog) on failure. The
 * config is malloc'd: the caller frees it. */
struct node_config *cli_role_config_load(const char *prog, const char *path, const char *section);
/* [section] database, relative to the config's folder: 0, or -1 after
 * saying why. */
int cli_role_database(const char *prog, const struct node_config *cfg, const char *section,
		      char *out, size_t len);

/* Path of the running binary, for spawning nodes. */
int cli_self_path(char *out, size_t len);

#endif
