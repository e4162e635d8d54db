/* cli/cmd_record.c — `ember record`: sample a target for a while, symbolize
 * (unless --raw) and write one pprof file. Thin: flags in, sampler,
 * symbolizer and writer calls, a one-line summary out. The output file
 * appears only when complete (ember_pprof_write_file renames a temp file). */
#include "args.h"
#include "sampling_flags.h"

#include "ember/clock.h"
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
		"                    [--sampling random|fixed] [-d DURATION] [--raw] [-o FILE] [-q]\n"
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
		"  --sampling random|fixed\n"
		"                         random (default): intervals vary around 1/F (rate\n"
		"                         drawn in [F/2, 3F/2]), so work that repeats near F\n"
		"                         is not sampled at one phase; fixed: every 1/F\n"
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

enum { OPT_RAW = CLI_OPT_FIRST_FREE };

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_SAMPLING_LONGOPTS,
		{ "duration", required_argument, NULL, 'd' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cli_sampling samp;
	cli_sampling_init(&samp, 999);
	uint64_t duration_ns = 0;
	bool raw = false, quiet = false;
	const char *output = "ember.pb.gz";
	int rc = EXIT_USAGE;

	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+" CLI_SAMPLING_SHORTOPTS "d:o:qh", longopts, NULL)) !=
	       -1) {
		if (cli_sampling_take(&samp, c, optarg))
			continue;
		switch (c) {
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
			quiet = true;
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
	ember_error perr = { 0 };
	if (cli_sampling_finish(&samp, argc, argv, optind, &perr) < 0) {
		rc = usage_error("%s", perr.msg);
		goto out;
	}
	ember_sampler_opts opts = samp.opts;
	opts.quiet = quiet;

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
	uint64_t deadline = duration_ns ? (uint64_t)ember_mono_ns() + duration_ns : UINT64_MAX;
	if (ember_sampler_poll(s, deadline, &stop_requested, &err) < 0 ||
	    ember_sampler_take_window(s, &prof, &err) < 0)
		goto fail;
	ember_sampler_end_child(s);   /* a command still running when we stop */
	ember_sampler_stats st;
	ember_sampler_get_stats(s, &st);
	int child = ember_sampler_child_status(s);
	ember_sampling in_force = ember_sampler_sampling(s);
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
		char draws[96] = "";   /* random: how the periods changed */
		if (in_force == EMBER_SAMPLING_RANDOM)
			snprintf(draws, sizeof draws,
				 " (%" PRIu64 " period changes, at most %" PRIu64 " samples a period)",
				 st.period_changes, st.draw_samples_max);
		fprintf(stderr,
			"ember record: %" PRIu64 " samples, lost %" PRIu64 " of %" PRIu64
			", %" PRIu64 " throttles, %" PRIu64 " unwind errors%s, %s sampling%s -> %s\n",
			st.samples, st.lost, st.samples + st.lost, st.throttled, unwind, why,
			ember_sampling_name(in_force), draws, output);
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
	cli_sampling_free(&samp);
	return rc;
}
