/* server/http.h — the HTTP server of `ember serve` (server/http.c), on
 * libmicrohttpd: routing, strict query parsing, content negotiation, JSON
 * errors and pprof encoding of the agent's endpoints.
 *
 * The server knows nothing of perf, the sampler or the symbolizer: what it
 * serves comes from an ember_http_api, a struct of callbacks (the serve
 * state). Tests drive ember_http_handle() with a fake api and no socket.
 *
 * Routes (GET and HEAD; any other method is 405 with an Allow header) are
 * the one table in server/http.c; the README's endpoint table and
 * docs/ARCHITECTURE.md describe them. /healthz is the one path left open
 * under basic auth.
 * Errors are JSON {"error": "..."}: 400 for a malformed id, time, seconds
 * or regex; 404 for an unknown id or an empty range; 405; 503 while busy or
 * shutting down; 500 otherwise.
 *
 * Server limits (libmicrohttpd's defaults are none): a total connection
 * limit, a per-IP connection limit, an idle timeout per connection, a
 * total deadline for receiving a request (from the connection's start or
 * the previous response's end until its headers are in; the answer's time
 * is not limited: a watchdog shuts down sockets past it), and the cap on
 * ?seconds. Request size is bounded by libmicrohttpd's per
 * connection memory limit (URL and headers beyond it get 414/431).
 * TLS and basic auth come from a web config (ember/webconfig.h) in
 * ember_http_opts.web: with users, every path but /healthz (kept open for
 * liveness probes; it says only "ok" or why sampling fails) answers 401
 * with WWW-Authenticate unless the request has valid basic credentials.
 */
#ifndef EMBER_HTTP_H
#define EMBER_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ember/buf.h"
#include "server/gate.h"
#include "ember/error.h"
#include "ember/merge.h"
#include "ember/metrics.h"
#include "ember/profile.h"
#include "server/store.h"
#include "server/webconfig.h"

/* What the server serves. Each callback returns 0 or a negative errno with
 * err filled: -EINVAL (400), -ENOENT (404), -EBUSY/-ECANCELED/-EAGAIN (503),
 * anything else 500. Profiles handed out are owned by the caller (the
 * server frees them). Callbacks run on the server's connection threads,
 * possibly concurrently. */
typedef struct ember_http_api {
	void *ctx;
	/* The /metrics body in format f; *content_type (static string) set. */
	int (*metrics)(void *ctx, ember_expo_format f, ember_buf *out, const char **content_type,
		       ember_error *err);
	/* Blocks while the next duration_ns are profiled; a symbolized profile. */
	int (*profile)(void *ctx, int64_t duration_ns, ember_profile **out, ember_error *err);
	/* Stored windows overlapping [start_ns, end_ns), oldest first. */
	int (*list)(void *ctx, int64_t start_ns, int64_t end_ns, ember_window_info **out,
		    size_t *n, ember_error *err);
	/* One stored window (id already validated). */
	int (*window)(void *ctx, const char *id, ember_profile **out, ember_error *err);
	/* Stored windows in range merged, focused on what focus selects (its
	 * regexes checked for size by the router); -ENOENT when nothing is
	 * stored in the range. */
	int (*merge)(void *ctx, int64_t start_ns, int64_t end_ns, const ember_focus *focus,
		     ember_profile **out, ember_error *err);
	/* true when sampling works; otherwise why (one line) into out. */
	bool (*healthy)(void *ctx, ember_buf *why);
} ember_http_api;

typedef struct ember_http_opts {
	const char *listen;             /* "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses) */
	unsigned max_connections;       /* default 64 */
	unsigned max_per_ip;            /* default 16 */
	unsigned idle_timeout_s;        /* default 30 */
	unsigned read_timeout_ms;       /* receiving a request, in total; default 30000 */
	atomic_uint_fast64_t *read_timeouts;   /* counts connections closed by it (or NULL) */
	unsigned max_profile_seconds;   /* cap of ?seconds; default 300 */
	const ember_webconfig *web;     /* TLS and basic auth, or NULL; read at start only */
	unsigned max_heavy;             /* merges at once, others queue; default: online CPUs */
	struct ember_gate *heavy;       /* set by ember_http_start (NULL: no limit) */
	struct ember_ui_cache *ui_cache;   /* the timeline's entries; set by ember_http_start
					      (NULL: nothing kept) */
	struct ember_ui_folds *ui_folds;   /* the call trees' folded windows (server/ui.h),
					      the caller's (NULL: decoded on each read) */
} ember_http_opts;

/* One query argument, already percent-decoded; value NULL for "?key". */
typedef struct ember_http_arg {
	const char *key;
	const char *value;
} ember_http_arg;

typedef struct ember_http_request {
	const char *method;
	const char *path;      /* decoded, without the query */
	const char *accept;    /* Accept header or NULL */
	const ember_http_arg *args;
	size_t n_args;
} ember_http_request;

typedef struct ember_http_response {
	int status;
	const char *content_type;   /* static strings */
	const char *disposition;    /* Content-Disposition or NULL */
	const char *allow;          /* Allow (405) or NULL */
	ember_buf location;         /* Location (redirects), empty when none */
	ember_buf body;
} ember_http_response;

/* Answers one request (no socket needed). resp is overwritten; free its
 * body with ember_http_response_free. */
void ember_http_handle(const ember_http_api *api, const ember_http_opts *opts,
		       const ember_http_request *req, ember_http_response *resp);
void ember_http_response_free(ember_http_response *resp);

/* Whether path is answered without credentials under basic auth. */
bool ember_http_path_open(const char *path);
/* One line per endpoint ("  EXAMPLE  SUMMARY"), for usage texts. */
void ember_http_describe_routes(FILE *f);

/* Which exposition format an Accept header asks for. */
ember_expo_format ember_http_negotiate(const char *accept);

/* For route handlers outside server/http.c (server/ui.c): query parsing
 * that answers 400 itself (with the reason) and returns -EINVAL, and the
 * JSON error replies. A value absent from the query is NULL (time: *out
 * untouched unless required, which is a 400 when absent). */
int ember_http_query_arg(const ember_http_request *req, const char *key, const char **out,
			 ember_http_response *r);
int ember_http_query_time(const ember_http_request *req, const char *key, bool required,
			  int64_t *out, ember_http_response *r);
/* start=T&end=T: both required, or 0 and INT64_MAX when absent; start < end. */
int ember_http_query_range(const ember_http_request *req, bool required, int64_t *start,
			   int64_t *end, ember_http_response *r);
/* A regex value: length and expansion bounded as /api/v1/merge's function. */
int ember_http_query_regex(const ember_http_request *req, const char *key, const char **out,
			   ember_http_response *r);
void ember_http_reply_error(ember_http_response *r, int status, const char *msg);
/* The status of a callback's rc (see ember_http_api) with err's message. */
void ember_http_reply_rc(ember_http_response *r, int rc, const ember_error *err);

typedef struct ember_http_server ember_http_server;

/* Binds opts->listen (errors name the address and the fix) and starts
 * libmicrohttpd with one thread per connection. api must outlive the server. */
int ember_http_start(ember_http_server **out, const ember_http_opts *opts,
		     const ember_http_api *api, ember_error *err);
/* The bound port (useful with ":0"). */
unsigned ember_http_port(const ember_http_server *s);
/* Stops accepting, waits for requests in flight, frees. */
void ember_http_stop(ember_http_server *s);

#endif
