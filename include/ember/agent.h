/* ember/agent.h — the agent behind `ember serve` (server/): one entry point
 * that samples a target continuously, cuts wall-clock windows, symbolizes
 * and stores each one, and serves /metrics, the profiles and the pages over
 * HTTP until SIGTERM/SIGINT or the target's end. docs/ARCHITECTURE.md,
 * "The agent", describes its threads and queues.
 *
 * The command line (cli/cmd_serve.c) only turns flags into these options;
 * everything the agent opens, checks and logs happens here, so the same
 * agent can be started by another front end or a test.
 */
#ifndef EMBER_AGENT_H
#define EMBER_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ember/push.h"
#include "ember/sampler.h"

/* The default of --ui.cache-size: room for about half an hour of a busy
 * agent's windows folded for the UI (bench/README.md, "UI"), within the
 * sidecar manifest's 128Mi memory limit. */
#define EMBER_AGENT_UI_CACHE_BYTES (32ULL << 20)

typedef struct ember_agent_opts {
	ember_sampler_opts sampler;      /* target, -F, call graph, stack size */
	uint64_t window_ns;              /* > 0, whole milliseconds */
	const char *window_text;         /* as given, for the start line ("10s") */
	const char *const *debug_dirs;   /* extra debug-file directories */
	size_t n_debug_dirs;

	/* HTTP */
	const char *listen;              /* "HOST:PORT", "[V6]:PORT" or ":PORT" */
	unsigned max_connections, max_per_ip;   /* 0: the server's defaults */
	unsigned idle_timeout_s, read_timeout_ms, max_profile_seconds;   /* 0: defaults */
	const char *web_config_file;     /* TLS and basic auth, or NULL */
	const char *user;                /* drop to this user after setup, or NULL */

	/* storage; path NULL: the default directory */
	const char *storage_path;
	uint64_t retention_ns;           /* 0 keeps windows */
	uint64_t max_bytes;              /* 0: no cap */
	uint64_t ui_cache_bytes;         /* the UI's folded windows; 0: none kept */

	/* metrics */
	size_t metrics_top;
	const char *metrics_functions;   /* POSIX ERE or NULL */
	size_t metrics_max_series;

	/* push to Pyroscope / OTLP (ember/push.h); all NULL: no push */
	ember_push_opts push;
	const char *metrics_labels;      /* comma list (EMBER_METRICS_LABELS) or NULL: the default */
} ember_agent_opts;

/* Runs the agent in the calling thread (it becomes the sampling thread and
 * takes SIGTERM, SIGINT and SIGUSR1) until a signal or the target's end,
 * then stores the partial window and returns. Logs to stderr, each line
 * starting "ember serve: ". Returns 0 after an orderly stop, -EINVAL when
 * the options are unusable (a bad regex, web config or user: the caller's
 * usage error), another negative errno on a runtime failure. */
int ember_agent_run(const ember_agent_opts *opts);

/* One line per HTTP endpoint, from the agent's route table (usage texts). */
void ember_agent_describe_endpoints(FILE *f);

#endif
