/* profiler/proctab.c — the process table of proctab.h. Owns every process,
 * mapping and thread entry and the build-id cache; reads /proc and ELF notes
 * (through buildid.c) once per process and once per binary. Must never be
 * called per sample except through proctab_get, which only allocates when a
 * pid is new. */
#include "proctab.h"

#include "ember/buildid.h"
#include "strpool.h"
#include "ember/u64map.h"
#include "ember/grow.h"

#include "ember/hash.h"
#include "cgroup.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct thread_entry {
	char name[16];
	bool dead;
} thread_entry;

typedef struct bid_entry {
	uint64_t dev, ino;
	const char *hex;   /* pooled; "" when the file had none or could not be read */
} bid_entry;

struct proctab {
	strpool *strings;            /* mapping file names and build ids */
	proc *procs;
	size_t n_procs, cap_procs;   /* handles are indices into procs */
	uint32_t *free_procs;        /* reaped handles for reuse */
	size_t n_free_procs, cap_free_procs;
	u64map by_pid;               /* pid -> handle of its current process */

	thread_entry *threads;
	size_t n_threads, cap_threads;
	uint32_t *free_threads;
	size_t n_free_threads, cap_free_threads;
	u64map by_tid;               /* tid -> index into threads */

	bid_entry *bids;
	size_t n_bids, cap_bids;
	u64map by_inode;             /* mix(dev, ino) -> index into bids */

	char scratch[PATH_MAX + 64]; /* find_mapping's path, valid until the next call */
	const cgroup_map *cgroups;   /* read /proc/PID/cgroup; NULL: do not */
};

void proctab_set_cgroups(proctab *pt, const cgroup_map *cg)
{
	pt->cgroups = cg;
}

int proctab_new(proctab **out)
{
	proctab *pt = calloc(1, sizeof *pt);
	if (!pt || strpool_new(&pt->strings) < 0) {
		free(pt);
		return -ENOMEM;
	}
	*out = pt;
	return 0;
}

static void proc_clear(proctab *pt, proc *p)
{
	for (size_t i = 0; i < p->n_maps; i++) {
		strpool_put(pt->strings, p->maps[i].filename);
		strpool_put(pt->strings, p->maps[i].build_id);
	}
	free(p->maps);
	memset(p, 0, sizeof *p);
}

void proctab_free(proctab *pt)
{
	if (!pt)
		return;
	for (size_t i = 0; i < pt->n_procs; i++)
		proc_clear(pt, &pt->procs[i]);
	free(pt->procs);
	free(pt->free_procs);
	free(pt->threads);
	free(pt->free_threads);
	free(pt->bids);   /* their strings go with the pool */
	u64map_free(&pt->by_pid);
	u64map_free(&pt->by_tid);
	u64map_free(&pt->by_inode);
	strpool_free(pt->strings);
	free(pt);
}

const proc *proctab_proc(const proctab *pt, uint32_t handle)
{
	assert(handle < pt->n_procs && pt->procs[handle].used);
	return &pt->procs[handle];
}

/* A new process for pid, replacing any current one (which is marked dead and
 * kept until the next reap). */
static uint32_t proc_create(proctab *pt, int32_t pid)
{
	uint32_t h;
	bool reused = pt->n_free_procs > 0;
	if (reused) {
		h = pt->free_procs[--pt->n_free_procs];
	} else {
		if (!ember_grow((void **)&pt->procs, &pt->cap_procs, pt->n_procs + 1, sizeof *pt->procs))
			return PROCTAB_NONE;
		h = (uint32_t)pt->n_procs++;
	}
	uint64_t *old = u64map_get(&pt->by_pid, (uint32_t)pid);
	uint32_t prev = old ? (uint32_t)*old : PROCTAB_NONE;
	if (u64map_put(&pt->by_pid, (uint32_t)pid, h) < 0) {
		if (reused)
			pt->n_free_procs++;   /* h is still in the array there */
		else
			pt->n_procs--;
		return PROCTAB_NONE;
	}
	if (prev != PROCTAB_NONE)
		pt->procs[prev].dead = true;
	proc *p = &pt->procs[h];
	memset(p, 0, sizeof *p);
	p->pid = pid;
	p->used = true;
	return h;
}

static uint32_t current(const proctab *pt, int32_t pid)
{
	uint64_t *h = u64map_get(&pt->by_pid, (uint32_t)pid);
	return h ? (uint32_t)*h : PROCTAB_NONE;
}

uint32_t proctab_get(proctab *pt, int32_t pid)
{
	uint32_t h = current(pt, pid);
	if (h != PROCTAB_NONE)
		return h;
	h = proc_create(pt, pid);
	if (h != PROCTAB_NONE && pid > 0)
		proctab_seed(pt, pid);   /* best effort: the process may be gone */
	return h;
}

/* ---- threads ---- */

static thread_entry *thread_get(proctab *pt, int32_t tid, bool create)
{
	uint64_t *ix = u64map_get(&pt->by_tid, (uint32_t)tid);
	if (ix)
		return &pt->threads[*ix];
	if (!create)
		return NULL;
	uint32_t i;
	bool reused = pt->n_free_threads > 0;
	if (reused) {
		i = pt->free_threads[--pt->n_free_threads];
	} else {
		if (!ember_grow((void **)&pt->threads, &pt->cap_threads, pt->n_threads + 1,
			  sizeof *pt->threads))
			return NULL;
		i = (uint32_t)pt->n_threads++;
	}
	if (u64map_put(&pt->by_tid, (uint32_t)tid, i) < 0) {
		if (reused)
			pt->n_free_threads++;
		else
			pt->n_threads--;
		return NULL;
	}
	memset(&pt->threads[i], 0, sizeof pt->threads[i]);
	return &pt->threads[i];
}

static void set_name(char dst[16], const char *src)
{
	size_t n = strcspn(src, "\n");
	if (n > 15)
		n = 15;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

const char *proctab_thread_name(const proctab *pt, int32_t tid)
{
	uint64_t *ix = u64map_get(&pt->by_tid, (uint32_t)tid);
	return ix ? pt->threads[*ix].name : NULL;
}

/* ---- mappings ---- */

/* Build id of the file behind a mapping (pooled, one reference for the
 * caller), cached by (dev, ino). */
static const char *lookup_build_id(proctab *pt, int32_t pid, uint64_t start, uint64_t end,
				   const char *filename, uint64_t dev, uint64_t ino)
{
	uint64_t key = ember_hash_mix64(dev * 0x9e3779b97f4a7c15ULL ^ ino);
	uint64_t *ix = ino ? u64map_get(&pt->by_inode, key) : NULL;
	if (ix && pt->bids[*ix].dev == dev && pt->bids[*ix].ino == ino)
		return strpool_ref(pt->bids[*ix].hex);
	char hex[EMBER_BUILD_ID_HEX] = "";
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, start, end);
	if (ember_buildid_read_file(path, hex) < 0) {
		hex[0] = '\0';
		snprintf(path, sizeof path, "/proc/%d/root%s", pid, filename);
		if (ember_buildid_read_file(path, hex) < 0)
			hex[0] = '\0';
	}
	const char *pooled = strpool_get(pt->strings, hex);
	if (pooled && ino && !ix &&
	    ember_grow((void **)&pt->bids, &pt->cap_bids, pt->n_bids + 1, sizeof *pt->bids) &&
	    u64map_put(&pt->by_inode, key, pt->n_bids) == 0)
		pt->bids[pt->n_bids++] = (bid_entry){ dev, ino, strpool_ref(pooled) };
	return pooled;
}

/* Inserts [start, end) into p, replacing whatever it overlaps. Takes over
 * one reference each to the pooled filename and build_id (dropped on
 * failure). */
static int proc_add_mapping(proctab *pt, proc *p, uint64_t start, uint64_t end, uint64_t pgoff,
			    const char *filename, const char *build_id)
{
	if (!filename || !build_id || end <= start ||
	    !ember_grow((void **)&p->maps, &p->cap_maps, p->n_maps + 1, sizeof *p->maps)) {
		strpool_put(pt->strings, filename);
		strpool_put(pt->strings, build_id);
		return -ENOMEM;
	}
	size_t lo = 0, hi = p->n_maps;   /* first mapping with end > start */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->maps[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t j = lo;
	while (j < p->n_maps && p->maps[j].start < end) {
		strpool_put(pt->strings, p->maps[j].filename);
		strpool_put(pt->strings, p->maps[j].build_id);
		j++;
	}
	/* replace maps[lo, j) by one entry */
	memmove(&p->maps[lo + 1], &p->maps[j], (p->n_maps - j) * sizeof *p->maps);
	p->n_maps = p->n_maps - (j - lo) + 1;
	p->maps[lo] = (proc_mapping){ start, end, pgoff, filename, build_id };
	assert(lo == 0 || p->maps[lo - 1].end <= start);
	assert(lo + 1 == p->n_maps || p->maps[lo + 1].start >= end);
	return 0;
}

const proc_mapping *proc_find_mapping(const proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_maps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->n_maps && p->maps[lo].start <= addr)
		return &p->maps[lo];
	return NULL;
}

void proctab_on_mmap2(proctab *pt, const perf_mmap2 *m)
{
	if (!(m->prot & 4 /* PROT_EXEC */))
		return;
	uint32_t h = proctab_get(pt, (int32_t)m->pid);
	if (h == PROCTAB_NONE)
		return;
	const char *bid;
	if (m->build_id && m->build_id_size) {
		char hex[EMBER_BUILD_ID_HEX];
		ember_buildid_hex(m->build_id, m->build_id_size, hex);
		bid = strpool_get(pt->strings, hex);
	} else if (m->filename[0] == '/') {
		uint64_t dev = ((uint64_t)m->maj << 32) | m->min;
		bid = lookup_build_id(pt, (int32_t)m->pid, m->addr, m->addr + m->len, m->filename,
				      dev, m->ino);
	} else {
		bid = strpool_get(pt->strings, "");
	}
	proc_add_mapping(pt, &pt->procs[h], m->addr, m->addr + m->len, m->pgoff,
			 strpool_get(pt->strings, m->filename), bid);
}

/* ---- /proc ---- */

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return (int)n;
}

static void seed_maps(proctab *pt, uint32_t h, int32_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		uint64_t start, end, off, ino;
		unsigned maj, min;
		char perms[8];
		int name_at = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &start, &end, perms, &off, &maj, &min, &ino, &name_at) < 7)
			continue;
		if (strlen(perms) < 3 || perms[2] != 'x')
			continue;
		char *name = line + name_at;
		name[strcspn(name, "\n")] = '\0';
		size_t nl = strlen(name);
		static const char deleted[] = " (deleted)";
		if (nl > sizeof deleted - 1 && strcmp(name + nl - (sizeof deleted - 1), deleted) == 0)
			name[nl - (sizeof deleted - 1)] = '\0';
		const char *bid;
		if (name[0] == '/')
			bid = lookup_build_id(pt, pid, start, end, name,
					      ((uint64_t)maj << 32) | min, ino);
		else
			bid = strpool_get(pt->strings, "");
		const char *fname = name[0] ? name : "//anon";
		proc_add_mapping(pt, &pt->procs[h], start, end, off,
				 strpool_get(pt->strings, fname), bid);
	}
	free(line);
	fclose(f);
}

static void seed_threads(proctab *pt, int32_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		int32_t tid = atoi(de->d_name);
		char cpath[96], name[64];
		snprintf(cpath, sizeof cpath, "/proc/%d/task/%d/comm", pid, tid);
		if (read_small(cpath, name, sizeof name) < 0)
			continue;
		thread_entry *t = thread_get(pt, tid, true);
		if (t)
			set_name(t->name, name);
	}
	closedir(d);
}

int proctab_seed(proctab *pt, int32_t pid)
{
	char path[64], name[64];
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	if (read_small(path, name, sizeof name) < 0)
		return -ESRCH;
	uint32_t h = current(pt, pid);
	if (h == PROCTAB_NONE)
		h = proc_create(pt, pid);
	if (h == PROCTAB_NONE)
		return -ENOMEM;
	set_name(pt->procs[h].comm, name);
	pt->procs[h].seeded = true;
	if (pt->cgroups)
		pt->procs[h].cgroup = cgroup_id_of_pid(pt->cgroups, pid);
	seed_maps(pt, h, pid);
	seed_threads(pt, pid);
	return 0;
}

int proctab_seed_all(proctab *pt)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (isdigit((unsigned char)de->d_name[0]))
			proctab_seed(pt, atoi(de->d_name));
	}
	closedir(d);
	return 0;
}

/* ---- COMM / FORK / EXIT ---- */

void proctab_on_comm(proctab *pt, const perf_comm *c)
{
	int32_t pid = (int32_t)c->pid, tid = (int32_t)c->tid;
	uint32_t h;
	if (c->exec) {
		/* a new program: a new process with a fresh address space; its
		 * mappings follow as MMAP2 records */
		uint32_t prev = current(pt, pid);
		uint64_t cg = prev != PROCTAB_NONE ? pt->procs[prev].cgroup : 0;
		h = proc_create(pt, pid);
		if (h != PROCTAB_NONE) {
			pt->procs[h].seeded = true;
			uint64_t now = pt->cgroups ? cgroup_id_of_pid(pt->cgroups, pid) : 0;
			pt->procs[h].cgroup = now ? now : cg;
		}
	} else {
		h = current(pt, pid);
	}
	if (h != PROCTAB_NONE && (c->exec || tid == pid))
		set_name(pt->procs[h].comm, c->comm);
	thread_entry *t = thread_get(pt, tid, true);
	if (t) {
		set_name(t->name, c->comm);
		t->dead = false;
	}
}

/* Gives child what it inherits from parent: the name (when it has none) and
 * the parent's mappings where it has none of its own. */
static void inherit_from(proctab *pt, uint32_t child, uint32_t parent, const char *fallback)
{
	proc *c = &pt->procs[child];
	c->seeded = true;
	if (parent == PROCTAB_NONE) {
		if (!c->comm[0])
			memcpy(c->comm, fallback, sizeof c->comm);
		return;
	}
	const proc *pp = &pt->procs[parent];
	if (!c->comm[0])
		memcpy(c->comm, pp->comm, sizeof c->comm);
	if (!c->cgroup)
		c->cgroup = pp->cgroup;
	for (size_t i = 0; i < pp->n_maps; i++) {
		const proc_mapping *m = &pp->maps[i];
		if (c->n_maps && (proc_find_mapping(c, m->start) || proc_find_mapping(c, m->end - 1)))
			continue;   /* the child's own records are newer */
		/* references, not copies: a fork storm allocates no strings */
		proc_add_mapping(pt, c, m->start, m->end, m->pgoff, strpool_ref(m->filename),
				 strpool_ref(m->build_id));
	}
}

void proctab_on_fork(proctab *pt, const perf_task *t)
{
	int32_t pid = (int32_t)t->pid, ppid = (int32_t)t->ppid;
	const char *pname = proctab_thread_name(pt, (int32_t)t->ptid);
	char name[16] = "";
	if (pname)
		set_name(name, pname);
	if (pid != ppid) {
		/* a new process starts as a copy of its parent. It may already be
		 * known: records of other CPUs' rings can come first, and /proc may
		 * not have had it any more */
		uint32_t h = current(pt, pid);
		if (h == PROCTAB_NONE || pt->procs[h].dead)
			h = proc_create(pt, pid);
		else if (pt->procs[h].seeded)
			h = PROCTAB_NONE;
		if (h != PROCTAB_NONE)
			inherit_from(pt, h, current(pt, ppid), name);
	}
	thread_entry *te = thread_get(pt, (int32_t)t->tid, true);
	if (te) {
		if (!te->name[0] || te->dead)
			memcpy(te->name, name, sizeof te->name);
		te->dead = false;
	}
}

void proctab_on_exit(proctab *pt, const perf_task *t)
{
	thread_entry *te = thread_get(pt, (int32_t)t->tid, false);
	if (te)
		te->dead = true;
	if (t->pid == t->tid) {
		uint32_t h = current(pt, (int32_t)t->pid);
		if (h != PROCTAB_NONE)
			pt->procs[h].dead = true;
	}
}

/* ---- window end ---- */

/* Entries whose EXIT never reached us would stay forever: the EXIT record
 * was lost, or another CPU's ring held the FORK and was read after the
 * EXIT (a fork storm does that; the late FORK creates the process again).
 * One kill(pid, 0) per live entry and window finds the ones that are gone. */
void proctab_mark_vanished(proctab *pt)
{
	for (size_t i = 0; i < pt->n_procs; i++) {
		proc *p = &pt->procs[i];
		if (p->used && !p->dead && p->pid > 0 && kill(p->pid, 0) < 0 && errno == ESRCH)
			p->dead = true;
	}
	u64map_foreach(&pt->by_tid, s) {
		thread_entry *t = &pt->threads[s->value];
		int32_t tid = (int32_t)s->key;
		if (!t->dead && tid > 0 && kill(tid, 0) < 0 && errno == ESRCH)
			t->dead = true;
	}
}

void proctab_reap(proctab *pt)
{
	for (size_t i = 0; i < pt->n_procs; i++) {
		proc *p = &pt->procs[i];
		if (!p->used || !p->dead)
			continue;
		if (!ember_grow((void **)&pt->free_procs, &pt->cap_free_procs, pt->n_free_procs + 1,
			  sizeof *pt->free_procs))
			return;   /* try again after the next window */
		uint64_t *cur = u64map_get(&pt->by_pid, (uint32_t)p->pid);
		if (cur && *cur == i)
			u64map_del(&pt->by_pid, (uint32_t)p->pid);
		proc_clear(pt, p);
		pt->free_procs[pt->n_free_procs++] = (uint32_t)i;
	}
	/* dead threads: collect their tids first (deleting while iterating a
	 * backward-shift table would skip entries) */
	size_t n_dead = 0;
	u64map_foreach(&pt->by_tid, s)
		n_dead += pt->threads[s->value].dead;
	if (!n_dead ||
	    !ember_grow((void **)&pt->free_threads, &pt->cap_free_threads, pt->n_free_threads + n_dead,
		  sizeof *pt->free_threads))
		return;
	uint32_t *tids = malloc(n_dead * sizeof *tids);
	if (!tids)
		return;
	size_t k = 0;
	u64map_foreach(&pt->by_tid, s)
		if (pt->threads[s->value].dead)
			tids[k++] = (uint32_t)s->key;
	for (size_t i = 0; i < k; i++) {
		uint64_t ix = *u64map_get(&pt->by_tid, tids[i]);
		u64map_del(&pt->by_tid, tids[i]);
		pt->free_threads[pt->n_free_threads++] = (uint32_t)ix;
	}
	free(tids);
}

uint64_t proctab_live(const proctab *pt)
{
	uint64_t n = 0;
	for (size_t i = 0; i < pt->n_procs; i++)
		n += pt->procs[i].used && !pt->procs[i].dead;
	return n;
}

int proctab_unwind_find_mapping(void *ctx, int32_t pid, uint64_t addr, ember_unwind_mapping *out)
{
	proctab *pt = ctx;
	uint32_t h = current(pt, pid);
	if (h == PROCTAB_NONE)
		return -ENOENT;
	const proc_mapping *m = proc_find_mapping(&pt->procs[h], addr);
	if (!m)
		return -ENOENT;
	if (strcmp(m->filename, "[vdso]") == 0)
		snprintf(pt->scratch, sizeof pt->scratch, "[vdso]");   /* the unwinder's own vDSO */
	else if (m->filename[0] == '/')
		snprintf(pt->scratch, sizeof pt->scratch, "/proc/%d/root%s", pid, m->filename);
	else
		snprintf(pt->scratch, sizeof pt->scratch, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
			 pid, m->start, m->end);
	*out = (ember_unwind_mapping){ .start = m->start, .end = m->end, .pgoff = m->pgoff,
				       .path = pt->scratch, .build_id = m->build_id };
	return 0;
}
