/* server/gate.c — the counting gate of ember/gate.h: a mutex, a count and
 * a condition variable, woken one at a time. Must never: let more than n
 * in, or lose a wake-up (leave signals under the mutex).
 */
#include "server/gate.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct ember_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned n, inside;
};

int ember_gate_new(ember_gate **out, unsigned n, ember_error *err)
{
	*out = NULL;
	ember_gate *g = calloc(1, sizeof *g);
	if (!g)
		return ember_errorf(err, ENOMEM, "out of memory");
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->n = n ? n : 1;
	*out = g;
	return 0;
}

void ember_gate_free(ember_gate *g)
{
	if (!g)
		return;
	assert(g->inside == 0);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void ember_gate_enter(ember_gate *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	while (g->inside >= g->n)
		pthread_cond_wait(&g->cv, &g->mu);
	g->inside++;
	pthread_mutex_unlock(&g->mu);
}

void ember_gate_leave(ember_gate *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	assert(g->inside > 0);
	g->inside--;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}
