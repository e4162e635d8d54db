/* tests/cli/test_sampling_flags.c — the one parser of the target and
 * sampling flags (cli/sampling_flags.c) that record and serve share: its
 * bounds are the sampler's constants, values from the command line and from
 * the environment are checked alike, and one target at most. */
#include "../check.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "sampling_flags.h"

static const struct option longopts[] = { CLI_SAMPLING_LONGOPTS, { NULL, 0, NULL, 0 } };

/* Parses argv (NULL-terminated, argv[0] is the command name); returns
 * cli_sampling_finish's result, with s left for the caller to inspect. */
static int parse(cli_sampling *s, char **argv, bool env, ember_error *err)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	cli_sampling_init(s, 99);
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+" CLI_SAMPLING_SHORTOPTS, longopts, NULL)) != -1)
		if (!cli_sampling_take(s, c, optarg))
			return -100;
	if (env)
		cli_sampling_env(s, optind < argc);
	return cli_sampling_finish(s, argc, argv, optind, err);
}

#define ARGV(...) ((char *[]){ "t", __VA_ARGS__, NULL })

int main(void)
{
	cli_sampling s;
	ember_error err = { 0 };

	/* defaults */
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, false, &err), 0);
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_ALL);
	CHECK_EQ_INT(s.opts.freq_hz, 99);
	cli_sampling_free(&s);

	/* the bounds are the sampler's */
	char hi[32], over[32];
	snprintf(hi, sizeof hi, "%u", EMBER_SAMPLER_FREQ_MAX);
	snprintf(over, sizeof over, "%u", EMBER_SAMPLER_FREQ_MAX + 1);
	CHECK_EQ_INT(parse(&s, ARGV("-F", hi), false, &err), 0);
	CHECK_EQ_INT(s.opts.freq_hz, EMBER_SAMPLER_FREQ_MAX);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-F", over), false, &err), -EINVAL);
	CHECK(strstr(err.msg, "-F") != NULL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-F", "0"), false, &err), -EINVAL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--stack-size", "32K", "--call-graph", "dwarf"), false, &err),
		     0);
	CHECK_EQ_INT(s.opts.stack_size, 32768);
	CHECK_EQ_INT(s.opts.callgraph, EMBER_CALLGRAPH_DWARF);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--stack-size", "1001"), false, &err), -EINVAL);
	CHECK(strstr(err.msg, "--stack-size") != NULL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--stack-size", "4100"), false, &err), -EINVAL); /* not 8-aligned */
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--stack-size", "65536"), false, &err), -EINVAL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--call-graph", "lbr"), false, &err), -EINVAL);
	cli_sampling_free(&s);

	/* --sampling: random by default, fixed on request, nothing else */
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	CHECK(strcmp(ember_sampling_name(s.opts.sampling), "random") == 0);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--sampling", "fixed"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_FIXED);
	CHECK(strcmp(ember_sampling_name(s.opts.sampling), "fixed") == 0);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--sampling", "random"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	cli_sampling_free(&s);
	/* in every mode */
	CHECK_EQ_INT(parse(&s, ARGV("-p", "1"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-p", "1", "--sampling", "fixed"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_FIXED);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--", "true"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-G", "x"), false, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--sampling", "jitter"), false, &err), -EINVAL);
	CHECK(strstr(err.msg, "--sampling 'jitter'") != NULL);
	CHECK(strstr(err.msg, "random or fixed") != NULL);
	cli_sampling_free(&s);

	/* targets */
	CHECK_EQ_INT(parse(&s, ARGV("-p", "12,34"), false, &err), 0);
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_PIDS);
	CHECK_EQ_INT(s.opts.n_pids, 2);
	CHECK_EQ_INT(s.opts.pids[1], 34);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-p", "12,x"), false, &err), -EINVAL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-G", "system.slice"), false, &err), 0);
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_CGROUP);
	cli_sampling_free(&s);
	/* a named array: s points into it after the CHECK's block ends */
	char *cmd_argv[] = { "t", "--", "sleep", "1", NULL };
	CHECK_EQ_INT(parse(&s, cmd_argv, false, &err), 0);
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_COMMAND);
	CHECK(strcmp(s.opts.argv[0], "sleep") == 0);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-a", "-p", "1"), false, &err), -EINVAL);
	CHECK(strstr(err.msg, "one target") != NULL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-p", "1", "--", "true"), false, &err), -EINVAL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--"), false, &err), -EINVAL);
	CHECK(strstr(err.msg, "no command") != NULL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("stray"), false, &err), -EINVAL);
	cli_sampling_free(&s);

	/* the environment: same checks, named by the variable; flags win */
	setenv("EMBER_FREQ", "abc", 1);
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, true, &err), -EINVAL);
	CHECK(strstr(err.msg, "EMBER_FREQ='abc'") != NULL);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-F", "50"), true, &err), 0);
	CHECK_EQ_INT(s.opts.freq_hz, 50);
	cli_sampling_free(&s);
	unsetenv("EMBER_FREQ");
	setenv("EMBER_SAMPLING", "fixed", 1);
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, true, &err), 0);
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_FIXED);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("--sampling", "random"), true, &err), 0);   /* the flag wins */
	CHECK_EQ_INT(s.opts.sampling, EMBER_SAMPLING_RANDOM);
	cli_sampling_free(&s);
	setenv("EMBER_SAMPLING", "often", 1);
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, true, &err), -EINVAL);
	CHECK(strstr(err.msg, "EMBER_SAMPLING='often'") != NULL);
	cli_sampling_free(&s);
	unsetenv("EMBER_SAMPLING");
	setenv("EMBER_PID", "77", 1);
	CHECK_EQ_INT(parse(&s, (char *[]){ "t", NULL }, true, &err), 0);
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_PIDS);
	cli_sampling_free(&s);
	CHECK_EQ_INT(parse(&s, ARGV("-a"), true, &err), 0);   /* a flag target wins */
	CHECK_EQ_INT(s.opts.kind, EMBER_TARGET_ALL);
	cli_sampling_free(&s);
	unsetenv("EMBER_PID");
	return check_exit();
}
