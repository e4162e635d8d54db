/* profiler/target.c — resolving targets (target.h): pid threads from /proc,
 * cgroup v2 directories, and the fork / wait-on-pipe / exec dance of a
 * command. Never opens perf events; the sampler does that for the ids this
 * file hands back. */
#include "target.h"

#include "ember/grow.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int target_tasks(pid_t pid, pid_t **tids, size_t *n, ember_error *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return ember_errorf(err, ESRCH, "no such process: %d", (int)pid);
	pid_t *v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (!ember_grow((void **)&v, &cap, k + 1, sizeof *v)) {
			free(v);
			closedir(d);
			return ember_errorf(err, ENOMEM, "out of memory");
		}
		v[k++] = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	if (!k) {
		free(v);
		return ember_errorf(err, ESRCH, "no such process: %d", (int)pid);
	}
	*tids = v;
	*n = k;
	return 0;
}

int target_cgroup2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	while (rc < 0 && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts... - fstype source opts */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		char mnt[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strlen(mnt) < len) {
			strcpy(out, mnt);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

static int open_cgroup_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		return -ENOTDIR;
	}
	return fd;
}

int target_cgroup_open(const char *cgroup, ember_error *err)
{
	char mnt[PATH_MAX] = "";
	bool have_mnt = target_cgroup2_mount(mnt, sizeof mnt) == 0;
	if (cgroup[0] == '/') {
		int fd = open_cgroup_dir(cgroup);
		if (fd >= 0)
			return fd;
	}
	if (!have_mnt)
		return ember_errorf(err, ENOENT, "cgroup not found: %s: no cgroup2 file system is "
						 "mounted (mount -t cgroup2 none /sys/fs/cgroup)",
				    cgroup);
	char path[PATH_MAX];
	const char *rel = cgroup;
	while (*rel == '/')
		rel++;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", mnt, rel) >= sizeof path)
		return ember_errorf(err, ENAMETOOLONG, "cgroup path too long: %s", cgroup);
	int fd = open_cgroup_dir(path);
	if (fd >= 0)
		return fd;
	return ember_errorf(err, ENOENT, "cgroup not found: %s (looked for %s%s%s): give a cgroup "
					 "v2 directory, absolute or relative to %s",
			    cgroup, cgroup[0] == '/' ? cgroup : "", cgroup[0] == '/' ? " and " : "",
			    path, mnt);
}

static int cgroup_walk(int dirfd, pid_t **pids, size_t *n, size_t *cap, int depth)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		FILE *f = fdopen(fd, "re");
		if (!f) {
			close(fd);
			return -ENOMEM;
		}
		long v;
		while (fscanf(f, "%ld", &v) == 1) {
			if (!ember_grow((void **)pids, cap, *n + 1, sizeof **pids)) {
				fclose(f);
				return -ENOMEM;
			}
			(*pids)[(*n)++] = (pid_t)v;
		}
		fclose(f);
	}
	if (depth >= 64)
		return 0;
	int dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return 0;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		rc = cgroup_walk(sub, pids, n, cap, depth + 1);
		close(sub);
	}
	closedir(d);
	return rc;
}

int target_cgroup_pids(int cgroup_fd, pid_t **pids, size_t *n)
{
	size_t cap = 0;
	*pids = NULL;
	*n = 0;
	int rc = cgroup_walk(cgroup_fd, pids, n, &cap, 0);
	if (rc < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
	}
	return rc;
}

int target_child_spawn(target_child *c, char *const argv[], ember_error *err)
{
	int go[2], ex[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return ember_errorf(err, errno, "pipe: %s", strerror(errno));
	if (pipe2(ex, O_CLOEXEC) < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return ember_errorf(err, e, "pipe: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		close(ex[0]);
		close(ex[1]);
		return ember_errorf(err, e, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* child: wait until the parent has its events ready, then exec */
		close(go[1]);
		close(ex[0]);
		char b;
		while (read(go[0], &b, 1) < 0 && errno == EINTR)
			;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(ex[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	c->pid = pid;
	c->go_fd = go[1];
	c->err_fd = ex[0];
	return 0;
}

int target_child_release(target_child *c, const char *argv0, ember_error *err)
{
	close(c->go_fd);
	c->go_fd = -1;
	int e = 0;
	ssize_t n;
	while ((n = read(c->err_fd, &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(c->err_fd);
	c->err_fd = -1;
	if (n == (ssize_t)sizeof e)
		return ember_errorf(err, e, "cannot run %s: %s", argv0, strerror(e));
	return 0;
}

void target_child_abort(target_child *c)
{
	if (c->go_fd >= 0)
		close(c->go_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->go_fd = c->err_fd = -1;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
	}
}
