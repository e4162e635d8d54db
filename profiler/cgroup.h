/* profiler/cgroup.h — which cgroup a sample ran in, private to profiler/:
 * a map from cgroup2 ids to paths, and the labels a path names (container
 * id, pod uid, systemd unit).
 *
 * A sample's cgroup is an id: PERF_SAMPLE_CGROUP (kernel 5.7+) gives the
 * cgroup2 cgroup the task ran in at that instant; where the kernel lacks it,
 * the process table reads /proc/PID/cgroup per process (at first sight, FORK
 * and exec) and looks the path's id up with cgroup_id_of_path. Ids are the
 * cgroup2 directories' inode numbers (the kernfs node id on 64-bit kernels,
 * which is what the kernel reports).
 *
 * The map is filled by walking the cgroup2 hierarchy (cgroup_map_new) and
 * kept current by PERF_RECORD_CGROUP records (a new cgroup's id and path).
 * The hot path never touches it: samples carry only the id, and the window
 * builder resolves ids once per stack. A miss (a cgroup made while the walk
 * ran, a lost record, an entry forgotten while idle) asks the id's file
 * handle (open_by_handle_at: root only), else walks again, at most once per
 * window. Entries no window used for CGROUP_IDLE_WINDOWS windows are
 * forgotten, so removed cgroups do not accumulate.
 *
 * Paths are as /proc/PID/cgroup shows them: "/" is the root,
 * "/system.slice/foo.service" a child. Without a cgroup2 hierarchy the map
 * is disabled (one notice) and samples get no cgroup labels.
 */
#ifndef EMBER_PROFILER_CGROUP_H
#define EMBER_PROFILER_CGROUP_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a path names; "" where it names nothing. */
typedef struct cgroup_labels {
	char container_id[65];   /* 64 lowercase hex digits */
	char pod_uid[65];        /* with '-' (systemd's '_' turned back) */
	char systemd_unit[256];  /* the innermost "*.service" */
} cgroup_labels;

/* Derives the labels from a cgroup path. Pure; never fails. Container ids
 * from the innermost of docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope, libpod-<id>.scope, libpod-<id> (podman under cgroupfs),
 * /docker/<id>, and kubepods/.../pod<uid>/<id> (kubelet's cgroupfs driver);
 * pod uids from kubepods*-pod<uid>.slice and kubepods/[qos/]pod<uid>. */
void cgroup_derive(const char *path, cgroup_labels *out);

typedef struct cgroup_info {
	uint64_t id;
	const char *path;
	cgroup_labels labels;
} cgroup_info;

typedef struct cgroup_map cgroup_map;

/* Finds the cgroup2 mount and walks it. Without one, *out is a disabled map
 * (cgroup_map_enabled false) and the return is still 0; -ENOMEM otherwise. */
int cgroup_map_new(cgroup_map **out);
void cgroup_map_free(cgroup_map *m);
bool cgroup_map_enabled(const cgroup_map *m);
/* The cgroup2 mount point, or NULL when disabled. */
const char *cgroup_map_root(const cgroup_map *m);

/* Records a PERF_RECORD_CGROUP (id and path of a new cgroup). */
void cgroup_map_on_record(cgroup_map *m, const struct perf_event_header *h);

/* The cgroup of id, or NULL. On a miss, asks the id's file handle, else
 * rescans the hierarchy when it has not done so since the last
 * cgroup_map_window_end. id 0: NULL. */
const cgroup_info *cgroup_map_resolve(cgroup_map *m, uint64_t id);

/* Ends a window: forgets the cgroups no window resolved for
 * CGROUP_IDLE_WINDOWS windows (removed ones among them). */
void cgroup_map_window_end(cgroup_map *m);

/* The id of the cgroup2 directory at path (as /proc/PID/cgroup shows it),
 * or 0. A stat; never on the hot path. */
uint64_t cgroup_id_of_path(const cgroup_map *m, const char *path);
/* The id of pid's cgroup2 cgroup from /proc/PID/cgroup ("0::PATH"), or 0. */
uint64_t cgroup_id_of_pid(const cgroup_map *m, int32_t pid);

/* Walks done so far, and misses answered by a file handle (tests, bench). */
uint64_t cgroup_map_scans(const cgroup_map *m);
uint64_t cgroup_map_handle_hits(const cgroup_map *m);

#endif
