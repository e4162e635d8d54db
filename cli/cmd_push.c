/* cli/cmd_push.c — `ember push FILE... --push.…`: sends recorded profiles
 * to Pyroscope and/or an OpenTelemetry Collector once, as `ember serve`
 * pushes its windows (ember/push.h). Parsing only; server/ sends. */
#include "args.h"
#include "push_flags.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "ember/push.h"

static const char usage_text[] =
	"usage: ember push FILE... --push.pyroscope.url URL | --push.otlp.endpoint URL\n"
	"\n"
	"Send each profile (pprof: raw, gzip or zstd) once to every destination given,\n"
	"as the window its time and duration name, exactly as `ember serve` pushes its\n"
	"windows. Network errors, 5xx and 429 are retried a few times.\n"
	"\n";

static const char usage_tail[] =
	"\n"
	"  -h, --help                this text\n"
	"\n"
	"Exit status: 0 every file reached every destination, 1 some push failed,\n"
	"2 usage error.\n";

static const struct option long_opts[] = {
	CLI_PUSH_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "ember push: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nRun 'ember push --help' for the options.\n");
	return EXIT_USAGE;
}

int cmd_push(int argc, char **argv)
{
	ember_push_opts o = { 0 };
	optind = 1;
	opterr = 0;
	int c;
	/* files and flags in any order */
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (cli_push_take(&o, c, optarg))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			fputs(cli_push_usage, stdout);
			fputs(usage_tail, stdout);
			return EXIT_OK;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	cli_push_env(&o);
	if (optind >= argc)
		return usage_error("%s", "no FILE to push");
	if (!ember_push_configured(&o))
		return usage_error("%s", "no destination: give --push.pyroscope.url or "
					 "--push.otlp.endpoint (or set OTEL_EXPORTER_OTLP_ENDPOINT)");
	ember_error err = { 0 };
	int rc = ember_push_files(&o, (const char *const *)argv + optind, (size_t)(argc - optind),
				  &err);
	if (rc == -EINVAL)
		return usage_error("%s", err.msg);
	if (rc < 0) {
		fprintf(stderr, "ember push: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
