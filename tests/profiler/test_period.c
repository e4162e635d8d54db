/* tests/profiler/test_period.c — randomized periods and the weight of each
 * sample (profiler/period.c), against a real cpu-clock event (the ioctl
 * must succeed) fed with hand-made samples: draws are rates uniform in
 * [F/2, 3F/2], so periods in [2P/3, 2P] whose rates average F; a per-task
 * sample weighs its event's count since the previous sample of that
 * (thread, CPU), inherited threads' too; an -a sample weighs
 * the period in force at its time, and the first one after a change also
 * the part of the interval the restart cut off; fixed mode weighs what the
 * kernel reports. And where the changes are made: by the calling thread
 * (its own CPU's slots, others' within the budget) without changer
 * threads, else by the thread pinned on each slot's CPU (changer.h). */
#include "period.h"
#include "changer.h"
#include "ember/clock.h"

#include "../check.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A cpu-clock event of pid (0: this thread) on cpu (-1: any), or of every
 * task on cpu (pid -1, as -a opens them: its ioctl runs on that CPU). */
static int open_clock(pid_t pid, int cpu, uint64_t period)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = period;
	a.disabled = 1;
	a.exclude_kernel = 1;
	return (int)syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static perf_sample sample(uint32_t tid, uint32_t cpu, uint64_t time, uint64_t period)
{
	return (perf_sample){ .pid = tid, .tid = tid, .cpu = cpu, .time = time, .period = period };
}

static perf_sample counted(uint32_t tid, uint32_t cpu, uint64_t count)
{
	perf_sample ps = sample(tid, cpu, 1, 1000000000ULL / 99);
	ps.count = count;
	return ps;
}

int main(void)
{
	/* changes are made from the slot's CPU (an IPI otherwise): stay on one */
	unsigned here = (unsigned)sched_getcpu(), other = here ^ 1;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(here, &set);
	CHECK_EQ_INT(sched_setaffinity(0, sizeof set, &set), 0);
	period_tab t;
	period_init(&t, true, 99, false);
	CHECK(t.use_changer);
	t.use_changer = false;   /* this part tests the sampling thread's own changes */
	CHECK_EQ_INT(t.budget_pct, PERIOD_BUDGET_PCT);
	t.budget_pct = 0;   /* this test makes nothing but ioctls */
	const uint64_t mean = 1000000000ULL / 99;
	CHECK(t.random);
	CHECK_EQ_INT(t.lo, (uint64_t)(1e9 / (1.5 * 99) + 0.5));
	CHECK_EQ_INT(t.hi, (uint64_t)(1e9 / (0.5 * 99) + 0.5));
	int fd = open_clock(0, -1, mean);
	if (fd < 0) {
		printf("SKIP: perf_event_open: %s (run as root)\n", strerror(errno));
		return 77;
	}
	struct perf_event_attr a = { 0 };
	period_attr(&t, &a);
	CHECK(a.use_clockid && a.clockid == CLOCK_MONOTONIC);
	CHECK((a.sample_type & PERF_SAMPLE_READ) && a.read_format == 0);

	/* a per-task event of tid 7 on this cpu */
	CHECK_EQ_INT(period_add(&t, fd, 7, here), 0);
	period_start(&t, 1000);
	CHECK_EQ_INT(t.changes, 1);
	CHECK_EQ_INT(t.change_errors, 0);
	period_slot *s = &t.slots[0];
	CHECK(s->cur >= t.lo && s->cur <= t.hi);
	CHECK_EQ_INT(s->prev, mean);

	/* no sample yet: the slot is not due for a change */
	CHECK_EQ_INT(period_change(&t, t.next_change), t.next_change);
	CHECK_EQ_INT(t.changes, 1);
	/* the first sample weighs the clock since the event began */
	perf_sample ps = counted(7, here, 5000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 5000000);
	CHECK(s->dirty);
	ps = counted(7, here, 16000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 11000000);
	/* not yet time for a change (a wake-up within the slack of it is) */
	uint64_t next = t.next_change;
	CHECK_EQ_INT(period_change(&t, next - PERIOD_CHANGE_SLACK_NS - 1), next);
	CHECK_EQ_INT(t.changes, 1);
	/* the change: a new draw, and no credit (the counts need none) */
	uint64_t first = s->cur;
	CHECK(period_change(&t, next - PERIOD_CHANGE_SLACK_NS) > next);
	CHECK_EQ_INT(t.changes, 2);
	CHECK_EQ_INT(s->prev, first);
	CHECK(!s->pending && !s->dirty);
	/* whatever the restart discarded, the next count tells */
	ps = counted(7, here, 16000000 + 3 * first / 2);
	CHECK_EQ_INT(period_weight(&t, &ps), 3 * first / 2);
	/* the same thread on another cpu: another event, its own count */
	ps = counted(7, other, 2500000);
	CHECK_EQ_INT(period_weight(&t, &ps), 2500000);

	/* an inherited thread (no slot): the differences of its counts */
	ps = counted(8, here, 3000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 3000000);
	ps = counted(8, here, 10000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 7000000);
	/* a count below the last: a new event under a reused tid */
	ps = counted(8, here, 4000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 4000000);
	/* the thread ended: a later thread of that tid starts from zero */
	period_forget(&t, 8);
	ps = counted(8, here, 9000000);
	CHECK_EQ_INT(period_weight(&t, &ps), 9000000);

	/* a gap (the timer stopped firing while the thread ran): the sample
	 * after it weighs at most PERIOD_GAP_MAX longest periods plus a share
	 * of the rest; the next samples pay the debt off; the sum is exact */
	const uint64_t cap = PERIOD_GAP_MAX * t.hi, gap = 1600000;
	uint64_t c = 1000000, wsum = 0;
	ps = counted(10, here, c);
	wsum += period_weight(&t, &ps);
	c += cap + gap;
	ps = counted(10, here, c);
	uint64_t w = period_weight(&t, &ps);
	CHECK_EQ_INT(w, cap + gap / PERIOD_DEBT_SHARE + 1);
	CHECK_EQ_INT(t.gaps, 1);
	wsum += w;
	c += 1000;
	ps = counted(10, here, c);
	w = period_weight(&t, &ps);
	uint64_t left = gap - (gap / PERIOD_DEBT_SHARE + 1);
	CHECK_EQ_INT(w, 1000 + left / PERIOD_DEBT_SHARE + 1);
	wsum += w;
	for (int i = 0; i < 400; i++) {
		c += 1000;
		ps = counted(10, here, c);
		wsum += period_weight(&t, &ps);
	}
	CHECK_EQ_INT(wsum, c);
	CHECK(u64map_get(&t.debts, ((uint64_t)10 << 32) | here) == NULL);
	/* forgetting a thread drops its debt too */
	c += cap + gap;
	ps = counted(10, here, c);
	period_weight(&t, &ps);
	CHECK(u64map_get(&t.debts, ((uint64_t)10 << 32) | here) != NULL);
	period_forget(&t, 10);
	CHECK(u64map_get(&t.debts, ((uint64_t)10 << 32) | here) == NULL);

	/* the draws: rates uniform in [F/2, 3F/2], mean F */
	double sum = 0;
	uint64_t lo = UINT64_MAX, hi = 0, n_low = 0;
	enum { DRAWS = 20000 };
	for (int i = 0; i < DRAWS; i++) {
		ps = counted(7, here, 1000000000ULL + (uint64_t)i);
		period_weight(&t, &ps);
		period_change(&t, t.next_change);
		lo = s->cur < lo ? s->cur : lo;
		hi = s->cur > hi ? s->cur : hi;
		n_low += s->cur < mean;
		sum += 1e9 / (double)s->cur;
	}
	CHECK_EQ_INT(t.change_errors, 0);
	CHECK(lo >= t.lo && hi <= t.hi);
	CHECK(lo < t.lo + mean / 50 && hi > t.hi - mean / 20);   /* the whole range is used */
	double avg = sum / DRAWS;
	printf("draws: mean rate %.2f Hz (want 99), periods %llu..%llu ns, %.1f%% below 1/F\n",
	       avg, (unsigned long long)lo, (unsigned long long)hi, 100.0 * (double)n_low / DRAWS);
	CHECK(avg > 0.99 * 99 && avg < 1.01 * 99);
	CHECK(n_low > DRAWS * 45 / 100 && n_low < DRAWS * 55 / 100);

	/* the budget: while the changes have taken more than budget_pct % of
	 * the rest of the thread's CPU, a round changes only the slots of
	 * this CPU (no IPI); the others wait. This table started with slots
	 * on one CPU: no changer threads, another CPU's slot takes an IPI. */
	CHECK(t.changer == NULL);
	CHECK_EQ_INT(period_add(&t, fd, 9, (int)other), 0);
	s = &t.slots[0];   /* the table may have moved */
	period_slot *r = &t.slots[t.n - 1];
	ps = counted(9, other, 1000);
	period_weight(&t, &ps);
	ps = counted(7, here, 2000000000ULL);
	period_weight(&t, &ps);
	t.budget_pct = PERIOD_BUDGET_PCT;
	t.spent = 1000000000000000ULL;   /* 11 days */
	uint64_t before = t.changes;
	period_change(&t, t.next_change);
	CHECK(r->dirty && !s->dirty);
	CHECK_EQ_INT(t.changes, before + 1);
	CHECK_EQ_INT(t.over_budget, 1);
	t.spent = 0;
	t.cpu0 = 0;   /* as if the thread had worked since boot */
	ps = counted(7, here, 3000000000ULL);
	period_weight(&t, &ps);
	period_change(&t, t.next_change);
	CHECK(!r->dirty && !s->dirty && !r->pending);
	CHECK_EQ_INT(t.changes, before + 3);
	printf("two changes took %llu ns of CPU\n", (unsigned long long)t.spent);
	CHECK(t.spent > 0);   /* measured */
	period_fini(&t);

	/* -a: a per-CPU wall-clock timer; the credit is the time since its
	 * last fire, given only if the first fire after the change is seen */
	period_init(&t, true, 99, true);
	t.use_changer = false;
	t.budget_pct = 0;
	a = (struct perf_event_attr){ 0 };
	period_attr(&t, &a);
	CHECK(a.use_clockid && !(a.sample_type & PERF_SAMPLE_READ));
	CHECK_EQ_INT(period_add(&t, fd, -1, here), 0);
	period_start(&t, 1000);
	s = &t.slots[0];
	ps = sample(1234, here, s->changed + 10, mean);   /* any task: keyed by cpu */
	CHECK_EQ_INT(period_weight(&t, &ps), s->cur);
	period_change(&t, t.next_change);
	CHECK(s->pending && s->credit < s->prev);
	uint64_t credit = s->credit;
	ps = sample(99, here, s->changed + s->cur + 20000, mean);
	CHECK_EQ_INT(period_weight(&t, &ps), s->cur + credit);
	ps.time += s->cur;
	period_change(&t, t.next_change);   /* and this time the first fire was idle */
	ps = sample(99, here, s->changed + 2 * s->cur + 20000, mean);
	CHECK_EQ_INT(period_weight(&t, &ps), s->cur);
	/* a per-CPU slot of this CPU changes whatever the budget (no IPI);
	 * one of another CPU waits for it */
	CHECK_EQ_INT(period_add(&t, fd, -1, (int)other), 0);
	s = &t.slots[0];
	ps = sample(99, here, s->changed + s->cur, mean);
	period_weight(&t, &ps);
	ps = sample(99, other, s->changed + s->cur, mean);
	period_weight(&t, &ps);
	t.budget_pct = PERIOD_BUDGET_PCT;
	t.spent = 1000000000000000ULL;
	before = t.changes;
	period_change(&t, t.next_change);
	CHECK(!t.slots[0].dirty && t.slots[1].dirty);
	CHECK_EQ_INT(t.changes, before + 1);
	period_fini(&t);

	/* changer threads (profiler/changer.h): with slots on two CPUs,
	 * period_start starts a thread pinned on each, which changes the
	 * slots of its CPU that sampled (the sampling thread makes no ioctl
	 * for them); period_collect takes the change in: the slot's new
	 * period, in force from the time that thread made the ioctl. A slot
	 * changes again only once its last change is taken in. */
	int fa = open_clock(-1, (int)here, mean), fb = open_clock(-1, (int)other, mean);
	if (fa < 0 || fb < 0) {
		printf("changer part skipped: no per-CPU event on CPU %u and %u (%s)\n", here,
		       other, strerror(errno));
	} else {
		/* a confined agent stays confined: with this thread allowed on
		 * one CPU, only that CPU gets a thread, and the other CPU's
		 * slot is changed by the caller (the fallback, an IPI) */
		period_init(&t, true, 99, true);
		t.budget_pct = 0;
		CHECK_EQ_INT(period_add(&t, fa, -1, here), 0);
		CHECK_EQ_INT(period_add(&t, fb, -1, other), 0);
		period_start(&t, 1000);
		CHECK(changer_has(t.changer, (int)here) && !changer_has(t.changer, (int)other));
		ps = sample(99, other, t.slots[1].changed + t.slots[1].cur, mean);
		period_weight(&t, &ps);
		before = t.changes;
		period_change(&t, t.next_change);
		CHECK(!t.slots[1].dirty);
		CHECK_EQ_INT(t.changes, before + 1);
		CHECK(t.spent > 0);
		period_fini(&t);

		CPU_SET(other, &set);   /* the threads go where this one may go */
		CHECK_EQ_INT(sched_setaffinity(0, sizeof set, &set), 0);
		period_init(&t, true, 99, true);
		CHECK_EQ_INT(period_add(&t, fa, -1, here), 0);
		CHECK_EQ_INT(period_add(&t, fb, -1, other), 0);
		period_start(&t, 1000);
		CHECK_EQ_INT(period_add(&t, fa, -1, here), -EBUSY);   /* the slots are fixed now */
		CHECK(t.changer != NULL);
		CHECK(changer_has(t.changer, (int)here) && changer_has(t.changer, (int)other));
		CPU_CLR(other, &set);
		CHECK_EQ_INT(sched_setaffinity(0, sizeof set, &set), 0);
		for (int round = 0; round < 3; round++) {
			uint64_t old[2];
			for (unsigned c = 0; c < 2; c++) {
				old[c] = t.slots[c].changed;
				ps = sample(99, c ? other : here, t.slots[c].changed + t.slots[c].cur, mean);
				period_weight(&t, &ps);
			}
			before = t.changes;
			uint64_t t0 = (uint64_t)ember_mono_ns();
			period_change(&t, t.next_change);   /* the fallback leaves them alone */
			CHECK_EQ_INT(t.spent, 0);
			for (int i = 0; i < 3000 && t.changes < before + 2; i++) {
				usleep(1000);
				period_collect(&t);
			}
			CHECK_EQ_INT(t.changes, before + 2);
			for (unsigned c = 0; c < 2; c++) {
				CHECK(!t.slots[c].dirty);
				CHECK(t.slots[c].changed > old[c] && t.slots[c].changed >= t0);
				CHECK(t.slots[c].cur >= t.lo && t.slots[c].cur <= t.hi);
			}
		}
		/* made, not taken in: no new change until it is */
		ps = sample(99, other, t.slots[1].changed + t.slots[1].cur, mean);
		period_weight(&t, &ps);
		for (int i = 0; i < 3000 && t.slots[1].dirty; i++)
			usleep(1000);
		CHECK(!t.slots[1].dirty);
		ps.time += t.slots[1].cur;
		period_weight(&t, &ps);
		usleep(3 * PERIOD_CHANGE_NS / 1000);
		CHECK(t.slots[1].dirty);
		CHECK_EQ_INT(t.slots[1].made, t.slots[1].taken + 1);
		period_collect(&t);
		for (int i = 0; i < 3000 && t.slots[1].dirty; i++)
			usleep(1000);
		CHECK(!t.slots[1].dirty);
		CHECK_EQ_INT(t.change_errors, 0);
		CHECK(changer_sum(t.changer).rounds >= 4);
		period_fini(&t);

		/* counts as weights (-G's per-CPU events, -p, --): no wait for
		 * period_collect, a slot changes on its thread's pace */
		CPU_SET(other, &set);
		CHECK_EQ_INT(sched_setaffinity(0, sizeof set, &set), 0);
		period_init(&t, true, 99, false);
		CHECK_EQ_INT(period_add(&t, fa, -1, here), 0);
		CHECK_EQ_INT(period_add(&t, fb, -1, other), 0);
		period_start(&t, 1000);
		CHECK(t.changer != NULL);
		CPU_CLR(other, &set);
		CHECK_EQ_INT(sched_setaffinity(0, sizeof set, &set), 0);
		for (uint32_t want = 1; want <= 2; want++) {
			ps = counted(99, other, 1000000ULL * want);
			period_weight(&t, &ps);
			for (int i = 0; i < 3000 && t.slots[1].made < want; i++)
				usleep(1000);
			CHECK_EQ_INT(t.slots[1].made, want);
		}
		CHECK_EQ_INT(t.slots[1].taken, 0);
		before = t.changes;
		period_collect(&t);
		CHECK_EQ_INT(t.changes, before + 2);
		CHECK_EQ_INT(t.slots[1].taken, 2);
		/* an idle CPU's thread slows down (rounds 0.1, 0.3, 0.7 s in,
		 * the next 1.5 s): a slot of it that samples again kicks it
		 * awake, else that CPU's draw would stand until then; a thread
		 * on its steady pace is not kicked */
		usleep(800000);
		uint64_t k0 = t.kicks, t0 = (uint64_t)ember_mono_ns();
		ps = counted(99, other, 3000000ULL);
		period_weight(&t, &ps);
		CHECK_EQ_INT(t.kicks, k0 + 1);
		for (int i = 0; i < 3000 && t.slots[1].made < 3; i++)
			usleep(1000);
		CHECK_EQ_INT(t.slots[1].made, 3);
		uint64_t took = (uint64_t)ember_mono_ns() - t0;
		printf("kicked from idle: changed after %.1f ms\n", took / 1e6);
		CHECK(took < 300000000ULL);
		ps = counted(99, other, 4000000ULL);
		period_weight(&t, &ps);
		CHECK_EQ_INT(t.kicks, k0 + 1);
		/* the first two samples were weighed before period_collect took
		 * their changes in: two under one period, as far as it knows */
		CHECK_EQ_INT(t.draw_max, 2);
		CHECK(changer_sum(t.changer).cpu_ns > 0);
		printf("changer: %llu rounds took %llu ns of the threads' CPU\n",
		       (unsigned long long)changer_sum(t.changer).rounds,
		       (unsigned long long)changer_sum(t.changer).cpu_ns);
		period_fini(&t);
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);

	/* fixed: no slots, no ioctl, the reported period */
	period_init(&t, false, 99, false);
	CHECK_EQ_INT(period_add(&t, fd, 7, here), 0);
	CHECK_EQ_INT(t.n, 0);
	CHECK_EQ_INT(period_change(&t, UINT64_MAX - 1), UINT64_MAX);
	ps = sample(7, here, 5, mean);
	CHECK_EQ_INT(period_weight(&t, &ps), mean);
	a = (struct perf_event_attr){ 0 };
	period_attr(&t, &a);
	CHECK(!a.use_clockid && !(a.sample_type & PERF_SAMPLE_READ));
	period_fini(&t);

	/* near the kernel's 10 us floor the range shrinks about the mean; at
	 * it, nothing is left to draw from: fixed */
	period_init(&t, true, 80000, false);
	CHECK(t.random && t.lo == PERIOD_MIN_NS && t.rate_lo + t.rate_hi == 2 * 80000.0);
	period_fini(&t);
	period_init(&t, true, 100000, false);
	CHECK(!t.random);
	period_fini(&t);

	close(fd);
	return check_exit();
}
