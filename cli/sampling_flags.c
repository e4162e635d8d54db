/* cli/sampling_flags.c — the target and sampling flags of record and serve,
 * parsed and checked in one place (cli/sampling_flags.h). Owns nothing but
 * the pid array; never opens an event or prints: errors go back in an
 * ember_error for the subcommand to print with its usage hint. */
#include "sampling_flags.h"

#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_sampling_init(cli_sampling *s, unsigned default_hz)
{
	memset(s, 0, sizeof *s);
	s->opts.kind = EMBER_TARGET_ALL;
	s->opts.freq_hz = default_hz;
}

bool cli_sampling_take(cli_sampling *s, int c, const char *arg)
{
	switch (c) {
	case 'a': s->all = true; s->n_targets++; return true;
	case 'p': s->pid_arg = arg; s->n_targets++; return true;
	case 'G': s->cgroup = arg; s->n_targets++; return true;
	case 'F': s->freq = arg; return true;
	case CLI_OPT_CALL_GRAPH: s->call_graph = arg; return true;
	case CLI_OPT_STACK_SIZE: s->stack_size = arg; return true;
	case CLI_OPT_SAMPLING: s->sampling = arg; return true;
	default: return false;
	}
}

void cli_sampling_env(cli_sampling *s, bool have_command)
{
	if (!s->freq)
		s->freq = cli_env_flag("freq");
	if (!s->call_graph)
		s->call_graph = cli_env_flag("call-graph");
	if (!s->stack_size)
		s->stack_size = cli_env_flag("stack-size");
	if (!s->sampling)
		s->sampling = cli_env_flag("sampling");
	if (s->n_targets || have_command)
		return;
	s->pid_arg = cli_env_flag("pid");
	s->cgroup = cli_env_flag("cgroup");
	const char *all = cli_env_flag("all-cpus");
	s->all = all && strcmp(all, "0") != 0;
}

/* -EINVAL with "FLAG 'VAL': WANT", or "EMBER_X='VAL' (from the environment,
 * for FLAG): WANT" when val is the string the environment gave. */
static int bad(ember_error *err, const char *flag, const char *name, const char *val,
	       const char *want)
{
	char env[64];
	if (cli_env_name(name, env, sizeof env) && val == cli_env_flag(name))
		return ember_errorf(err, EINVAL, "%s='%s' (from the environment, for %s): %s", env,
				    val, flag, want);
	return ember_errorf(err, EINVAL, "%s '%s': %s", flag, val, want);
}

/* A flag of two words: *which is 0 for the first, 1 for the second. */
static int one_of(ember_error *err, const char *flag, const char *name, const char *val,
		  const char *w0, const char *w1, int *which)
{
	*which = strcmp(val, w1) == 0;
	if (*which || strcmp(val, w0) == 0)
		return 0;
	char want[64];
	snprintf(want, sizeof want, "want %s or %s", w0, w1);
	return bad(err, flag, name, val, want);
}

static int finish_target(cli_sampling *s, int argc, char **argv, int optind, ember_error *err)
{
	bool command = optind < argc;
	if (command && strcmp(argv[optind - 1], "--") != 0)
		return ember_errorf(err, EINVAL, "unexpected argument '%s' (a command goes after --)",
				    argv[optind]);
	if (!command && optind > 1 && optind <= argc && strcmp(argv[optind - 1], "--") == 0)
		return ember_errorf(err, EINVAL, "no command after --");
	unsigned targets = s->all + !!s->pid_arg + !!s->cgroup + command;
	if (targets > 1 || s->n_targets > 1)
		return ember_errorf(err, EINVAL,
				    "give one target: -a, -p PID, -G CGROUP or -- COMMAND");
	if (command) {
		s->opts.kind = EMBER_TARGET_COMMAND;
		s->opts.argv = &argv[optind];
	} else if (s->pid_arg) {
		s->opts.kind = EMBER_TARGET_PIDS;
		if (cli_parse_pids(s->pid_arg, &s->pids, &s->opts.n_pids) < 0)
			return bad(err, "-p", "pid", s->pid_arg, "want PID[,PID...]");
		s->opts.pids = s->pids;
	} else if (s->cgroup) {
		if (!*s->cgroup)
			return bad(err, "-G", "cgroup", s->cgroup, "want a cgroup v2 path");
		s->opts.kind = EMBER_TARGET_CGROUP;
		s->opts.cgroup = s->cgroup;
	} else {
		s->opts.kind = EMBER_TARGET_ALL;
	}
	return 0;
}

static int finish_sampling(cli_sampling *s, ember_error *err)
{
	uint64_t v;
	if (s->freq) {
		if (cli_parse_uint(s->freq, EMBER_SAMPLER_FREQ_MIN, EMBER_SAMPLER_FREQ_MAX, &v) < 0) {
			char want[80];
			snprintf(want, sizeof want, "want a frequency in Hz, %u..%u",
				 EMBER_SAMPLER_FREQ_MIN, EMBER_SAMPLER_FREQ_MAX);
			return bad(err, "-F", "freq", s->freq, want);
		}
		s->opts.freq_hz = (unsigned)v;
	}
	int rc, which;
	if (s->call_graph) {
		if ((rc = one_of(err, "--call-graph", "call-graph", s->call_graph, "fp", "dwarf",
				 &which)) < 0)
			return rc;
		s->opts.callgraph = which ? EMBER_CALLGRAPH_DWARF : EMBER_CALLGRAPH_FP;
	}
	if (s->sampling) {
		if ((rc = one_of(err, "--sampling", "sampling", s->sampling, "random", "fixed",
				 &which)) < 0)
			return rc;
		s->opts.sampling = which ? EMBER_SAMPLING_FIXED : EMBER_SAMPLING_RANDOM;
	}
	if (s->stack_size) {
		if (cli_parse_bytes(s->stack_size, &v) < 0 || v < EMBER_SAMPLER_STACK_MIN ||
		    v > EMBER_SAMPLER_STACK_MAX || v % EMBER_SAMPLER_STACK_ALIGN) {
			char want[96];
			snprintf(want, sizeof want, "want a multiple of %u bytes in %u..%u (e.g. 32K)",
				 EMBER_SAMPLER_STACK_ALIGN, EMBER_SAMPLER_STACK_MIN,
				 EMBER_SAMPLER_STACK_MAX);
			return bad(err, "--stack-size", "stack-size", s->stack_size, want);
		}
		s->opts.stack_size = (uint32_t)v;
	}
	return 0;
}

int cli_sampling_finish(cli_sampling *s, int argc, char **argv, int optind, ember_error *err)
{
	int rc = finish_target(s, argc, argv, optind, err);
	return rc < 0 ? rc : finish_sampling(s, err);
}

void cli_sampling_free(cli_sampling *s)
{
	free(s->pids);
	s->pids = NULL;
}
