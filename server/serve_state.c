/* server/serve_state.c — the lifecycle of serve's shared state: its locks and
 * condition variables (the request condition waits on CLOCK_MONOTONIC, so
 * a wall-clock step never shortens or stretches a profile request), and
 * the UI's folded windows (without memory for them, none are kept). */
#include "server/serve.h"
#include "server/ui.h"

#include <time.h>

void serve_state_init(serve_state *st, size_t ui_cache_bytes)
{
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->work, NULL);
	pthread_cond_init(&st->space, NULL);
	pthread_mutex_init(&st->req_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->done, &ca);
	pthread_condattr_destroy(&ca);
	st->folds = NULL;   /* also when out of memory: the UI decodes windows */
	if (ui_cache_bytes)
		ember_ui_folds_new(&st->folds, ui_cache_bytes);
}

void serve_state_destroy(serve_state *st)
{
	ember_ui_folds_free(st->folds);
	st->folds = NULL;
	pthread_cond_destroy(&st->done);
	pthread_mutex_destroy(&st->req_mu);
	pthread_cond_destroy(&st->space);
	pthread_cond_destroy(&st->work);
	pthread_mutex_destroy(&st->mu);
}
