/* profiler/events.h — the set of perf events behind one sampler, private to
 * profiler/: the cpu-clock attr ember uses, perf_event_open per CPU or per
 * (thread, CPU), one mmap'd ring per CPU shared by every event on that CPU
 * (PERF_EVENT_IOC_SET_OUTPUT), enable/disable, and the kernel's sysctl limits.
 */
#ifndef EMBER_PROFILER_EVENTS_H
#define EMBER_PROFILER_EVENTS_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ember/error.h"
#include "perf_ring.h"

typedef struct evring {
	int cpu;
	int fd;          /* the event that owns the mapping */
	void *base;
	size_t len;      /* bytes mapped (1 + data pages) */
	perf_ring ring;
	bool hup;        /* the owning event's task is gone: stop polling it */
} evring;

typedef struct evset {
	struct perf_event_attr attr;
	unsigned ring_pages;      /* data pages per ring (power of 2) */
	int *fds;
	size_t n_fds, cap_fds;
	evring *rings;
	size_t n_rings, cap_rings;
	bool kernel_excluded;     /* fell back to user-only sampling */
} evset;

/* The attr of ember's sampling event. dwarf adds user regs (regs_mask) and a
 * stack copy of stack_size bytes. */
void events_attr(struct perf_event_attr *a, unsigned freq_hz, bool dwarf, uint64_t regs_mask,
		 uint32_t stack_size);

void evset_init(evset *e, const struct perf_event_attr *attr, unsigned ring_pages);

/* Opens one event (pid/cpu/flags as for perf_event_open, plus inherit when
 * asked), and maps a ring for its CPU or redirects it into the CPU's existing
 * ring. Falls back to user-only sampling once when kernel sampling is not
 * permitted (sets kernel_excluded). Errors name the fix. */
int evset_open(evset *e, pid_t pid, int cpu, unsigned long flags, bool inherit,
	       ember_error *err);

int evset_enable(evset *e, ember_error *err);
void evset_disable(evset *e);
void evset_close(evset *e);

/* True when the kernel takes PERF_SAMPLE_CGROUP and PERF_RECORD_CGROUP
 * (5.7+): one test event on the calling thread, opened and closed. */
bool events_cgroup_supported(void);

/* True when the kernel takes PERF_SAMPLE_READ on inherited events (each
 * child then reports its own count; older kernels answer EINVAL): one test
 * event on the calling thread, opened and closed. */
bool events_read_inherit_supported(void);

/* The online CPUs (from /sys/devices/system/cpu/online). */
int events_online_cpus(int **cpus, size_t *n, ember_error *err);

/* kernel.perf_event_max_stack and kernel.perf_event_max_sample_rate, or -1. */
long events_sysctl(const char *name);

#endif
