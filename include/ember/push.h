/* ember/push.h — pushing profile windows to Grafana Pyroscope and to an
 * OpenTelemetry Collector (server/push*.c). `ember serve` pushes every
 * stored window (ember_agent_opts.push); `ember push` pushes files once.
 *
 * The options are what the user gave; resolving them (OTEL_* variables,
 * credentials files, URL checks) happens in server/. docs/ARCHITECTURE.md,
 * "Push", describes the delivery: the store is the spool, one cursor per
 * destination, retries with capped backoff.
 */
#ifndef EMBER_PUSH_H
#define EMBER_PUSH_H

#include <stddef.h>

#include "ember/error.h"

typedef struct ember_push_opts {
	/* Pyroscope: base URL; the call goes to {URL}/push.v1.PusherService/Push */
	const char *pyroscope_url;
	const char *pyroscope_basic_auth_file;   /* one line "USER:PASSWORD" */
	const char *pyroscope_bearer_token_file; /* one line, the token */
	const char *pyroscope_tenant_id;         /* X-Scope-OrgID */
	/* OTLP/HTTP: base URL; the export goes to {URL}/v1development/profiles.
	 * NULL: OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT (as is), else
	 * OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1development/profiles), else none. */
	const char *otlp_endpoint;
	const char *service_name;   /* else OTEL_SERVICE_NAME, else each process's comm */
	const char *labels;         /* "K=V,..." extra Pyroscope labels, or NULL */
} ember_push_opts;

/* Whether any destination is configured (flags or OTEL_* variables). */
int ember_push_configured(const ember_push_opts *o);

/* Checks the options and the environment without sending anything: 0, or
 * -EINVAL with one line (a bad URL, an unknown scheme, an unreadable
 * credentials file, a malformed label list or OTEL_* variable). */
int ember_push_check(const ember_push_opts *o, ember_error *err);

/* `ember push`: reads each pprof file and sends it to every configured
 * destination once, as the window [time, time + duration) of the file
 * (retrying network errors, 5xx and 429 a few times). Prints one line per
 * file and destination to stderr. 0 when every file reached every
 * destination; -EINVAL for bad options; another negative errno otherwise. */
int ember_push_files(const ember_push_opts *o, const char *const *files, size_t n_files,
		     ember_error *err);

#endif
