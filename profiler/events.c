/* profiler/events.c — perf_event_open and the rings of events.h. Owns the
 * event fds and ring mappings of a sampler; never reads records (the sampler
 * drains rings through perf_ring.c) and never decides targets (target.c). */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "perf_sample.h"
#include "ember/grow.h"

void events_attr(struct perf_event_attr *a, unsigned freq_hz, bool dwarf, uint64_t regs_mask,
		 uint32_t stack_size)
{
	memset(a, 0, sizeof *a);
	a->size = sizeof *a;
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CPU_CLOCK;
	a->freq = 1;
	a->sample_freq = freq_hz;
	a->sample_type = dwarf ? EMBER_SAMPLE_TYPE_DWARF : EMBER_SAMPLE_TYPE_FP;
	a->disabled = 1;
	a->mmap = 1;
	a->mmap2 = 1;
	a->comm = 1;
	a->comm_exec = 1;
	a->task = 1;
	a->build_id = 1;
	a->sample_id_all = 1;
	a->watermark = 1;
	if (dwarf) {
		a->sample_regs_user = regs_mask;
		a->sample_stack_user = stack_size;
		a->exclude_callchain_user = 1;
	} else if (regs_mask) {
		/* fp mode's leaf fix-up (profiler/unwind_leaf.h): a few
		 * registers and stack bytes next to the kernel's chain */
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = regs_mask;
		a->sample_stack_user = stack_size;
	}
}

void evset_init(evset *e, const struct perf_event_attr *attr, unsigned ring_pages)
{
	memset(e, 0, sizeof *e);
	e->attr = *attr;
	e->ring_pages = ring_pages;
}

static int sys_perf_event_open(struct perf_event_attr *a, pid_t pid, int cpu, unsigned long flags)
{
	return (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, flags | PERF_FLAG_FD_CLOEXEC);
}

/* Whether the kernel opens a cpu-clock event of the calling thread with
 * these extras (one test event, opened and closed, never enabled). */
static bool probe(uint64_t sample_type, bool cgroup, bool inherit)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = 1000000;
	a.sample_type = PERF_SAMPLE_TID | sample_type;
	a.cgroup = cgroup;
	a.inherit = inherit;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	int fd = sys_perf_event_open(&a, 0, -1, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool events_cgroup_supported(void)
{
	return probe(PERF_SAMPLE_CGROUP, true, false);
}

bool events_read_inherit_supported(void)
{
	return probe(PERF_SAMPLE_READ, false, true);
}

static int open_error(int e, pid_t pid, int cpu, unsigned long flags, ember_error *err)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return ember_errorf(err, e, "perf_event_open: permission denied: run as root or "
					    "set kernel.perf_event_paranoid<=1 / grant CAP_PERFMON");
	case ESRCH:
		return ember_errorf(err, e, "no such process: %d", (int)pid);
	case EMFILE:
	case ENFILE:
		return ember_errorf(err, e, "perf_event_open: too many open files: raise the "
					    "limit (ulimit -n)");
	case ENOENT:
	case ENODEV:
	case EOPNOTSUPP:
		return ember_errorf(err, e, "perf_event_open: the cpu-clock event is not "
					    "available on cpu %d: %s", cpu, strerror(e));
	default:
		return ember_errorf(err, e, "perf_event_open(pid %d, cpu %d%s): %s", (int)pid, cpu,
				    (flags & PERF_FLAG_PID_CGROUP) ? ", cgroup" : "", strerror(e));
	}
}

static int map_ring(evset *e, int fd, int cpu, ember_error *err)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned pages = e->ring_pages;
	void *base = MAP_FAILED;
	size_t len = 0;
	/* unprivileged users are limited by perf_event_mlock_kb: halve and retry */
	for (; pages >= 1; pages /= 2) {
		len = (size_t)(pages + 1) * (size_t)page;
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (base != MAP_FAILED || (errno != EPERM && errno != ENOMEM))
			break;
	}
	if (base == MAP_FAILED)
		return ember_errorf(err, errno, "mmap of the perf ring buffer on cpu %d: %s: raise "
						"kernel.perf_event_mlock_kb or run as root", cpu,
				    strerror(errno));
	if (!ember_grow((void **)&e->rings, &e->cap_rings, e->n_rings + 1, sizeof *e->rings)) {
		munmap(base, len);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	evring *r = &e->rings[e->n_rings];
	memset(r, 0, sizeof *r);
	r->cpu = cpu;
	r->fd = fd;
	r->base = base;
	r->len = len;
	if (perf_ring_init(&r->ring, base, (size_t)page, (uint64_t)pages * (uint64_t)page) < 0) {
		munmap(base, len);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	e->n_rings++;
	return 0;
}

int evset_open(evset *e, pid_t pid, int cpu, unsigned long flags, bool inherit, ember_error *err)
{
	if (!ember_grow((void **)&e->fds, &e->cap_fds, e->n_fds + 1, sizeof *e->fds))
		return ember_errorf(err, ENOMEM, "out of memory");
	struct perf_event_attr a = e->attr;
	a.inherit = inherit;
	long page = sysconf(_SC_PAGESIZE);
	a.wakeup_watermark = (uint32_t)((uint64_t)e->ring_pages * (uint64_t)page / 4);
	int fd = sys_perf_event_open(&a, pid, cpu, flags);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && !e->kernel_excluded) {
		/* kernel samples not permitted: user space only, from now on */
		e->attr.exclude_kernel = 1;
		e->attr.exclude_hv = 1;
		e->attr.exclude_callchain_kernel = 1;
		a.exclude_kernel = a.exclude_hv = a.exclude_callchain_kernel = 1;
		fd = sys_perf_event_open(&a, pid, cpu, flags);
		if (fd >= 0)
			e->kernel_excluded = true;
	}
	if (fd < 0)
		return open_error(errno, pid, cpu, flags, err);
	e->fds[e->n_fds++] = fd;
	for (size_t i = 0; i < e->n_rings; i++) {
		if (e->rings[i].cpu != cpu)
			continue;
		if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, e->rings[i].fd) < 0)
			return ember_errorf(err, errno, "PERF_EVENT_IOC_SET_OUTPUT: %s",
					    strerror(errno));
		return 0;
	}
	return map_ring(e, fd, cpu, err);
}

int evset_enable(evset *e, ember_error *err)
{
	for (size_t i = 0; i < e->n_fds; i++)
		if (ioctl(e->fds[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
			return ember_errorf(err, errno, "PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
	return 0;
}

void evset_disable(evset *e)
{
	for (size_t i = 0; i < e->n_fds; i++)
		ioctl(e->fds[i], PERF_EVENT_IOC_DISABLE, 0);
}

void evset_close(evset *e)
{
	for (size_t i = 0; i < e->n_rings; i++) {
		perf_ring_fini(&e->rings[i].ring);
		munmap(e->rings[i].base, e->rings[i].len);
	}
	for (size_t i = 0; i < e->n_fds; i++)
		close(e->fds[i]);
	free(e->rings);
	free(e->fds);
	memset(e, 0, sizeof *e);
}

int events_online_cpus(int **cpus, size_t *n, ember_error *err)
{
	char buf[4096];
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	if (!f || !fgets(buf, sizeof buf, f)) {
		if (f)
			fclose(f);
		/* fall back to 0..N-1 */
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(buf, sizeof buf, "0-%ld", c > 0 ? c - 1 : 0);
	} else {
		fclose(f);
	}
	int *v = NULL;
	size_t k = 0, cap = 0;
	for (char *p = buf; *p && *p != '\n';) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p)
			break;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (long c = lo; c <= hi; c++) {
			if (!ember_grow((void **)&v, &cap, k + 1, sizeof *v)) {
				free(v);
				return ember_errorf(err, ENOMEM, "out of memory");
			}
			v[k++] = (int)c;
		}
		p = *end == ',' ? end + 1 : end;
	}
	if (!k) {
		free(v);
		return ember_errorf(err, ENODEV, "no online CPUs in /sys/devices/system/cpu/online");
	}
	*cpus = v;
	*n = k;
	return 0;
}

long events_sysctl(const char *name)
{
	char path[128], buf[64];
	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fgets(buf, sizeof buf, f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}
