/* cli: the testbed's private helpers, shared by testbed*.c. */
#ifndef ANOSIP_CLI_TESTBED_H
#define ANOSIP_CLI_TESTBED_H

#include "cli/cli.h"
#include "topo/topo.h"

#include <sys/types.h>

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
/* SIGTERM (or SIGKILL when hard), waits up to 5 s, then SIGKILL. */
int tb_stop(const char *dir, const char *name, int hard);
void tb_sleep_ms(int ms);

/* Users (testbed_ua.c): a ua named NICK lives in DIR/ua-NICK.{conf,key,pub,log,pid,sock}. */
/* extra: more [ua] lines for its config (the SIP front), or NULL. */
int tb_ua_add(const char *dir, const struct topo *t, const char *nickname, const char *lighthouse,
	      const char *portals, const char *log_level, const char *extra);
/* Waits until every listed ua has an open circuit. */
int tb_ua_wait(const char *dir, char (*nicknames)[64], int n, int timeout_s);
/* Nicknames of the testbed's users (from DIR/ua-*.conf); returns the count. */
int tb_ua_list(const char *dir, char (*nicknames)[64], int max);

#endif
