/* server/http_deadline.c — the request deadline of serve's HTTP server
 * (slowloris): a table of connections with the time each began waiting for
 * a request, and a watchdog thread that shuts down the socket of one
 * waiting longer than the limit, so libmicrohttpd's connection thread sees
 * the end of the stream and closes it.
 *
 * Owns: the table and the watchdog. Must never: close a socket (only
 * shutdown; the fd belongs to libmicrohttpd), touch a socket not in the
 * table (entries are removed before their fd is closed, under the lock the
 * watchdog holds while it shuts sockets down), or limit the time a handler
 * takes to answer.
 */
#include "server/http_deadline.h"
#include "ember/clock.h"
#include "ember/grow.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define TICK_NS 250000000LL

typedef struct entry {
	const void *conn;
	int fd;
	bool waiting;    /* no request handler running */
	bool expired;    /* already shut down */
	int64_t since;   /* CLOCK_MONOTONIC ns the wait began */
} entry;

struct http_deadline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	int64_t limit_ns;
	atomic_uint_fast64_t *expired;
	entry *v;
	size_t n, cap;
};

/* The entry of conn, or NULL; under d->mu. */
static entry *find(http_deadline *d, const void *conn)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].conn == conn)
			return &d->v[i];
	return NULL;
}

static void sweep(http_deadline *d, int64_t now)
{
	for (size_t i = 0; i < d->n; i++) {
		entry *e = &d->v[i];
		if (!e->waiting || e->expired || now - e->since < d->limit_ns)
			continue;
		e->expired = true;
		shutdown(e->fd, SHUT_RDWR);
		if (d->expired)
			atomic_fetch_add(d->expired, 1);
	}
}

static void *watchdog(void *arg)
{
	http_deadline *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		int64_t wake = ember_mono_ns() + TICK_NS;
		struct timespec ts = { .tv_sec = wake / EMBER_NS_PER_S,
				       .tv_nsec = wake % EMBER_NS_PER_S };
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		if (!d->stop)
			sweep(d, ember_mono_ns());
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int http_deadline_new(http_deadline **out, int64_t limit_ns, atomic_uint_fast64_t *expired,
		      ember_error *err)
{
	*out = NULL;
	http_deadline *d = calloc(1, sizeof *d);
	if (!d)
		return ember_errorf(err, ENOMEM, "http: out of memory");
	d->limit_ns = limit_ns;
	d->expired = expired;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&d->thread, NULL, watchdog, d);
	if (rc != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		free(d);
		return ember_errorf(err, rc, "http: cannot start the request deadline thread: %s",
				    strerror(rc));
	}
	pthread_setname_np(d->thread, "http-deadline");   /* an HTTP thread, like MHD's */
	*out = d;
	return 0;
}

void http_deadline_free(http_deadline *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->v);
	free(d);
}

int http_deadline_started(http_deadline *d, const void *conn, int fd)
{
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	assert(!find(d, conn));
	if (!ember_grow((void **)&d->v, &d->cap, d->n + 1, sizeof *d->v)) {
		rc = -ENOMEM;
		goto out;
	}
	d->v[d->n++] = (entry){ .conn = conn, .fd = fd, .waiting = true, .since = ember_mono_ns() };
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static void set_waiting(http_deadline *d, const void *conn, bool waiting)
{
	pthread_mutex_lock(&d->mu);
	entry *e = find(d, conn);
	if (e) {
		e->waiting = waiting;
		e->since = ember_mono_ns();
	}
	pthread_mutex_unlock(&d->mu);
}

void http_deadline_in_request(http_deadline *d, const void *conn)
{
	set_waiting(d, conn, false);
}

void http_deadline_waiting(http_deadline *d, const void *conn)
{
	set_waiting(d, conn, true);
}

void http_deadline_closed(http_deadline *d, const void *conn)
{
	pthread_mutex_lock(&d->mu);
	entry *e = find(d, conn);
	if (e) {
		*e = d->v[--d->n];   /* order does not matter */
		assert(!find(d, conn));
	}
	pthread_mutex_unlock(&d->mu);
}
