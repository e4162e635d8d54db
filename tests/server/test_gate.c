/* tests/server/test_gate.c — the counting gate: 16 threads pass a gate of
 * 3 many times; never more than 3 inside, every pass completes, and with
 * sleeps inside the gate 3 are inside at once at some point. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../check.h"
#include "server/gate.h"

static ember_gate *gate;
static atomic_uint inside, max_inside, passes;

static void *run(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++) {
		ember_gate_enter(gate);
		unsigned now = atomic_fetch_add(&inside, 1) + 1;
		unsigned m = atomic_load(&max_inside);
		while (now > m && !atomic_compare_exchange_weak(&max_inside, &m, now))
			;
		nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
		atomic_fetch_sub(&inside, 1);
		atomic_fetch_add(&passes, 1);
		ember_gate_leave(gate);
	}
	return NULL;
}

int main(void)
{
	ember_error err;
	CHECK_EQ_INT(ember_gate_new(&gate, 3, &err), 0);
	pthread_t t[16];
	for (int i = 0; i < 16; i++)
		pthread_create(&t[i], NULL, run, NULL);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(atomic_load(&passes), 16 * 50);
	CHECK(atomic_load(&max_inside) <= 3);
	CHECK_EQ_INT(atomic_load(&max_inside), 3);
	ember_gate_free(gate);
	ember_gate_enter(NULL);   /* no gate: no wait */
	ember_gate_leave(NULL);
	return check_exit();
}
