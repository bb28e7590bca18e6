/* `anosip iddir`: the ID Directory from both sides (docs/storage.md).
 *
 * The operator's commands (add, inspect, purge, purge-log) work straight
 * on the directory's SQLite file, which is safe while the node runs (WAL,
 * busy timeout). The users' commands (publish, revoke, log, read) go
 * through their own ua's control socket, which signs the query with the
 * user's key and sends it down the circuit: the CLI never talks to the
 * directory itself. */
#include "cli/cli.h"
#include "iddir/iddir.h"
#include "node/node.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "anosip iddir"
/* What `inspect NICK` shows of a tuple's access log at most. */
#define INSPECT_LOG_MAX 1000
/* Longer is surely a typo: a century. */
#define PURGE_DAYS_MAX 36500

static const char usage_text[] =
    "usage: anosip iddir COMMAND [ARGS]\n"
    "The operator, on the directory's database (-c NODE.conf for its [iddir]\n"
    "database, or --database FILE):\n"
    "  add NICK --real-id TEXT [--policy anyone|nobody|list] [--readers \"A B\"] DATABASE\n"
    "  inspect [NICK] DATABASE     every tuple, or one with its access log\n"
    "  purge NICK DATABASE         delete a tuple, its readers and its access log\n"
    "  purge-log --older-than DAYS DATABASE\n"
    "A user, through the running ua (-s UA.sock, [-t SECONDS] to wait, default 30):\n"
    "  publish -s UA.sock --real-id TEXT [--policy anyone|nobody|list] [--readers \"A B\"]\n"
    "  revoke -s UA.sock           withdraw your tuple\n"
    "  log -s UA.sock              who read your tuple, and when\n"
    "  read -s UA.sock NICK        NICK's real ID, if NICK lets you\n"
    "The policy defaults to anyone; --readers (with --policy list) names up to 64\n"
    "nicknames. The owner may always read its own tuple. NICK is 1 to 63 of\n"
    "a-z 0-9 . _ -; a real ID is 1 to 200 bytes of UTF-8 without control characters.\n"
    "Exit: 0 done, 1 failed, 2 usage.\n";

/* Everything the subcommands may be given; each takes what it needs. */
struct args {
	const char *config, *database, *socket, *real_id, *policy, *readers, *older_than;
	int timeout_s;
	const char *nickname; /* the one operand, when the command takes one */
};

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int parse_policy(const char *text, enum iddir_policy *out)
{
	if (strcmp(text, "anyone") == 0)
		*out = IDDIR_ANYONE;
	else if (strcmp(text, "nobody") == 0)
		*out = IDDIR_NOBODY;
	else if (strcmp(text, "list") == 0)
		*out = IDDIR_LIST;
	else
		return -EINVAL;
	return 0;
}

static const char *policy_name(enum iddir_policy policy)
{
	switch (policy) {
	case IDDIR_ANYONE:
		return "anyone";
	case IDDIR_NOBODY:
		return "nobody";
	case IDDIR_LIST:
		return "list";
	}
	return "?";
}

static void iso_utc(uint64_t unix_s, char out[32])
{
	time_t tt = (time_t)unix_s; /* the store keeps times at most INT64_MAX */
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%llu", (unsigned long long)unix_s);
}

/* Policy and readers from the options, checked as the store and the ua
 * will: readers split on blanks or commas. The names point into buf.
 * 0, or -1 after saying why. */
struct policy_args {
	enum iddir_policy policy;
	const char *readers[IDDIR_READERS_MAX];
	size_t n_readers;
	char buf[IDDIR_READERS_MAX * (UTIL_NICKNAME_MAX + 1) + 1];
};

static int policy_from_args(const struct args *a, struct policy_args *p)
{
	p->policy = IDDIR_ANYONE;
	p->n_readers = 0;
	if (a->policy && parse_policy(a->policy, &p->policy) < 0) {
		fprintf(stderr, PROG ": --policy is anyone, nobody or list\n");
		return -1;
	}
	if (!a->readers)
		return 0;
	if (p->policy != IDDIR_LIST) {
		fprintf(stderr, PROG ": --readers goes with --policy list\n");
		return -1;
	}
	if (snprintf(p->buf, sizeof(p->buf), "%s", a->readers) >= (int)sizeof(p->buf)) {
		fprintf(stderr, PROG ": --readers is too long\n");
		return -1;
	}
	char *save = NULL;
	for (char *w = strtok_r(p->buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		if (!util_nickname_valid(w)) {
			fprintf(stderr, PROG ": bad reader \"%.80s\": 1 to 63 of a-z 0-9 . _ -\n",
				w);
			return -1;
		}
		if (p->n_readers == IDDIR_READERS_MAX) {
			fprintf(stderr, PROG ": at most %d readers\n", IDDIR_READERS_MAX);
			return -1;
		}
		p->readers[p->n_readers++] = w;
	}
	return 0;
}

/* --- the operator: the database --- */

/* The database's path into out: 0, or -1 after saying why. */
static int database_path(const struct args *a, char *out, size_t len)
{
	if (a->database) {
		if (snprintf(out, len, "%s", a->database) >= (int)len) {
			fprintf(stderr, PROG ": --database path too long\n");
			return -1;
		}
		return 0;
	}
	struct node_config *cfg = cli_role_config_load(PROG, a->config, "iddir");
	int rc = cfg ? cli_role_database(PROG, cfg, "iddir", out, len) : -1;
	free(cfg);
	return rc;
}

/* Opens the store; with must_exist, refuses to create a missing file (only
 * `add` makes one, as the node does at its first start). */
static struct iddir_store *store_open(const char *path, int must_exist)
{
	struct iddir_store *s = NULL;
	char err[512];
	if (must_exist && access(path, F_OK) < 0 && errno == ENOENT) {
		fprintf(stderr, PROG ": %s: no such database\n", path);
		return NULL;
	}
	if (iddir_store_open(path, &s, err, sizeof(err)) < 0)
		fprintf(stderr, PROG ": %s: %s\n", path, err);
	return s;
}

static void store_error(const char *path, const char *what, int rc)
{
	fprintf(stderr, PROG ": %s: %s: %s\n", path, what,
		rc == -EBUSY ? "the database stayed busy, try again" : strerror(-rc));
}

static int op_add(const struct args *a, const char *path)
{
	struct policy_args p;
	if (policy_from_args(a, &p) < 0)
		return 1;
	struct iddir_store *s = store_open(path, 0);
	if (!s)
		return 1;
	int rc = iddir_store_put(s, a->nickname, a->real_id, p.policy, p.readers, p.n_readers,
				 (uint64_t)time(NULL), 1);
	iddir_store_close(s);
	if (rc == -EINVAL) {
		fprintf(stderr,
			PROG ": the real ID must be 1 to %d bytes of UTF-8 without control "
			     "characters\n",
			IDDIR_REAL_ID_MAX);
		return 1;
	}
	if (rc < 0) {
		store_error(path, "cannot store the tuple", rc);
		return 1;
	}
	printf("stored %s (policy %s, %zu readers) in %s\n", a->nickname, policy_name(p.policy),
	       p.policy == IDDIR_LIST ? p.n_readers : (size_t)0, path);
	return 0;
}

/* Text from the file shown on a terminal: a control byte (only a file
 * edited by hand holds one) is shown as '?'. */
static void print_clean(const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		putchar(*c < 0x20 || *c == 0x7f ? '?' : *c);
}

struct inspect_ctx {
	const char *only; /* NULL: every tuple */
	int found;
};

static int print_tuple(void *ctx, const char *nickname, const char *real_id,
		       enum iddir_policy policy, size_t n_readers, uint64_t updated_unix,
		       int by_operator)
{
	struct inspect_ctx *c = ctx;
	if (c->only && strcmp(c->only, nickname) != 0)
		return 0;
	c->found = 1;
	char updated[32];
	iso_utc(updated_unix, updated);
	printf("%-24s real-id=\"", nickname);
	print_clean(real_id);
	printf("\" policy=%s readers=%zu updated=%s by=%s\n", policy_name(policy), n_readers,
	       updated, by_operator ? "operator" : "owner");
	return 0;
}

static int print_read(void *ctx, const char *reader, uint64_t at_unix, int granted)
{
	char at[32];
	iso_utc(at_unix, at);
	printf("  read %s by %s %s\n", at, reader, granted ? "granted" : "refused");
	return 0;
}

static int op_inspect(const struct args *a, const char *path)
{
	struct iddir_store *s = store_open(path, 1);
	if (!s)
		return 1;
	struct inspect_ctx c = {.only = a->nickname};
	int status = 1;
	int rc = iddir_store_foreach(s, print_tuple, &c);
	if (rc < 0) {
		store_error(path, "cannot list the tuples", rc);
		goto out;
	}
	if (a->nickname && !c.found) {
		fprintf(stderr, PROG ": no tuple \"%s\" in %s\n", a->nickname, path);
		goto out;
	}
	if (a->nickname) {
		rc = iddir_store_log_foreach(s, a->nickname, INSPECT_LOG_MAX, print_read, NULL);
		if (rc < 0) {
			store_error(path, "cannot read the access log", rc);
			goto out;
		}
	}
	status = 0;
out:
	iddir_store_close(s);
	return status;
}

static int op_purge(const struct args *a, const char *path)
{
	struct iddir_store *s = store_open(path, 1);
	if (!s)
		return 1;
	int rc = iddir_store_delete(s, a->nickname);
	iddir_store_close(s);
	if (rc == -ENOENT) {
		fprintf(stderr, PROG ": no tuple \"%s\" in %s\n", a->nickname, path);
		return 1;
	}
	if (rc < 0) {
		store_error(path, "cannot delete the tuple", rc);
		return 1;
	}
	printf("purged %s (its readers and access log too) from %s\n", a->nickname, path);
	return 0;
}

static int op_purge_log(const struct args *a, const char *path)
{
	char *end = NULL;
	errno = 0;
	unsigned long long days = strtoull(a->older_than, &end, 10);
	if (a->older_than[0] < '0' || a->older_than[0] > '9' || *end || errno ||
	    days > PURGE_DAYS_MAX) {
		fprintf(stderr, PROG ": --older-than is a number of days, 0 to %d\n",
			PURGE_DAYS_MAX);
		return 1;
	}
	uint64_t now = (uint64_t)time(NULL), age = days * 86400ull;
	uint64_t before = now > age ? now - age : 0;
	struct iddir_store *s = store_open(path, 1);
	if (!s)
		return 1;
	int rc = iddir_store_log_purge(s, before);
	iddir_store_close(s);
	if (rc < 0) {
		store_error(path, "cannot purge the access log", rc);
		return 1;
	}
	char when[32];
	iso_utc(before, when);
	printf("purged %d access log entries from before %s from %s\n", rc, when, path);
	return 0;
}

/* --- a user: the ua's control socket --- */

/* Sends line to the ua and prints its reply: 0 when no line of it starts
 * with "error:", else 1. */
static int ua_request(const struct args *a, const char *line)
{
	char *reply = NULL;
	int rc = ctl_request(a->socket, line, a->timeout_s * 1000, &reply);
	if (rc == -E2BIG) {
		fprintf(stderr, PROG ": the request is too long for the control socket "
				     "(fewer readers or a shorter real ID)\n");
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->socket,
			rc == -ETIMEDOUT ? "the ua did not answer in time" : strerror(-rc));
		return 1;
	}
	fputs(reply, stdout);
	int failed = strncmp(reply, "error:", 6) == 0 || strstr(reply, "\nerror:");
	free(reply);
	return failed ? 1 : 0;
}

/* iddir publish POLICY READERS|- REALID...: readers joined by commas, the
 * real ID's words by single spaces (the ua splits the line on blanks). */
static int user_publish(const struct args *a)
{
	struct policy_args p;
	if (policy_from_args(a, &p) < 0)
		return 1;
	size_t n = strlen(a->real_id);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a->real_id[i] < 0x20 || a->real_id[i] == 0x7f) {
			fprintf(stderr, PROG ": the real ID holds a control character\n");
			return 1;
		}
	char line[1024], real_id[IDDIR_REAL_ID_MAX + 1] = "";
	size_t used = 0;
	char copy[IDDIR_REAL_ID_MAX + 1], *save = NULL;
	if (n > IDDIR_REAL_ID_MAX) {
		fprintf(stderr, PROG ": the real ID is longer than %d bytes\n", IDDIR_REAL_ID_MAX);
		return 1;
	}
	memcpy(copy, a->real_id, n + 1);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		used += (size_t)snprintf(real_id + used, sizeof(real_id) - used, "%s%s",
					 used ? " " : "", w);
	if (used == 0) {
		fprintf(stderr, PROG ": the real ID is empty\n");
		return 1;
	}
	int len = snprintf(line, sizeof(line), "iddir publish %s ", policy_name(p.policy));
	if (p.policy != IDDIR_LIST || p.n_readers == 0)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "-");
	for (size_t i = 0; i < p.n_readers && len < (int)sizeof(line); i++)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s", i ? "," : "",
				p.readers[i]);
	if (len < (int)sizeof(line))
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %s", real_id);
	if (len >= (int)sizeof(line)) {
		fprintf(stderr, PROG ": the request is too long (fewer readers)\n");
		return 1;
	}
	return ua_request(a, line);
}

static int user_read(const struct args *a)
{
	char line[128];
	snprintf(line, sizeof(line), "iddir read %s", a->nickname);
	return ua_request(a, line);
}

/* --- the commands --- */

enum given {
	G_CONFIG = 1 << 0,
	G_DATABASE = 1 << 1,
	G_SOCKET = 1 << 2,
	G_REAL_ID = 1 << 3,
	G_POLICY = 1 << 4,
	G_READERS = 1 << 5,
	G_OLDER_THAN = 1 << 6,
	G_TIMEOUT = 1 << 7,
};

/* What each command takes: its operands (min..max, a nickname when 1) and
 * the options it needs and may have. */
struct command {
	const char *name;
	int operator_side; /* on the database, else through the ua */
	int min_operands, max_operands;
	unsigned required, allowed;
};

static const struct command commands[] = {
    {"add", 1, 1, 1, G_REAL_ID, G_REAL_ID | G_POLICY | G_READERS},
    {"inspect", 1, 0, 1, 0, 0},
    {"purge", 1, 1, 1, 0, 0},
    {"purge-log", 1, 0, 0, G_OLDER_THAN, G_OLDER_THAN},
    {"publish", 0, 0, 0, G_SOCKET | G_REAL_ID,
     G_SOCKET | G_TIMEOUT | G_REAL_ID | G_POLICY | G_READERS},
    {"revoke", 0, 0, 0, G_SOCKET, G_SOCKET | G_TIMEOUT},
    {"log", 0, 0, 0, G_SOCKET, G_SOCKET | G_TIMEOUT},
    {"read", 0, 1, 1, G_SOCKET, G_SOCKET | G_TIMEOUT},
};

/* argv[0] is the command's name. Fills a; returns 0, or 2 for a usage
 * error (said), or -1 for --help (printed). */
static int parse_args(const struct command *cmd, int argc, char **argv, struct args *a)
{
	enum { OPT_DATABASE = 256, OPT_REAL_ID, OPT_POLICY, OPT_READERS, OPT_OLDER_THAN };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"database", required_argument, NULL, OPT_DATABASE},
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"real-id", required_argument, NULL, OPT_REAL_ID},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"readers", required_argument, NULL, OPT_READERS},
	    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	unsigned given = 0;
	int opt;
	a->timeout_s = 30;
	while ((opt = getopt_long(argc, argv, "c:s:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->config = optarg, given |= G_CONFIG;
			break;
		case OPT_DATABASE:
			a->database = optarg, given |= G_DATABASE;
			break;
		case 's':
			a->socket = optarg, given |= G_SOCKET;
			break;
		case 't':
			/* At most a day: the milliseconds stay within an int. */
			a->timeout_s = (int)strtol(optarg, NULL, 10), given |= G_TIMEOUT;
			if (a->timeout_s > 86400)
				a->timeout_s = 0;
			break;
		case OPT_REAL_ID:
			a->real_id = optarg, given |= G_REAL_ID;
			break;
		case OPT_POLICY:
			a->policy = optarg, given |= G_POLICY;
			break;
		case OPT_READERS:
			a->readers = optarg, given |= G_READERS;
			break;
		case OPT_OLDER_THAN:
			a->older_than = optarg, given |= G_OLDER_THAN;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		default:
			return usage();
		}
	}
	unsigned allowed = cmd->allowed | (cmd->operator_side ? G_CONFIG | G_DATABASE : 0);
	int operands = argc - optind;
	if ((given & ~allowed) || (given & cmd->required) != cmd->required ||
	    operands < cmd->min_operands || operands > cmd->max_operands || a->timeout_s <= 0)
		return usage();
	if (cmd->operator_side && !(given & G_CONFIG) == !(given & G_DATABASE)) {
		fprintf(stderr, PROG ": give either -c NODE.conf or --database FILE\n");
		return usage();
	}
	a->nickname = operands == 1 ? argv[optind] : NULL;
	return 0;
}

int cmd_iddir(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 2)
		return usage();
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, PROG ": unknown command \"%.40s\"\n", argv[1]);
		return usage();
	}
	struct args a = {.config = NULL};
	int rc = parse_args(cmd, argc - 1, argv + 1, &a);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (a.nickname && !util_nickname_valid(a.nickname)) {
		fprintf(stderr, PROG ": bad nickname \"%.80s\": 1 to 63 of a-z 0-9 . _ -\n",
			a.nickname);
		return 1;
	}
	if (!cmd->operator_side) {
		if (strcmp(cmd->name, "publish") == 0)
			return user_publish(&a);
		if (strcmp(cmd->name, "read") == 0)
			return user_read(&a);
		return ua_request(&a,
				  strcmp(cmd->name, "revoke") == 0 ? "iddir revoke" : "iddir log");
	}
	char path[4096];
	if (database_path(&a, path, sizeof(path)) < 0)
		return 1;
	if (strcmp(cmd->name, "add") == 0)
		return op_add(&a, path);
	if (strcmp(cmd->name, "inspect") == 0)
		return op_inspect(&a, path);
	if (strcmp(cmd->name, "purge") == 0)
		return op_purge(&a, path);
	return op_purge_log(&a, path);
}
