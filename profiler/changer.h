/* profiler/changer.h — threads pinned one per CPU that run a function on
 * their CPU at a steady pace, private to profiler/ (docs/ARCHITECTURE.md,
 * "Randomized sampling periods"). period.c runs its period changes there.
 *
 * Why: PERF_EVENT_IOC_PERIOD runs on the CPU of its event. Made from
 * another CPU it is an IPI the caller spins on until that CPU has run it;
 * in a VM that is 24 us to milliseconds, or tens of milliseconds when the
 * host has descheduled the other vCPU. Waking a thread on a busy CPU can
 * cost the waker as much (measured: 24-99 ms, likely spinning on that
 * CPU's runqueue lock while its vCPU is descheduled). Made on the
 * event's own CPU it is 1.3-1.7 us. So each CPU gets a thread that sleeps
 * on its own timer (which fires on its own CPU) and never is woken from
 * another CPU while it runs: nothing here waits for another CPU.
 *
 * Each thread calls fn(arg, cpu) every `interval` ns (timer slack lets the
 * kernel fold the wake-up into another interrupt of that CPU). fn returns
 * whether it had work; after rounds without, the pace halves, down to once
 * every CHANGER_IDLE_NS, so an idle CPU costs a wake-up a second. A CPU
 * that gets work again would wait that long for its next round: the
 * sampling thread kicks its thread awake (changer_kick), a wake-up from
 * another CPU, but only once per idle spell. The threads block every
 * signal and touch nothing but what fn touches.
 */
#ifndef EMBER_PROFILER_CHANGER_H
#define EMBER_PROFILER_CHANGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The slowest pace of an idle CPU's thread. */
#define CHANGER_IDLE_NS 1000000000ULL
/* The timer slack of the threads (prctl PR_SET_TIMERSLACK). */
#define CHANGER_SLACK_NS 5000000ULL

typedef bool (*changer_fn)(void *arg, int cpu);

typedef struct changer changer;

/* Starts a thread on each of cpus[0..n) that the calling thread may run on
 * (its affinity mask: a confined agent stays confined). NULL when none
 * started (out of memory, no CPU allowed). */
changer *changer_new(const int *cpus, size_t n, uint64_t interval_ns, changer_fn fn, void *arg);
/* Stops and joins the threads; NULL is fine. fn is not called after. */
void changer_free(changer *c);

/* There is a thread on cpu. */
bool changer_has(const changer *c, int cpu);

/* cpu has work again: if its thread is on its idle pace, wakes it for a
 * round now (its pace is the interval again after a round with work).
 * True when it woke it; a thread on its steady pace is left alone. */
bool changer_kick(changer *c, int cpu);

/* What the threads have used so far, all together: CPU time (ns) in their
 * rounds, wake-ups included, their start not; and rounds run. */
typedef struct changer_totals {
	uint64_t cpu_ns, rounds;
} changer_totals;
changer_totals changer_sum(const changer *c);

#endif
