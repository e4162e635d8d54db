/* tests/profiler/test_proctab.c — the process table fed synthetic side-band
 * records (fork copies the parent, exec starts a new process under a new
 * handle while the old one stays readable until reaped, mmap replaces what
 * it overlaps, thread names follow COMM and FORK), build ids from records,
 * from files and from /proc, and the window builder on top: mappings per
 * process plus one kernel mapping, caller addresses as given, [truncated],
 * labels. Pids above pid_max never collide with real processes. */
#include "ember/buildid.h"
#include "proctab.h"
#include "stacktab.h"
#include "window.h"

#include "../check.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum { P = 5000001, C = 5000002, T2 = 5000003 };

static perf_mmap2 mmap_rec(uint32_t pid, uint64_t addr, uint64_t len, const char *file,
			   const unsigned char *bid)
{
	return (perf_mmap2){ .pid = pid, .tid = pid, .addr = addr, .len = len, .pgoff = 0x1000,
			     .prot = 5, .filename = file, .build_id = bid,
			     .build_id_size = bid ? 20 : 0 };
}

static void test_records(void)
{
	proctab *pt;
	CHECK_EQ_INT(proctab_new(&pt), 0);
	unsigned char bid[20];
	for (int i = 0; i < 20; i++)
		bid[i] = (unsigned char)(0xa0 + i);

	/* the parent: born by fork, named by exec, two mappings */
	proctab_on_fork(pt, &(perf_task){ .pid = P, .ppid = 1, .tid = P, .ptid = 1 });
	proctab_on_comm(pt, &(perf_comm){ .pid = P, .tid = P, .comm = "parent", .exec = true });
	uint32_t hp = proctab_get(pt, P);
	perf_mmap2 m = mmap_rec(P, 0x400000, 0x2000, "/opt/app", bid);
	proctab_on_mmap2(pt, &m);
	m = mmap_rec(P, 0x7f0000000000, 0x1000, "//anon", NULL);
	proctab_on_mmap2(pt, &m);
	m = mmap_rec(P, 0x500000, 0x1000, "/opt/data", NULL);
	m.prot = 1;   /* not executable: ignored */
	proctab_on_mmap2(pt, &m);
	const proc *pp = proctab_proc(pt, hp);
	CHECK(strcmp(pp->comm, "parent") == 0);
	CHECK_EQ_INT(pp->n_maps, 2);
	const proc_mapping *pm = proc_find_mapping(pp, 0x401fff);
	CHECK(pm && strcmp(pm->filename, "/opt/app") == 0 && pm->pgoff == 0x1000);
	CHECK(pm && strcmp(pm->build_id, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3") == 0);
	CHECK(proc_find_mapping(pp, 0x402000) == NULL);
	pm = proc_find_mapping(pp, 0x7f0000000000);
	CHECK(pm && strcmp(pm->build_id, "") == 0);

	/* a thread: inherits the name, then renames itself */
	proctab_on_fork(pt, &(perf_task){ .pid = P, .ppid = P, .tid = T2, .ptid = P });
	CHECK(strcmp(proctab_thread_name(pt, T2), "parent") == 0);
	proctab_on_comm(pt, &(perf_comm){ .pid = P, .tid = T2, .comm = "worker-1" });
	CHECK(strcmp(proctab_thread_name(pt, T2), "worker-1") == 0);
	CHECK(strcmp(proctab_proc(pt, hp)->comm, "parent") == 0);

	/* a child process: a copy of the parent */
	proctab_on_fork(pt, &(perf_task){ .pid = C, .ppid = P, .tid = C, .ptid = P });
	uint32_t hc = proctab_get(pt, C);
	CHECK(hc != hp);
	CHECK(strcmp(proctab_proc(pt, hc)->comm, "parent") == 0);
	CHECK_EQ_INT(proctab_proc(pt, hc)->n_maps, 2);
	/* the child shares the parent's strings rather than copying them */
	CHECK(proctab_proc(pt, hc)->maps[0].filename == proctab_proc(pt, hp)->maps[0].filename);
	/* an mmap over part of an old mapping replaces it */
	m = mmap_rec(C, 0x401000, 0x3000, "/opt/plugin", NULL);
	proctab_on_mmap2(pt, &m);
	const proc *pc = proctab_proc(pt, hc);
	CHECK_EQ_INT(pc->n_maps, 2);
	CHECK(proc_find_mapping(pc, 0x400000) == NULL);
	pm = proc_find_mapping(pc, 0x403fff);
	CHECK(pm && strcmp(pm->filename, "/opt/plugin") == 0);
	/* the parent kept its own */
	CHECK(strcmp(proc_find_mapping(proctab_proc(pt, hp), 0x400000)->filename, "/opt/app") == 0);

	/* exec: a new process under a new handle; the old one stays readable */
	proctab_on_comm(pt, &(perf_comm){ .pid = C, .tid = C, .comm = "child", .exec = true });
	uint32_t hc2 = proctab_get(pt, C);
	CHECK(hc2 != hc);
	CHECK(strcmp(proctab_proc(pt, hc2)->comm, "child") == 0);
	CHECK_EQ_INT(proctab_proc(pt, hc2)->n_maps, 0);
	CHECK(proctab_proc(pt, hc)->dead);
	CHECK(proc_find_mapping(proctab_proc(pt, hc), 0x403000) != NULL);
	CHECK_EQ_INT(proctab_live(pt), 2);

	/* unwinder callback: the current process's mapping, a path that opens */
	ember_unwind_mapping um;
	CHECK_EQ_INT(proctab_unwind_find_mapping(pt, P, 0x400010, &um), 0);
	CHECK(um.start == 0x400000 && um.end == 0x402000 && um.pgoff == 0x1000);
	CHECK(strstr(um.path, "/opt/app") != NULL);
	CHECK(strcmp(um.build_id, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3") == 0);
	CHECK_EQ_INT(proctab_unwind_find_mapping(pt, P, 0x10, &um), -ENOENT);
	CHECK_EQ_INT(proctab_unwind_find_mapping(pt, 5000099, 0x400010, &um), -ENOENT);

	/* exits, then the reap after the window */
	proctab_on_exit(pt, &(perf_task){ .pid = P, .ppid = P, .tid = T2, .ptid = P });
	proctab_on_exit(pt, &(perf_task){ .pid = C, .ppid = P, .tid = C, .ptid = P });
	CHECK(strcmp(proctab_thread_name(pt, T2), "worker-1") == 0);   /* until reaped */
	proctab_reap(pt);
	CHECK(proctab_thread_name(pt, T2) == NULL);
	CHECK(proctab_thread_name(pt, P) != NULL);
	CHECK_EQ_INT(proctab_live(pt), 1);
	CHECK_EQ_INT(proctab_get(pt, P), hp);
	/* a reused handle starts clean */
	proctab_on_fork(pt, &(perf_task){ .pid = C, .ppid = 1, .tid = C, .ptid = 1 });
	uint32_t h3 = proctab_get(pt, C);
	CHECK(h3 == hc || h3 == hc2);
	CHECK_EQ_INT(proctab_proc(pt, h3)->n_maps, 0);
	proctab_free(pt);
}

static void test_build_ids_from_files(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	self[n > 0 ? n : 0] = '\0';
	char want[EMBER_BUILD_ID_HEX];
	CHECK_EQ_INT(ember_buildid_read_file(self, want), 0);
	CHECK_EQ_INT(strlen(want), 40);
	CHECK(ember_buildid_read_file("/proc/self/status", want) < 0);   /* not ELF */

	proctab *pt;
	proctab_new(&pt);
	/* our own process from /proc: comm and the executable's build id */
	CHECK_EQ_INT(proctab_seed(pt, getpid()), 0);
	const proc *me = proctab_proc(pt, proctab_get(pt, getpid()));
	CHECK(strcmp(me->comm, "test_proctab") == 0);
	const proc_mapping *pm = proc_find_mapping(me, (uint64_t)(uintptr_t)&test_records);
	CHECK(pm && strcmp(pm->filename, self) == 0);
	CHECK(pm && strcmp(pm->build_id, want) == 0);
	CHECK(strcmp(proctab_thread_name(pt, getpid()), "test_proctab") == 0);
	CHECK_EQ_INT(proctab_seed(pt, 5000123), -ESRCH);

	/* MMAP2 without a build id: read from the file (via /proc/PID/root) */
	perf_mmap2 m = mmap_rec((uint32_t)getpid(), 0x10000, 0x1000, self, NULL);
	m.maj = 1;
	m.ino = 12345;
	proctab_on_mmap2(pt, &m);
	pm = proc_find_mapping(me, 0x10000);
	CHECK(pm && strcmp(pm->build_id, want) == 0);
	proctab_free(pt);

	/* the running kernel's notes, when it has them */
	char kbid[EMBER_BUILD_ID_HEX];
	if (ember_buildid_read_kernel(kbid) == 0)
		CHECK(strlen(kbid) >= 2);
	unsigned char notes[64] = { 0 };
	uint32_t hdr[3] = { 4, 4, 3 };   /* namesz, descsz, NT_GNU_BUILD_ID */
	memcpy(notes, hdr, 12);
	memcpy(notes + 12, "GNU", 4);
	memcpy(notes + 16, "\x01\x02\x03\xff", 4);
	CHECK_EQ_INT(ember_buildid_from_notes(notes, 20, kbid), 0);
	CHECK(strcmp(kbid, "010203ff") == 0);
	CHECK(ember_buildid_from_notes(notes, 18, kbid) < 0);   /* truncated */
}

static const ember_label *label(const ember_profile *p, const ember_sample *s, const char *k)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(ember_profile_str(p, s->labels[i].key), k) == 0)
			return &s->labels[i];
	return NULL;
}

static void test_window(void)
{
	proctab *pt;
	proctab_new(&pt);
	proctab_on_fork(pt, &(perf_task){ .pid = P, .ppid = 1, .tid = P, .ptid = 1 });
	proctab_on_comm(pt, &(perf_comm){ .pid = P, .tid = P, .comm = "app", .exec = true });
	perf_mmap2 m = mmap_rec(P, 0x400000, 0x2000, "/opt/app", NULL);
	proctab_on_mmap2(pt, &m);
	proctab_on_fork(pt, &(perf_task){ .pid = P, .ppid = P, .tid = T2, .ptid = P });
	proctab_on_comm(pt, &(perf_comm){ .pid = P, .tid = T2, .comm = "io" });
	uint32_t h = proctab_get(pt, P);

	stacktab st;
	stacktab_init(&st, 0);
	uint64_t k[4] = { 0xffffffff81000010, 0xffffffff81000020, 0x400100, 0x400200 };
	uint64_t u[3] = { 0x400100, 0x123 /* unmapped */, WINDOW_FRAME_TRUNCATED };
	stacktab_add(&st, h, P, k, 4, 1000);
	stacktab_add(&st, h, P, k, 4, 1000);
	stacktab_add(&st, h, T2, u, 3, 1000);
	window_info wi = { .time_nanos = 7, .duration_nanos = 9, .period = 1000,
			   .kernel_start = 0xffffffff81000000, .kernel_build_id = "abcd" };
	ember_profile *p = NULL;
	ember_error err;
	CHECK_EQ_INT(window_build(&st, pt, &wi, &p, &err), 0);
	char msg[256];
	CHECK_EQ_INT(ember_profile_check(p, msg, sizeof msg), 0);
	CHECK_EQ_INT(p->n_samples, 2);
	CHECK_EQ_INT(p->n_mappings, 2);   /* /opt/app and the kernel */
	CHECK_EQ_INT(p->n_locations, 6);  /* 0x400100 shared; k x2, 0x400200, 0x123, [truncated] */
	CHECK_EQ_INT(p->period, 1000);
	CHECK_EQ_INT(p->time_nanos, 7);
	CHECK_EQ_INT(p->duration_nanos, 9);
	CHECK(strcmp(ember_profile_str(p, p->sample_types[1].unit), "nanoseconds") == 0);
	for (size_t i = 0; i < p->n_mappings; i++) {
		const ember_mapping *mp = &p->mappings[i];
		const char *f = ember_profile_str(p, mp->filename);
		if (strcmp(f, "[kernel.kallsyms]") == 0) {
			CHECK(mp->memory_start == 0xffffffff81000000);
			CHECK(strcmp(ember_profile_str(p, mp->build_id), "abcd") == 0);
		} else {
			CHECK(strcmp(f, "/opt/app") == 0 && mp->memory_start == 0x400000 &&
			      mp->memory_limit == 0x402000 && mp->file_offset == 0x1000);
		}
		CHECK(!mp->has_functions);
	}
	for (size_t i = 0; i < p->n_samples; i++) {
		const ember_sample *s = &p->samples[i];
		const ember_label *tid = label(p, s, "tid"), *thread = label(p, s, "thread");
		CHECK(label(p, s, "pid") && label(p, s, "pid")->num == P);
		CHECK(strcmp(ember_profile_str(p, label(p, s, "comm")->str), "app") == 0);
		if (tid->num == P) {
			CHECK_EQ_INT(s->values[0], 2);
			CHECK_EQ_INT(s->values[1], 2000);
			CHECK_EQ_INT(s->n_locations, 4);
			const ember_location *l0 = ember_profile_location(p, s->location_ids[0]);
			CHECK(l0->address == 0xffffffff81000010);
			CHECK(strcmp(ember_profile_str(p, ember_profile_mapping(p, l0->mapping_id)->filename),
				     "[kernel.kallsyms]") == 0);
			CHECK(strcmp(ember_profile_str(p, thread->str), "app") == 0);
		} else {
			CHECK_EQ_INT(tid->num, T2);
			CHECK(strcmp(ember_profile_str(p, thread->str), "io") == 0);
			CHECK_EQ_INT(s->n_locations, 3);
			const ember_location *l1 = ember_profile_location(p, s->location_ids[1]);
			CHECK(l1->mapping_id == 0 && l1->address == 0x123);
			const ember_location *lt = ember_profile_location(p, s->location_ids[2]);
			CHECK(lt->mapping_id == 0 && lt->n_lines == 1);
			const ember_function *fn = ember_profile_function(p, lt->lines[0].function_id);
			CHECK(fn && strcmp(ember_profile_str(p, fn->name), "[truncated]") == 0);
		}
	}
	ember_profile_free(p);
	stacktab_fini(&st);
	proctab_free(pt);
}

int main(void)
{
	test_records();
	test_build_ids_from_files();
	test_window();
	return check_exit();
}
