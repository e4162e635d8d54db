/* tests/profiler/test_proctab_vanished.c — the process table forgets processes whose
 * EXIT record never came: a FORK read after the child's EXIT (another CPU's
 * ring) or a lost EXIT left them live forever, so a fork storm grew the
 * table without bound (found by tests/faults/fork_storm.py). */
#include "../check.h"

#include "proctab.h"

#include <string.h>
#include <unistd.h>

/* Above the largest pid_max (2^22): no such process can exist. */
#define GONE 4194305

int main(void)
{
	proctab *pt = NULL;
	CHECK(proctab_new(&pt) == 0);

	/* a FORK whose EXIT was lost */
	perf_task t = { .pid = GONE, .ppid = GONE + 1, .tid = GONE, .ptid = GONE + 1 };
	proctab_on_fork(pt, &t);
	CHECK_EQ_INT(proctab_live(pt), 1);
	CHECK(proctab_thread_name(pt, GONE) != NULL);
	proctab_mark_vanished(pt);
	proctab_reap(pt);
	CHECK_EQ_INT(proctab_live(pt), 0);
	CHECK(proctab_thread_name(pt, GONE) == NULL);

	/* EXIT read before its FORK: the late FORK makes it again; reap forgets it */
	t.pid = t.tid = GONE + 2;
	proctab_on_exit(pt, &t);
	proctab_on_fork(pt, &t);
	CHECK_EQ_INT(proctab_live(pt), 1);
	proctab_mark_vanished(pt);
	proctab_reap(pt);
	CHECK_EQ_INT(proctab_live(pt), 0);

	/* a process that exists stays, with its threads */
	uint32_t h = proctab_get(pt, (int32_t)getpid());
	CHECK(h != PROCTAB_NONE);
	proctab_mark_vanished(pt);
	proctab_reap(pt);
	CHECK_EQ_INT(proctab_live(pt), 1);
	CHECK(proctab_thread_name(pt, (int32_t)getpid()) != NULL);
	CHECK(proctab_get(pt, (int32_t)getpid()) == h);

	proctab_free(pt);
	return check_exit();
}
