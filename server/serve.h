/* server/serve.h — the state `ember serve` shares between its threads (server/
 * only). Three kinds of threads touch it:
 *
 *   sampling (the main thread, server/serve_collect.c): owns the sampler; polls
 *     it and cuts a SLICE (ember_sampler_take_window) at every wall-clock
 *     window boundary, and also when a /debug/pprof/profile request starts
 *     or ends. Slices go to the worker through a bounded queue; when the
 *     queue is full the slice is dropped and counted. It never waits on
 *     symbolization, disk or HTTP.
 *   worker (server/serve_worker.c): symbolizes each slice, adds it to the
 *     current window and to the pending profile requests it belongs to; at
 *     a window's end stores it and feeds the metrics registry (exemplar
 *     profile_id = window id).
 *   HTTP connection threads (server/serve_api.c): answer from the store, the
 *     metrics registry and atomics; a profile request registers itself and
 *     waits for the worker to complete it.
 *
 * So /debug/pprof/profile?seconds=N returns exactly the samples between the
 * cut made when the request arrived and the cut made N seconds later,
 * independent of the window length. docs/ARCHITECTURE.md, "The agent", has
 * the whole picture.
 */
#ifndef EMBER_SERVER_SERVE_H
#define EMBER_SERVER_SERVE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/clock.h"
#include "server/http.h"
#include "ember/merge.h"
#include "ember/metrics.h"
#include "ember/sampler.h"
#include "server/store.h"
#include "ember/symbolize.h"

#define SERVE_QUEUE_CAP 16
#define SERVE_MAX_PROFILE_REQUESTS 4

typedef struct serve_slice {
	ember_profile *raw;        /* from the sampler; the worker frees it */
	int64_t start_ns, end_ns;  /* wall clock of the cuts */
	int64_t win_start_ns;      /* the window this slice belongs to (nominal) */
	int64_t win_end_ns;        /* its nominal end (actual end for the last) */
	bool closes_window;
	bool final;                /* the last slice: the worker drains and exits */
} serve_slice;

/* A /debug/pprof/profile request in flight (guarded by serve_state.req_mu). */
typedef struct serve_request {
	int64_t duration_ns;
	int64_t start_ns, end_ns;  /* set by the sampling thread at its cut; 0 before */
	bool end_cut;              /* the sampling thread has cut at end_ns */
	ember_merger *merger;      /* worker: slices so far (NULL until the first) */
	ember_profile *result;
	int rc;
	ember_error err;
	bool done;
	struct serve_request *next;
} serve_request;

/* What serve's threads call to sample and to symbolize: the real sampler
 * and symbolizer (server/agent.c), or fakes (tests/server/test_pipeline.c). */
typedef struct serve_ops {
	void *sampler;
	int (*poll)(void *sampler, uint64_t deadline_ns, volatile sig_atomic_t *stop,
		    ember_error *err);
	int (*take_window)(void *sampler, ember_profile **out, ember_error *err);
	void (*sampler_stats)(void *sampler, ember_sampler_stats *out);   /* any thread */
	void *symbolizer;
	int (*symbolize)(void *symbolizer, ember_profile *p, ember_error *err);
	void (*symbolizer_stats)(void *symbolizer, ember_symbolizer_stats *out);
} serve_ops;

typedef struct serve_config {
	uint64_t window_ns;
	unsigned freq_hz;
} serve_config;

typedef struct serve_state {
	serve_config cfg;
	serve_ops ops;             /* sampler: sampling thread only (stats: any);
				      symbolizer: worker thread only */
	ember_store *store;
	ember_metrics *metrics;
	struct push_agent *push;   /* the push threads (server/push.h), or NULL */
	struct ember_ui_folds *folds;   /* stored windows folded for the UI (server/ui.h),
					   or NULL; the worker puts each one it stores */

	/* the slice queue; never held for longer than a push or a pop */
	pthread_mutex_t mu;
	pthread_cond_t work;       /* queue became non-empty */
	pthread_cond_t space;      /* queue has room (only the final push waits) */
	serve_slice queue[SERVE_QUEUE_CAP];
	size_t q_head, q_len;
	ember_symbolizer_stats sym_stats;   /* snapshot after each run (mu) */
	double symbolize_seconds;           /* (mu) */

	/* profile requests; the worker merges under it, so the sampling
	 * thread only ever trylocks it */
	pthread_mutex_t req_mu;
	pthread_cond_t done;       /* a request completed (CLOCK_MONOTONIC) */
	serve_request *requests;
	size_t n_requests;
	bool finished;             /* worker has exited: requests fail fast */

	/* Both are written by signal handlers running on the sampling thread
	 * (the other threads block the signals): other threads wake it with
	 * SIGUSR1 (serve_collect_wake), which also interrupts its poll.
	 * terminate is read by every thread: only through serve_terminating
	 * and written only through serve_set_terminate (atomic accesses). */
	volatile sig_atomic_t terminate;   /* SIGTERM/SIGINT */
	volatile sig_atomic_t wake;        /* the sampler poll's stop flag */
	pthread_t sampling_thread;

	_Atomic int64_t last_poll_ns;      /* CLOCK_MONOTONIC of the last good poll */
	atomic_bool sampling_failed;
	atomic_uint_fast64_t windows_stored, windows_dropped, windows_empty;
	atomic_uint_fast64_t slices_dropped, store_errors, scrapes;
	atomic_uint_fast64_t http_read_timeouts;   /* connections past --web.read-timeout */
	char fail_msg[512];                /* written once before sampling_failed */
} serve_state;

/* Whether serve is shutting down; any thread. */
static inline bool serve_terminating(const serve_state *st)
{
	return __atomic_load_n(&st->terminate, __ATOMIC_ACQUIRE) != 0;
}

/* Starts the shutdown; any thread, and async-signal-safe. */
static inline void serve_set_terminate(volatile sig_atomic_t *terminate)
{
	__atomic_store_n(terminate, 1, __ATOMIC_RELEASE);
}

/* serve_state.c: locks and condition variables of a zeroed state. */
/* ui_cache_bytes: the bound of the UI's folded windows (0: none kept). */
void serve_state_init(serve_state *st, size_t ui_cache_bytes);
void serve_state_destroy(serve_state *st);

/* serve_collect.c: the sampling loop; returns 0 on stop/target gone, -errno
 * on a sampler error. Pushes the final slice before returning. */
int serve_collect_run(serve_state *st, ember_error *err);
/* Wakes the sampling thread (a profile request arrived): SIGUSR1 to it. */
void serve_collect_wake(serve_state *st);

/* serve_worker.c */
void *serve_worker_main(void *arg);

/* serve_api.c: the ember_http_api over the state. */
void serve_api_init(serve_state *st, ember_http_api *api);

/* serve_procstat.c: process_* metrics of this process. */
void serve_process_metrics(ember_buf *out, ember_expo_format f);

#endif
