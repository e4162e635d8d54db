/* profiler/cgroup.c — the cgroup id -> path map and the path -> labels
 * derivation of cgroup.h. Owns the map's entries and the walks of the
 * cgroup2 hierarchy. Must never be called per sample: the walk happens at
 * open and on a miss that the id's file handle cannot answer (at most once
 * per window); a handle lookup is one open_by_handle_at and a readlink.
 */
#include "cgroup.h"

#include "perf_sample.h"
#include "target.h"
#include "ember/u64map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	CGROUP_IDLE_WINDOWS = 64,   /* entries unused this long are forgotten */
	CGROUP_MAX_DEPTH = 64,
};

/* ---- labels from a path ---- */

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A pod uid: a UUID, or a static pod's 32-hex config hash. */
static bool is_uid(const char *s, size_t n)
{
	if (n < 32 || n > 36)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void set_uid(char dst[65], const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] == '_' ? '-' : s[i];
	dst[n] = '\0';
}

/* A container id in one path component (parent: the component above). */
static bool component_container(const char *c, size_t n, const char *parent, size_t pn,
				bool under_pod, char dst[65])
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-" };
	size_t body = ends(c, n, ".scope") ? n - 6 : n;
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		size_t k = strlen(prefixes[i]);
		if (starts(c, body, prefixes[i]) && is_hex64(c + k, body - k)) {
			memcpy(dst, c + k, 64);
			dst[64] = '\0';
			return true;
		}
	}
	/* /docker/<id> (cgroupfs docker), kubepods/.../pod<uid>/<id> (cgroupfs kubelet) */
	if (is_hex64(c, n) && ((pn == 6 && memcmp(parent, "docker", 6) == 0) || under_pod)) {
		memcpy(dst, c, 64);
		dst[64] = '\0';
		return true;
	}
	return false;
}

void cgroup_derive(const char *path, cgroup_labels *out)
{
	memset(out, 0, sizeof *out);
	const char *parent = "";
	size_t pn = 0;
	bool kubepods = false, under_pod = false;
	for (const char *c = path; *c;) {
		if (*c == '/') {
			c++;
			continue;
		}
		size_t n = strcspn(c, "/");
		component_container(c, n, parent, pn, under_pod, out->container_id);
		under_pod = false;
		if (starts(c, n, "kubepods")) {
			kubepods = true;
			/* systemd driver: kubepods[-QOS]-pod<uid with _>.slice */
			if (ends(c, n, ".slice")) {
				const char *pod = NULL;
				for (const char *p = c; p + 4 <= c + n; p++)
					if (memcmp(p, "-pod", 4) == 0)
						pod = p + 4;
				size_t un = pod ? (size_t)(c + n - 6 - pod) : 0;
				if (pod && pod <= c + n - 6 && is_uid(pod, un)) {
					set_uid(out->pod_uid, pod, un);
					under_pod = true;
				}
			}
		} else if (kubepods && starts(c, n, "pod") && is_uid(c + 3, n - 3)) {
			/* cgroupfs driver: kubepods/[QOS/]pod<uid> */
			set_uid(out->pod_uid, c + 3, n - 3);
			under_pod = true;
		}
		if (n > 8 && ends(c, n, ".service") && n < sizeof out->systemd_unit) {
			memcpy(out->systemd_unit, c, n);
			out->systemd_unit[n] = '\0';
		}
		parent = c;
		pn = n;
		c += n;
	}
}

/* ---- the map ---- */

typedef struct entry {
	cgroup_info info;
	uint64_t used;    /* the window that last resolved it (or added it) */
	char path[];
} entry;

struct cgroup_map {
	char *root;          /* mount point; NULL: disabled */
	int root_fd;         /* for open_by_handle_at; -1 when closed */
	bool handles;        /* open_by_handle_at works (root, CAP_DAC_READ_SEARCH) */
	u64map ids;          /* id -> entry pointer */
	uint64_t walks;      /* walks done */
	uint64_t handle_hits;
	uint64_t window;     /* windows ended */
	bool walked_this_window;
	char buf[PATH_MAX];  /* the walk's path under root */
};

static void entry_drop(cgroup_map *m, uint64_t id)
{
	uint64_t *v = u64map_get(&m->ids, id);
	if (v) {
		free((entry *)(uintptr_t)*v);
		u64map_del(&m->ids, id);
	}
}

/* Sets id's path (a new entry, or a replaced one when the path differs). */
static int put(cgroup_map *m, uint64_t id, const char *path)
{
	uint64_t *v = u64map_get(&m->ids, id);
	if (v) {
		entry *e = (entry *)(uintptr_t)*v;
		if (strcmp(e->path, path) == 0)
			return 0;
		entry_drop(m, id);
	}
	size_t len = strlen(path) + 1;
	entry *e = malloc(sizeof *e + len);
	if (!e)
		return -ENOMEM;
	memcpy(e->path, path, len);
	e->info.id = id;
	e->info.path = e->path;
	cgroup_derive(e->path, &e->info.labels);
	e->used = m->window;
	if (u64map_put(&m->ids, id, (uint64_t)(uintptr_t)e) < 0) {
		free(e);
		return -ENOMEM;
	}
	return 0;
}

/* Walks the directory dirfd whose path (under root) is m->buf[0..len). */
static void walk_dir(cgroup_map *m, int dirfd, size_t len, int depth)
{
	struct stat st;
	if (fstat(dirfd, &st) == 0)
		put(m, (uint64_t)st.st_ino, len ? m->buf : "/");
	if (depth >= CGROUP_MAX_DEPTH) {
		close(dirfd);
		return;
	}
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		size_t n = strlen(de->d_name);
		if (len + 1 + n + 1 > sizeof m->buf)
			continue;
		int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;   /* removed meanwhile */
		m->buf[len] = '/';
		memcpy(m->buf + len + 1, de->d_name, n + 1);
		walk_dir(m, fd, len + 1 + n, depth + 1);
		m->buf[len] = '\0';
	}
	closedir(d);
}

static void walk(cgroup_map *m)
{
	m->walks++;
	m->walked_this_window = true;
	int fd = open(m->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	m->buf[0] = '\0';
	walk_dir(m, fd, 0, 0);
}

int cgroup_map_new(cgroup_map **out)
{
	*out = NULL;
	cgroup_map *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->root_fd = -1;
	char mnt[PATH_MAX];
	if (target_cgroup2_mount(mnt, sizeof mnt) == 0) {
		m->root = strdup(mnt);
		if (!m->root) {
			free(m);
			return -ENOMEM;
		}
		m->root_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		m->handles = m->root_fd >= 0;
		walk(m);
		m->walked_this_window = false;   /* the first window may rescan too */
	}
	*out = m;
	return 0;
}

void cgroup_map_free(cgroup_map *m)
{
	if (!m)
		return;
	u64map_foreach(&m->ids, s)
		free((entry *)(uintptr_t)s->value);
	u64map_free(&m->ids);
	if (m->root_fd >= 0)
		close(m->root_fd);
	free(m->root);
	free(m);
}

bool cgroup_map_enabled(const cgroup_map *m)
{
	return m && m->root;
}

const char *cgroup_map_root(const cgroup_map *m)
{
	return m ? m->root : NULL;
}

void cgroup_map_on_record(cgroup_map *m, const struct perf_event_header *h)
{
	perf_cgroup c;
	if (m->root && perf_cgroup_parse(h, &c) == 0)
		put(m, c.id, c.path[0] ? c.path : "/");
}

/* include/linux/exportfs.h (not a UAPI header): kernfs's handle type */
#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

/* The path of id from its file handle (cgroup2's handle is the 8-byte
 * kernfs id): one open_by_handle_at and a readlink. False when the id is
 * gone (ESTALE) or lies outside the mount as this process sees it; the
 * first EPERM (no CAP_DAC_READ_SEARCH, e.g. after --user) turns it off. */
static bool by_handle(cgroup_map *m, uint64_t id)
{
	if (!m->handles)
		return false;
	union {
		struct file_handle fh;
		unsigned char room[sizeof(struct file_handle) + sizeof id];
	} h;
	h.fh.handle_bytes = sizeof id;
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof id);
	int fd = open_by_handle_at(m->root_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ESTALE && errno != ENOENT)
			m->handles = false;
		return false;
	}
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	close(fd);
	if (n <= 0)
		return false;
	path[n] = '\0';
	size_t rl = strlen(m->root);
	if (strncmp(path, m->root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
		return false;
	if (put(m, id, path[rl] ? path + rl : "/") < 0)
		return false;
	m->handle_hits++;
	return true;
}

const cgroup_info *cgroup_map_resolve(cgroup_map *m, uint64_t id)
{
	if (!id || !m->root)
		return NULL;
	uint64_t *v = u64map_get(&m->ids, id);
	if (!v && by_handle(m, id))
		v = u64map_get(&m->ids, id);
	if (!v && !m->walked_this_window) {
		walk(m);
		v = u64map_get(&m->ids, id);
	}
	if (!v)
		return NULL;
	entry *e = (entry *)(uintptr_t)*v;
	e->used = m->window;
	return &e->info;
}

void cgroup_map_window_end(cgroup_map *m)
{
	if (!m->root)
		return;
	uint64_t gone[64];
	size_t n;
	do {   /* deletion moves slots: collect, then drop */
		n = 0;
		u64map_foreach(&m->ids, s) {
			const entry *e = (const entry *)(uintptr_t)s->value;
			if (m->window - e->used >= CGROUP_IDLE_WINDOWS && n < 64)
				gone[n++] = s->key;
		}
		for (size_t i = 0; i < n; i++)
			entry_drop(m, gone[i]);
	} while (n == 64);
	m->window++;
	m->walked_this_window = false;
}

uint64_t cgroup_id_of_path(const cgroup_map *m, const char *path)
{
	if (!m || !m->root)
		return 0;
	char full[PATH_MAX];
	if ((size_t)snprintf(full, sizeof full, "%s%s", m->root, path) >= sizeof full)
		return 0;
	struct stat st;
	return stat(full, &st) == 0 && S_ISDIR(st.st_mode) ? (uint64_t)st.st_ino : 0;
}

uint64_t cgroup_id_of_pid(const cgroup_map *m, int32_t pid)
{
	if (!m || !m->root)
		return 0;
	char path[64], line[PATH_MAX + 8];
	snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	uint64_t id = 0;
	while (!id && fgets(line, sizeof line, f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		id = cgroup_id_of_path(m, line + 3);
	}
	fclose(f);
	return id;
}

uint64_t cgroup_map_scans(const cgroup_map *m)
{
	return m ? m->walks : 0;
}

uint64_t cgroup_map_handle_hits(const cgroup_map *m)
{
	return m ? m->handle_hits : 0;
}
