/* fuzz/fuzz_ksyms.c — libFuzzer target for the kernel symbol tables: the
 * input is read both as a /proc/kallsyms text (symbolizer/kallsyms.c) and
 * as a per-boot cache file (symbolizer/kcache.c; the harness writes this
 * boot's id into its header so the checks past it are reached). Whatever
 * loads must answer lookups with names that are C strings, and a cache
 * must only ever answer inside its [lo, hi). A kallsyms text that has
 * _stext and _etext is also stored as a cache and loaded back: the cache
 * must then name every address of its range as the full table does. Runs
 * as root (the cache is root's). */
#include "../symbolizer/addrmap.h"
#include "../symbolizer/kcache.h"

#include <assert.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static char dir[] = "/tmp/ember-fuzz-ksyms-XXXXXX";
static char boot_id[40];

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ksyms: could not remove %s\n", dir);
}

static void setup(void)
{
	if (dir[sizeof dir - 2] != 'X')
		return;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, boot_id, sizeof boot_id - 1);
		close(fd);
		if (n > 0)
			boot_id[strcspn(boot_id, "\n")] = '\0';
	}
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (len && write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void probe(const addrmap *m, uint64_t a)
{
	const addrmap_entry *e = addrmap_find(m, a);
	if (e) {
		assert(a >= e->lo && a < e->hi);
		(void)strlen(e->name);
		if (e->module)
			(void)strlen(e->module);
	}
}

static void probe_cache(const kcache *kc, uint64_t a)
{
	addrmap_entry e;
	if (kcache_covers(kc, a) && kcache_find(kc, a, &e)) {
		assert(a >= e.lo && a < e.hi && e.lo >= kc->lo && e.lo < kc->hi && !e.module);
		(void)strlen(e.name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	setup();
	char path[128];
	snprintf(path, sizeof path, "%s/kallsyms", dir);
	write_file(path, data, len);

	/* as /proc/kallsyms text */
	addrmap m;
	if (kallsyms_load(path, &m, NULL) == 0) {
		for (size_t i = 0; i < m.n && i < 64; i++) {
			probe(&m, m.e[i].lo);
			probe(&m, m.e[i].hi - 1);
		}
		probe(&m, 0);
		probe(&m, UINT64_MAX);
		/* stored and loaded back, it answers as the full table */
		char rt[160];
		snprintf(rt, sizeof rt, "%s/rt", dir);
		kcache back;
		if (kcache_store(rt, &m) == 0 && kcache_load(rt, &back) == 1) {
			for (size_t i = 0; i < m.n; i++) {
				uint64_t a = m.e[i].lo;
				if (!kcache_covers(&back, a))
					continue;
				const addrmap_entry *x = addrmap_find(&m, a);
				addrmap_entry y;
				bool found = kcache_find(&back, a, &y);
				assert(x && found);
				assert(strcmp(x->name, y.name) == 0 && x->hi == y.hi);
			}
			kcache_free(&back);
		}
		addrmap_free(&m);
	}

	/* as a cache file of this boot */
	if (len >= 56) {
		uint8_t *copy = malloc(len);
		if (!copy)
			return 0;
		memcpy(copy, data, len);
		memcpy(copy + 16, boot_id, sizeof boot_id);
		write_file(path, copy, len);
		free(copy);
	}
	kcache kc;
	if (kcache_load(dir, &kc) == 1) {
		assert(kc.lo < kc.hi && kc.n > 0);
		uint64_t step = (kc.hi - kc.lo) / 64 + 1;
		for (uint64_t a = kc.lo; a < kc.hi && a >= kc.lo; a += step)
			probe_cache(&kc, a);
		probe_cache(&kc, kc.hi - 1);
		kcache_free(&kc);
	}
	return 0;
}
