/* `anosip lighthouse user add|del|list|passwd`: the operator's accounts,
 * written straight into the lighthouse's SQLite file (docs/storage.md).
 * Safe while the node runs: the file is WAL and the store waits out the
 * node's writes (busy timeout). Passwords are hashed into the SIP digest
 * HA1s here and wiped at once; neither they nor the HA1s are ever
 * printed. */
#include "cli/cli.h"
#include "keys/keys.h"
#include "lighthouse/lighthouse.h"
#include "node/node.h"
#include "sip/sip.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROG "anosip lighthouse"
/* The longest password line we take; longer is a mistake (a wrong file). */
#define PASSWORD_MAX 1024
/* The lighthouse keeps its realm in 64 bytes (lighthouse/lh_private.h). */
#define REALM_MAX 63

static const char usage_text[] =
    "usage: anosip lighthouse user COMMAND [ARGS] DATABASE\n"
    "  user add NICK --key NICK.pub (--password-file FILE | --password-stdin)\n"
    "  user passwd NICK (--password-file FILE | --password-stdin)\n"
    "  user del NICK\n"
    "  user list\n"
    "DATABASE is one of\n"
    "  -c, --config NODE.conf       its [lighthouse] database, realm (default anosip)\n"
    "                               and digest_md5 (yes|no, default yes)\n"
    "  --database FILE [--realm REALM] [--no-md5]\n"
    "The password is the first line of FILE (mode 0600) or of standard input;\n"
    "only its SIP digest hashes are stored. NICK is 1 to 63 of a-z 0-9 . _ -\n"
    "Exit: 0 done, 1 failed, 2 usage.\n";

/* Where the accounts are and how their passwords are hashed. */
struct target {
	char path[4096];
	char realm[REALM_MAX + 1];
	int digest_md5;
};

/* What the user subcommands were given. */
struct user_args {
	const char *config, *database, *realm, *key, *password_file;
	int no_md5, password_stdin;
	const char *nickname;
};

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

/* --- the target: a node config or --database --- */

static int parse_yes_no(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

/* A realm goes into a quoted header value and into every HA1: printable
 * ASCII without quote or backslash, and short enough for the lighthouse
 * to keep whole (a cut realm would make every HA1 here useless there). */
static int realm_valid(const char *realm)
{
	size_t n = strlen(realm);
	if (n == 0 || n > REALM_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (realm[i] < 0x20 || realm[i] > 0x7e || realm[i] == '"' || realm[i] == '\\')
			return 0;
	return 1;
}

static int target_from_config(const char *path, struct target *t)
{
	struct node_config *cfg = cli_role_config_load(PROG, path, "lighthouse");
	int rc = -1;
	if (!cfg || cli_role_database(PROG, cfg, "lighthouse", t->path, sizeof(t->path)) < 0)
		goto out;
	const char *realm = node_config_get(cfg, "lighthouse", "realm");
	const char *md5 = node_config_get(cfg, "lighthouse", "digest_md5");
	if (realm && !realm_valid(realm)) {
		fprintf(stderr,
			PROG ": %s: [lighthouse] realm must be 1 to %d printable characters "
			     "without \" or \\\n",
			path, REALM_MAX);
		goto out;
	}
	snprintf(t->realm, sizeof(t->realm), "%s", realm ? realm : "anosip");
	t->digest_md5 = 1;
	if (md5 && parse_yes_no(md5, &t->digest_md5) < 0) {
		fprintf(stderr, PROG ": %s: [lighthouse] digest_md5 is yes or no\n", path);
		goto out;
	}
	rc = 0;
out:
	free(cfg);
	return rc;
}

/* 0, or -1 after saying why. */
static int target_resolve(const struct user_args *a, struct target *t)
{
	if (a->config)
		return target_from_config(a->config, t);
	if (snprintf(t->path, sizeof(t->path), "%s", a->database) >= (int)sizeof(t->path)) {
		fprintf(stderr, PROG ": --database path too long\n");
		return -1;
	}
	if (a->realm && !realm_valid(a->realm)) {
		fprintf(stderr,
			PROG ": --realm must be 1 to %d printable characters without \" or \\\n",
			REALM_MAX);
		return -1;
	}
	snprintf(t->realm, sizeof(t->realm), "%s", a->realm ? a->realm : "anosip");
	t->digest_md5 = !a->no_md5;
	return 0;
}

/* Opens the store; with must_exist, refuses to create a missing file (only
 * `user add` makes one, as the node does at its first start). */
static struct lh_store *store_open(const struct target *t, int must_exist)
{
	struct lh_store *s = NULL;
	char err[512];
	if (must_exist && access(t->path, F_OK) < 0 && errno == ENOENT) {
		fprintf(stderr, PROG ": %s: no such database\n", t->path);
		return NULL;
	}
	int rc = lh_store_open(t->path, &s, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, PROG ": %s: %s\n", t->path, err);
	return s;
}

static void store_error(const struct target *t, const char *what, int rc)
{
	fprintf(stderr, PROG ": %s: %s: %s\n", t->path, what,
		rc == -EBUSY ? "the database stayed busy, try again" : strerror(-rc));
}

/* --- passwords --- */

/* Reads up to the first newline (or the end) from fd into buf; the line,
 * without "\n" or "\r\n", NUL-terminated. 0, or -1 after saying why. The
 * caller wipes buf. */
static int read_line(int fd, const char *what, char buf[PASSWORD_MAX + 2])
{
	size_t len = 0;
	char *nl = NULL;
	while (!nl && len < PASSWORD_MAX + 1) {
		ssize_t n = read(fd, buf + len, PASSWORD_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (nl)
		len = (size_t)(nl - buf);
	else if (len > PASSWORD_MAX) {
		fprintf(stderr, PROG ": %s: the password is longer than %d bytes\n", what,
			PASSWORD_MAX);
		return -1;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = 0;
	if (memchr(buf, 0, len)) {
		fprintf(stderr, PROG ": %s: the password holds a NUL byte\n", what);
		return -1;
	}
	if (len == 0) {
		fprintf(stderr, PROG ": %s: the password is empty\n", what);
		return -1;
	}
	return 0;
}

static int read_password_file(const char *path, char buf[PASSWORD_MAX + 2])
{
	/* The mode is checked on the file we read, not on a name that could
	 * point elsewhere by the time we open it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	int rc = -1;
	if (fstat(fd, &st) < 0)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		fprintf(stderr, PROG ": %s: not a regular file\n", path);
	else if (st.st_mode & 077)
		fprintf(stderr,
			PROG ": %s: the password file is open to group or others (mode %04o): "
			     "chmod 600 %s\n",
			path, (unsigned)(st.st_mode & 07777), path);
	else
		rc = read_line(fd, path, buf);
	close(fd);
	return rc;
}

/* On a terminal: asks twice without echo. Else the first line of stdin. */
static int read_password_stdin(const char *nickname, char buf[PASSWORD_MAX + 2])
{
	struct termios old, quiet;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &old) < 0)
		return read_line(STDIN_FILENO, "standard input", buf);
	char again[PASSWORD_MAX + 2];
	sodium_mlock(again, sizeof(again));
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	fprintf(stderr, "password for %s: ", nickname);
	int rc = read_line(STDIN_FILENO, "standard input", buf);
	fprintf(stderr, "\n");
	if (rc == 0) {
		fprintf(stderr, "again: ");
		rc = read_line(STDIN_FILENO, "standard input", again);
		fprintf(stderr, "\n");
	}
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (rc == 0 && strcmp(buf, again) != 0) {
		fprintf(stderr, PROG ": the passwords differ\n");
		rc = -1;
	}
	sodium_munlock(again, sizeof(again)); /* wipes it */
	return rc;
}

/* The HA1s the lighthouse checks digests against. */
struct ha1 {
	uint8_t md5[SIP_HA1_MD5_LEN];
	uint8_t sha256[SIP_HA1_SHA256_LEN];
};

/* Reads the password, hashes it for nickname and realm, and wipes it
 * before returning. 0, or -1 after saying why. The caller wipes *h. */
static int password_hashes(const struct user_args *a, const struct target *t, struct ha1 *h)
{
	char password[PASSWORD_MAX + 2];
	sodium_mlock(password, sizeof(password));
	int rc = a->password_stdin ? read_password_stdin(a->nickname, password)
				   : read_password_file(a->password_file, password);
	if (rc == 0) {
		if (t->digest_md5)
			sip_digest_ha1(SIP_DIGEST_MD5, a->nickname, t->realm, password, h->md5);
		sip_digest_ha1(SIP_DIGEST_SHA256, a->nickname, t->realm, password, h->sha256);
	}
	sodium_memzero(password, sizeof(password));
	sodium_munlock(password, sizeof(password));
	return rc;
}

static void describe_hashes(const struct target *t)
{
	printf("  digest SHA-256%s, realm \"%s\"\n", t->digest_md5 ? " and MD5" : " only",
	       t->realm);
}

/* --- the commands --- */

static int user_add(const struct user_args *a, const struct target *t)
{
	struct keys_public pub;
	if (keys_load_public(a->key, &pub) < 0) {
		fprintf(stderr, PROG ": %s: not a readable .pub file (anosip keygen writes one)\n",
			a->key);
		return 1;
	}
	struct ha1 h;
	if (password_hashes(a, t, &h) < 0)
		return 1;
	int status = 1;
	struct lh_store *s = store_open(t, 0);
	if (!s)
		goto out;
	int rc = lh_store_account_add(s, a->nickname, pub.sign, (uint64_t)time(NULL));
	if (rc == -EEXIST) {
		fprintf(stderr,
			PROG ": account \"%s\" already exists (change its password with "
			     "`anosip lighthouse user passwd`)\n",
			a->nickname);
		goto out;
	}
	if (rc < 0) {
		store_error(t, "cannot add the account", rc);
		goto out;
	}
	rc = lh_store_password_set(s, a->nickname, t->digest_md5 ? h.md5 : NULL, h.sha256, 0);
	if (rc < 0) {
		store_error(t, "cannot store the password", rc);
		/* No account without the password it was added with. */
		lh_store_account_delete(s, a->nickname);
		goto out;
	}
	printf("added %s to %s\n", a->nickname, t->path);
	describe_hashes(t);
	status = 0;
out:
	sodium_memzero(&h, sizeof(h));
	lh_store_close(s);
	return status;
}

static int user_passwd(const struct user_args *a, const struct target *t)
{
	struct ha1 h;
	if (password_hashes(a, t, &h) < 0)
		return 1;
	int status = 1;
	struct lh_store *s = store_open(t, 1);
	if (!s)
		goto out;
	int rc = lh_store_password_set(s, a->nickname, t->digest_md5 ? h.md5 : NULL, h.sha256, 0);
	if (rc == -ENOENT) {
		fprintf(stderr, PROG ": no account \"%s\" in %s\n", a->nickname, t->path);
		goto out;
	}
	if (rc < 0) {
		store_error(t, "cannot store the password", rc);
		goto out;
	}
	/* A new password is a fresh start: the failures were against the old. */
	rc = lh_store_auth_reset(s, a->nickname);
	if (rc < 0)
		store_error(t, "password changed, but the failure count stays", rc);
	printf("changed the password of %s in %s\n", a->nickname, t->path);
	describe_hashes(t);
	status = 0;
out:
	sodium_memzero(&h, sizeof(h));
	lh_store_close(s);
	return status;
}

static int user_del(const struct user_args *a, const struct target *t)
{
	struct lh_store *s = store_open(t, 1);
	if (!s)
		return 1;
	int rc = lh_store_account_delete(s, a->nickname);
	lh_store_close(s);
	if (rc == -ENOENT) {
		fprintf(stderr, PROG ": no account \"%s\" in %s\n", a->nickname, t->path);
		return 1;
	}
	if (rc < 0) {
		store_error(t, "cannot delete the account", rc);
		return 1;
	}
	printf("deleted %s (its certificate, binding and registration too) from %s\n", a->nickname,
	       t->path);
	return 0;
}

static void iso_utc(uint64_t unix_s, char out[32])
{
	time_t tt = (time_t)unix_s; /* the store keeps times at most INT64_MAX */
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%llu", (unsigned long long)unix_s);
}

static int print_account(void *ctx, const char *nickname, uint64_t created_unix, int has_password,
			 uint64_t registered_until)
{
	uint64_t now = *(const uint64_t *)ctx;
	char created[32], until[32] = "-";
	iso_utc(created_unix, created);
	/* One that has passed waits for the node's expiry sweep: not registered. */
	if (registered_until > now)
		iso_utc(registered_until, until);
	printf("%-24s created=%s password=%s registered-until=%s\n", nickname, created,
	       has_password ? "yes" : "no", until);
	return 0;
}

static int user_list(const struct target *t)
{
	struct lh_store *s = store_open(t, 1);
	if (!s)
		return 1;
	uint64_t now = (uint64_t)time(NULL);
	int rc = lh_store_accounts_foreach(s, print_account, &now);
	lh_store_close(s);
	if (rc < 0) {
		store_error(t, "cannot list the accounts", rc);
		return 1;
	}
	return 0;
}

/* argv[0] is the command (add, del, list, passwd). */
static int user_command(int argc, char **argv)
{
	enum { OPT_DATABASE = 256, OPT_REALM, OPT_NO_MD5, OPT_KEY, OPT_FILE, OPT_STDIN };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"database", required_argument, NULL, OPT_DATABASE},
	    {"realm", required_argument, NULL, OPT_REALM},
	    {"no-md5", no_argument, NULL, OPT_NO_MD5},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"password-file", required_argument, NULL, OPT_FILE},
	    {"password-stdin", no_argument, NULL, OPT_STDIN},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *cmd = argv[0];
	struct user_args a = {.config = NULL};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a.config = optarg;
			break;
		case OPT_DATABASE:
			a.database = optarg;
			break;
		case OPT_REALM:
			a.realm = optarg;
			break;
		case OPT_NO_MD5:
			a.no_md5 = 1;
			break;
		case OPT_KEY:
			a.key = optarg;
			break;
		case OPT_FILE:
			a.password_file = optarg;
			break;
		case OPT_STDIN:
			a.password_stdin = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage();
		}
	}
	int is_add = strcmp(cmd, "add") == 0, is_passwd = strcmp(cmd, "passwd") == 0;
	int is_del = strcmp(cmd, "del") == 0, is_list = strcmp(cmd, "list") == 0;
	int wants_password = is_add || is_passwd;
	if (!is_add && !is_passwd && !is_del && !is_list) {
		fprintf(stderr, PROG ": unknown user command \"%s\"\n", cmd);
		return usage();
	}
	if (!a.config == !a.database || (a.config && (a.realm || a.no_md5))) {
		fprintf(stderr, PROG ": give either -c NODE.conf or --database FILE "
				     "[--realm REALM] [--no-md5]\n");
		return usage();
	}
	if (argc - optind != (is_list ? 0 : 1) || (is_add != !!a.key) ||
	    (wants_password && !a.password_file == !a.password_stdin) ||
	    (!wants_password && (a.password_file || a.password_stdin)))
		return usage();
	a.nickname = is_list ? NULL : argv[optind];
	if (a.nickname && !util_nickname_valid(a.nickname)) {
		fprintf(stderr, PROG ": bad nickname \"%.80s\": 1 to 63 of a-z 0-9 . _ -\n",
			a.nickname);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": libsodium does not start\n");
		return 1;
	}
	struct target t;
	if (target_resolve(&a, &t) < 0)
		return 1;
	if (is_add)
		return user_add(&a, &t);
	if (is_passwd)
		return user_passwd(&a, &t);
	if (is_del)
		return user_del(&a, &t);
	return user_list(&t);
}

int cmd_lighthouse(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "user") != 0)
		return usage();
	return user_command(argc - 2, argv + 2);
}
