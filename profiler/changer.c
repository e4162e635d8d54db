/* profiler/changer.c — threads pinned one per CPU that run a function on
 * their CPU at a steady pace (changer.h). Owns the threads, their timers
 * and their CPU accounting; knows nothing of what the function does. */
#include "changer.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ember/clock.h"

enum { CHANGER_STACK = 64 * 1024 };

typedef struct cpu_thread {
	changer *owner;
	int cpu;
	bool running;
	pthread_t th;
	_Atomic uint32_t word;     /* the futex word it sleeps on: 1 = kicked or stop */
	_Atomic bool slow;         /* its pace is slower than the interval (idle) */
	_Atomic uint64_t cpu_ns;   /* the thread's CPU in rounds, at its last round */
	_Atomic uint64_t rounds;
} cpu_thread;

struct changer {
	_Atomic bool stop;
	uint64_t interval;
	changer_fn fn;
	void *arg;
	cpu_thread *t;             /* indexed by CPU */
	size_t n_cpus;
};

static uint64_t own_cpu_ns(void)
{
	return (uint64_t)ember_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Sleeps ns, or until kicked or changer_free; true when it is time to
 * stop. A kick that came while the thread was awake ends the next nap at
 * once. */
static bool nap(cpu_thread *t, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };
	syscall(SYS_futex, (uint32_t *)&t->word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	/* sequentially consistent, as in changer_free: a stop that found the
	 * word already 1 is seen here */
	atomic_exchange(&t->word, 0);
	return atomic_load(&t->owner->stop);
}

/* Ends t's nap (a kick, or the stop): the futex word, then the wake-up,
 * unless the word was already set (the nap ends at once). */
static void rouse(cpu_thread *t)
{
	if (atomic_exchange(&t->word, 1) == 0)
		syscall(SYS_futex, (uint32_t *)&t->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *cpu_main(void *arg)
{
	cpu_thread *t = arg;
	changer *c = t->owner;
	prctl(PR_SET_TIMERSLACK, (unsigned long)CHANGER_SLACK_NS, 0, 0, 0);
	uint64_t base = own_cpu_ns();   /* the thread's start is not a round's cost */
	uint64_t pace = c->interval;
	while (!nap(t, pace)) {
		/* awake: no kick needed until the round says idle again (before
		 * fn, so whoever sees the round's work sees this too) */
		atomic_store_explicit(&t->slow, false, memory_order_relaxed);
		bool worked = c->fn(c->arg, t->cpu);
		pace = worked ? c->interval : pace * 2 < CHANGER_IDLE_NS ? pace * 2 : CHANGER_IDLE_NS;
		atomic_store_explicit(&t->slow, pace > c->interval, memory_order_relaxed);
		atomic_store_explicit(&t->cpu_ns, own_cpu_ns() - base, memory_order_relaxed);
		atomic_fetch_add_explicit(&t->rounds, 1, memory_order_relaxed);
	}
	return NULL;
}

static bool start_thread(cpu_thread *t)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(t->cpu, &one);
	pthread_attr_t a;
	if (pthread_attr_init(&a) != 0)
		return false;
	bool ok = pthread_attr_setaffinity_np(&a, sizeof one, &one) == 0 &&
		  pthread_attr_setstacksize(&a, CHANGER_STACK) == 0 &&
		  pthread_create(&t->th, &a, cpu_main, t) == 0;
	pthread_attr_destroy(&a);
	if (ok) {
		char name[16];
		snprintf(name, sizeof name, "ember-chg/%d", t->cpu);
		pthread_setname_np(t->th, name);
	}
	return ok;
}

changer *changer_new(const int *cpus, size_t n, uint64_t interval_ns, changer_fn fn, void *arg)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
		return NULL;
	size_t n_cpus = 0;
	for (size_t i = 0; i < n; i++)
		if (cpus[i] >= 0 && (size_t)cpus[i] + 1 > n_cpus)
			n_cpus = (size_t)cpus[i] + 1;
	changer *c = calloc(1, sizeof *c);
	if (!c || !(c->t = calloc(n_cpus ? n_cpus : 1, sizeof *c->t))) {
		free(c);
		return NULL;
	}
	c->n_cpus = n_cpus;
	c->interval = interval_ns;
	c->fn = fn;
	c->arg = arg;
	/* the threads take no signal: they stay with the threads that wait for them */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	size_t started = 0;
	for (size_t i = 0; i < n; i++) {
		if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE || !CPU_ISSET(cpus[i], &allowed))
			continue;
		cpu_thread *t = &c->t[cpus[i]];
		if (t->running)
			continue;
		t->owner = c;
		t->cpu = cpus[i];
		if (!start_thread(t))
			continue;
		t->running = true;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started) {
		changer_free(c);
		return NULL;
	}
	return c;
}

void changer_free(changer *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	for (size_t i = 0; i < c->n_cpus; i++)
		if (c->t[i].running) {
			rouse(&c->t[i]);
			pthread_join(c->t[i].th, NULL);
		}
	free(c->t);
	free(c);
}

bool changer_has(const changer *c, int cpu)
{
	return c && cpu >= 0 && (size_t)cpu < c->n_cpus && c->t[cpu].running;
}

bool changer_kick(changer *c, int cpu)
{
	if (!changer_has(c, cpu) || !atomic_load_explicit(&c->t[cpu].slow, memory_order_relaxed))
		return false;
	rouse(&c->t[cpu]);
	return true;
}

changer_totals changer_sum(const changer *c)
{
	changer_totals sum = { 0, 0 };
	for (size_t i = 0; c && i < c->n_cpus; i++) {
		if (!c->t[i].running)
			continue;
		sum.cpu_ns += atomic_load_explicit(&c->t[i].cpu_ns, memory_order_relaxed);
		sum.rounds += atomic_load_explicit(&c->t[i].rounds, memory_order_relaxed);
	}
	return sum;
}
