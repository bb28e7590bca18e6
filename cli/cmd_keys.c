/* keygen and directory: the authority's tools. */
#include "cli/cli.h"
#include "keys/keys.h"
#include "topo/topo.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_keygen(int argc, char **argv)
{
	const char *prefix = NULL;
	int opt;
	static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (opt == 'o')
			prefix = optarg;
		else
			goto usage;
	}
	if (!prefix || optind != argc)
		goto usage;
	struct keys_pair k;
	int rc = keys_generate(&k);
	if (rc == 0)
		rc = keys_save(prefix, &k);
	keys_wipe(&k);
	if (rc < 0) {
		fprintf(stderr, "anosip keygen: %s.key: %s\n", prefix, strerror(-rc));
		return 1;
	}
	printf("wrote %s.key (secret, mode 0600) and %s.pub\n", prefix, prefix);
	return 0;
usage:
	fprintf(stderr, "usage: anosip keygen --out PREFIX   (writes PREFIX.key and PREFIX.pub)\n");
	return 2;
}

static int directory_sign(int argc, char **argv)
{
	const char *authority = NULL, *topology = NULL, *out = NULL;
	int opt;
	static const struct option longopts[] = {{"authority", required_argument, NULL, 'a'},
						 {"topology", required_argument, NULL, 't'},
						 {"out", required_argument, NULL, 'o'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "a:t:o:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			authority = optarg;
			break;
		case 't':
			topology = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!authority || !topology || !out || optind != argc)
		goto usage;

	char err[512];
	struct topo_entry *entries = NULL;
	int n;
	uint64_t serial;
	struct topo *check = NULL;
	struct keys_pair auth;
	uint8_t *signed_dir = NULL;
	size_t len;
	int status = 1;
	if (topo_description_load(topology, &entries, &n, &serial, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip directory: %s\n", err);
		return 1;
	}
	/* Refuse to sign what nodes would refuse to load. */
	if (topo_build(entries, n, serial, &check, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip directory: %s: %s\n", topology, err);
		goto out;
	}
	int rc = keys_load_secret(authority, &auth);
	if (rc < 0) {
		fprintf(stderr, "anosip directory: %s: %s\n", authority,
			rc == -EPERM ? "readable by others (chmod 600)"
				     : "not a readable key file");
		goto out;
	}
	rc = topo_directory_sign(entries, n, serial, &auth, &signed_dir, &len);
	keys_wipe(&auth);
	if (rc == 0)
		rc = util_write_file(out, signed_dir, len, 0644);
	if (rc < 0) {
		fprintf(stderr, "anosip directory: %s: %s\n", out, strerror(-rc));
		goto out;
	}
	printf("signed %d nodes, serial %llu, into %s\n", n, (unsigned long long)serial, out);
	status = 0;
out:
	free(signed_dir);
	topo_free(check);
	free(entries);
	return status;
usage:
	fprintf(stderr, "usage: anosip directory sign --authority AUTHORITY.key "
			"--topology TOPOLOGY.ini --out DIRECTORY\n");
	return 2;
}

static int directory_show(int argc, char **argv)
{
	const char *authority = NULL;
	int opt;
	static const struct option longopts[] = {{"authority", required_argument, NULL, 'a'},
						 {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "a:", longopts, NULL)) != -1) {
		if (opt == 'a')
			authority = optarg;
		else
			goto usage;
	}
	if (!authority || optind + 1 != argc)
		goto usage;
	struct keys_public auth;
	if (keys_load_public(authority, &auth) < 0) {
		fprintf(stderr, "anosip directory: %s: not a readable .pub file\n", authority);
		return 1;
	}
	char err[512];
	struct topo *t;
	if (topo_directory_load(argv[optind], auth.sign, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "anosip directory: %s\n", err);
		return 1;
	}
	printf("directory %s: serial %llu, %d nodes, signature good\n", argv[optind],
	       (unsigned long long)t->serial, t->n);
	for (int i = 0; i < t->n; i++) {
		const struct topo_node *nd = &t->nodes[i];
		char roles[64], sign_hex[65];
		topo_roles_text(nd->roles, roles, sizeof(roles));
		util_hex_encode(nd->keys.sign, 32, sign_hex);
		printf("%-12s %-22s parent=%-12s depth=%d roles=%s sign=%.16s...\n", nd->id,
		       nd->address, nd->parent >= 0 ? t->nodes[nd->parent].id : "-", nd->depth,
		       roles, sign_hex);
	}
	topo_free(t);
	return 0;
usage:
	fprintf(stderr, "usage: anosip directory show --authority AUTHORITY.pub DIRECTORY\n");
	return 2;
}

int cmd_directory(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return directory_sign(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "check") == 0))
		return directory_show(argc - 1, argv + 1);
	fprintf(stderr, "usage: anosip directory sign|show ...\n"
			"  sign --authority AUTHORITY.key --topology TOPOLOGY.ini --out DIRECTORY\n"
			"  show --authority AUTHORITY.pub DIRECTORY   (verifies, then lists)\n");
	return 2;
}
