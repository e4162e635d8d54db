/* cli/cmd_export.c — `ember export FILE --format pprof|folded|metrics|top
 * [-o FILE]`: one profile in, one view of it out (exporter/ does the work).
 * Output goes to stdout, or atomically to -o FILE: complete or not at all. */
#include "args.h"
#include "ember/metrics.h"
#include "ember/pprof.h"
#include "ember/report.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ember export FILE --format pprof|folded|metrics|top [-o FILE] [OPTIONS]\n"
	        "\n"
	        "Converts a profile (raw, gzip or zstd pprof; '-' reads stdin) to:\n"
	        "  pprof    the profile rewritten (gzip pprof; zstd when -o ends in .zst)\n"
	        "  folded   collapsed stacks for flamegraph.pl and speedscope: root first,\n"
	        "           ';'-separated, inline frames expanded, a sample count per line\n"
	        "  metrics  ember_function_self_seconds_total and\n"
	        "           ember_function_cumulative_seconds_total of this one profile,\n"
	        "           Prometheus text format 0.0.4 (--openmetrics: OpenMetrics 1.0.0\n"
	        "           with a profile_id exemplar per series)\n"
	        "  top      a table like `pprof -top`: flat, flat%%, sum%%, cum, cum%%,\n"
	        "           function, binary\n"
	        "\n"
	        "options:\n"
	        "  -f, --format FORMAT         one of pprof, folded, metrics, top (required)\n"
	        "  -o, --output FILE           write FILE (atomically) instead of stdout\n"
	        "  -n, --nodes N               top: show at most N rows (default all)\n"
	        "      --group-by LIST         top: split rows by these sample labels, e.g.\n"
	        "                              container_id, pod_uid, cgroup, systemd_unit, comm\n"
	        "                              (comma list; leading columns, '-' for none)\n"
	        "      --metrics.top N         metrics: series for the top N functions by self\n"
	        "                              time (default 50)\n"
	        "      --metrics.functions RE  metrics: also every function matching the POSIX\n"
	        "                              extended regex RE\n"
	        "      --metrics.max-series N  metrics: at most N series (default 2000); the\n"
	        "                              rest fold into function=\"[other]\"\n"
	        "      --metrics.labels LIST   metrics: the series' labels, a comma list of\n"
	        "                              comm, binary, function, cgroup, container_id,\n"
	        "                              pod_uid, systemd_unit (default comm,binary,function)\n"
	        "      --openmetrics           metrics: OpenMetrics 1.0.0 with exemplars, ending\n"
	        "                              in \"# EOF\"\n"
	        "      --profile-id ID         metrics: the exemplars' profile_id (default: the\n"
	        "                              file's base name)\n"
	        "  -h, --help                  this text\n"
	        "\n"
	        "exit status: 0 ok, 1 the profile could not be read or written, 2 usage error\n");
}

enum {
	OPT_TOP = 256,
	OPT_FUNCTIONS,
	OPT_MAX_SERIES,
	OPT_OPENMETRICS,
	OPT_PROFILE_ID,
	OPT_GROUP_BY,
	OPT_LABELS
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ember export: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'ember export --help')\n");
	return EXIT_USAGE;
}

static int render_metrics(const ember_profile *p, const ember_metrics_opts *mo, bool om,
                          const char *profile_id, ember_buf *out, ember_error *err)
{
	ember_metrics *m;
	int rc = ember_metrics_new(&m, mo, err);
	if (rc < 0)
		return rc;
	/* the exemplar's time: the profile's end, else now */
	int64_t end_ns, ts_ms = (int64_t)time(NULL) * 1000;
	if (p->time_nanos > 0 && !__builtin_add_overflow(p->time_nanos, p->duration_nanos, &end_ns))
		ts_ms = end_ns / 1000000;
	ember_expo_format f = om ? EMBER_EXPO_OPENMETRICS : EMBER_EXPO_TEXT;
	rc = ember_metrics_add_profile(m, p, profile_id, ts_ms, err);
	if (rc == 0)
		rc = ember_metrics_render(m, f, out, err);
	if (rc == 0 && om)
		ember_buf_puts(out, "# EOF\n");
	ember_metrics_free(m);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"metrics.top", required_argument, NULL, OPT_TOP},
	    {"metrics.functions", required_argument, NULL, OPT_FUNCTIONS},
	    {"metrics.max-series", required_argument, NULL, OPT_MAX_SERIES},
	    {"openmetrics", no_argument, NULL, OPT_OPENMETRICS},
	    {"profile-id", required_argument, NULL, OPT_PROFILE_ID},
	    {"group-by", required_argument, NULL, OPT_GROUP_BY},
	    {"metrics.labels", required_argument, NULL, OPT_LABELS},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *format = NULL, *output = "-", *profile_id = NULL, *group_by = NULL;
	ember_metrics_opts mo = {0};
	uint64_t nodes = 0, v;
	bool om = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'n':
			if (cli_parse_uint(optarg, 1, 1000000000, &nodes) < 0)
				return usage_error("bad --nodes '%s': want a positive number",
				                   optarg);
			break;
		case OPT_TOP:
			if (cli_parse_uint(optarg, 1, 1000000, &v) < 0)
				return usage_error("bad --metrics.top '%s': want a positive number",
				                   optarg);
			mo.top_n = v;
			break;
		case OPT_FUNCTIONS:
			mo.functions_regex = optarg;
			break;
		case OPT_MAX_SERIES:
			if (cli_parse_uint(optarg, 1, 10000000, &v) < 0)
				return usage_error(
				    "bad --metrics.max-series '%s': want a positive number",
				    optarg);
			mo.max_series = v;
			break;
		case OPT_OPENMETRICS:
			om = true;
			break;
		case OPT_PROFILE_ID:
			profile_id = optarg;
			break;
		case OPT_GROUP_BY:
			if (!*optarg || strstr(optarg, ",,") || *optarg == ',' ||
			    optarg[strlen(optarg) - 1] == ',')
				return usage_error("bad --group-by '%s': want a comma list of "
				                   "label names, e.g. container_id",
				                   optarg);
			group_by = optarg;
			break;
		case OPT_LABELS: {
			ember_error lerr = {0};
			if (ember_metrics_labels_check(optarg, &lerr) < 0)
				return usage_error("bad --metrics.labels '%s': want a comma list of "
				                   EMBER_METRICS_LABELS,
				                   optarg);
			mo.labels = optarg;
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return usage_error("unknown option or missing value: '%s'",
			                   argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("%s",
		                   optind >= argc ? "missing FILE" : "exactly one FILE, please");
	if (!format)
		return usage_error("%s", "missing --format pprof|folded|metrics|top");
	enum { PPROF, FOLDED, METRICS, TOP } kind;
	if (strcmp(format, "pprof") == 0)
		kind = PPROF;
	else if (strcmp(format, "folded") == 0)
		kind = FOLDED;
	else if (strcmp(format, "metrics") == 0)
		kind = METRICS;
	else if (strcmp(format, "top") == 0)
		kind = TOP;
	else
		return usage_error("unknown --format '%s': use pprof, folded, metrics or top",
		                   format);
	const char *input = argv[optind];

	ember_error err = {0};
	ember_profile *p = NULL;
	ember_buf out = EMBER_BUF_INIT;
	char *base = strdup(input);
	int rc = base ? ember_pprof_read_file(input, &p, &err) : -1;
	if (rc == 0) {
		switch (kind) {
		case PPROF:
			rc = ember_pprof_write_file(p, output, &err);
			break;
		case FOLDED:
			rc = ember_report_folded(p, &out, &err);
			break;
		case METRICS:
			rc = render_metrics(p, &mo, om, profile_id ? profile_id : basename(base),
			                    &out, &err);
			break;
		case TOP:
			rc = ember_report_top_by(p, nodes, group_by, &out, &err);
			break;
		}
	}
	if (rc == 0 && kind != PPROF)
		rc =
		    ember_write_file_atomic(output, out.data ? out.data : "", out.len, false, &err);
	ember_buf_free(&out);
	ember_profile_free(p);
	free(base);
	if (rc < 0) {
		fprintf(stderr, "ember export: %s\n", err.msg[0] ? err.msg : "out of memory");
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
