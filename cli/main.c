/* cli/main.c — the `ember` command: dispatches to a subcommand. Thin by
 * design; each subcommand lives in its own cli/cmd_*.c. */
#include "args.h"
#include "hugeheap.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "record", cmd_record, "sample stacks of a target and write a pprof profile" },
	{ "symbolize", cmd_symbolize, "resolve a raw profile's addresses to functions and lines" },
	{ "export", cmd_export, "convert a profile to pprof, folded stacks, metrics or a top table" },
	{ "merge", cmd_merge, "merge profiles into one" },
	{ "addr2line", cmd_addr2line, "resolve addresses of an ELF file (binutils-compatible)" },
	{ "serve", cmd_serve, "profile continuously; serve /metrics and profiles over HTTP" },
	{ "view", cmd_view, "open profiles in the UI (flame graph, table, diff) in a browser" },
	{ "push", cmd_push, "send profiles to Grafana Pyroscope or an OpenTelemetry Collector" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ember COMMAND [OPTIONS]\n\n"
		   "ember is a continuous CPU profiler that bridges profiles and metrics.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'ember COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ember %s\n", EMBER_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (commands[i].fn != cmd_serve)
			(void)hugeheap_prefer(); /* a speed-up where it takes; nothing to report */
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "ember: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
