/* server/push.h — push to Pyroscope and OTLP inside server/ (private).
 *
 *   push_dest.c   a destination resolved from ember_push_opts and the OTEL_*
 *                 variables: its request URL, headers and credentials, and
 *                 how a window becomes a request body;
 *   push_http.c   one POST with libcurl, its status and Retry-After;
 *   push.c        the delivery threads of `ember serve` (one per
 *                 destination): the store is the spool, a cursor file per
 *                 destination, retries, self metrics;
 *   push_files.c  `ember push FILE...`.
 */
#ifndef EMBER_SERVER_PUSH_H
#define EMBER_SERVER_PUSH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/metrics.h"
#include "ember/kv.h"
#include "ember/profile.h"
#include "ember/push.h"
#include "server/store.h"

typedef enum push_kind { PUSH_PYROSCOPE, PUSH_OTLP } push_kind;

#define PUSH_MAX_DESTS 2
#define PUSH_MAX_KV 64

typedef struct push_dest {
	push_kind kind;
	const char *name;        /* "pyroscope" or "otlp": metrics label, cursor file */
	char *url;               /* the full request URL */
	char *headers[PUSH_MAX_KV + 8];   /* "Name: value" lines */
	size_t n_headers;
	char *userpwd;           /* basic auth "USER:PASSWORD", or NULL */
	const char *service_name;   /* NULL: each process's comm */
	char host_name[256];
	ember_kv labels[PUSH_MAX_KV];          /* Pyroscope extra labels */
	size_t n_labels;
	ember_kv resource_attrs[PUSH_MAX_KV];  /* OTLP extra resource attributes */
	size_t n_resource_attrs;
	char *strings;           /* the parsed lists' storage */
	char *service_buf;
} push_dest;

typedef struct push_dests {
	push_dest d[PUSH_MAX_DESTS];
	size_t n;
} push_dests;

/* push_dest.c: resolves every configured destination; -EINVAL with one
 * line on bad input. push_dests_free frees what it allocated. */
int push_dests_resolve(push_dests *out, const ember_push_opts *o, ember_error *err);
void push_dests_free(push_dests *ds);
/* The request body for window `id` (Pyroscope: a PushRequest; OTLP: a gzip
 * ExportProfilesServiceRequest), appended to body. */
int push_dest_encode(const push_dest *d, const ember_profile *p, const char *id, ember_buf *body,
		     ember_error *err);

/* push_http.c */
typedef struct push_reply {
	long status;               /* HTTP status; 0: no answer (network error) */
	int64_t retry_after_ns;    /* from Retry-After, or -1 */
	char msg[256];             /* network error, or the start of an error body */
	unsigned char body[4096];  /* the answer's first bytes, as sent */
	size_t body_len;
} push_reply;

typedef struct push_http push_http;
/* A client for one destination; abort (may be NULL) stops a transfer in
 * flight when it becomes true. */
int push_http_new(push_http **out, const push_dest *d, const atomic_bool *abort,
		  ember_error *err);
void push_http_free(push_http *h);
/* POSTs body; fills r. Returns 0 when an HTTP answer came, -EIO otherwise. */
int push_http_post(push_http *h, const void *body, size_t len, push_reply *r);
/* Whether a reply is worth retrying: no answer, 5xx, 429 (and 408). */
bool push_retryable(const push_reply *r);
/* OTLP: whether a 2xx answer reports profiles the collector refused anyway
 * (not to be retried, by the protocol); if so, a line saying so in line. */
bool push_partial_success(const push_dest *d, const push_reply *r, char *line, size_t len);

/* push.c: the delivery threads of `ember serve`. */
typedef struct push_agent push_agent;
int push_agent_start(push_agent **out, push_dests *dests, ember_store *store,
		     ember_error *err);
/* Gives the threads up to grace_ns to deliver what is pending, then stops
 * and joins them; the counters stay readable (NULL is fine). */
void push_agent_stop(push_agent *pa, int64_t grace_ns);
/* Stops (no grace) and frees. */
void push_agent_free(push_agent *pa);
/* The ember_push_* families, for /metrics (NULL: nothing). */
void push_agent_metrics(push_agent *pa, ember_buf *out, ember_expo_format f);

#endif
