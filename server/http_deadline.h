/* server/http_deadline.h — private to server/: the total deadline for
 * receiving a request on serve's HTTP connections (server/http_deadline.c),
 * used by server/http.c. Not a public contract.
 */
#ifndef EMBER_EXPORTER_HTTP_DEADLINE_H
#define EMBER_EXPORTER_HTTP_DEADLINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "ember/error.h"

typedef struct http_deadline http_deadline;

/* Starts the watchdog thread: a connection waiting for (or receiving) a
 * request longer than limit_ns has its socket shut down, counted in
 * *expired (may be NULL). */
int http_deadline_new(http_deadline **out, int64_t limit_ns, atomic_uint_fast64_t *expired,
		      ember_error *err);
/* Stops and joins the watchdog; call after the server has stopped. */
void http_deadline_free(http_deadline *d);

/* A connection (key: its identity, fd: its socket) begins waiting. */
int http_deadline_started(http_deadline *d, const void *conn, int fd);
/* Its request has arrived: no deadline until http_deadline_waiting. */
void http_deadline_in_request(http_deadline *d, const void *conn);
/* Its request completed: the deadline restarts for the next one. */
void http_deadline_waiting(http_deadline *d, const void *conn);
/* Forgotten; must come before its socket is closed. */
void http_deadline_closed(http_deadline *d, const void *conn);

#endif
