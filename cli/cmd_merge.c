/* cli/cmd_merge.c — `ember merge FILE... -o FILE`: profiles of one kind in,
 * their sum out (exporter/merge.c). The output appears only when complete. */
#include "args.h"
#include "ember/merge.h"
#include "ember/pprof.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: ember merge FILE... -o FILE\n"
	           "\n"
	           "Merges profiles (raw, gzip or zstd pprof) into one gzip pprof (zstd when the\n"
	           "output name ends in .zst). Mappings are shared by build id (else file name)\n"
	           "and rebased when a binary was loaded at another address; functions and\n"
	           "locations are deduplicated; samples with equal stacks and labels are\n"
	           "summed; the time is the earliest start, the duration spans all inputs.\n"
	           "All inputs must have the same sample types.\n"
	           "\n"
	           "options:\n"
	           "  -o, --output FILE   the merged profile ('-' for stdout; required)\n"
	           "  -h, --help          this text\n"
	           "\n"
	           "exit status: 0 ok, 1 an input could not be read or merged, or the output\n"
	           "not written, 2 usage error\n");
}

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *output = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr,
			        "ember merge: unknown option or missing value: '%s' (see 'ember "
			        "merge --help')\n",
			        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!output || optind >= argc) {
		fprintf(stderr, "ember merge: %s (see 'ember merge --help')\n",
		        !output ? "missing -o FILE" : "no input FILE");
		return EXIT_USAGE;
	}
	ember_error err = {0};
	ember_merger *m = NULL;
	ember_profile *merged = NULL;
	int rc = ember_merger_new(&m, &err);
	for (int i = optind; i < argc && rc == 0; i++) {
		ember_profile *p = NULL;
		rc = ember_pprof_read_file(argv[i], &p, &err);
		if (rc == 0) {
			rc = ember_merger_add(m, p, &err);
			if (rc < 0)
				ember_error_prefix(&err, "%s", argv[i]);
		}
		ember_profile_free(p);
	}
	if (rc == 0)
		rc = ember_merger_result(m, &merged, &err);
	if (rc == 0)
		rc = ember_pprof_write_file(merged, output, &err);
	ember_profile_free(merged);
	ember_merger_free(m);
	if (rc < 0) {
		fprintf(stderr, "ember merge: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
