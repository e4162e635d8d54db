/* cli/cmd_serve.c — `ember serve`: flags (each also from an EMBER_*
 * environment variable), setup of sampler, symbolizer, store, metrics and
 * HTTP server, the signal handling, and an orderly shutdown that stores
 * the partial window. The threads' work lives in cli/serve_*.c.
 */
#include "args.h"
#include "privdrop.h"
#include "serve.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/http.h"
#include "ember/webconfig.h"

static const char usage_text[] =
	"usage: ember serve [TARGET] [OPTIONS]\n"
	"\n"
	"Profile continuously, store one pprof per window, and serve /metrics and the\n"
	"profiles over HTTP. Runs in the foreground until SIGTERM or SIGINT, which store\n"
	"the current partial window and exit 0.\n"
	"\n"
	"TARGET (default -a):\n"
	"  -a, --all-cpus            every process on every CPU                [EMBER_ALL_CPUS=1]\n"
	"  -p, --pid PID[,PID...]    these processes, all threads              [EMBER_PID]\n"
	"  -G, --cgroup CGROUP       a cgroup (v2 path, relative to the mount)  [EMBER_CGROUP]\n"
	"  -- COMMAND [ARGS...]      run COMMAND and profile it; serve stops when it exits\n"
	"\n"
	"Sampling:\n"
	"  -F, --freq HZ             cpu-clock samples per second (default 99)  [EMBER_FREQ]\n"
	"      --call-graph fp|dwarf frame pointers (default) or DWARF unwinding of a\n"
	"                            user stack copy                            [EMBER_CALL_GRAPH]\n"
	"      --stack-size BYTES    DWARF: user stack bytes copied per sample (default\n"
	"                            32K, 4K..65528)                            [EMBER_STACK_SIZE]\n"
	"      --window DURATION     window length, aligned to wall-clock multiples so\n"
	"                            windows of many agents line up (default 10s, >= 1s)\n"
	"                                                                       [EMBER_WINDOW]\n"
	"      --debug-dir DIR       also look for debug files here (repeatable)\n"
	"\n"
	"HTTP:\n"
	"  --listen ADDR             HOST:PORT to listen on (default 127.0.0.1:9464; use\n"
	"                            0.0.0.0:9464 or :9464 for Prometheus on other hosts)\n"
	"                                                                       [EMBER_LISTEN]\n"
	"\n"
	"Access:\n"
	"  --web.config.file FILE    TLS and basic auth, Prometheus exporter-toolkit\n"
	"                            format: tls_server_config {cert_file, key_file},\n"
	"                            basic_auth_users {USER: BCRYPT-HASH}; /healthz stays\n"
	"                            open                                       [EMBER_WEB_CONFIG_FILE]\n"
	"  --user NAME               after opening the perf events and the port, become\n"
	"                            NAME keeping only cap_sys_ptrace, cap_dac_read_search,\n"
	"                            cap_checkpoint_restore, cap_syslog (start as root;\n"
	"                            --storage.path must be writable by NAME)   [EMBER_USER]\n"
	"  --web.max-connections N   open connections at most (default 64)      [EMBER_WEB_MAX_CONNECTIONS]\n"
	"  --web.max-connections-per-ip N\n"
	"                            from one address at most (default 16)\n"
	"                                                                       [EMBER_WEB_MAX_CONNECTIONS_PER_IP]\n"
	"  --web.timeout DURATION    close a connection silent this long (default 30s)\n"
	"                                                                       [EMBER_WEB_TIMEOUT]\n"
	"  --web.read-timeout DURATION  close a connection whose next request is not\n"
	"                            fully received this long after it opened or its\n"
	"                            last answer (slow clients); answering is not\n"
	"                            limited (default 30s)                      [EMBER_WEB_READ_TIMEOUT]\n"
	"  --web.max-profile-seconds N  cap of /debug/pprof/profile?seconds (default 300)\n"
	"                                                                       [EMBER_WEB_MAX_PROFILE_SECONDS]\n"
	"\n"
	"Storage:\n"
	"  --storage.path DIR        where windows are stored (default /var/lib/ember when\n"
	"                            writable, else $XDG_STATE_HOME/ember, else\n"
	"                            ~/.local/state/ember, else /tmp/ember-UID)\n"
	"                                                                       [EMBER_STORAGE_PATH]\n"
	"  --storage.retention DUR   drop windows older than this (default 24h; 0 keeps\n"
	"                            them)                                      [EMBER_STORAGE_RETENTION]\n"
	"  --storage.max-bytes SIZE  drop the oldest windows beyond this total (default 1G;\n"
	"                            0 = no cap)                                [EMBER_STORAGE_MAX_BYTES]\n"
	"\n"
	"Metrics:\n"
	"  --metrics.top N           functions per window that become series (default 50)\n"
	"                                                                       [EMBER_METRICS_TOP]\n"
	"  --metrics.functions REGEX functions that always become series       [EMBER_METRICS_FUNCTIONS]\n"
	"  --metrics.max-series N    cap on function series; the rest fold into\n"
	"                            function=\"[other]\" (default 2000)        [EMBER_METRICS_MAX_SERIES]\n"
	"\n"
	"  -h, --help                this text\n"
	"\n"
	"Endpoints: / (index), /metrics, /debug/pprof/profile?seconds=N,\n"
	"/api/v1/profiles[?start=T&end=T], /api/v1/profiles/ID,\n"
	"/api/v1/merge?start=T&end=T[&function=REGEX], /healthz. Times: unix seconds,\n"
	"unix milliseconds or RFC 3339.\n"
	"\n"
	"As root, the core kernel's symbols are cached per boot in $EMBER_CACHE_DIR\n"
	"(default /var/cache/ember; set it empty for no cache).\n"
	"\n"
	"Exit status: 0 stopped by a signal or the target exited, 1 runtime failure,\n"
	"2 usage error.\n";

enum {
	OPT_CALL_GRAPH = 256,
	OPT_STACK_SIZE,
	OPT_WINDOW,
	OPT_DEBUG_DIR,
	OPT_LISTEN,
	OPT_STORAGE_PATH,
	OPT_STORAGE_RETENTION,
	OPT_STORAGE_MAX_BYTES,
	OPT_METRICS_TOP,
	OPT_METRICS_FUNCTIONS,
	OPT_METRICS_MAX_SERIES,
	OPT_WEB_CONFIG,
	OPT_USER,
	OPT_WEB_MAX_CONN,
	OPT_WEB_MAX_PER_IP,
	OPT_WEB_TIMEOUT,
	OPT_WEB_READ_TIMEOUT,
	OPT_WEB_MAX_SECONDS,
};

static const struct option long_opts[] = {
	{ "all-cpus", no_argument, NULL, 'a' },
	{ "pid", required_argument, NULL, 'p' },
	{ "cgroup", required_argument, NULL, 'G' },
	{ "freq", required_argument, NULL, 'F' },
	{ "call-graph", required_argument, NULL, OPT_CALL_GRAPH },
	{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "storage.path", required_argument, NULL, OPT_STORAGE_PATH },
	{ "storage.retention", required_argument, NULL, OPT_STORAGE_RETENTION },
	{ "storage.max-bytes", required_argument, NULL, OPT_STORAGE_MAX_BYTES },
	{ "metrics.top", required_argument, NULL, OPT_METRICS_TOP },
	{ "metrics.functions", required_argument, NULL, OPT_METRICS_FUNCTIONS },
	{ "metrics.max-series", required_argument, NULL, OPT_METRICS_MAX_SERIES },
	{ "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
	{ "user", required_argument, NULL, OPT_USER },
	{ "web.max-connections", required_argument, NULL, OPT_WEB_MAX_CONN },
	{ "web.max-connections-per-ip", required_argument, NULL, OPT_WEB_MAX_PER_IP },
	{ "web.timeout", required_argument, NULL, OPT_WEB_TIMEOUT },
	{ "web.read-timeout", required_argument, NULL, OPT_WEB_READ_TIMEOUT },
	{ "web.max-profile-seconds", required_argument, NULL, OPT_WEB_MAX_SECONDS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define MAX_DEBUG_DIRS 16

typedef struct serve_args {
	ember_sampler_opts so;
	pid_t *pids;
	const char *freq, *call_graph, *stack_size, *window, *listen;
	const char *storage_path, *retention, *max_bytes;
	const char *top, *functions, *max_series;
	const char *web_config, *user;
	const char *web_max_conn, *web_max_per_ip, *web_timeout, *web_read_timeout,
		*web_max_seconds;
	const char *debug_dirs[MAX_DEBUG_DIRS];
	size_t n_debug_dirs;
	bool all, have_target_flag;
	const char *pid_arg, *cgroup;
} serve_args;

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "ember serve: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nRun 'ember serve --help' for the options.\n");
	return EXIT_USAGE;
}

/* A bad value: names the flag, or the EMBER_* variable it came from. */
static int bad_value(const char *flag, const char *name, const char *val, const char *want)
{
	if (val == cli_env_flag(name)) {   /* the very string getenv returned */
		char env[64] = "EMBER_";
		size_t k = 6;
		for (const char *p = name; *p && k + 1 < sizeof env; p++)
			env[k++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
		env[k] = '\0';
		fprintf(stderr, "ember serve: %s='%s' (from the environment, for %s): %s\n", env,
			val, flag, want);
	} else {
		fprintf(stderr, "ember serve: %s '%s': %s\n", flag, val, want);
	}
	fprintf(stderr, "Run 'ember serve --help' for the options.\n");
	return EXIT_USAGE;
}

/* Flags not given on the command line come from EMBER_* variables. */
static void env_defaults(serve_args *a)
{
#define ENV(field, name)                                                                          \
	if (!a->field)                                                                            \
		a->field = cli_env_flag(name);
	ENV(freq, "freq");
	ENV(call_graph, "call-graph");
	ENV(stack_size, "stack-size");
	ENV(window, "window");
	ENV(listen, "listen");
	ENV(storage_path, "storage.path");
	ENV(retention, "storage.retention");
	ENV(max_bytes, "storage.max-bytes");
	ENV(top, "metrics.top");
	ENV(functions, "metrics.functions");
	ENV(max_series, "metrics.max-series");
	ENV(web_config, "web.config.file");
	ENV(user, "user");
	ENV(web_max_conn, "web.max-connections");
	ENV(web_max_per_ip, "web.max-connections-per-ip");
	ENV(web_timeout, "web.timeout");
	ENV(web_read_timeout, "web.read-timeout");
	ENV(web_max_seconds, "web.max-profile-seconds");
#undef ENV
	if (!a->have_target_flag && a->so.kind != EMBER_TARGET_COMMAND) {
		a->pid_arg = cli_env_flag("pid");
		a->cgroup = cli_env_flag("cgroup");
		const char *all = cli_env_flag("all-cpus");
		a->all = all && strcmp(all, "0") != 0;
	}
}

/* Parses argv into a; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, serve_args *a)
{
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:ap:G:F:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->all = true; a->have_target_flag = true; break;
		case 'p': a->pid_arg = optarg; a->have_target_flag = true; break;
		case 'G': a->cgroup = optarg; a->have_target_flag = true; break;
		case 'F': a->freq = optarg; break;
		case OPT_CALL_GRAPH: a->call_graph = optarg; break;
		case OPT_STACK_SIZE: a->stack_size = optarg; break;
		case OPT_WINDOW: a->window = optarg; break;
		case OPT_LISTEN: a->listen = optarg; break;
		case OPT_STORAGE_PATH: a->storage_path = optarg; break;
		case OPT_STORAGE_RETENTION: a->retention = optarg; break;
		case OPT_STORAGE_MAX_BYTES: a->max_bytes = optarg; break;
		case OPT_METRICS_TOP: a->top = optarg; break;
		case OPT_METRICS_FUNCTIONS: a->functions = optarg; break;
		case OPT_METRICS_MAX_SERIES: a->max_series = optarg; break;
		case OPT_WEB_CONFIG: a->web_config = optarg; break;
		case OPT_USER: a->user = optarg; break;
		case OPT_WEB_MAX_CONN: a->web_max_conn = optarg; break;
		case OPT_WEB_MAX_PER_IP: a->web_max_per_ip = optarg; break;
		case OPT_WEB_TIMEOUT: a->web_timeout = optarg; break;
		case OPT_WEB_READ_TIMEOUT: a->web_read_timeout = optarg; break;
		case OPT_WEB_MAX_SECONDS: a->web_max_seconds = optarg; break;
		case OPT_DEBUG_DIR:
			if (a->n_debug_dirs == MAX_DEBUG_DIRS)
				return usage_error("at most %s --debug-dir flags", "16");
			a->debug_dirs[a->n_debug_dirs++] = optarg;
			break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			return usage_error("unexpected argument '%s' (a command goes after --)",
					   argv[optind]);
		a->so.kind = EMBER_TARGET_COMMAND;
		a->so.argv = &argv[optind];
	}
	env_defaults(a);
	int targets = a->all + !!a->pid_arg + !!a->cgroup + (a->so.kind == EMBER_TARGET_COMMAND);
	if (targets > 1)
		return usage_error("%s", "give one target: -a, -p PID, -G CGROUP or -- COMMAND");
	if (a->pid_arg) {
		a->so.kind = EMBER_TARGET_PIDS;
		if (cli_parse_pids(a->pid_arg, &a->pids, &a->so.n_pids) < 0)
			return bad_value("-p", "pid", a->pid_arg, "want PID[,PID...]");
		a->so.pids = a->pids;
	} else if (a->cgroup) {
		a->so.kind = EMBER_TARGET_CGROUP;
		a->so.cgroup = a->cgroup;
	} else if (a->so.kind != EMBER_TARGET_COMMAND) {
		a->so.kind = EMBER_TARGET_ALL;
	}
	return -1;
}

static volatile sig_atomic_t no_state;   /* where signals land without a serve state */
static volatile sig_atomic_t *sig_terminate = &no_state, *sig_wake = &no_state;

/* serve_ops over the real sampler and symbolizer. */
static int op_poll(void *s, uint64_t deadline_ns, volatile sig_atomic_t *stop, ember_error *err)
{
	return ember_sampler_poll(s, deadline_ns, stop, err);
}

static int op_take_window(void *s, ember_profile **out, ember_error *err)
{
	return ember_sampler_take_window(s, out, err);
}

static void op_sampler_stats(void *s, ember_sampler_stats *out)
{
	ember_sampler_get_stats(s, out);
}

static int op_symbolize(void *s, ember_profile *p, ember_error *err)
{
	return ember_symbolizer_run(s, p, err);
}

static void op_symbolizer_stats(void *s, ember_symbolizer_stats *out)
{
	ember_symbolizer_get_stats(s, out);
}

/* Runs on the sampling thread only (every other thread blocks these). */
static void on_signal(int sig)
{
	if (sig != SIGUSR1)
		serve_set_terminate(sig_terminate);
	*sig_wake = 1;
}

/* A --web.* duration of min_ns..1h into *ns; -1 after a usage error. */
static int web_duration(const char *flag, const char *val, const char *min, uint64_t min_ns,
			uint64_t *ns)
{
	if (cli_parse_duration(val, ns) == 0 && *ns >= min_ns && *ns <= 3600ULL * 1000000000ULL)
		return 0;
	char fmt[96];
	snprintf(fmt, sizeof fmt, "%s '%%s': want a duration of %s..1h", flag, min);
	return usage_error(fmt, val), -1;
}

/* The --web.* limits into o; -1 after a usage error. */
static int serve_web_limits(const serve_args *a, ember_http_opts *o)
{
	uint64_t v;
	if (a->web_max_conn) {
		if (cli_parse_uint(a->web_max_conn, 1, 10000, &v) < 0)
			return usage_error("--web.max-connections '%s': want 1..10000",
					   a->web_max_conn), -1;
		o->max_connections = (unsigned)v;
	}
	if (a->web_max_per_ip) {
		if (cli_parse_uint(a->web_max_per_ip, 1, 10000, &v) < 0)
			return usage_error("--web.max-connections-per-ip '%s': want 1..10000",
					   a->web_max_per_ip), -1;
		o->max_per_ip = (unsigned)v;
	}
	if (a->web_timeout && web_duration("--web.timeout", a->web_timeout, "1s", 1000000000ULL,
					   &v) < 0)
		return -1;
	if (a->web_timeout)
		o->idle_timeout_s = (unsigned)(v / 1000000000ULL);
	if (a->web_read_timeout && web_duration("--web.read-timeout", a->web_read_timeout, "100ms",
						100000000ULL, &v) < 0)
		return -1;
	if (a->web_read_timeout)
		o->read_timeout_ms = (unsigned)(v / 1000000ULL);
	if (a->web_max_seconds) {
		if (cli_parse_uint(a->web_max_seconds, 1, 86400, &v) < 0)
			return usage_error("--web.max-profile-seconds '%s': want 1..86400",
					   a->web_max_seconds), -1;
		o->max_profile_seconds = (unsigned)v;
	}
	return 0;
}

/* --web.config.file and --user checked and loaded; -1 with *ec set on
 * failure (2 for a bad config or user, 1 when a file cannot be read). */
static int serve_access_setup(const serve_args *a, ember_webconfig **web, privdrop_user *u,
			      int *ec)
{
	ember_error err = { 0 };
	*ec = EXIT_USAGE;
	if (a->user && a->so.kind == EMBER_TARGET_COMMAND) {
		usage_error("%s", "--user with -- COMMAND is not supported: start the command as "
				  "that user and profile it with -p PID");
		return -1;
	}
	if (a->user && geteuid() != 0) {
		usage_error("%s", "--user needs ember serve started as root (it drops to the user "
				  "after opening the events); without root, give the capabilities "
				  "instead (README: Access)");
		return -1;
	}
	if (a->user && privdrop_lookup(a->user, u, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		return -1;
	}
	if (a->web_config) {
		int rc = ember_webconfig_load(web, a->web_config, &err);
		if (rc < 0) {
			fprintf(stderr, "ember serve: %s\n", err.msg);
			*ec = rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
			return -1;
		}
	}
	return 0;
}

/* --user: become u; the store must stay writable. */
static int serve_drop_privileges(const privdrop_user *u, const char *store_path)
{
	ember_error err = { 0 };
	if (privdrop_to(u, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		return -1;
	}
	if (access(store_path, W_OK | X_OK) < 0) {
		fprintf(stderr,
			"ember serve: --user %s: the storage directory %s is not writable by that "
			"user: chown %s %s, or give another --storage.path\n",
			u->name, store_path, u->name, store_path);
		return -1;
	}
	fprintf(stderr, "ember serve: running as %s (uid %u) with %s\n", u->name,
		(unsigned)u->uid, privdrop_keep_names);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	serve_args a;
	memset(&a, 0, sizeof a);
	int ec = parse_args(argc, argv, &a);
	if (ec >= 0) {
		free(a.pids);
		return ec;
	}
	ember_webconfig *web = NULL;
	ec = EXIT_USAGE;
	uint64_t v, window_ns = 10000000000ULL, retention_ns = 24ULL * 3600 * 1000000000ULL;
	uint64_t max_bytes = 1ULL << 30, top = 50, max_series = 2000, stack = 0;
	a.so.freq_hz = 99;
	if (a.freq) {
		if (cli_parse_uint(a.freq, 1, 100000, &v) < 0) {
			bad_value("-F", "freq", a.freq, "want a frequency in Hz, 1..100000");
			goto out;
		}
		a.so.freq_hz = (unsigned)v;
	}
	if (a.call_graph) {
		if (!strcmp(a.call_graph, "fp")) {
			a.so.callgraph = EMBER_CALLGRAPH_FP;
		} else if (!strcmp(a.call_graph, "dwarf")) {
			a.so.callgraph = EMBER_CALLGRAPH_DWARF;
		} else {
			bad_value("--call-graph", "call-graph", a.call_graph, "want fp or dwarf");
			goto out;
		}
	}
	if (a.stack_size && (cli_parse_bytes(a.stack_size, &stack) < 0 || stack < 4096 ||
			     stack > 65528)) {
		bad_value("--stack-size", "stack-size", a.stack_size, "want 4K..65528 bytes");
		goto out;
	}
	a.so.stack_size = (uint32_t)stack;
	if (a.window && (cli_parse_duration(a.window, &window_ns) < 0 ||
			 window_ns < 1000000000ULL || window_ns % 1000000ULL)) {
		bad_value("--window", "window", a.window,
			  "want a duration of at least 1s in whole ms, e.g. 10s");
		goto out;
	}
	if (a.retention && strcmp(a.retention, "0") != 0 &&
	    cli_parse_duration(a.retention, &retention_ns) < 0) {
		bad_value("--storage.retention", "storage.retention", a.retention,
			  "want a duration like 24h or 7d, or 0");
		goto out;
	}
	if (a.retention && strcmp(a.retention, "0") == 0)
		retention_ns = 0;
	if (a.max_bytes && cli_parse_bytes(a.max_bytes, &max_bytes) < 0) {
		bad_value("--storage.max-bytes", "storage.max-bytes", a.max_bytes,
			  "want a size like 512M or 2G, or 0");
		goto out;
	}
	if (a.top && cli_parse_uint(a.top, 1, 100000, &top) < 0) {
		bad_value("--metrics.top", "metrics.top", a.top, "want a number >= 1");
		goto out;
	}
	if (a.max_series && cli_parse_uint(a.max_series, 1, 10000000, &max_series) < 0) {
		bad_value("--metrics.max-series", "metrics.max-series", a.max_series,
			  "want a number >= 1");
		goto out;
	}

	/* Access (issue 8): the user must exist and the web config parse
	 * before anything is opened. */
	privdrop_user drop_to;
	ember_http_opts ho = { .listen = a.listen ? a.listen : "127.0.0.1:9464" };
	if (serve_web_limits(&a, &ho) < 0 || serve_access_setup(&a, &web, &drop_to, &ec) < 0)
		goto out;
	ho.web = web;

	ember_sampler *sampler = NULL;
	ember_symbolizer *sym = NULL;
	serve_state *st = calloc(1, sizeof *st);
	if (!st) {
		fprintf(stderr, "ember serve: out of memory\n");
		ec = EXIT_RUNTIME;
		goto out;
	}
	serve_state_init(st);
	st->cfg.window_ns = window_ns;
	st->cfg.freq_hz = a.so.freq_hz;

	ember_error err = { 0 };
	ember_metrics_opts mo = { .top_n = top, .functions_regex = a.functions,
				  .max_series = max_series };
	if (ember_metrics_new(&st->metrics, &mo, &err) < 0) {
		fprintf(stderr, "ember serve: --metrics.functions: %s\n", err.msg);
		goto free_state;   /* a bad regex is a usage error */
	}
	ec = EXIT_RUNTIME;
	char defpath[4096];
	if (!a.storage_path) {
		if (ember_store_default_path(defpath, sizeof defpath) < 0) {
			fprintf(stderr, "ember serve: no storage directory: give --storage.path\n");
			goto free_state;
		}
		a.storage_path = defpath;
	}
	ember_store_opts sto = { .path = a.storage_path, .retention_ns = retention_ns,
				 .max_bytes = max_bytes };
	if (ember_store_open(&st->store, &sto, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		goto free_state;
	}
	/* The kernel symbol cache is root's (it holds real kernel addresses);
	 * with --user the symbolizer runs after the drop, so none. */
	char cache[512];
	ember_symbolizer_opts syo = { .debug_dirs = a.debug_dirs,
				      .n_debug_dirs = a.n_debug_dirs,
				      .cache_dir = a.user ? NULL
						: ember_default_cache_dir(cache, sizeof cache) };
	if (ember_symbolizer_new(&sym, &syo, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		goto free_state;
	}
	if (ember_sampler_open(&sampler, &a.so, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		goto free_state;
	}
	st->ops = (serve_ops){
		.sampler = sampler,
		.poll = op_poll,
		.take_window = op_take_window,
		.sampler_stats = op_sampler_stats,
		.symbolizer = sym,
		.symbolize = op_symbolize,
		.symbolizer_stats = op_symbolizer_stats,
	};

	/* Signals go to this (the sampling) thread only: block them while the
	 * other threads are created, which inherit the mask. */
	sig_terminate = &st->terminate;
	sig_wake = &st->wake;
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	st->sampling_thread = pthread_self();

	ember_http_api api;
	serve_api_init(st, &api);
	ho.read_timeouts = &st->http_read_timeouts;
	ember_http_server *http = NULL;
	pthread_t worker;
	if (ember_http_start(&http, &ho, &api, &err) < 0) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		goto close_sampler;
	}
	/* Root is no longer needed: the events are open and the port bound.
	 * Before the worker starts, so it inherits only the kept capabilities. */
	if (a.user && serve_drop_privileges(&drop_to, ember_store_path(st->store)) < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		ember_http_stop(http);
		goto close_sampler;
	}
	if (pthread_create(&worker, NULL, serve_worker_main, st) != 0) {
		fprintf(stderr, "ember serve: cannot start the worker thread\n");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		ember_http_stop(http);
		goto close_sampler;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sigdelset(&block, SIGPIPE);   /* whatever mask we inherited: take these here */
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	bool start_failed = ember_sampler_start(sampler, &err) < 0;
	if (start_failed) {
		fprintf(stderr, "ember serve: %s\n", err.msg);
		serve_set_terminate(&st->terminate);   /* store nothing more, stop the threads in order */
	}
	fprintf(stderr,
		"ember serve: listening on %s://%s (port %u), %u Hz, %s windows, storing in %s\n",
		web && web->cert_pem ? "https" : "http", ho.listen, ember_http_port(http), a.so.freq_hz, a.window ? a.window : "10s",
		ember_store_path(st->store));

	int rc = serve_collect_run(st, &err);
	if (rc < 0)
		fprintf(stderr, "ember serve: %s\n", err.msg);
	pthread_join(worker, NULL);   /* the partial window is stored */
	ember_sampler_end_child(sampler);   /* -- CMD still running: SIGTERM it, as record does */
	ember_http_stop(http);
	ec = rc < 0 || start_failed ? EXIT_RUNTIME : EXIT_OK;
	fprintf(stderr, "ember serve: stopped; %llu windows stored this run\n",
		(unsigned long long)atomic_load(&st->windows_stored));
close_sampler:
	ember_sampler_close(sampler);
free_state:
	sig_terminate = sig_wake = &no_state;
	ember_symbolizer_free(sym);
	ember_store_free(st->store);
	ember_metrics_free(st->metrics);
	serve_state_destroy(st);
	free(st);
out:
	ember_webconfig_free(web);
	free(a.pids);
	return ec;
}
