/* cli/cmd_record.c — `ember record`: sample a target for a while, symbolize
 * (unless --raw) and write one pprof file. Thin: flags in, sampler,
 * symbolizer and writer calls, a one-line summary out. The output file
 * appears only when complete (ember_pprof_write_file renames a temp file). */
#include "args.h"

#include "ember/pprof.h"
#include "ember/sampler.h"
#include "ember/symbolize.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ember record [TARGET] [-F HZ] [--call-graph fp|dwarf] [--stack-size BYTES]\n"
		"                    [-d DURATION] [--raw] [-o FILE] [-q]\n"
		"\n"
		"Samples the stacks of TARGET on the cpu-clock and writes a pprof profile.\n"
		"\n"
		"TARGET (one of; default -a):\n"
		"  -a, --all-cpus         every process on every online CPU (idle time is\n"
		"                         not sampled)\n"
		"  -p, --pid PID[,PID...] every thread of these processes, and threads they start\n"
		"  -G, --cgroup CGROUP    processes in this cgroup v2 directory (absolute, or\n"
		"                         relative to the cgroup2 mount)\n"
		"  -- COMMAND [ARGS...]   run COMMAND and record it until it exits; ember record\n"
		"                         then exits with its status. If -d or a signal ends\n"
		"                         the recording first, COMMAND gets SIGTERM\n"
		"\n"
		"options:\n"
		"  -F, --freq HZ          samples per CPU second (default 999)\n"
		"  --call-graph fp|dwarf  fp: kernel callchains by frame pointers (default);\n"
		"                         dwarf: unwind a copy of the user stack with DWARF CFI\n"
		"  --stack-size BYTES     dwarf: user stack bytes copied per sample (default 32K)\n"
		"  -d, --duration DUR     stop after DUR (10s, 500ms, 2m); default: until the\n"
		"                         command exits, or SIGINT/SIGTERM\n"
		"  --raw                  do not symbolize (addresses and build ids only)\n"
		"  -o, --output FILE      output file (default ember.pb.gz; .zst for zstd)\n"
		"  -q, --quiet            no notices or summary on stderr\n"
		"  -h, --help             this help\n"
		"\n"
		"SIGINT or SIGTERM ends the recording; the profile is still written.\n"
		"Needs root, or CAP_PERFMON with kernel.perf_event_paranoid<=1.\n"
		"As root, the core kernel's symbols are cached per boot in $EMBER_CACHE_DIR\n"
		"(default /var/cache/ember; set it empty for no cache).\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ember record: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_USAGE;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

enum { OPT_CALL_GRAPH = 256, OPT_STACK_SIZE, OPT_RAW };

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "freq", required_argument, NULL, 'F' },
		{ "call-graph", required_argument, NULL, OPT_CALL_GRAPH },
		{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
		{ "duration", required_argument, NULL, 'd' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	ember_sampler_opts opts = { .kind = EMBER_TARGET_ALL, .freq_hz = 999 };
	int n_targets = 0;
	uint64_t duration_ns = 0, v;
	bool raw = false;
	const char *output = "ember.pb.gz";
	pid_t *pids = NULL;
	int rc = EXIT_USAGE;

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+ap:G:F:d:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			opts.kind = EMBER_TARGET_ALL;
			n_targets++;
			break;
		case 'p':
			free(pids);
			pids = NULL;
			if (cli_parse_pids(optarg, &pids, &opts.n_pids) < 0) {
				rc = usage_error("-p %s: expected PID[,PID...]", optarg);
				goto out;
			}
			opts.kind = EMBER_TARGET_PIDS;
			opts.pids = pids;
			n_targets++;
			break;
		case 'G':
			opts.kind = EMBER_TARGET_CGROUP;
			opts.cgroup = optarg;
			n_targets++;
			break;
		case 'F':
			if (cli_parse_uint(optarg, 1, 1000000, &v) < 0) {
				rc = usage_error("-F %s: expected a frequency in Hz (1..1000000)", optarg);
				goto out;
			}
			opts.freq_hz = (unsigned)v;
			break;
		case OPT_CALL_GRAPH:
			if (strcmp(optarg, "fp") == 0)
				opts.callgraph = EMBER_CALLGRAPH_FP;
			else if (strcmp(optarg, "dwarf") == 0)
				opts.callgraph = EMBER_CALLGRAPH_DWARF;
			else {
				rc = usage_error("--call-graph %s: expected fp or dwarf", optarg);
				goto out;
			}
			break;
		case OPT_STACK_SIZE:
			if (cli_parse_bytes(optarg, &v) < 0 || v < 4096 || v > 65528 || v % 8) {
				rc = usage_error("--stack-size %s: expected a multiple of 8 in 4096..65528",
						 optarg);
				goto out;
			}
			opts.stack_size = (uint32_t)v;
			break;
		case 'd':
			if (cli_parse_duration(optarg, &duration_ns) < 0) {
				rc = usage_error("-d %s: expected a duration like 10s, 500ms or 2m",
						 optarg);
				goto out;
			}
			break;
		case OPT_RAW:
			raw = true;
			break;
		case 'o':
			if (!*optarg) {
				rc = usage_error("-o: empty file name%s", "");
				goto out;
			}
			output = optarg;
			break;
		case 'q':
			opts.quiet = true;
			break;
		case 'h':
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		default:
			rc = usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			rc = usage_error("unexpected argument '%s' (a command goes after --)",
					 argv[optind]);
			goto out;
		}
		opts.kind = EMBER_TARGET_COMMAND;
		opts.argv = argv + optind;
		n_targets++;
	} else if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
		rc = usage_error("no command after --%s", "");
		goto out;
	}
	if (n_targets > 1) {
		rc = usage_error("give one target: -a, -p, -G or -- COMMAND%s", "");
		goto out;
	}

	ember_error err = { 0 };
	ember_sampler *s = NULL;
	ember_profile *prof = NULL;
	rc = EXIT_RUNTIME;
	struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART: poll wakes */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (ember_sampler_open(&s, &opts, &err) < 0 || ember_sampler_start(s, &err) < 0)
		goto fail;
	uint64_t deadline = duration_ns ? mono_ns() + duration_ns : UINT64_MAX;
	if (ember_sampler_poll(s, deadline, &stop_requested, &err) < 0 ||
	    ember_sampler_take_window(s, &prof, &err) < 0)
		goto fail;
	ember_sampler_end_child(s);   /* a command still running when we stop */
	ember_sampler_stats st;
	ember_sampler_get_stats(s, &st);
	int child = ember_sampler_child_status(s);
	ember_sampler_close(s);
	s = NULL;

	if (!raw) {
		ember_symbolizer *sym = NULL;
		char cache[512];
		ember_symbolizer_opts so = { .quiet = opts.quiet,
					     .cache_dir = ember_default_cache_dir(cache, sizeof cache) };
		if (ember_symbolizer_new(&sym, &so, &err) < 0)
			goto fail;
		int r = ember_symbolizer_run(sym, prof, &err);
		ember_symbolizer_free(sym);
		if (r < 0)
			goto fail;
	}
	if (ember_pprof_write_file(prof, output, &err) < 0)
		goto fail;
	if (!opts.quiet) {
		uint64_t unwind = 0;
		char why[256] = "";   /* dwarf mode: the errors by reason */
		size_t wl = 0;
		for (int i = 0; i < EMBER_UNWIND_N_REASONS; i++) {
			unwind += st.unwind_errors[i];
			if (st.unwind_errors[i] && wl < sizeof why)
				wl += (size_t)snprintf(why + wl, sizeof why - wl, "%s%s %" PRIu64,
						       wl ? ", " : " (",
						       ember_unwind_reason_name((ember_unwind_reason)i),
						       st.unwind_errors[i]);
		}
		if (wl && wl < sizeof why - 1)
			strcat(why, ")");
		fprintf(stderr,
			"ember record: %" PRIu64 " samples, lost %" PRIu64 " of %" PRIu64
			", %" PRIu64 " throttles, %" PRIu64 " unwind errors%s -> %s\n",
			st.samples, st.lost, st.samples + st.lost, st.throttled, unwind, why, output);
	}
	rc = EXIT_OK;
	if (child >= 0)
		rc = WIFEXITED(child) ? WEXITSTATUS(child) : WIFSIGNALED(child) ? 128 + WTERMSIG(child)
										   : EXIT_RUNTIME;
	ember_profile_free(prof);
	goto out;
fail:
	fprintf(stderr, "ember record: %s\n", err.msg);
	ember_sampler_close(s);
	ember_profile_free(prof);
	rc = EXIT_RUNTIME;
out:
	free(pids);
	return rc;
}
