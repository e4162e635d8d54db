/* symbolizer/symbolizer.c — walks a RAW profile and fills in functions and
 * lines (ember/symbolize.h). Per mapping, its locations are looked up in one
 * batch against one index: a file's elf_index (from the cache, by build id),
 * the kernel's kallsyms, the vDSO, or the perf map of the process that owns
 * an anonymous mapping (its "pid" sample label).
 *
 * Addresses: a location's address is in the process's address space; the
 * file offset is address - mapping start + mapping offset, and the PT_LOAD
 * segment holding that offset gives the link-time address the index speaks
 * (this covers PIE, non-PIE and shared libraries alike).
 *
 * Nothing is invented: a location nobody can name keeps its address only and
 * is counted. Failures are warned once per binary and counted per mapping.
 * Locations that already carry lines are left alone, so running twice is a
 * no-op. Must never: know about perf, or write files.
 */
#include "ember/symbolize.h"
#include "ember/buildid.h"
#include "ember/clock.h"

#include "addrmap.h"
#include "kcache.h"
#include "debuginfo.h"
#include "demangle.h"
#include "elf_index.h"
#include "symcache.h"

#include <errno.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_FRAMES = 64 };

/* A process's JIT symbols: its perf map and its jitdump. Looked at again
 * (stat) once per run, reread when either file changed: an agent's
 * symbolizer lives long and JITs keep writing. */
typedef struct file_sig {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} file_sig;

typedef struct perfmap_slot {
	int64_t pid;
	uint64_t checked_run; /* the run that last looked at the files */
	file_sig sig[2];      /* perf map, jitdump */
	addrmap map[2];
	bool warned;          /* "no JIT symbols" said once */
} perfmap_slot;

struct ember_symbolizer {
	bool demangle, quiet;
	char **debug_dirs;
	size_t n_debug_dirs;
	char *kallsyms_path;
	char *perfmap_dir;
	ember_symbolizer_callbacks cb;
	bool has_cb;
	debuginfo_search search;
	symcache *cache;
	ember_symbolizer_stats stats;

	int kallsyms_state; /* 0 not tried, 1 loaded, <0 failed */
	addrmap kallsyms;
	char *cache_dir;  /* NULL: no kernel symbol cache */
	int kcache_state; /* 0 not tried, 1 loaded, -1 none */
	kcache kcore;     /* the core kernel's symbols from the cache */
	perfmap_slot *perfmaps;
	size_t n_perfmaps;
	uint64_t run; /* ember_symbolizer_run calls so far */

	/* addr2line's last file, to skip the cache lookup per address */
	char *last_path;
	symcache_entry *last_entry;
	uint64_t last_evictions; /* last_entry is valid while this holds */

	char vdso_id[129]; /* build id of our vDSO image */
	bool vdso_warned;

	ember_frame frames[MAX_FRAMES];
};

static void warn(const ember_symbolizer *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(const ember_symbolizer *s, const char *fmt, ...)
{
	if (s->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("ember: symbolize: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int ember_symbolizer_new(ember_symbolizer **out, const ember_symbolizer_opts *opts,
                         ember_error *err)
{
	static const ember_symbolizer_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return ember_errorf(err, EINVAL, "libelf: %s", elf_errmsg(-1));
	ember_symbolizer *s = calloc(1, sizeof *s);
	if (!s)
		return ember_errorf(err, ENOMEM, "out of memory");
	s->demangle = !opts->no_demangle;
	s->quiet = opts->quiet;
	s->cache = symcache_new(opts->max_binaries ? opts->max_binaries : 512);
	bool ok = s->cache != NULL;
	if (opts->n_debug_dirs) {
		s->debug_dirs = calloc(opts->n_debug_dirs, sizeof *s->debug_dirs);
		ok = ok && s->debug_dirs;
		for (size_t i = 0; ok && i < opts->n_debug_dirs; i++) {
			s->debug_dirs[i] = strdup(opts->debug_dirs[i]);
			ok = s->debug_dirs[i] != NULL;
			s->n_debug_dirs = i + 1;
		}
	}
	s->kallsyms_path = strdup(opts->kallsyms_path ? opts->kallsyms_path : "/proc/kallsyms");
	if (opts->cache_dir && !opts->kallsyms_path) {
		s->cache_dir = strdup(opts->cache_dir);
		ok = ok && s->cache_dir;
	}
	s->perfmap_dir = strdup(opts->perfmap_dir ? opts->perfmap_dir : "/tmp");
	ok = ok && s->kallsyms_path && s->perfmap_dir;
	if (opts->callbacks) {
		s->cb = *opts->callbacks;
		s->has_cb = true;
	}
	if (!ok) {
		ember_symbolizer_free(s);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	s->search = (debuginfo_search){(const char *const *)s->debug_dirs, s->n_debug_dirs,
	                               "/usr/lib/debug", s->has_cb ? &s->cb : NULL};
	*out = s;
	return 0;
}

void ember_symbolizer_free(ember_symbolizer *s)
{
	if (!s)
		return;
	symcache_free(s->cache);
	for (size_t i = 0; i < s->n_debug_dirs; i++)
		free(s->debug_dirs[i]);
	free(s->debug_dirs);
	free(s->kallsyms_path);
	free(s->perfmap_dir);
	addrmap_free(&s->kallsyms);
	free(s->cache_dir);
	kcache_free(&s->kcore);
	for (size_t i = 0; i < s->n_perfmaps; i++)
		for (int k = 0; k < 2; k++)
			addrmap_free(&s->perfmaps[i].map[k]);
	free(s->perfmaps);
	free(s->last_path);
	free(s);
}

void ember_symbolizer_get_stats(const ember_symbolizer *s, ember_symbolizer_stats *out)
{
	*out = s->stats;
}

/* ---- finding indexes --------------------------------------------------- */

/* Warns once per entry when its DWARF turned out (partly) unreadable: at
 * indexing, or later when a lazily indexed CU is read. */
static void warn_dwarf_error(ember_symbolizer *s, symcache_entry *e, const char *what)
{
	elf_index_info info;
	elf_index_get_info(e->ix, &info);
	if (info.dwarf_error && !e->dwarf_warned) {
		e->dwarf_warned = true;
		s->stats.corrupt++;
		warn(s, "%s: DWARF is partly unreadable; some addresses stay unsymbolized", what);
	}
}

/* Indexes what debuginfo_find found into the entry; counts and warns. */
static void fill_entry(ember_symbolizer *s, symcache_entry *e, const char *what, const char *path,
                       const char *build_id, int64_t pid, unsigned build_flags)
{
	ember_error err = {0};
	debuginfo_found f;
	int r = debuginfo_find(&s->search, path, build_id, pid, &f, &err);
	s->stats.buildid_mismatch += f.refused;
	if (f.refused && !s->quiet)
		warn(s, "%s: refused %u file(s) whose build id is not %s", what, f.refused,
		     f.build_id[0] ? f.build_id : "the binary's");
	if (r == 0)
		r = elf_index_new(&e->ix, f.bin, f.dbg, build_flags, &err);
	if (r < 0) {
		e->err = r;
		snprintf(e->msg, sizeof e->msg, "%s", err.msg);
		if (r == -EINVAL)
			s->stats.corrupt++;
		warn(s, "%s: %s", what, err.msg);
		return;
	}
	s->stats.binaries++;
	warn_dwarf_error(s, e, what);
}

static symcache_entry *entry_for(ember_symbolizer *s, const char *key, const char *path,
                                 const char *build_id, int64_t pid)
{
	symcache_entry *e = symcache_get(s->cache, key);
	if (e)
		return e;
	e = symcache_put(s->cache, key);
	if (!e)
		return NULL;
	/* profiles ask few addresses of many binaries: index per CU on demand */
	fill_entry(s, e, path, path, build_id, pid, EI_BUILD_LAZY);
	return e;
}

/* The cache key of a file mapping: its build id, else path, size, mtime. */
static char *file_key(const char *path, const char *build_id)
{
	char *key = NULL;
	struct stat st;
	int n;
	if (build_id[0])
		n = asprintf(&key, "b:%s", build_id);
	else if (stat(path, &st) == 0)
		n = asprintf(&key, "p:%s:%lld:%lld.%09ld", path, (long long)st.st_size,
		             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	else
		n = asprintf(&key, "p:%s", path);
	return n < 0 ? NULL : key;
}

/* ---- one mapping ------------------------------------------------------- */

typedef struct batch {
	ember_profile *p;
	ember_mapping *m;
	const uint64_t *locs; /* location ids needing lines */
	size_t n;
	const int64_t *loc_pid; /* by location index */
	bool any_fn, any_inline;
} batch;

/* Adds frames (innermost first) as lines of location id; 0 or -ENOMEM. */
static int add_frames(batch *b, uint64_t loc_id, const ember_frame *fr, size_t n)
{
	ember_profile *p = b->p;
	for (size_t i = 0; i < n; i++) {
		const char *fn = fr[i].function ? fr[i].function : "??";
		const char *sys = fr[i].linkage_name ? fr[i].linkage_name : fn;
		const char *file = fr[i].decl_file ? fr[i].decl_file : fr[i].file;
		int64_t name = ember_profile_intern(p, fn);
		int64_t sysn = ember_profile_intern(p, sys);
		int64_t filen = ember_profile_intern(p, file ? file : "");
		if (name < 0 || sysn < 0 || filen < 0)
			return -ENOMEM;
		uint64_t fid =
		    ember_profile_intern_function(p, name, sysn, filen, fr[i].start_line);
		if (!fid || ember_profile_location_add_line(p, loc_id, fid, fr[i].line) < 0)
			return -ENOMEM;
		b->any_fn = true;
	}
	return 0;
}

/* Looks up every location of the batch in one binary's index. */
static int lookup_batch(ember_symbolizer *s, batch *b, elf_index *ix)
{
	unsigned flags = s->demangle ? EI_DEMANGLE : 0;
	for (size_t i = 0; i < b->n; i++) {
		ember_location *loc = ember_profile_location(b->p, b->locs[i]);
		uint64_t va;
		if (!elf_index_map_address(ix, loc->address, b->m->memory_start, b->m->file_offset,
		                           &va))
			continue;
		size_t n = elf_index_lookup(ix, va, flags, s->frames, MAX_FRAMES);
		if (n && s->frames[0].function && add_frames(b, loc->id, s->frames, n) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int symbolize_file(ember_symbolizer *s, batch *b)
{
	const char *name = ember_profile_str(b->p, b->m->filename);
	const char *build_id = ember_profile_str(b->p, b->m->build_id);
	/* "/path (deleted)": the kernel's name for a replaced file; the path
	 * and the build id may still find it or its debug file. */
	static const char deleted[] = " (deleted)";
	size_t len = strlen(name), dl = sizeof deleted - 1;
	char *path = len > dl && strcmp(name + len - dl, deleted) == 0 ? strndup(name, len - dl)
	                                                               : strdup(name);
	char *key = path ? file_key(path, build_id) : NULL;
	if (!key) {
		free(path);
		return -ENOMEM;
	}
	int64_t pid = b->n ? b->loc_pid[b->locs[0] - 1] : 0;
	symcache_entry *e = entry_for(s, key, path, build_id, pid);
	free(key);
	free(path);
	if (!e)
		return -ENOMEM;
	if (!e->ix) {
		if (e->err != -EINVAL)
			s->stats.missing++;
		return 0;
	}
	if (lookup_batch(s, b, e->ix) < 0)
		return -ENOMEM;
	warn_dwarf_error(s, e, name);
	elf_index_info info; /* after the lookups: lazily indexed CUs count */
	elf_index_get_info(e->ix, &info);
	b->any_inline = b->any_fn && (info.has_dwarf || info.go_inline);
	return 0;
}

/* A symbol from a table (kernel, perf map) as a one-line location. */
static int add_named(ember_symbolizer *s, batch *b, uint64_t loc_id, const char *name,
                     const char *file)
{
	char *dm = s->demangle ? sym_demangle(name) : NULL;
	ember_frame f = {.function = dm ? dm : name, .linkage_name = name, .decl_file = file};
	int r = add_frames(b, loc_id, &f, 1);
	free(dm);
	return r;
}

/* /proc/kallsyms, read once; with a cache directory, its core part is
 * then kept there for the next runs of this boot. */
static bool load_kallsyms(ember_symbolizer *s)
{
	if (s->kallsyms_state == 0) {
		ember_error err = {0};
		int r = kallsyms_load(s->kallsyms_path, &s->kallsyms, &err);
		s->kallsyms_state = r < 0 ? r : 1;
		s->stats.kallsyms_reads++;
		if (r < 0)
			warn(s, "[kernel.kallsyms]: %s", err.msg);
		else if (s->cache_dir && s->kcache_state != 1)
			(void)kcache_store(s->cache_dir, &s->kallsyms); /* best effort */
	}
	return s->kallsyms_state > 0;
}

/* The kernel symbol at a, into *out: from the cache when it covers a, else
 * from /proc/kallsyms. False when none; *failed is set when kallsyms was
 * needed and unreadable. */
static bool kernel_symbol(ember_symbolizer *s, uint64_t a, addrmap_entry *out, bool *failed)
{
	if (s->cache_dir && s->kcache_state == 0)
		s->kcache_state = kcache_load(s->cache_dir, &s->kcore) == 1 ? 1 : -1;
	if (s->kcache_state == 1 && kcache_covers(&s->kcore, a))
		return kcache_find(&s->kcore, a, out);
	if (!load_kallsyms(s)) {
		*failed = true;
		return false;
	}
	const addrmap_entry *e = addrmap_find(&s->kallsyms, a);
	if (e)
		*out = *e;
	return e != NULL;
}

static int symbolize_kernel(ember_symbolizer *s, batch *b)
{
	bool failed = false;
	for (size_t i = 0; i < b->n; i++) {
		ember_location *loc = ember_profile_location(b->p, b->locs[i]);
		addrmap_entry e;
		if (!kernel_symbol(s, loc->address, &e, &failed))
			continue;
		char mod[256];
		if (e.module)
			snprintf(mod, sizeof mod, "[%s]", e.module);
		if (add_named(s, b, loc->id, e.name, e.module ? mod : "[kernel.kallsyms]") < 0)
			return -ENOMEM;
	}
	if (failed)
		s->stats.missing++;
	return 0;
}

const char *ember_default_cache_dir(char *buf, size_t len)
{
	const char *env = getenv("EMBER_CACHE_DIR");
	int n;
	if (env)
		n = *env ? snprintf(buf, len, "%s", env) : -1;
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/cache/ember");
	else
		n = -1; /* the one cache there is, the kernel's, is root's (kcache.c) */
	return n > 0 && (size_t)n < len ? buf : NULL;
}

static file_sig sig_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return (file_sig){0};
	return (file_sig){true, st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

static bool sig_equal(const file_sig *a, const file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The JIT symbol tables of pid (perf map, jitdump), read or reread as their
 * files changed; NULL when out of memory. A process with neither file is
 * counted missing and said once. */
static perfmap_slot *perfmap_for(ember_symbolizer *s, int64_t pid)
{
	perfmap_slot *slot = NULL;
	for (size_t i = 0; i < s->n_perfmaps && !slot; i++)
		if (s->perfmaps[i].pid == pid)
			slot = &s->perfmaps[i];
	if (!slot) {
		perfmap_slot *ns = realloc(s->perfmaps, (s->n_perfmaps + 1) * sizeof *ns);
		if (!ns)
			return NULL;
		s->perfmaps = ns;
		slot = &s->perfmaps[s->n_perfmaps++];
		*slot = (perfmap_slot){.pid = pid};
	}
	if (slot->checked_run == s->run)
		return slot;
	slot->checked_run = s->run;
	static const char *const fmt[2] = {"%s/perf-%lld.map", "%s/jit-%lld.dump"};
	static int (*const load[2])(const char *, addrmap *, ember_error *) = {perfmap_load,
	                                                                     jitdump_load};
	for (int k = 0; k < 2; k++) {
		char path[4096];
		snprintf(path, sizeof path, fmt[k], s->perfmap_dir, (long long)pid);
		file_sig now = sig_of(path);
		if (sig_equal(&now, &slot->sig[k]))
			continue;
		slot->sig[k] = now;
		addrmap_free(&slot->map[k]);
		ember_error err = {0};
		if (now.exists && load[k](path, &slot->map[k], &err) < 0) {
			if (err.code == ENOMEM)
				return NULL;
			warn(s, "%s", err.msg); /* once per change of the file */
		}
	}
	if (!slot->sig[0].exists && !slot->sig[1].exists && !slot->warned) {
		slot->warned = true;
		s->stats.missing++;
		warn(s, "//anon of pid %lld: no %s/perf-%lld.map or jit-%lld.dump: its JIT code "
		        "shows as [jit]",
		     (long long)pid, s->perfmap_dir, (long long)pid, (long long)pid);
	}
	return slot;
}

static int symbolize_anon(ember_symbolizer *s, batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		ember_location *loc = ember_profile_location(b->p, b->locs[i]);
		int64_t pid = b->loc_pid[loc->id - 1];
		perfmap_slot *slot = pid > 0 ? perfmap_for(s, pid) : NULL;
		if (pid > 0 && !slot)
			return -ENOMEM;
		const addrmap_entry *e = NULL;
		for (int k = 1; slot && k >= 0 && !e; k--) /* jitdump, then perf map */
			e = addrmap_find(&slot->map[k], loc->address);
		if (e && add_named(s, b, loc->id, e->name, "") < 0)
			return -ENOMEM;
		/* executable anonymous memory with no JIT symbols at all: JIT
		 * code nobody named, one [jit] function, not one per address */
		if (!e && slot && !slot->sig[0].exists && !slot->sig[1].exists &&
		    add_named(s, b, loc->id, "[jit]", "") < 0)
			return -ENOMEM;
	}
	return 0;
}

static int symbolize_vdso(ember_symbolizer *s, batch *b)
{
	symcache_entry *e = symcache_get(s->cache, "vdso");
	if (!e) {
		if (!(e = symcache_put(s->cache, "vdso")))
			return -ENOMEM;
		ember_error err = {0};
		ei_file img;
		int r = vdso_open(&img, &err);
		if (r == 0) {
			if (ember_buildid_of_elf(img.elf, s->vdso_id) < 0)
				s->vdso_id[0] = '\0';
			r = elf_index_new(&e->ix, img, (ei_file){-1, NULL, NULL}, 0, &err);
		}
		if (r < 0) {
			e->err = r;
			snprintf(e->msg, sizeof e->msg, "%s", err.msg);
			warn(s, "%s", err.msg);
		}
	}
	const char *want = ember_profile_str(b->p, b->m->build_id);
	if (e->ix && want[0] && s->vdso_id[0] && strcmp(want, s->vdso_id) != 0) {
		/* Recorded on another kernel: ours is not that image. */
		s->stats.buildid_mismatch++;
		s->stats.missing++;
		if (!s->vdso_warned)
			warn(s,
			     "[vdso]: the profile's vDSO (build id %s) is not this kernel's (%s)",
			     want, s->vdso_id);
		s->vdso_warned = true;
		return 0;
	}
	if (!e->ix) {
		s->stats.missing++;
		return 0;
	}
	return lookup_batch(s, b, e->ix);
}

/* ---- the profile ------------------------------------------------------- */

static bool is_kernel(const char *name)
{
	return strcmp(name, "[kernel.kallsyms]") == 0 ||
	       strncmp(name, "[kernel.kallsyms]", 17) == 0;
}

static bool is_anon(const char *name)
{
	return strcmp(name, "//anon") == 0 || strncmp(name, "[anon:", 6) == 0 ||
	       strncmp(name, "/memfd:", 7) == 0 || strcmp(name, "[anon]") == 0;
}

static double now_seconds(void)
{
	return (double)ember_mono_ns() / 1e9;
}

/* Each mapping's has_* flags, honestly: a flag holds only when every
 * location of the mapping has what it claims (a function on each of its
 * lines, a file, a line number), so `go tool pprof` resymbolizes any mapping
 * ember could not fully answer. has_inline_frames also needs a source of
 * inline information: DWARF or Go's inline trees, this run (inline_source,
 * by mapping index) or an earlier one (the flag already set). */
static int set_mapping_flags(ember_profile *p, const bool *inline_source)
{
	size_t nm = p->n_mappings;
	enum { SEEN = 1, NO_FN = 2, NO_FILE = 4, NO_LINE = 8 };
	uint8_t *st = calloc(nm + 1, 1); /* by mapping id (1..nm) */
	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_locations; i++) {
		const ember_location *l = &p->locations[i];
		if (l->mapping_id == 0 || l->mapping_id > nm)
			continue;
		uint8_t *f = &st[l->mapping_id];
		*f |= SEEN;
		if (l->n_lines == 0)
			*f |= NO_FN;
		for (size_t k = 0; k < l->n_lines; k++) {
			const ember_function *fn = ember_profile_function(p, l->lines[k].function_id);
			if (!fn)
				*f |= NO_FN;
			else if (!ember_profile_str(p, fn->filename)[0])
				*f |= NO_FILE;
			if (l->lines[k].line <= 0)
				*f |= NO_LINE;
		}
	}
	for (size_t mi = 0; mi < nm; mi++) {
		ember_mapping *m = &p->mappings[mi];
		uint8_t f = m->id >= 1 && m->id <= nm ? st[m->id] : 0;
		if (!(f & SEEN))
			continue;
		bool fn = !(f & NO_FN);
		m->has_functions = fn;
		m->has_filenames = fn && !(f & NO_FILE);
		m->has_line_numbers = fn && !(f & NO_LINE);
		m->has_inline_frames = fn && (inline_source[mi] || m->has_inline_frames);
	}
	free(st);
	return 0;
}

int ember_symbolizer_run(ember_symbolizer *s, ember_profile *p, ember_error *err)
{
	double t0 = now_seconds();
	s->run++;
	size_t nl = p->n_locations, nm = p->n_mappings;
	int64_t *loc_pid = calloc(nl + 1, sizeof *loc_pid);
	size_t *count = calloc(nm + 2, sizeof *count);
	uint64_t *order = malloc((nl + 1) * sizeof *order);
	bool *inline_source = calloc(nm + 1, sizeof *inline_source);
	int r = 0;
	if (!loc_pid || !count || !order || !inline_source) {
		r = ember_errorf(err, ENOMEM, "out of memory");
		goto out;
	}
	/* The process of each location, from the samples that reach it. */
	for (size_t i = 0; i < p->n_samples; i++) {
		int64_t pid = 0;
		const ember_sample *smp = &p->samples[i];
		if (!ember_sample_label_num(p, smp, "pid", &pid)) {
			const char *ps = ember_sample_label_str(p, smp, "pid");
			pid = ps ? strtoll(ps, NULL, 10) : 0;
		}
		for (size_t j = 0; pid > 0 && j < smp->n_locations; j++) {
			uint64_t id = smp->location_ids[j];
			if (id >= 1 && id <= nl && !loc_pid[id - 1])
				loc_pid[id - 1] = pid;
		}
	}
	/* Locations needing lines, grouped by mapping (a counting sort). */
	s->stats.locations += nl;
	for (size_t i = 0; i < nl; i++) {
		const ember_location *l = &p->locations[i];
		if (l->n_lines)
			continue;
		if (l->mapping_id == 0 || l->mapping_id > nm) {
			s->stats.unsymbolized++;
			continue;
		}
		count[l->mapping_id + 1]++;
	}
	for (size_t m = 1; m <= nm + 1; m++)
		count[m] += count[m - 1];
	size_t *fill = calloc(nm + 1, sizeof *fill);
	if (!fill) {
		r = ember_errorf(err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nl; i++) {
		const ember_location *l = &p->locations[i];
		if (l->n_lines || l->mapping_id == 0 || l->mapping_id > nm)
			continue;
		order[count[l->mapping_id] + fill[l->mapping_id]++] = l->id;
	}
	free(fill);

	for (size_t mi = 0; mi < nm && r == 0; mi++) {
		ember_mapping *m = &p->mappings[mi];
		batch b = {p,
		           m,
		           order + count[m->id],
		           count[m->id + 1] - count[m->id],
		           loc_pid,
		           false,
		           false};
		if (b.n == 0)
			continue;
		const char *name = ember_profile_str(p, m->filename);
		if (is_kernel(name))
			r = symbolize_kernel(s, &b);
		else if (strcmp(name, "[vdso]") == 0)
			r = symbolize_vdso(s, &b);
		else if (is_anon(name))
			r = symbolize_anon(s, &b);
		else if (name[0] == '[' || name[0] == '\0')
			; /* [heap], [stack], [vsyscall]: nothing to read */
		else
			r = symbolize_file(s, &b);
		if (r < 0) {
			r = ember_errorf(err, ENOMEM, "out of memory while symbolizing");
			break;
		}
		for (size_t i = 0; i < b.n; i++)
			if (ember_profile_location(p, b.locs[i])->n_lines == 0)
				s->stats.unsymbolized++;
		inline_source[mi] = b.any_inline;
	}
	if (r == 0 && set_mapping_flags(p, inline_source) < 0)
		r = ember_errorf(err, ENOMEM, "out of memory while symbolizing");
out:
	free(loc_pid);
	free(count);
	free(order);
	free(inline_source);
	s->stats.seconds += now_seconds() - t0;
	return r;
}

/* ---- addr2line --------------------------------------------------------- */

int ember_symbolizer_addr2line(ember_symbolizer *s, const char *elf_path, uint64_t addr,
                               ember_frame *frames, size_t max, ember_error *err)
{
	symcache_entry *e = s->last_entry;
	if (!e || s->last_evictions != symcache_evictions(s->cache) ||
	    strcmp(s->last_path, elf_path) != 0) {
		char *key = NULL;
		if (asprintf(&key, "a:%s", elf_path) < 0)
			return ember_errorf(err, ENOMEM, "out of memory");
		e = symcache_get(s->cache, key);
		if (!e && (e = symcache_put(s->cache, key)))
			/* addr2line: eager, as binutils answers
			 * addresses outside every CU too */
			fill_entry(s, e, elf_path, elf_path, "", 0, 0);
		free(key);
		char *lp = strdup(elf_path);
		if (!e || !lp) {
			free(lp);
			return ember_errorf(err, ENOMEM, "out of memory");
		}
		free(s->last_path);
		s->last_path = lp;
		s->last_entry = e;
		s->last_evictions = symcache_evictions(s->cache);
	}
	if (!e->ix)
		return ember_errorf(err, -e->err, "%s", e->msg);
	return (int)elf_index_lookup(
	    e->ix, addr, (s->demangle ? EI_DEMANGLE : 0) | EI_NEAREST_SYMBOL, frames, max);
}
