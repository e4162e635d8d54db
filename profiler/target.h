/* profiler/target.h — what a sampler watches, private to profiler/: the
 * threads of a pid, a cgroup v2 directory, or a command started under our
 * control (forked, held on a pipe until the events are ready, then exec'd).
 */
#ifndef EMBER_PROFILER_TARGET_H
#define EMBER_PROFILER_TARGET_H

#include <stddef.h>
#include <sys/types.h>

#include "ember/error.h"

/* The thread ids in /proc/PID/task. -ESRCH (with a message) if none. */
int target_tasks(pid_t pid, pid_t **tids, size_t *n, ember_error *err);

/* The first cgroup2 mount point in /proc/self/mountinfo (/sys/fs/cgroup when
 * unified, /sys/fs/cgroup/unified in the hybrid layout) into out: 0, or
 * -ENOENT when no cgroup2 file system is mounted. */
int target_cgroup2_mount(char *out, size_t len);

/* Opens the cgroup v2 directory for -G: an absolute path, or one relative to
 * the cgroup2 mount (found in /proc/self/mountinfo). Returns an O_RDONLY fd
 * of the directory, or -errno with a message naming what was looked for. */
int target_cgroup_open(const char *cgroup, ember_error *err);

/* The pids in a cgroup v2 directory (an fd from target_cgroup_open) and
 * its descendants, from their cgroup.procs files. 0 (possibly none), or
 * -ENOMEM. */
int target_cgroup_pids(int cgroup_fd, pid_t **pids, size_t *n);

typedef struct target_child {
	pid_t pid;
	int go_fd;    /* write end: closing it lets the child exec */
	int err_fd;   /* read end: the child's errno if exec fails, EOF on success */
} target_child;

/* Forks argv; the child waits for target_child_release before exec. */
int target_child_spawn(target_child *c, char *const argv[], ember_error *err);
/* Lets the child exec and reports whether the exec worked: 0, or -errno
 * with "cannot run ARGV0: ..." (the child has then exited with 127). */
int target_child_release(target_child *c, const char *argv0, ember_error *err);
/* Kills and reaps a child that was never released; closes the pipes. */
void target_child_abort(target_child *c);

#endif
