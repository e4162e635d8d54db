/* bench/unwind_rate.c — the DWARF unwinder's rate, in samples per second
 * per core, over real captured stacks.
 *
 * It runs COMMAND under its own small perf_event_open reader (cpu-clock,
 * PERF_SAMPLE_REGS_USER with ember_unwind_regs_mask() and a STACK_SIZE user
 * stack copy, exactly what `--call-graph dwarf` asks the kernel for), keeps
 * up to MAX samples in memory with /proc/PID/maps read while the command
 * runs, stops the command, then unwinds every sample REPEAT times with
 * ember_unwinder_unwind and reports the thread CPU time it took. The first
 * pass (binaries loaded, libunwind caches cold) is reported separately.
 *
 * usage: unwind_rate [-n MAX] [-r REPEAT] [-s STACK_SIZE] -- COMMAND [ARGS...]
 * (UNWIND_RATE_DEBUG=1 prints every sample that did not unwind completely)
 * output: one line of key=value pairs (samples, frames_mean, complete_pct,
 *   reasons, cold_us, samples_per_sec_core, kernel_pct: the share of the
 *   unwinding time spent in the kernel: libunwind's rt_sigprocmask pair per
 *   frame, until profiler/unwind_dwarf.c elided it; a few % since).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unwind.h"

typedef struct sample {
	int32_t pid;
	uint64_t regs[32];
	size_t n_regs;
	uint8_t *stack;
	size_t stack_size;
} sample;

typedef struct bmap {
	uint64_t start, end, pgoff;
	char *path;
} bmap;

static bmap *maps;
static size_t n_maps;

static void read_maps(pid_t pid)
{
	char fn[64], line[4096];
	snprintf(fn, sizeof fn, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(fn, "r");
	if (!f)
		return;
	for (size_t i = 0; i < n_maps; i++)
		free(maps[i].path);
	n_maps = 0;
	size_t cap = 0;
	while (fgets(line, sizeof line, f)) {
		uint64_t s, e, off;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s%n", &s, &e, perms,
		           &off, &pos) < 4 ||
		    perms[2] != 'x')
			continue;
		char *p = line + pos;
		while (*p == ' ')
			p++;
		p[strcspn(p, "\n")] = 0;
		if (n_maps == cap) {
			cap = cap ? cap * 2 : 64;
			maps = realloc(maps, cap * sizeof *maps);
			if (!maps)
				abort();
		}
		maps[n_maps++] = (bmap){s, e, off, strdup(p)};
	}
	fclose(f);
}

static int find_mapping(void *ctx, int32_t pid, uint64_t addr, ember_unwind_mapping *out)
{
	(void)ctx;
	(void)pid;
	for (size_t i = 0; i < n_maps; i++)
		if (addr >= maps[i].start && addr < maps[i].end) {
			*out = (ember_unwind_mapping){maps[i].start, maps[i].end, maps[i].pgoff,
			                              maps[i].path, ""};
			return 0;
		}
	return -ENOENT;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Copies len bytes at ring offset off (wrapping) out of the data area. */
static void ring_copy(const uint8_t *data, size_t data_size, uint64_t off, void *dst, size_t len)
{
	size_t at = (size_t)(off & (data_size - 1));
	size_t first = len < data_size - at ? len : data_size - at;
	memcpy(dst, data + at, first);
	memcpy((uint8_t *)dst + first, data, len - first);
}

int main(int argc, char **argv)
{
	size_t max = 2000, repeat = 20;
	uint32_t stack_size = 32768;
	int opt;
	while ((opt = getopt(argc, argv, "n:r:s:")) != -1) {
		if (opt == 'n')
			max = (size_t)atol(optarg);
		else if (opt == 'r')
			repeat = (size_t)atol(optarg);
		else if (opt == 's')
			stack_size = (uint32_t)atol(optarg);
		else
			return 2;
	}
	if (optind >= argc || max == 0 || repeat == 0) {
		fprintf(stderr,
		        "usage: unwind_rate [-n MAX] [-r REPEAT] [-s STACK_SIZE] -- COMMAND...\n");
		return 2;
	}
	int go[2];
	if (pipe(go) != 0)
		return 1;
	pid_t child = fork();
	if (child == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	close(go[0]);
	uint64_t mask = ember_unwind_regs_mask();
	struct perf_event_attr a = {0};
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.freq = 1;
	a.sample_freq = 999;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	a.sample_regs_user = mask;
	a.sample_stack_user = stack_size;
	a.disabled = 1;
	a.enable_on_exec = 1;
	a.inherit = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	/* inherited per-task events can only be mmapped per CPU */
	int n_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n_cpus < 1 || n_cpus > 256)
		n_cpus = 1;
	int fds[256];
	uint8_t *rings[256];
	size_t page = (size_t)sysconf(_SC_PAGESIZE), data_size = 512 * page;
	for (int c = 0; c < n_cpus; c++) {
		fds[c] = (int)syscall(SYS_perf_event_open, &a, child, c, -1, PERF_FLAG_FD_CLOEXEC);
		if (fds[c] < 0) {
			perror("perf_event_open");
			kill(child, SIGKILL);
			return 1;
		}
		rings[c] =
		    mmap(NULL, page + data_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[c], 0);
		if (rings[c] == MAP_FAILED) {
			perror("mmap");
			kill(child, SIGKILL);
			return 1;
		}
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	close(go[1]);

	sample *samples = calloc(max, sizeof *samples);
	uint8_t *rec = malloc(1 << 17);
	size_t n = 0;
	size_t n_regs = (size_t)__builtin_popcountll(mask);
	struct timespec nap = {0, 2000000};
	int maps_read = 0;
	while (n < max) {
		int st;
		if (waitpid(child, &st, WNOHANG) == child) {
			child = 0;
			break;
		}
		for (int c = 0; c < n_cpus; c++) {
			struct perf_event_mmap_page *meta = (void *)rings[c];
			const uint8_t *data = rings[c] + page;
			uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
			uint64_t tail = meta->data_tail;
			while (tail < head && n < max) {
				struct perf_event_header h;
				ring_copy(data, data_size, tail, &h, sizeof h);
				ring_copy(data, data_size, tail, rec, h.size);
				tail += h.size;
				if (h.type != PERF_RECORD_SAMPLE)
					continue;
				const uint8_t *p = rec + sizeof h;
				sample *s = &samples[n];
				memcpy(&s->pid, p, 4);
				p += 8;
				uint64_t abi;
				memcpy(&abi, p, 8);
				p += 8;
				if (!abi)
					continue;
				memcpy(s->regs, p, n_regs * 8);
				s->n_regs = n_regs;
				p += n_regs * 8;
				uint64_t size, dyn;
				memcpy(&size, p, 8);
				p += 8;
				memcpy(&dyn, p + size, 8);
				s->stack_size = dyn < size ? dyn : size;
				s->stack = malloc(s->stack_size ? s->stack_size : 1);
				memcpy(s->stack, p, s->stack_size);
				n++;
			}
			__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
		}
		if (n > 0 && (!maps_read || n % 256 == 0)) {
			read_maps(samples[0].pid);
			maps_read = 1;
		}
		nanosleep(&nap, NULL);
	}
	if (child > 0) {
		read_maps(child);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	for (int c = 0; c < n_cpus; c++) {
		munmap(rings[c], page + data_size);
		close(fds[c]);
	}
	if (n == 0 || n_maps == 0) {
		fprintf(stderr, "unwind_rate: no samples captured\n");
		return 1;
	}

	ember_unwinder *u;
	ember_error err;
	ember_unwind_callbacks cb = {NULL, find_mapping};
	if (ember_unwinder_new(&u, &cb, &err) != 0) {
		fprintf(stderr, "unwind_rate: %s\n", err.msg);
		return 1;
	}
	static uint64_t ips[512];
	uint64_t reasons[EMBER_UNWIND_N_REASONS + 1] = {0}, frames = 0;
	ember_unwind_reason why;
	double t0 = thread_cpu();
	for (size_t i = 0; i < n; i++) {
		int k =
		    ember_unwinder_unwind(u, samples[i].pid, samples[i].regs, samples[i].n_regs,
		                          samples[i].stack, samples[i].stack_size, ips, 512, &why);
		frames += (uint64_t)(k > 0 ? k : 0);
		reasons[why]++;
		if (getenv("UNWIND_RATE_DEBUG") && why != EMBER_UNWIND_N_REASONS) {
			fprintf(stderr, "sample %zu: why=%d n=%d sp=%#" PRIx64 " size=%zu\n", i, (int)why, k,
				samples[i].regs[7], samples[i].stack_size);
			for (int j = 0; j < k; j++) {
				const char *path = "?";
				uint64_t off = 0;
				for (size_t m = 0; m < n_maps; m++)
					if (ips[j] >= maps[m].start && ips[j] < maps[m].end) {
						path = maps[m].path;
						off = ips[j] - maps[m].start + maps[m].pgoff;
					}
				fprintf(stderr, "  #%d %#" PRIx64 " %s+%#" PRIx64 "\n", j, ips[j], path, off);
			}
		}
	}
	double cold = thread_cpu() - t0;
	struct rusage ru0;
	getrusage(RUSAGE_THREAD, &ru0);
	t0 = thread_cpu();
	for (size_t r = 0; r < repeat; r++)
		for (size_t i = 0; i < n; i++)
			ember_unwinder_unwind(u, samples[i].pid, samples[i].regs, samples[i].n_regs,
			                      samples[i].stack, samples[i].stack_size, ips, 512,
			                      &why);
	double warm = thread_cpu() - t0;
	struct rusage ru1;
	getrusage(RUSAGE_THREAD, &ru1);
	double sys = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	printf("samples=%zu frames_mean=%.1f complete_pct=%.1f no_info=%" PRIu64
	       " too_small=%" PRIu64 " bad_memory=%" PRIu64 " no_mapping=%" PRIu64 " other=%" PRIu64
	       " cold_us_per_sample=%.1f us_per_sample=%.2f"
	       " samples_per_sec_core=%.0f kernel_pct=%.0f\n",
	       n, (double)frames / (double)n,
	       100.0 * (double)reasons[EMBER_UNWIND_N_REASONS] / (double)n,
	       reasons[EMBER_UNWIND_NO_INFO], reasons[EMBER_UNWIND_STACK_TOO_SMALL],
	       reasons[EMBER_UNWIND_BAD_MEMORY], reasons[EMBER_UNWIND_NO_MAPPING],
	       reasons[EMBER_UNWIND_OTHER], cold * 1e6 / (double)n,
	       warm * 1e6 / (double)(n * repeat), (double)(n * repeat) / warm, 100.0 * sys / warm);
	ember_unwinder_free(u);
	for (size_t i = 0; i < n; i++)
		free(samples[i].stack);
	free(samples);
	free(rec);
	for (size_t i = 0; i < n_maps; i++)
		free(maps[i].path);
	free(maps);
	return 0;
}
