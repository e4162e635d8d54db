/* cli/sampling_flags.h — the one parser of the flags that choose what to
 * sample and how, shared by `ember record` and `ember serve` (cli/ only):
 *
 *   TARGET   -a | -p PID[,PID...] | -G CGROUP | -- COMMAND [ARGS...]
 *   sampling -F HZ, --call-graph fp|dwarf, --stack-size BYTES,
 *            --sampling random|fixed
 *
 * Each subcommand puts CLI_SAMPLING_SHORTOPTS and CLI_SAMPLING_LONGOPTS in
 * its getopt tables, hands every option to cli_sampling_take, and calls
 * cli_sampling_finish once getopt is done. Values are only remembered while
 * scanning and checked together at the end, so the command line and the
 * EMBER_* environment (serve) are checked by the same code against the same
 * bounds, the sampler's (ember/sampler.h).
 */
#ifndef EMBER_CLI_SAMPLING_FLAGS_H
#define EMBER_CLI_SAMPLING_FLAGS_H

#include <getopt.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ember/error.h"
#include "ember/sampler.h"

/* Long-only option codes; a subcommand numbers its own from
 * CLI_OPT_FIRST_FREE. */
enum {
	CLI_OPT_CALL_GRAPH = 0x100,
	CLI_OPT_STACK_SIZE,
	CLI_OPT_SAMPLING,
	CLI_OPT_FIRST_FREE,
};

#define CLI_SAMPLING_SHORTOPTS "ap:G:F:"
#define CLI_SAMPLING_LONGOPTS                                                                     \
	{ "all-cpus", no_argument, NULL, 'a' }, { "pid", required_argument, NULL, 'p' },          \
	{ "cgroup", required_argument, NULL, 'G' }, { "freq", required_argument, NULL, 'F' },     \
	{ "call-graph", required_argument, NULL, CLI_OPT_CALL_GRAPH },                            \
	{ "stack-size", required_argument, NULL, CLI_OPT_STACK_SIZE },                            \
	{ "sampling", required_argument, NULL, CLI_OPT_SAMPLING }

typedef struct cli_sampling {
	ember_sampler_opts opts;   /* the result, valid after cli_sampling_finish */
	pid_t *pids;               /* owned; opts.pids points here */
	/* values as given, checked by cli_sampling_finish */
	const char *pid_arg, *cgroup, *freq, *call_graph, *stack_size, *sampling;
	bool all;
	unsigned n_targets;        /* target flags given on the command line */
} cli_sampling;

/* A zeroed parser whose -F default is default_hz. */
void cli_sampling_init(cli_sampling *s, unsigned default_hz);

/* Whether getopt's c is one of these flags; if so its value is kept. */
bool cli_sampling_take(cli_sampling *s, int c, const char *arg);

/* The EMBER_* variables (EMBER_FREQ, EMBER_CALL_GRAPH, EMBER_STACK_SIZE,
 * EMBER_SAMPLING, EMBER_PID, EMBER_CGROUP, EMBER_ALL_CPUS=1) for what the command line did
 * not give (serve). Call after getopt, before cli_sampling_finish. */
void cli_sampling_env(cli_sampling *s, bool have_command);

/* Checks every value and fills s->opts. argv[optind..argc) is the command
 * when argv[optind - 1] is "--". Returns 0, or -EINVAL with err naming the
 * flag (or the EMBER_* variable a value came from) and what it wants. */
int cli_sampling_finish(cli_sampling *s, int argc, char **argv, int optind, ember_error *err);

void cli_sampling_free(cli_sampling *s);

#endif
