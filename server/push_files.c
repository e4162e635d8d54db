/* server/push_files.c — `ember push FILE...` (ember/push.h): each recorded
 * pprof goes to every configured destination once, as the window its time
 * and duration name, exactly as `ember serve` would have sent it.
 *
 * Owns: the once-only loop over files, with a few retries. Must never: keep
 * a cursor (files are not a spool) or stop at the first failed file.
 */
#include "server/push.h"

#include "ember/pprof.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define ATTEMPTS 4
#define RETRY_WAIT_MAX_NS (30LL * 1000000000LL)

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One body to one destination, retried; 0 when acknowledged. */
static int send_one(push_http *h, const push_dest *d, const char *file, const ember_buf *body)
{
	int64_t wait = 500000000LL;
	for (int attempt = 1;; attempt++) {
		push_reply r;
		push_http_post(h, body->data, body->len, &r);
		if (r.status >= 200 && r.status < 300) {
			char partial[400];
			if (push_partial_success(d, &r, partial, sizeof partial))
				fprintf(stderr, "ember push: %s -> %s: %s\n", file, d->name, partial);
			else
				fprintf(stderr, "ember push: %s -> %s: %ld, %zu bytes\n", file, d->name,
					r.status, body->len);
			return 0;
		}
		bool again = push_retryable(&r) && attempt < ATTEMPTS;
		if (r.status)
			fprintf(stderr, "ember push: %s -> %s: %s answered %ld%s%s%s\n", file, d->name,
				d->url, r.status, r.msg[0] ? " (" : "", r.msg, r.msg[0] ? ")" : "");
		else
			fprintf(stderr, "ember push: %s -> %s: %s: %s\n", file, d->name, d->url, r.msg);
		if (!again)
			return -EIO;
		int64_t w = r.status == 429 && r.retry_after_ns >= 0 ? r.retry_after_ns : wait;
		sleep_ns(w < RETRY_WAIT_MAX_NS ? w : RETRY_WAIT_MAX_NS);
		wait *= 2;
	}
}

int ember_push_files(const ember_push_opts *o, const char *const *files, size_t n_files,
		     ember_error *err)
{
	push_dests ds;
	if (push_dests_resolve(&ds, o, err) < 0)
		return -EINVAL;
	if (!ds.n)
		return ember_errorf(err, EINVAL, "no destination: give --push.pyroscope.url or "
						 "--push.otlp.endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)");
	push_http *h[PUSH_MAX_DESTS] = { 0 };
	int rc = 0;
	for (size_t i = 0; i < ds.n && rc >= 0; i++)
		rc = push_http_new(&h[i], &ds.d[i], NULL, err);
	size_t failed = 0;
	for (size_t f = 0; f < n_files && rc >= 0; f++) {
		ember_profile *p = NULL;
		ember_error ferr = { 0 };
		char id[EMBER_WINDOW_ID_MAX];
		if (ember_pprof_read_file(files[f], &p, &ferr) < 0 ||
		    ember_window_id_format(p->time_nanos,
					   p->duration_nanos > 0 ? p->duration_nanos : 1000000,
					   id, sizeof id) < 0) {
			fprintf(stderr, "ember push: %s\n",
				ferr.msg[0] ? ferr.msg : "the file has no time: cannot name it");
			ember_profile_free(p);
			failed++;
			continue;
		}
		for (size_t i = 0; i < ds.n; i++) {
			ember_buf body = EMBER_BUF_INIT;
			if (push_dest_encode(&ds.d[i], p, id, &body, &ferr) < 0) {
				fprintf(stderr, "ember push: %s -> %s: %s\n", files[f], ds.d[i].name,
					ferr.msg);
				failed++;
			} else if (send_one(h[i], &ds.d[i], files[f], &body) < 0) {
				failed++;
			}
			ember_buf_free(&body);
		}
		ember_profile_free(p);
	}
	size_t n_dests = ds.n;
	for (size_t i = 0; i < ds.n; i++)
		push_http_free(h[i]);
	push_dests_free(&ds);
	if (rc < 0)
		return rc;
	if (failed)
		return ember_errorf(err, EIO, "%zu of %zu pushes failed", failed, n_files * n_dests);
	return 0;
}
