/* symbolizer/debuginfo.c — where a binary and its DWARF come from. In order:
 * the binary itself (when it carries .debug_info); each --debug-dir build-id
 * tree (DIR/.build-id/ab/cdef….debug); /usr/lib/debug/.build-id; the
 * .gnu_debuglink name next to the binary, in its .debug/ and under
 * /usr/lib/debug. Callbacks (ember_symbolizer_callbacks) come first when set.
 *
 * A candidate whose build id differs from the one wanted is refused and
 * counted, never used: a wrong debug file gives confidently wrong answers.
 * When the binary is gone but its build id is known, the debug file alone
 * serves (it keeps the program headers and .symtab).
 *
 * Owns: opening files and checking they are ELF. Must never: parse DWARF
 * (elf_index.c does) or print (the caller warns once per mapping).
 */
#include "debuginfo.h"
#include "ember/elf_section.h"

#include "ember/buildid.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const ei_file no_file = {-1, NULL, NULL};

static int elf_from_fd(int fd, const char *what, ei_file *out, ember_error *err)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		int r = ember_errorf(err, EINVAL, "%s: not a valid ELF file (%s)", what,
		                     elf_errmsg(-1));
		if (elf)
			elf_end(elf);
		close(fd);
		return r;
	}
	*out = (ei_file){fd, elf, NULL};
	return 0;
}

int debuginfo_open_elf(const char *path, ei_file *out, ember_error *err)
{
	*out = no_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	return elf_from_fd(fd, path, out, err);
}

static bool has_section(Elf *elf, const char *want, Elf_Data **data)
{
	Elf_Scn *scn = ember_elf_section(elf, want);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_size == 0)
		return false;
	if (data)
		*data = elf_getdata(scn, NULL);
	return true;
}

static bool has_debug_info(Elf *elf)
{
	return has_section(elf, ".debug_info", NULL) || has_section(elf, ".zdebug_info", NULL);
}

/* The file name in .gnu_debuglink, or false. */
static bool debuglink_name(Elf *elf, char *buf, size_t len)
{
	Elf_Data *d = NULL;
	if (!has_section(elf, ".gnu_debuglink", &d) || !d || !d->d_buf || d->d_size < 2)
		return false;
	size_t n = strnlen(d->d_buf, d->d_size);
	if (n == 0 || n >= d->d_size || n >= len || strchr(d->d_buf, '/'))
		return false;
	memcpy(buf, d->d_buf, n + 1);
	return true;
}

/* Tries one candidate debug file: opened, ELF, build id as wanted. */
static bool try_candidate(int fd, const char *what, const char *want_id, debuginfo_found *f)
{
	if (fd < 0)
		return false;
	ei_file c;
	if (elf_from_fd(fd, what, &c, NULL) != 0)
		return false;
	if (want_id[0]) {
		char id[129];
		if (ember_buildid_of_elf(c.elf, id) < 0 || strcmp(id, want_id) != 0) {
			f->refused++;
			ei_file_close(&c);
			return false;
		}
	}
	if (!has_debug_info(c.elf)) {
		ei_file_close(&c);
		return false;
	}
	f->dbg = c;
	return true;
}

static bool try_path(const char *path, const char *want_id, debuginfo_found *f)
{
	return try_candidate(open(path, O_RDONLY | O_CLOEXEC), path, want_id, f);
}

static bool by_build_id(const char *root, const char *id, debuginfo_found *f)
{
	char p[PATH_MAX];
	if (strlen(id) < 4)
		return false;
	int n = snprintf(p, sizeof p, "%s/.build-id/%.2s/%s.debug", root, id, id + 2);
	return n > 0 && (size_t)n < sizeof p && try_path(p, id, f);
}

static void find_separate(const debuginfo_search *s, const char *path, debuginfo_found *f)
{
	const char *id = f->build_id;
	if (s->cb && s->cb->find_debuginfo) {
		char link[256] = "";
		if (f->bin.elf)
			debuglink_name(f->bin.elf, link, sizeof link);
		if (try_candidate(s->cb->find_debuginfo(s->cb->ctx, path, id, link), path, id, f))
			return;
	}
	if (id[0]) {
		for (size_t i = 0; i < s->n_debug_dirs; i++)
			if (by_build_id(s->debug_dirs[i], id, f))
				return;
		if (by_build_id(s->system_dir, id, f))
			return;
	}
	char link[256];
	if (!f->bin.elf || !debuglink_name(f->bin.elf, link, sizeof link) || !path[0])
		return;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= sizeof dir)
		return;
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	char p[PATH_MAX];
	const char *fmts[] = {"%s/%s", "%s/.debug/%s"};
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(p, sizeof p, fmts[i], dl ? dir : ".", link);
		if (n > 0 && (size_t)n < sizeof p && strcmp(p, path) != 0 && try_path(p, id, f))
			return;
	}
	for (size_t i = 0; i < s->n_debug_dirs; i++) {
		int n = snprintf(p, sizeof p, "%s/%s", s->debug_dirs[i], link);
		if (n > 0 && (size_t)n < sizeof p && try_path(p, id, f))
			return;
	}
	int n =
	    snprintf(p, sizeof p, "%s%s%s/%s", s->system_dir, dir[0] == '/' ? "" : "/", dir, link);
	if (n > 0 && (size_t)n < sizeof p)
		try_path(p, id, f);
}

/* The file pid has mapped from path, through /proc/PID/map_files: still
 * there when the path was deleted or replaced after the process mapped it.
 * The caller checks the build id as for any candidate. */
static int open_mapped(int64_t pid, const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "/proc/%lld/maps", (long long)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -errno;
	static const char deleted[] = " (deleted)";
	size_t plen = strlen(path);
	char *line = NULL;
	size_t cap = 0;
	int fd = -ENOENT;
	while (fd < 0 && getline(&line, &cap, f) > 0) {
		unsigned long long start, end;
		int name_at = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &start, &end, &name_at) < 2 ||
		    !name_at)
			continue;
		char *name = line + name_at;
		name[strcspn(name, "\n")] = '\0';
		if (strncmp(name, path, plen) != 0 ||
		    (name[plen] && strcmp(name + plen, deleted) != 0))
			continue;
		snprintf(p, sizeof p, "/proc/%lld/map_files/%llx-%llx", (long long)pid, start, end);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	free(line);
	fclose(f);
	return fd;
}

static int open_binary(const debuginfo_search *s, const char *path, const char *build_id,
                       int64_t pid)
{
	if (s->cb && s->cb->find_elf)
		return s->cb->find_elf(s->cb->ctx, path, build_id, pid);
	if (!path[0])
		return -ENOENT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && pid > 0 && path[0] == '/') {
		/* The process's own view (containers, deleted-but-mapped files). */
		char p[PATH_MAX];
		int n = snprintf(p, sizeof p, "/proc/%lld/root%s", (long long)pid, path);
		if (n > 0 && (size_t)n < sizeof p)
			fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 && pid > 0 && path[0] == '/')
		return open_mapped(pid, path); /* deleted after the process mapped it */
	return fd < 0 ? -errno : fd;
}

int debuginfo_find(const debuginfo_search *s, const char *path, const char *build_id, int64_t pid,
                   debuginfo_found *f, ember_error *err)
{
	*f = (debuginfo_found){no_file, no_file, 0, ""};
	if (!build_id)
		build_id = "";
	if (strlen(build_id) < sizeof f->build_id)
		strcpy(f->build_id, build_id);

	int fd = open_binary(s, path, build_id, pid);
	int bin_err = fd < 0 ? -fd : 0;
	if (fd >= 0) {
		int r = elf_from_fd(fd, path, &f->bin, err);
		if (r < 0)
			return r;
		char id[129];
		bool has_id = ember_buildid_of_elf(f->bin.elf, id) == 0;
		if (build_id[0] && (!has_id || strcmp(id, build_id) != 0)) {
			/* The file at that path is not what was mapped (replaced
			 * since): the process's own mapping may still be there. */
			f->refused++;
			ei_file_close(&f->bin);
			bin_err = ESTALE;
			int mfd = pid > 0 && path[0] == '/' && !(s->cb && s->cb->find_elf)
			              ? open_mapped(pid, path)
			              : -ENOENT;
			if (mfd >= 0 && elf_from_fd(mfd, path, &f->bin, NULL) == 0) {
				if (ember_buildid_of_elf(f->bin.elf, id) == 0 &&
				    strcmp(id, build_id) == 0)
					bin_err = 0;
				else
					ei_file_close(&f->bin);
			}
		} else if (!build_id[0] && has_id) {
			strcpy(f->build_id, id);
		}
	}
	if (f->bin.elf && has_debug_info(f->bin.elf)) {
		f->dbg = (ei_file){-1, f->bin.elf, NULL};
		return 0;
	}
	find_separate(s, path, f);
	if (f->bin.elf || f->dbg.elf)
		return 0;
	if (bin_err == ESTALE)
		return ember_errorf(err, ESTALE,
		                    "%s: build id differs from the profile's %s and no debug file "
		                    "with that build id was found: pass --debug-dir",
		                    path, build_id);
	return ember_errorf(err, ENOENT, "%s: %s%s", path[0] ? path : "(no path)",
	                    strerror(bin_err ? bin_err : ENOENT),
	                    build_id[0] ? " and no debug file for its build id: pass --debug-dir"
	                                : "");
}
