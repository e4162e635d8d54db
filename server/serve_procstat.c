/* server/serve_procstat.c — the usual process_* metrics of the agent itself,
 * named as Prometheus's client libraries name them: CPU seconds, resident
 * and virtual memory, start time, open and max file descriptors.
 *
 * Owns: reading /proc/self. Must never: fail a scrape (a missing file just
 * leaves its metric out).
 */
#include "server/serve.h"

#include <dirent.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static bool read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n > 0;
}

static double boot_time(void)
{
	char buf[8192];
	if (!read_text("/proc/stat", buf, sizeof buf))
		return 0;
	const char *p = strstr(buf, "\nbtime ");
	return p ? strtod(p + 7, NULL) : 0;
}

static void one(ember_buf *b, ember_expo_format f, const char *name, ember_metric_type t,
		const char *help, double v)
{
	ember_expo_family(b, f, name, t, help);
	ember_expo_sample(b, f, name, t, NULL, v);
}

void serve_process_metrics(ember_buf *out, ember_expo_format f)
{
	double tick = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
	char buf[1024];
	if (read_text("/proc/self/stat", buf, sizeof buf)) {
		/* fields after "(comm)": comm may hold spaces and parens */
		const char *p = strrchr(buf, ')');
		unsigned long long utime, stime, start, vsize;
		long long rss;
		if (p && sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
				"%*d %*d %*d %*d %llu %llu %lld",
				&utime, &stime, &start, &vsize, &rss) == 5) {
			one(out, f, "process_cpu_seconds", EMBER_COUNTER,
			    "Total user and system CPU time spent in seconds.",
			    (double)(utime + stime) / tick);
			one(out, f, "process_resident_memory_bytes", EMBER_GAUGE,
			    "Resident memory size in bytes.", (double)rss * page);
			one(out, f, "process_virtual_memory_bytes", EMBER_GAUGE,
			    "Virtual memory size in bytes.", (double)vsize);
			double bt = boot_time();
			if (bt > 0)
				one(out, f, "process_start_time_seconds", EMBER_GAUGE,
				    "Start time of the process since unix epoch in seconds.",
				    bt + (double)start / tick);
		}
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		long n = 0;
		struct dirent *de;
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		one(out, f, "process_open_fds", EMBER_GAUGE, "Number of open file descriptors.",
		    (double)(n - 1));   /* minus the directory's own fd */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		one(out, f, "process_max_fds", EMBER_GAUGE,
		    "Maximum number of open file descriptors.", (double)rl.rlim_cur);
}
