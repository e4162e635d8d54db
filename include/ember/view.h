/* ember/view.h — `ember view` (server/ui_view.c): the UI of `ember serve`
 * for local pprof files, on the same HTTP layer and pages. The file is a
 * window of its own (id from its time and duration); a second file is the
 * diff base, shown at /ui/diff?base=BASE&id=FILE.
 */
#ifndef EMBER_VIEW_H
#define EMBER_VIEW_H

#include <stdio.h>

typedef struct ember_view_opts {
	const char *file;     /* raw, gzip or zstd pprof */
	const char *base;     /* diff base, or NULL */
	const char *listen;   /* "HOST:PORT", "[V6]:PORT" or ":PORT"; NULL: 127.0.0.1:0 */
} ember_view_opts;

/* Reads the files, serves until SIGINT or SIGTERM, and prints the URL of
 * the page to open on out. Returns 0 after a signal, -EINVAL when the
 * options are unusable (a bad --listen), another negative errno when a file
 * cannot be read or the port not bound (one line on stderr). */
int ember_view_run(const ember_view_opts *opts, FILE *out);

#endif
