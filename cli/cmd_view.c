/* cli/cmd_view.c — `ember view FILE [BASE] [--listen ADDR]`: the UI of
 * `ember serve` for local profiles (server/ui_view.c), like `go tool pprof
 * -http`. Thin: flags in, ember_view_run out. */
#include "args.h"
#include "ember/view.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: ember view FILE [BASE] [--listen ADDR]\n"
		   "\n"
		   "Serves the UI of 'ember serve' for a local profile (raw, gzip or zstd pprof):\n"
		   "an icicle flame graph, a function table and a sandwich view. With BASE, the\n"
		   "page compares FILE against it (a differential flame graph and table).\n"
		   "Prints the URL to open and serves until Ctrl-C.\n"
		   "\n"
		   "options:\n"
		   "  --listen ADDR   HOST:PORT, [V6]:PORT or :PORT (default 127.0.0.1:0, a free port)\n"
		   "  -h, --help      this text\n"
		   "\n"
		   "exit status: 0 after Ctrl-C or SIGTERM, 1 a file could not be read or the\n"
		   "port not bound, 2 usage error\n");
}

int cmd_view(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	ember_view_opts vo = { 0 };
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			vo.listen = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr,
				"ember view: unknown option or missing value: '%s' (see 'ember view "
				"--help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "ember view: %s (see 'ember view --help')\n",
			optind >= argc ? "no input FILE" : "at most two files: FILE [BASE]");
		return EXIT_USAGE;
	}
	vo.file = argv[optind];
	vo.base = argc - optind == 2 ? argv[optind + 1] : NULL;
	int rc = ember_view_run(&vo, stdout);
	if (rc == -EINVAL && vo.listen)
		return EXIT_USAGE;
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}
