/* ember/pyroscope.h — Pyroscope push (exporter/pyroscope.c): one profile
 * window as the body of the Connect call push.v1.PusherService/Push, a
 * PushRequest whose samples carry the window as a gzip pprof.
 *
 * A pure function of the profile and the options: it knows nothing of HTTP.
 *
 * Series (docs/ARCHITECTURE.md, "Push"): labels __name__="process_cpu" and
 * service_name, then the configured extra labels. With a service name, one
 * series holds the whole window; without one, the window is split by the
 * samples' "comm" label into one series per process name, each with
 * service_name = that comm. Each series has one sample {raw_profile = gzip
 * pprof of its samples, ID = window id}; Pyroscope replaces that ID with a
 * UUID of its own, so the window id also travels as the series annotation
 * "ember.window_id".
 */
#ifndef EMBER_PYROSCOPE_H
#define EMBER_PYROSCOPE_H

#include <stddef.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/kv.h"
#include "ember/profile.h"

/* The annotation key that carries the window id. */
#define EMBER_PYROSCOPE_WINDOW_ANNOTATION "ember.window_id"

typedef struct ember_pyroscope_opts {
	const char *window_id;      /* required */
	const char *service_name;   /* NULL or "": one series per comm */
	const ember_kv *labels;     /* extra labels, after __name__ and service_name */
	size_t n_labels;
} ember_pyroscope_opts;

/* Appends the serialized PushRequest to out; *n_series (may be NULL) gets
 * how many series it holds. 0 or a negative errno. */
int ember_pyroscope_encode(const ember_profile *p, const ember_pyroscope_opts *o, ember_buf *out,
			   size_t *n_series, ember_error *err);

#endif
