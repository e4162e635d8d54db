/* exporter/atomic_file.c — output files that appear only when complete.
 *
 * Owns: writing a buffer to a temp name in the destination's directory,
 * optionally fsyncing it and the directory, and renaming it into place. A
 * failure at any step removes the temp file. Must never: leave a partial file
 * under the final name.
 */
#include "ember/pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ember_write_file_atomic(const char *path, const void *data, size_t len, bool durable,
			    ember_error *err)
{
	if (strcmp(path, "-") == 0) {
		int rc = write_all(STDOUT_FILENO, data, len);
		return rc < 0 ? ember_errorf(err, -rc, "stdout: %s", strerror(-rc)) : 0;
	}
	size_t plen = strlen(path);
	char *dircopy = strdup(path);
	char *basecopy = strdup(path);
	char *tmp = malloc(plen + 32);
	if (!dircopy || !basecopy || !tmp) {
		free(dircopy);
		free(basecopy);
		free(tmp);
		return ember_errorf(err, ENOMEM, "%s: out of memory", path);
	}
	const char *dir = dirname(dircopy);
	const char *base = basename(basecopy);
	snprintf(tmp, plen + 32, "%s/.%s.tmp.XXXXXX", dir, base);
	int rc = 0;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		rc = ember_errorf(err, errno, "%s: cannot create a file in %s: %s", path, dir,
				  strerror(errno));
		goto out;
	}
	int w = write_all(fd, data, len);
	if (w == 0 && durable && fsync(fd) < 0)
		w = -errno;
	if (w == 0 && fchmod(fd, 0644) < 0)
		w = -errno;
	if (close(fd) < 0 && w == 0)
		w = -errno;
	if (w < 0) {
		rc = ember_errorf(err, -w, "%s: write failed: %s", path, strerror(-w));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = ember_errorf(err, errno, "%s: cannot rename into place: %s", path,
				  strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (durable) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	free(dircopy);
	free(basecopy);
	free(tmp);
	return rc;
}
