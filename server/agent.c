/* server/agent.c — ember_agent_run (ember/agent.h): the agent's bootstrap
 * and orderly shutdown. It checks the access options, opens the metrics
 * registry, the store, the symbolizer and the sampler, routes the signals
 * to the sampling thread, starts the HTTP server and the worker, drops
 * privileges, runs the sampling loop on the calling thread and, at the
 * end, waits for the partial window to be stored. The threads' own work
 * lives in server/serve_*.c; this file never samples, symbolizes or answers
 * a request itself.
 */
#include "ember/agent.h"

#include "server/http.h"
#include "server/privdrop.h"
#include "server/push.h"
#include "server/serve.h"
#include "server/webconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG(...) fprintf(stderr, "ember serve: " __VA_ARGS__)
/* How long the push threads may go on delivering after sampling stopped. */
#define PUSH_STOP_GRACE_NS 2000000000LL

typedef struct agent {
	const ember_agent_opts *o;
	ember_webconfig *web;
	privdrop_user drop_to;
	ember_http_opts ho;
	serve_state *st;
	ember_sampler *sampler;
	ember_symbolizer *sym;
	ember_http_server *http;
	pthread_t worker;
	bool worker_started;
	push_dests push;
	sigset_t old_mask;
	char defpath[4096];
	char cache[512];
} agent;

static volatile sig_atomic_t no_state;   /* where signals land without a serve state */
static volatile sig_atomic_t *sig_terminate = &no_state, *sig_wake = &no_state;

/* Runs on the sampling thread only (every other thread blocks these). */
static void on_signal(int sig)
{
	if (sig != SIGUSR1)
		serve_set_terminate(sig_terminate);
	*sig_wake = 1;
}

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

/* --user and --web.config.file, checked before anything is opened:
 * -EINVAL for a bad user or config, another error when a file is unreadable. */
static int agent_check_access(agent *a)
{
	const ember_agent_opts *o = a->o;
	ember_error err = { 0 };
	int rc = 0;
	if (o->user && o->sampler.kind == EMBER_TARGET_COMMAND)
		rc = ember_errorf(&err, EINVAL, "--user with -- COMMAND is not supported: start the "
						"command as that user and profile it with -p PID");
	else if (o->user && geteuid() != 0)
		rc = ember_errorf(&err, EINVAL,
				  "--user needs ember serve started as root (it drops to the user "
				  "after opening the events); without root, give the capabilities "
				  "instead (README: Access)");
	else if (o->user && privdrop_lookup(o->user, &a->drop_to, &err) < 0)
		rc = -EINVAL;
	else if (o->web_config_file)
		rc = ember_webconfig_load(&a->web, o->web_config_file, &err);
	if (rc >= 0 && push_dests_resolve(&a->push, &o->push, &err) < 0)
		rc = -EINVAL;   /* a bad push URL, credentials file or OTEL_* value */
	if (rc < 0)
		LOG("%s\n", err.msg);
	return rc;
}

/* The registry, the store, the symbolizer and the sampler. A bad
 * --metrics.functions regex is -EINVAL; the rest are runtime failures. */
static int agent_open(agent *a)
{
	const ember_agent_opts *o = a->o;
	ember_error err = { 0 };
	a->st = calloc(1, sizeof *a->st);
	if (!a->st)
		return LOG("out of memory\n"), -ENOMEM;
	serve_state_init(a->st, (size_t)a->o->ui_cache_bytes);
	a->st->cfg.window_ns = o->window_ns;
	a->st->cfg.freq_hz = o->sampler.freq_hz;
	ember_metrics_opts mo = { .top_n = o->metrics_top, .functions_regex = o->metrics_functions,
				  .max_series = o->metrics_max_series, .labels = o->metrics_labels };
	if (ember_metrics_new(&a->st->metrics, &mo, &err) < 0)
		return LOG("--metrics.functions / --metrics.labels: %s\n", err.msg), -EINVAL;
	const char *path = o->storage_path;
	if (!path) {
		if (ember_store_default_path(a->defpath, sizeof a->defpath) < 0)
			return LOG("no storage directory: give --storage.path\n"), -ENOENT;
		path = a->defpath;
	}
	ember_store_opts sto = { .path = path, .retention_ns = o->retention_ns,
				 .max_bytes = o->max_bytes };
	/* The kernel symbol cache is root's (it holds real kernel addresses);
	 * with --user the symbolizer runs after the drop, so none. */
	ember_symbolizer_opts syo = { .debug_dirs = o->debug_dirs,
				      .n_debug_dirs = o->n_debug_dirs,
				      .cache_dir = o->user ? NULL
							   : ember_default_cache_dir(a->cache,
										     sizeof a->cache) };
	int rc = ember_store_open(&a->st->store, &sto, &err);
	if (rc >= 0)
		rc = ember_symbolizer_new(&a->sym, &syo, &err);
	if (rc >= 0)
		rc = ember_sampler_open(&a->sampler, &o->sampler, &err);
	if (rc < 0)
		return LOG("%s\n", err.msg), rc == -EINVAL ? -EIO : rc;
	a->st->ops = (serve_ops){
		.sampler = a->sampler,
		.poll = op_poll,
		.take_window = op_take_window,
		.sampler_stats = op_sampler_stats,
		.symbolizer = a->sym,
		.symbolize = op_symbolize,
		.symbolizer_stats = op_symbolizer_stats,
	};
	return 0;
}

/* Signals go to the calling (sampling) thread only: they are blocked while
 * the other threads are created, which inherit the mask. */
static void agent_route_signals(agent *a)
{
	sig_terminate = &a->st->terminate;
	sig_wake = &a->st->wake;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &a->old_mask);
	struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->st->sampling_thread = pthread_self();
}

/* The calling thread takes its signals again (whatever mask it inherited). */
static void agent_unblock_signals(agent *a)
{
	pthread_sigmask(SIG_SETMASK, &a->old_mask, NULL);
	sigset_t take;
	sigemptyset(&take);
	sigaddset(&take, SIGTERM);
	sigaddset(&take, SIGINT);
	sigaddset(&take, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &take, NULL);
}

/* --user: become that user once the events are open and the port bound;
 * the store must stay writable. */
static int agent_drop_privileges(agent *a)
{
	ember_error err = { 0 };
	const privdrop_user *u = &a->drop_to;
	const char *store_path = ember_store_path(a->st->store);
	if (privdrop_to(u, &err) < 0)
		return LOG("%s\n", err.msg), -EPERM;
	if (access(store_path, W_OK | X_OK) < 0)
		return LOG("--user %s: the storage directory %s is not writable by that user: "
			   "chown %s %s, or give another --storage.path\n",
			   u->name, store_path, u->name, store_path),
		       -EACCES;
	LOG("running as %s (uid %u) with %s\n", u->name, (unsigned)u->uid, privdrop_keep_names);
	return 0;
}

/* The HTTP server, the privilege drop and the worker, with the signals
 * routed to this thread; on failure nothing of them is left running. */
static int agent_start_threads(agent *a)
{
	const ember_agent_opts *o = a->o;
	ember_error err = { 0 };
	a->ho = (ember_http_opts){
		.listen = o->listen ? o->listen : "127.0.0.1:9464",
		.max_connections = o->max_connections,
		.max_per_ip = o->max_per_ip,
		.idle_timeout_s = o->idle_timeout_s,
		.read_timeout_ms = o->read_timeout_ms,
		.max_profile_seconds = o->max_profile_seconds,
		.web = a->web,
		.read_timeouts = &a->st->http_read_timeouts,
		.ui_folds = a->st->folds,
	};
	agent_route_signals(a);
	static ember_http_api api;   /* must outlive the server; one agent per process */
	serve_api_init(a->st, &api);
	int rc = ember_http_start(&a->http, &a->ho, &api, &err);
	if (rc < 0)
		LOG("%s\n", err.msg);
	/* Root is no longer needed: the events are open and the port bound.
	 * Before the worker starts, so it inherits only the kept capabilities. */
	if (rc >= 0 && o->user)
		rc = agent_drop_privileges(a);
	if (rc >= 0 && pthread_create(&a->worker, NULL, serve_worker_main, a->st) != 0) {
		LOG("cannot start the worker thread\n");
		rc = -EAGAIN;
	}
	a->worker_started = rc >= 0;
	/* the push threads, after the drop: their cursor files are the user's */
	if (rc >= 0 && push_agent_start(&a->st->push, &a->push, a->st->store, &err) < 0)
		LOG("%s (windows are stored but not pushed)\n", err.msg);
	for (size_t i = 0; rc >= 0 && i < a->push.n; i++)
		LOG("pushing every stored window to %s\n", a->push.d[i].url);
	agent_unblock_signals(a);
	if (rc < 0 && a->http) {
		ember_http_stop(a->http);
		a->http = NULL;
	}
	return rc;
}

/* Samples until a signal or the target's end; the worker then stores the
 * partial window. Returns the first failure, or 0. */
static int agent_sample(agent *a)
{
	const ember_agent_opts *o = a->o;
	ember_error err = { 0 };
	int start_rc = ember_sampler_start(a->sampler, &err);
	if (start_rc < 0) {
		LOG("%s\n", err.msg);
		serve_set_terminate(&a->st->terminate);   /* store nothing more, stop in order */
	}
	ember_sampling sampling = ember_sampler_sampling(a->sampler);
	LOG("listening on %s://%s (port %u), %u Hz %s sampling, %s windows, storing in %s\n",
	    a->web && a->web->cert_pem ? "https" : "http", a->ho.listen, ember_http_port(a->http),
	    o->sampler.freq_hz, ember_sampling_name(sampling),
	    o->window_text ? o->window_text : "10s", ember_store_path(a->st->store));
	int rc = serve_collect_run(a->st, &err);
	if (rc < 0)
		LOG("%s\n", err.msg);
	pthread_join(a->worker, NULL);   /* the partial window is stored */
	a->worker_started = false;
	push_agent_stop(a->st->push, PUSH_STOP_GRACE_NS);   /* it may still go out */
	ember_sampler_end_child(a->sampler);   /* -- CMD still running: SIGTERM it, as record does */
	ember_sampler_stats ss;
	ember_sampler_get_stats(a->sampler, &ss);
	char draws[96] = "";   /* random: how the periods changed */
	if (sampling == EMBER_SAMPLING_RANDOM)
		snprintf(draws, sizeof draws, "; %llu period changes, at most %llu samples a period",
			 (unsigned long long)ss.period_changes,
			 (unsigned long long)ss.draw_samples_max);
	LOG("stopped; %llu windows stored this run%s\n",
	    (unsigned long long)atomic_load(&a->st->windows_stored), draws);
	return start_rc < 0 ? start_rc : rc < 0 ? rc : 0;
}

static void agent_close(agent *a)
{
	if (a->http)
		ember_http_stop(a->http);
	if (a->st) {
		push_agent_free(a->st->push);   /* after the HTTP server: /metrics reads it */
		a->st->push = NULL;
	}
	push_dests_free(&a->push);
	ember_sampler_close(a->sampler);
	sig_terminate = sig_wake = &no_state;
	ember_symbolizer_free(a->sym);
	if (a->st) {
		ember_store_free(a->st->store);
		ember_metrics_free(a->st->metrics);
		serve_state_destroy(a->st);
		free(a->st);
	}
	ember_webconfig_free(a->web);
}

int ember_agent_run(const ember_agent_opts *opts)
{
	agent a;
	memset(&a, 0, sizeof a);
	a.o = opts;
	int rc = agent_check_access(&a);
	if (rc >= 0)
		rc = agent_open(&a);
	if (rc >= 0)
		rc = agent_start_threads(&a);
	if (rc >= 0)
		rc = agent_sample(&a);
	agent_close(&a);
	return rc;
}

void ember_agent_describe_endpoints(FILE *f)
{
	ember_http_describe_routes(f);
}
