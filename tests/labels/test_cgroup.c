/* tests/labels/test_cgroup.c — profiler/cgroup.c: the labels each runtime's
 * cgroup spelling yields (and the near misses that must yield none), the
 * PERF_RECORD_CGROUP decoder, and the id -> path map over the real cgroup2
 * hierarchy: a cgroup made after the walk is found by its file handle, an
 * id no handle answers walks once per window at most, and a removed cgroup
 * is forgotten after 64 idle windows while one in use stays. */
#include "cgroup.h"
#include "perf_sample.h"
#include "target.h"

#include "../check.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID_U "1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d"
#define UID_D "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"

static void expect(const char *path, const char *container, const char *pod, const char *unit)
{
	cgroup_labels l;
	cgroup_derive(path, &l);
	bool ok = strcmp(l.container_id, container) == 0 && strcmp(l.pod_uid, pod) == 0 &&
		  strcmp(l.systemd_unit, unit) == 0;
	if (!ok)
		fprintf(stderr, "%s -> container '%s' pod '%s' unit '%s'\n", path, l.container_id,
			l.pod_uid, l.systemd_unit);
	CHECK(ok);
}

static void derive(void)
{
	/* the runtimes' spellings */
	expect("/system.slice/docker-" ID_A ".scope", ID_A, "", "");
	expect("/docker/" ID_A, ID_A, "", "");
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
	       ".slice/cri-containerd-" ID_B ".scope",
	       ID_B, UID_D, "");
	expect("/kubepods.slice/kubepods-pod" UID_U ".slice/crio-" ID_A ".scope", ID_A, UID_D, "");
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U ".slice",
	       "", UID_D, "");
	expect("/kubepods/burstable/pod" UID_D "/" ID_B, ID_B, UID_D, "");
	expect("/kubepods/pod" UID_D "/" ID_A, ID_A, UID_D, "");
	expect("/machine.slice/libpod-" ID_A ".scope", ID_A, "", "");
	expect("/machine.slice/libpod-" ID_A ".scope/container", ID_A, "", "");
	/* podman under cgroupfs: no .scope */
	expect("/libpod_parent/libpod-" ID_B, ID_B, "", "");
	expect("/system.slice/nginx.service", "", "", "nginx.service");
	expect("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "", "",
	       "foo.service");
	/* near misses: no label */
	expect("/", "", "", "");
	expect("/machine.slice/libpod-conmon-" ID_A ".scope", "", "", "");
	expect("/system.slice/crio-conmon-" ID_A ".scope", "", "", "");
	expect("/system.slice/docker-0123.scope", "", "", "");
	expect("/system.slice/docker-" ID_A "0.scope", "", "", "");
	expect("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
	       ".scope",
	       "", "", "");
	expect("/other/" ID_A, "", "", "");
	expect("/pod" UID_D "/" ID_A, "", "", "");
	expect("/kubepods.slice/kubepods-podxyz.slice", "", "", "");
	expect("/.service", "", "", "");
	/* the innermost wins */
	expect("/docker-" ID_A ".scope/docker-" ID_B ".scope", ID_B, "", "");
}

static void record(void)
{
	uint64_t buf[8] = { 0 };
	struct perf_event_header *h = (struct perf_event_header *)buf;
	h->type = PERF_RECORD_CGROUP;
	h->size = sizeof *h + 8 + 16;
	buf[1] = 4242;
	memcpy(&buf[2], "/a/b.scope", 11);
	perf_cgroup c;
	CHECK_EQ_INT(perf_cgroup_parse(h, &c), 0);
	CHECK_EQ_INT(c.id, 4242);
	CHECK(strcmp(c.path, "/a/b.scope") == 0);
	memset(&buf[2], 'x', 16);   /* no NUL inside the record */
	CHECK_EQ_INT(perf_cgroup_parse(h, &c), -EINVAL);
	h->size = sizeof *h + 4;    /* shorter than the id */
	CHECK_EQ_INT(perf_cgroup_parse(h, &c), -EINVAL);
	h->type = PERF_RECORD_COMM;
	CHECK_EQ_INT(perf_cgroup_parse(h, &c), -EINVAL);
}

/* The map over the live hierarchy (root: this test runs as root, like CI). */
static int map(void)
{
	char mnt[PATH_MAX];
	if (target_cgroup2_mount(mnt, sizeof mnt) < 0) {
		fprintf(stderr, "no cgroup2 mount: the map part cannot run\n");
		return 77;
	}
	cgroup_map *m;
	CHECK_EQ_INT(cgroup_map_new(&m), 0);
	CHECK(cgroup_map_enabled(m));
	CHECK_EQ_INT(cgroup_map_scans(m), 1);
	struct stat st;
	CHECK(stat(mnt, &st) == 0);
	const cgroup_info *root = cgroup_map_resolve(m, (uint64_t)st.st_ino);
	CHECK(root && strcmp(root->path, "/") == 0);

	char dir[PATH_MAX + 256], rel[128];
	snprintf(rel, sizeof rel, "/ember-test-%d.slice", (int)getpid());
	snprintf(dir, sizeof dir, "%s%s", mnt, rel);
	if (mkdir(dir, 0755) < 0) {
		fprintf(stderr, "mkdir %s: %s (run as root)\n", dir, strerror(errno));
		cgroup_map_free(m);
		return 77;
	}
	char sub[PATH_MAX + 512];
	snprintf(sub, sizeof sub, "%s/docker-" ID_A ".scope", dir);
	CHECK(mkdir(sub, 0755) == 0);
	struct stat ss;
	CHECK(stat(sub, &ss) == 0);
	struct stat ds;
	CHECK(stat(dir, &ds) == 0);
	CHECK_EQ_INT(cgroup_id_of_path(m, rel), ds.st_ino);
	/* made after the walk: a miss asks the id's file handle (as root),
	 * no walk */
	const cgroup_info *ci = cgroup_map_resolve(m, (uint64_t)ss.st_ino);
	CHECK(ci != NULL);
	CHECK_EQ_INT(cgroup_map_scans(m), 1);
	CHECK_EQ_INT(cgroup_map_handle_hits(m), 1);
	if (ci) {
		char want[256];
		snprintf(want, sizeof want, "%s/docker-" ID_A ".scope", rel);
		CHECK(strcmp(ci->path, want) == 0);
		CHECK(strcmp(ci->labels.container_id, ID_A) == 0);
	}
	/* an id no handle answers: one walk, and no second in the same window */
	CHECK(cgroup_map_resolve(m, UINT64_MAX - 1) == NULL);
	CHECK_EQ_INT(cgroup_map_scans(m), 2);
	CHECK(cgroup_map_resolve(m, UINT64_MAX - 2) == NULL);
	CHECK_EQ_INT(cgroup_map_scans(m), 2);
	/* next window: the miss may walk again */
	cgroup_map_window_end(m);
	CHECK(cgroup_map_resolve(m, UINT64_MAX - 1) == NULL);
	CHECK_EQ_INT(cgroup_map_scans(m), 3);
	/* this process's own cgroup from /proc/self/cgroup */
	CHECK(cgroup_id_of_pid(m, (int32_t)getpid()) != 0);

	/* removed: still known while windows may hold its samples, forgotten
	 * after 64 idle windows: the next lookup misses, and either the handle
	 * of the dying cgroup still answers (with its old path) or one walk
	 * finds nothing */
	CHECK(rmdir(sub) == 0);
	CHECK(rmdir(dir) == 0);
	CHECK(cgroup_map_resolve(m, (uint64_t)ss.st_ino) != NULL);
	for (int i = 0; i < 70; i++)
		cgroup_map_window_end(m);
	uint64_t before = cgroup_map_scans(m) + cgroup_map_handle_hits(m);
	ci = cgroup_map_resolve(m, (uint64_t)ss.st_ino);
	CHECK_EQ_INT(cgroup_map_scans(m) + cgroup_map_handle_hits(m), before + 1);
	CHECK(!ci || strstr(ci->path, "/docker-" ID_A ".scope") != NULL);
	/* in use: kept however long */
	CHECK(cgroup_map_resolve(m, (uint64_t)st.st_ino) != NULL);
	uint64_t hits = cgroup_map_handle_hits(m), walks = cgroup_map_scans(m);
	for (int i = 0; i < 100; i++) {
		cgroup_map_window_end(m);
		CHECK(cgroup_map_resolve(m, (uint64_t)st.st_ino) != NULL);
	}
	CHECK_EQ_INT(cgroup_map_handle_hits(m), hits);
	CHECK_EQ_INT(cgroup_map_scans(m), walks);
	cgroup_map_free(m);
	return 0;
}

int main(void)
{
	derive();
	record();
	int rc = map();
	if (rc == 77)
		return 77;
	return check_exit();
}
