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

void period_init(period_tab *t, bool random, unsigned freq_hz, bool wall)
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
	t->wall = wall;
	t->by_key = (u64map)U64MAP_INIT;
	t->counts = (u64map)U64MAP_INIT;
	t->debts = (u64map)U64MAP_INIT;
	t->budget_pct = PERIOD_BUDGET_PCT;
}

void period_fini(period_tab *t)
{
	free(t->slots);
	u64map_free(&t->by_key);
	u64map_free(&t->counts);
	u64map_free(&t->debts);
	memset(t, 0, sizeof *t);
}

void period_attr(const period_tab *t, struct perf_event_attr *a)
{
	if (!t->random)
		return;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	if (!t->wall) {
		a->sample_type |= PERF_SAMPLE_READ;
		a->read_format = 0;
	}
}

int period_add(period_tab *t, int fd, pid_t tid, int cpu)
{
	if (!t->random)
		return 0;
	if (!ember_grow((void **)&t->slots, &t->cap, t->n + 1, sizeof *t->slots))
		return -ENOMEM;
	t->per_cpu = tid < 0;
	uint64_t key = slot_key(tid < 0 ? PER_CPU_TID : (uint32_t)tid, (uint32_t)cpu);
	if (u64map_put(&t->by_key, key, t->n) < 0)
		return -ENOMEM;
	t->slots[t->n++] = (period_slot){ .fd = fd, .cpu = cpu, .cur = t->mean, .prev = t->mean };
	if ((uint32_t)cpu >= t->n_cpus)
		t->n_cpus = (uint32_t)cpu + 1;
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

/* The period of a rate uniform in [rate_lo, rate_hi]. */
static uint64_t draw(period_tab *t)
{
	uint64_t r = next_random(t);
	double u = (double)(r >> 11) * 0x1.0p-53;   /* [0, 1) */
	uint64_t v = (uint64_t)(1e9 / (t->rate_lo + u * (t->rate_hi - t->rate_lo)) + 0.5);
	return v < t->lo ? t->lo : v > t->hi ? t->hi : v;
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

/* A per-task or cgroup event's sample: the clock since its last sample,
 * at most PERIOD_GAP_MAX periods; the rest is a debt that the event's next
 * samples share (PERIOD_DEBT_SHARE of what is left, each). */
static uint64_t count_weight(period_tab *t, uint64_t key, const perf_sample *ps)
{
	uint64_t *last = u64map_get(&t->counts, key);
	uint64_t w = last && ps->count >= *last ? ps->count - *last : ps->count;
	if (last)
		*last = ps->count;
	else if (u64map_put(&t->counts, key, ps->count) < 0)
		return ps->period;   /* out of memory: the nominal period */
	if (ps->cpu >= t->n_cpus)
		t->n_cpus = ps->cpu + 1;
	uint64_t cap = PERIOD_GAP_MAX * t->hi, add = 0;
	uint64_t *debt = t->debts.len ? u64map_get(&t->debts, key) : NULL;   /* usually none */
	if (w > cap) {
		add = w - cap;
		w = cap;
		t->gaps++;
	}
	if (debt) {
		add += *debt;
		u64map_del(&t->debts, key);
	}
	if (add) {
		uint64_t share = add / PERIOD_DEBT_SHARE + 1;
		share = share < add ? share : add;
		w += share;
		if (add > share && u64map_put(&t->debts, key, add - share) < 0)
			w += add - share;   /* out of memory: all of it here */
	}
	return w;
}

/* A sample of -a's per-CPU event on wall time: the period in force. */
static uint64_t wall_weight(period_slot *s, const perf_sample *ps)
{
	if (ps->time < s->changed)
		return s->prev;   /* taken before the change, read after it */
	uint64_t w = s->cur;
	if (s->pending) {
		s->pending = false;
		/* the first fire after the change comes cur later; a later
		 * sample means that fire was idle (not recorded), and the
		 * cut-off time went with it */
		if (ps->time < s->changed + s->cur + s->cur / 2)
			w += s->credit;
	}
	s->last = ps->time;
	return w;
}

uint64_t period_weight(period_tab *t, const perf_sample *ps)
{
	if (!t->random)
		return ps->period;
	uint64_t key = slot_key(t->per_cpu ? PER_CPU_TID : ps->tid, ps->cpu);
	uint64_t *idx = u64map_get(&t->by_key, key);
	if (idx)
		t->slots[*idx].dirty = true;
	if (!t->wall)
		return count_weight(t, key, ps);
	return idx ? wall_weight(&t->slots[*idx], ps) : ps->period;
}

void period_forget(period_tab *t, pid_t tid)
{
	if (!t->random || t->wall || t->per_cpu)
		return;
	for (uint32_t cpu = 0; cpu < t->n_cpus; cpu++) {
		u64map_del(&t->counts, slot_key((uint32_t)tid, cpu));
		u64map_del(&t->debts, slot_key((uint32_t)tid, cpu));
	}
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
	/* the restart discards the time since the last fire, known on a
	 * wall-clock timer (the counts of other events need no credit) */
	s->credit = at > s->last ? (at - s->last) % s->cur : 0;
	s->pending = t->wall;
	s->prev = s->cur;
	s->cur = v;
	s->changed = at;
}

uint64_t period_change(period_tab *t, uint64_t now_ns)
{
	if (!t->random)
		return UINT64_MAX;
	if (now_ns + PERIOD_CHANGE_SLACK_NS < t->next_change)
		return t->next_change;   /* a wake-up a little early still counts */
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
			/* spent <= pct % of the rest: spent (100 + pct) <= pct total;
			 * a per-CPU event of this CPU is changed without an IPI
			 * (1.7 us), so the budget only holds back the others */
			bool cheap = pass == 0 && t->per_cpu;
			if (!cheap && t->budget_pct &&
			    t->spent * (100 + t->budget_pct) > (cpu - t->cpu0) * t->budget_pct) {
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
