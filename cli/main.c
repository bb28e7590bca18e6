/* anosip: one binary, a table of subcommands. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"keygen", cmd_keygen, "write a key pair: keygen --out PREFIX"},
    {"directory", cmd_directory, "sign or show the network directory"},
    {"node", cmd_node, "run a node: node -c FILE"},
    {"lighthouse", cmd_lighthouse, "a lighthouse's accounts: lighthouse user add|del|list|passwd"},
    {"iddir", cmd_iddir, "real IDs: iddir add|inspect|purge|publish|read|... (iddir -h)"},
    {"ua", cmd_ua, "run a user agent: ua -c FILE [--init]"},
    {"ctl", cmd_ctl, "ask a running node: ctl -s SOCKET COMMAND..."},
    {"testbed", cmd_testbed, "start/stop a whole network on this machine"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: anosip COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
}

int cli_self_path(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	if (n < 0)
		return -1;
	out[n] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "anosip: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
