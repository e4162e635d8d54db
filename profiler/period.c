/* profiler/period.c — randomized sampling periods and the weight of each
 * sample (period.h). Owns the slots' periods and the random draws; never
 * opens, enables or closes an event (events.c) and never reads a ring: the
 * sampler hands it each sample, and calls period_change between drains. */
#include "period.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>

#include "ember/clock.h"
#include "ember/grow.h"

enum { PER_CPU_TID = 0xffffffffu };   /* the key's tid for events of every task */

static uint64_t mono_ns(void)
{
	return (uint64_t)ember_mono_ns();
}

static uint64_t thread_cpu_ns(void)
{
	return (uint64_t)ember_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static uint64_t slot_key(uint32_t tid, uint32_t cpu)
{
	return (uint64_t)tid << 32 | cpu;
}

void period_init(period_tab *t, bool random, unsigned freq_hz)
{
	memset(t, 0, sizeof *t);
	double f = freq_hz ? freq_hz : 1;
	t->mean = 1000000000ULL / (uint64_t)f;
	/* [F/2, 3F/2], shrunk symmetrically below the rate of the kernel's
	 * period floor so the mean stays F; too little room left: fixed */
	double ceiling = 1e9 / PERIOD_MIN_NS;
	t->rate_hi = 1.5 * f < ceiling ? 1.5 * f : ceiling;
	t->rate_lo = 2 * f - t->rate_hi;
	t->random = random && t->rate_hi - t->rate_lo >= 0.02 * f;
	t->lo = (uint64_t)(1e9 / t->rate_hi + 0.5);
	t->hi = t->rate_lo > 0 ? (uint64_t)(1e9 / t->rate_lo + 0.5) : t->mean;
	if (getrandom(&t->rng, sizeof t->rng, GRND_NONBLOCK) != sizeof t->rng)
		t->rng = mono_ns();
	t->rng |= 1;   /* xorshift's state must not be 0 */
	t->by_key = (u64map)U64MAP_INIT;
	t->budget_pct = PERIOD_BUDGET_PCT;
}

void period_fini(period_tab *t)
{
	free(t->slots);
	u64map_free(&t->by_key);
	memset(t, 0, sizeof *t);
}

void period_attr(const period_tab *t, struct perf_event_attr *a)
{
	if (!t->random)
		return;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
}

int period_add(period_tab *t, int fd, pid_t tid, int cpu, bool wall)
{
	if (!t->random)
		return 0;
	if (!ember_grow((void **)&t->slots, &t->cap, t->n + 1, sizeof *t->slots))
		return -ENOMEM;
	t->per_cpu = tid < 0;
	uint64_t key = slot_key(tid < 0 ? PER_CPU_TID : (uint32_t)tid, (uint32_t)cpu);
	if (u64map_put(&t->by_key, key, t->n) < 0)
		return -ENOMEM;
	t->slots[t->n++] = (period_slot){ .fd = fd, .cpu = cpu, .wall = wall, .cur = t->mean,
					  .prev = t->mean };
	return 0;
}

/* xorshift64*: plenty for spreading sample times, and no syscall. */
static uint64_t next_random(period_tab *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545F4914F6CDD1DULL;
}

/* The period of a rate uniform in [rate_lo, rate_hi], but never `mean`,
 * the period fd events report: that draw becomes its neighbour. */
static uint64_t draw(period_tab *t)
{
	uint64_t r = next_random(t);
	double u = (double)(r >> 11) * 0x1.0p-53;   /* [0, 1) */
	uint64_t v = (uint64_t)(1e9 / (t->rate_lo + u * (t->rate_hi - t->rate_lo)) + 0.5);
	v = v < t->lo ? t->lo : v > t->hi ? t->hi : v;
	if (v == t->mean)
		v = (r & 1) ? v + 1 : v - 1;
	return v;
}

static int set_period(int fd, uint64_t v)
{
	return ioctl(fd, PERF_EVENT_IOC_PERIOD, &v);
}

void period_start(period_tab *t, uint64_t now_ns)
{
	for (size_t i = 0; i < t->n; i++) {
		period_slot *s = &t->slots[i];
		uint64_t v = draw(t);
		if (set_period(s->fd, v) < 0) {
			t->change_errors++;
			continue;
		}
		t->changes++;
		s->cur = v;
		s->changed = mono_ns();
	}
	t->next_change = now_ns + PERIOD_CHANGE_NS;
	t->cpu0 = thread_cpu_ns();
}

uint64_t period_weight(period_tab *t, const perf_sample *ps)
{
	/* fixed mode, or an inherited event: it reports its own period */
	if (!t->random || ps->period != t->mean)
		return ps->period;
	uint64_t *idx = u64map_get(&t->by_key,
				   slot_key(t->per_cpu ? PER_CPU_TID : ps->tid, ps->cpu));
	if (!idx)
		return ps->period;
	period_slot *s = &t->slots[*idx];
	if (ps->time < s->changed)
		return s->prev;   /* taken before the change, read after it */
	uint64_t w = s->cur;
	if (s->pending) {
		s->pending = false;
		/* a wall-clock timer's first fire after the change comes cur
		 * later; a later sample means that fire was idle (not recorded),
		 * and the cut-off time went with it */
		if (!s->wall || ps->time < s->changed + s->cur + s->cur / 2)
			w += s->credit;
	}
	s->dirty = true;
	s->last = ps->time;
	return w;
}

/* A new draw for s, in force from now. */
static void change_slot(period_tab *t, period_slot *s)
{
	s->dirty = false;
	uint64_t v = draw(t);
	if (set_period(s->fd, v) < 0) {
		t->change_errors++;
		return;
	}
	uint64_t at = mono_ns();   /* after the restart: earlier samples are old */
	t->changes++;
	/* the restart discards the time since the last fire: known on a
	 * wall-clock timer, half a period in expectation otherwise */
	s->credit = s->wall && at > s->last ? (at - s->last) % s->cur : s->cur / 2;
	s->pending = true;
	s->prev = s->cur;
	s->cur = v;
	s->changed = at;
}

uint64_t period_change(period_tab *t, uint64_t now_ns)
{
	if (!t->random)
		return UINT64_MAX;
	if (now_ns < t->next_change)
		return t->next_change;
	t->next_change = now_ns + PERIOD_CHANGE_NS;
	int here = sched_getcpu();   /* vDSO / rseq: no system call */
	uint64_t cpu = thread_cpu_ns();
	/* pass 0: this CPU's slots; pass 1: the others, round-robin */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < t->n; k++) {
			size_t i = pass ? (t->rr + k) % t->n : k;
			period_slot *s = &t->slots[i];
			if (!s->dirty || (s->cpu == here) == pass)
				continue;   /* idle or gone, or not this pass's */
			/* spent <= pct % of the rest: spent (100 + pct) <= pct total */
			if (t->budget_pct && t->spent * (100 + t->budget_pct) >
						     (cpu - t->cpu0) * t->budget_pct) {
				t->over_budget++;
				t->rr = i;
				return t->next_change;
			}
			change_slot(t, s);
			uint64_t c = thread_cpu_ns();
			t->spent += c - cpu;
			cpu = c;
		}
	}
	return t->next_change;
}
