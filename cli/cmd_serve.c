/* cli/cmd_serve.c — `ember serve`: turns flags (each also from an EMBER_*
 * environment variable) into ember_agent_opts and runs the agent
 * (ember/agent.h). Parsing and checking only: the agent opens, logs and
 * shuts down. Target and sampling flags go through cli/sampling_flags.c,
 * shared with `ember record`.
 */
#include "args.h"
#include "push_flags.h"
#include "sampling_flags.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/agent.h"
#include "ember/metrics.h"

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
	"                            32K, a multiple of 8 in 4K..65528)         [EMBER_STACK_SIZE]\n"
	"      --sampling random|fixed\n"
	"                            random (default): intervals vary around 1/F\n"
	"                            (rate drawn in [F/2, 3F/2]), so periodic work\n"
	"                            is not aliased; fixed: every 1/F           [EMBER_SAMPLING]\n"
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
	"  --ui.cache-size SIZE      memory for recent windows folded for the UI, so a\n"
	"                            range is drawn without decoding them (default 32M;\n"
	"                            0 = none)                                  [EMBER_UI_CACHE_SIZE]\n"
	"\n"
	"Metrics:\n"
	"  --metrics.top N           functions per window that become series (default 50)\n"
	"                                                                       [EMBER_METRICS_TOP]\n"
	"  --metrics.functions REGEX functions that always become series       [EMBER_METRICS_FUNCTIONS]\n"
	"  --metrics.max-series N    cap on function series; the rest fold into\n"
	"                            function=\"[other]\" (default 2000)        [EMBER_METRICS_MAX_SERIES]\n"
	"  --metrics.labels LIST     the function series' labels, a comma list of comm,\n"
	"                            binary, function, cgroup, container_id, pod_uid,\n"
	"                            systemd_unit (default comm,binary,function)\n"
	"                                                                       [EMBER_METRICS_LABELS]\n"
	"\n"
	"  -h, --help                this text\n"
	"\n"
	"Endpoints (times: unix seconds, unix milliseconds or RFC 3339):\n";

static const char usage_tail[] =
	"\n"
	"As root, the core kernel's symbols are cached per boot in $EMBER_CACHE_DIR\n"
	"(default /var/cache/ember; set it empty for no cache).\n"
	"\n"
	"Exit status: 0 stopped by a signal or the target exited, 1 runtime failure,\n"
	"2 usage error.\n";

enum {
	OPT_WINDOW = CLI_OPT_FIRST_FREE,
	OPT_DEBUG_DIR,
	OPT_LISTEN,
	OPT_STORAGE_PATH,
	OPT_STORAGE_RETENTION,
	OPT_STORAGE_MAX_BYTES,
	OPT_UI_CACHE_SIZE,
	OPT_METRICS_TOP,
	OPT_METRICS_FUNCTIONS,
	OPT_METRICS_MAX_SERIES,
	OPT_METRICS_LABELS,
	OPT_WEB_CONFIG,
	OPT_USER,
	OPT_WEB_MAX_CONN,
	OPT_WEB_MAX_PER_IP,
	OPT_WEB_TIMEOUT,
	OPT_WEB_READ_TIMEOUT,
	OPT_WEB_MAX_SECONDS,
};

/* The serve-only flags that take a value: option code, name (also the
 * EMBER_* variable's), and the slot in serve_args.val. */
static const struct {
	int code;
	const char *name;
} value_flags[] = {
	{ OPT_WINDOW, "window" },
	{ OPT_LISTEN, "listen" },
	{ OPT_STORAGE_PATH, "storage.path" },
	{ OPT_STORAGE_RETENTION, "storage.retention" },
	{ OPT_STORAGE_MAX_BYTES, "storage.max-bytes" },
	{ OPT_UI_CACHE_SIZE, "ui.cache-size" },
	{ OPT_METRICS_TOP, "metrics.top" },
	{ OPT_METRICS_FUNCTIONS, "metrics.functions" },
	{ OPT_METRICS_MAX_SERIES, "metrics.max-series" },
	{ OPT_METRICS_LABELS, "metrics.labels" },
	{ OPT_WEB_CONFIG, "web.config.file" },
	{ OPT_USER, "user" },
	{ OPT_WEB_MAX_CONN, "web.max-connections" },
	{ OPT_WEB_MAX_PER_IP, "web.max-connections-per-ip" },
	{ OPT_WEB_TIMEOUT, "web.timeout" },
	{ OPT_WEB_READ_TIMEOUT, "web.read-timeout" },
	{ OPT_WEB_MAX_SECONDS, "web.max-profile-seconds" },
};
#define N_VALUE_FLAGS (sizeof value_flags / sizeof value_flags[0])

static const struct option long_opts[] = {
	CLI_SAMPLING_LONGOPTS,
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "storage.path", required_argument, NULL, OPT_STORAGE_PATH },
	{ "storage.retention", required_argument, NULL, OPT_STORAGE_RETENTION },
	{ "storage.max-bytes", required_argument, NULL, OPT_STORAGE_MAX_BYTES },
	{ "ui.cache-size", required_argument, NULL, OPT_UI_CACHE_SIZE },
	{ "metrics.top", required_argument, NULL, OPT_METRICS_TOP },
	{ "metrics.functions", required_argument, NULL, OPT_METRICS_FUNCTIONS },
	{ "metrics.max-series", required_argument, NULL, OPT_METRICS_MAX_SERIES },
	{ "metrics.labels", required_argument, NULL, OPT_METRICS_LABELS },
	{ "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
	{ "user", required_argument, NULL, OPT_USER },
	{ "web.max-connections", required_argument, NULL, OPT_WEB_MAX_CONN },
	{ "web.max-connections-per-ip", required_argument, NULL, OPT_WEB_MAX_PER_IP },
	{ "web.timeout", required_argument, NULL, OPT_WEB_TIMEOUT },
	{ "web.read-timeout", required_argument, NULL, OPT_WEB_READ_TIMEOUT },
	{ "web.max-profile-seconds", required_argument, NULL, OPT_WEB_MAX_SECONDS },
	CLI_PUSH_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define MAX_DEBUG_DIRS 16

typedef struct serve_args {
	cli_sampling samp;
	const char *val[N_VALUE_FLAGS];   /* by value_flags index; NULL: not given */
	const char *debug_dirs[MAX_DEBUG_DIRS];
	size_t n_debug_dirs;
	ember_push_opts push;             /* --push.* (cli/push_flags.c) */
} serve_args;

static void usage(void)
{
	fputs(usage_text, stdout);
	ember_agent_describe_endpoints(stdout);
	fputs("\n", stdout);
	fputs(cli_push_usage, stdout);
	fputs(usage_tail, stdout);
}

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "ember serve: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\nRun 'ember serve --help' for the options.\n");
	return EXIT_USAGE;
}

/* The value of flag `name`, from the command line or the environment. */
static const char *val(const serve_args *a, const char *name)
{
	for (size_t i = 0; i < N_VALUE_FLAGS; i++)
		if (strcmp(value_flags[i].name, name) == 0)
			return a->val[i];
	return NULL;
}

/* A bad value: names the flag, or the EMBER_* variable it came from. */
static int bad_value(const char *name, const char *v, const char *want)
{
	char env[64];
	if (cli_env_name(name, env, sizeof env) && v == cli_env_flag(name))
		fprintf(stderr, "ember serve: %s='%s' (from the environment, for --%s): %s\n", env,
			v, name, want);
	else
		fprintf(stderr, "ember serve: --%s '%s': %s\n", name, v, want);
	fprintf(stderr, "Run 'ember serve --help' for the options.\n");
	return EXIT_USAGE;
}

/* Keeps a serve-only flag's value; false for a code that is not one. */
static bool take_value(serve_args *a, int c, const char *arg)
{
	for (size_t i = 0; i < N_VALUE_FLAGS; i++) {
		if (value_flags[i].code == c) {
			a->val[i] = arg;
			return true;
		}
	}
	return false;
}

/* Parses argv into a; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, serve_args *a)
{
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:" CLI_SAMPLING_SHORTOPTS "h", long_opts, NULL)) !=
	       -1) {
		if (cli_sampling_take(&a->samp, c, optarg) || take_value(a, c, optarg) ||
		    cli_push_take(&a->push, c, optarg))
			continue;
		switch (c) {
		case OPT_DEBUG_DIR:
			if (a->n_debug_dirs == MAX_DEBUG_DIRS)
				return usage_error("at most %s --debug-dir flags", "16");
			a->debug_dirs[a->n_debug_dirs++] = optarg;
			break;
		case 'h': usage(); return EXIT_OK;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (size_t i = 0; i < N_VALUE_FLAGS; i++)   /* the command line wins */
		if (!a->val[i])
			a->val[i] = cli_env_flag(value_flags[i].name);
	cli_sampling_env(&a->samp, optind < argc);
	cli_push_env(&a->push);
	ember_error err = { 0 };
	if (cli_sampling_finish(&a->samp, argc, argv, optind, &err) < 0)
		return usage_error("%s", err.msg);
	return -1;
}

/* An unsigned flag in [min, max] into *out (left alone when not given). */
static int uint_flag(const serve_args *a, const char *name, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	const char *v = val(a, name);
	if (v && cli_parse_uint(v, min, max, out) < 0) {
		char want[64];
		snprintf(want, sizeof want, "want a number in %llu..%llu", (unsigned long long)min,
			 (unsigned long long)max);
		return bad_value(name, v, want);
	}
	return -1;
}

/* A duration flag in [min_ns, max_ns] into *ns (left alone when not given);
 * "0" is taken as 0 when zero_ok. */
static int duration_flag(const serve_args *a, const char *name, uint64_t min_ns, uint64_t max_ns,
			 bool zero_ok, const char *want, uint64_t *ns)
{
	const char *v = val(a, name);
	if (!v)
		return -1;
	if (zero_ok && strcmp(v, "0") == 0) {
		*ns = 0;
		return -1;
	}
	uint64_t d;
	if (cli_parse_duration(v, &d) < 0 || d < min_ns || d > max_ns)
		return bad_value(name, v, want);
	*ns = d;
	return -1;
}

#define SEC 1000000000ULL

/* Window, storage and metrics values into o; -1 to go on or an exit code. */
static int storage_and_metrics(const serve_args *a, ember_agent_opts *o)
{
	int ec;
	uint64_t top = 50, max_series = 2000;
	const char *w = val(a, "window");
	if (w) {
		uint64_t ns;
		if (cli_parse_duration(w, &ns) < 0 || ns < SEC || ns % 1000000ULL)
			return bad_value("window", w,
					 "want a duration of at least 1s in whole ms, e.g. 10s");
		o->window_ns = ns;
		o->window_text = w;
	}
	if ((ec = duration_flag(a, "storage.retention", 1, UINT64_MAX, true,
				"want a duration like 24h or 7d, or 0", &o->retention_ns)) >= 0)
		return ec;
	const char *mb = val(a, "storage.max-bytes");
	if (mb && cli_parse_bytes(mb, &o->max_bytes) < 0)
		return bad_value("storage.max-bytes", mb, "want a size like 512M or 2G, or 0");
	const char *uc = val(a, "ui.cache-size");
	if (uc && (cli_parse_bytes(uc, &o->ui_cache_bytes) < 0 || o->ui_cache_bytes > (1ULL << 40)))
		return bad_value("ui.cache-size", uc, "want a size like 32M or 256M, or 0");
	if ((ec = uint_flag(a, "metrics.top", 1, 100000, &top)) >= 0 ||
	    (ec = uint_flag(a, "metrics.max-series", 1, 10000000, &max_series)) >= 0)
		return ec;
	o->metrics_top = top;
	o->metrics_max_series = max_series;
	o->metrics_functions = val(a, "metrics.functions");
	o->metrics_labels = val(a, "metrics.labels");
	ember_error lerr = { 0 };
	if (o->metrics_labels && ember_metrics_labels_check(o->metrics_labels, &lerr) < 0)
		return bad_value("metrics.labels", o->metrics_labels,
				 "want a comma list of " EMBER_METRICS_LABELS);
	o->storage_path = val(a, "storage.path");
	return -1;
}

/* HTTP values into o; -1 to go on or an exit code. */
static int web_limits(const serve_args *a, ember_agent_opts *o)
{
	int ec;
	uint64_t conn = 0, per_ip = 0, secs = 0, idle = 0, read = 0;
	if ((ec = uint_flag(a, "web.max-connections", 1, 10000, &conn)) >= 0 ||
	    (ec = uint_flag(a, "web.max-connections-per-ip", 1, 10000, &per_ip)) >= 0 ||
	    (ec = uint_flag(a, "web.max-profile-seconds", 1, 86400, &secs)) >= 0 ||
	    (ec = duration_flag(a, "web.timeout", SEC, 3600 * SEC, false,
				"want a duration of 1s..1h", &idle)) >= 0 ||
	    (ec = duration_flag(a, "web.read-timeout", SEC / 10, 3600 * SEC, false,
				"want a duration of 100ms..1h", &read)) >= 0)
		return ec;
	o->max_connections = (unsigned)conn;
	o->max_per_ip = (unsigned)per_ip;
	o->max_profile_seconds = (unsigned)secs;
	o->idle_timeout_s = (unsigned)(idle / SEC);
	o->read_timeout_ms = (unsigned)(read / 1000000ULL);
	o->listen = val(a, "listen");
	o->web_config_file = val(a, "web.config.file");
	o->user = val(a, "user");
	return -1;
}

int cmd_serve(int argc, char **argv)
{
	serve_args a;
	memset(&a, 0, sizeof a);
	cli_sampling_init(&a.samp, 99);
	ember_agent_opts o = { .window_ns = 10 * SEC, .retention_ns = 24ULL * 3600 * SEC,
			       .max_bytes = 1ULL << 30, .ui_cache_bytes = EMBER_AGENT_UI_CACHE_BYTES };
	int ec = parse_args(argc, argv, &a);
	if (ec < 0)
		ec = storage_and_metrics(&a, &o);
	if (ec < 0)
		ec = web_limits(&a, &o);
	if (ec < 0) {
		o.sampler = a.samp.opts;
		o.debug_dirs = a.debug_dirs;
		o.n_debug_dirs = a.n_debug_dirs;
		o.push = a.push;
		int rc = ember_agent_run(&o);
		ec = rc == 0 ? EXIT_OK : rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	cli_sampling_free(&a.samp);
	return ec;
}
