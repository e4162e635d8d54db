/* tests/unwind/test_unwind.c — the DWARF unwinder (profiler/unwind_dwarf.c)
 * without perf: this program, built with -fomit-frame-pointer, captures its
 * own registers (inline asm) and a copy of its stack deep in a call chain
 * that runs through a dlopen'd library without frame pointers, then unwinds
 * the copy with ember_unwinder_unwind, finding mappings in /proc/self/maps,
 * and checks the frames (named with dladdr) against the chain it knows.
 *
 * Checked: the full chain up to main and the outermost frame; no file I/O
 * and no malloc per unwind once binaries are cached (counted with
 * -Wl,--wrap=malloc); every shorter stack copy gives a prefix of the full
 * stack and STACK_TOO_SMALL; corrupted stack bytes and registers end cleanly;
 * a function without unwind info is crossed by the frame-pointer fallback; a
 * recursion deeper than the copy stops with STACK_TOO_SMALL inside the
 * recursion; max_ips; an ip in no mapping.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "check.h"
#include "debug_frame.h"
#include "unwind.h"

/* ---- malloc counting (the test links with --wrap=malloc,calloc,realloc) */

static unsigned long n_mallocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	n_mallocs++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	n_mallocs++;
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_mallocs++;
	return __real_realloc(p, n);
}

/* ---- /proc/self/maps as the process table ------------------------------ */

typedef struct tmap {
	uint64_t start, end, pgoff;
	char path[256];
} tmap;

static tmap maps[512];
static size_t n_maps;
static unsigned long n_find_calls;

static void load_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f) {
		perror("/proc/self/maps");
		exit(1);
	}
	char line[512];
	n_maps = 0;
	while (fgets(line, sizeof line, f) && n_maps < 512) {
		tmap *m = &maps[n_maps];
		char perms[8] = "";
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s%n", &m->start,
		           &m->end, perms, &m->pgoff, &pos) < 4 ||
		    perms[2] != 'x')
			continue;
		char *p = line + pos;
		while (*p == ' ')
			p++;
		p[strcspn(p, "\n")] = 0;
		snprintf(m->path, sizeof m->path, "%s", p);
		n_maps++;
	}
	fclose(f);
}

/* What find_mapping reports (section 9 varies it): a real view of our
 * maps, or every path replaced by a unique unreadable one, or one build id
 * for every binary with the path made unreadable or not. */
static struct {
	int unique_bad_paths;
	const char *build_id;
	int bad_path;
	char scratch[64];
	unsigned serial;
} fm;

static int find_mapping(void *ctx, int32_t pid, uint64_t addr, ember_unwind_mapping *out)
{
	(void)ctx;
	(void)pid;
	n_find_calls++;
	for (size_t i = 0; i < n_maps; i++)
		if (addr >= maps[i].start && addr < maps[i].end) {
			out->start = maps[i].start;
			out->end = maps[i].end;
			out->pgoff = maps[i].pgoff;
			out->path = maps[i].path;
			out->build_id = fm.build_id ? fm.build_id : "";
			if (fm.unique_bad_paths) {
				snprintf(fm.scratch, sizeof fm.scratch, "/nonexistent/%u",
				         fm.serial++);
				out->path = fm.scratch;
			} else if (fm.bad_path) {
				out->path = "/nonexistent/file";
			}
			return 0;
		}
	return -ENOENT;
}

/* ---- capturing our own stack -------------------------------------------- */

#define N_REGS 17 /* popcount(ember_unwind_regs_mask()) */
#define R_BP 6
#define R_SP 7
#define R_IP 8
#define STACK_COPY 32768

static uint64_t stack_top; /* end of the [stack] mapping */
static uint64_t snap_regs[N_REGS];
static uint8_t snap_stack[STACK_COPY];
static size_t snap_size;

/* A plain word copy the sanitizers leave alone: the copy crosses other
 * frames' red zones on purpose, as the kernel's copy does. */
__attribute__((no_sanitize_address, noinline)) static void copy_stack(uint64_t sp)
{
	size_t n = STACK_COPY;
	if (stack_top - sp < n)
		n = (size_t)(stack_top - sp);
	const volatile uint64_t *src = (const volatile uint64_t *)(uintptr_t)sp;
	uint64_t *dst = (uint64_t *)snap_stack;
	for (size_t i = 0; i < n / 8; i++)
		dst[i] = src[i];
	snap_size = n & ~(size_t)7;
}

/* Stores rip (of the lea), rsp, rbp, rbx, r12-r15 in perf_regs order
 * (ax bx cx dx si di bp sp ip r8..r15), then copies the stack from rsp. */
__attribute__((noinline)) int tu_capture(int x)
{
	uint64_t *r = snap_regs;
	memset(r, 0, sizeof snap_regs);
	__asm__ volatile("leaq 0(%%rip), %%rax\n\t"
	                 "movq %%rax, 64(%0)\n\t"
	                 "movq %%rsp, 56(%0)\n\t"
	                 "movq %%rbp, 48(%0)\n\t"
	                 "movq %%rbx, 8(%0)\n\t"
	                 "movq %%r12, 104(%0)\n\t"
	                 "movq %%r13, 112(%0)\n\t"
	                 "movq %%r14, 120(%0)\n\t"
	                 "movq %%r15, 128(%0)\n\t"
	                 :
	                 : "r"(r)
	                 : "rax", "memory");
	copy_stack(r[R_SP]);
	return x + 1;
}

int deep_enter(int (*cb)(int), int x);       /* deep_lib.so, resolved by dlsym */
static int (*df_enter_p)(int (*)(int), int); /* debugframe_lib.so */
int fp_noinfo_call(int (*cb)(int), int x);
static int (*deep_enter_p)(int (*)(int), int);
static volatile int sink;

__attribute__((noinline)) int tu_middle(int x)
{
	int r = deep_enter_p(tu_capture, x + 1);
	sink += r;
	return r + 1;
}

__attribute__((noinline)) int tu_outer(int x)
{
	int r = tu_middle(x + 1);
	sink += r;
	return r + 2;
}

__attribute__((noinline)) int tu_fp_outer(int x)
{
	int r = fp_noinfo_call(tu_capture, x + 1);
	sink += r;
	return r + 3;
}

__attribute__((noinline)) int tu_df_outer(int x)
{
	int r = df_enter_p(tu_capture, x + 1);
	sink += r;
	return r + 4;
}

__attribute__((noinline)) int tu_recurse(int depth)
{
	volatile char pad[64];
	pad[depth & 63] = (char)depth;
	int r = depth > 0 ? tu_recurse(depth - 1) : tu_capture(depth);
	sink += r + pad[depth & 63];
	return r + 1;
}

/* ---- helpers -------------------------------------------------------------- */

static const char *name_of(uint64_t ip, int caller)
{
	Dl_info di;
	if (dladdr((void *)(uintptr_t)(caller ? ip - 1 : ip), &di) && di.dli_sname)
		return di.dli_sname;
	return "?";
}

static void dump(const char *what, const uint64_t *ips, int n, ember_unwind_reason why)
{
	fprintf(stderr, "%s: %d frames, stopped=%d\n", what, n, (int)why);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  #%d %#" PRIx64 " %s\n", i, ips[i], name_of(ips[i], i > 0));
}

/* Index of name in frames at or after from, else -1. */
static int find_frame(const uint64_t *ips, int n, int from, const char *name)
{
	for (int i = from; i < n; i++)
		if (strcmp(name_of(ips[i], i > 0), name) == 0)
			return i;
	return -1;
}

/* True when the frames hold names in this order (each after the last). */
static int has_chain(const uint64_t *ips, int n, const char *const *names)
{
	int at = 0;
	for (; *names; names++) {
		int i = find_frame(ips, n, at, *names);
		if (i < 0)
			return 0;
		at = i + 1;
	}
	return 1;
}

#define MAX_IPS 1024

/* debug_frame_convert on a hand-built section: one CIE (version 1, code
 * align 1, data align -8, RA r16, CFA = rsp + 8, RA at CFA - 8) and one FDE
 * for [0x401120, 0x401140); then on 3000 corrupted copies (must not crash:
 * ASan watches the reads). */
static void test_debug_frame_convert(void)
{
	static const uint8_t cie[24] = {0x14, 0,    0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78,
	                                16,   0x0c, 7, 8, 0x90, 1,    0,    0,    0, 0, 0, 0};
	uint8_t sec[24 + 32];
	memcpy(sec, cie, sizeof cie);
	uint8_t fde[32] = {0x1c, 0, 0, 0, 0, 0, 0, 0};
	uint64_t loc = 0x401120, range = 0x20;
	memcpy(fde + 8, &loc, 8);
	memcpy(fde + 16, &range, 8);
	fde[24] = 0x44; /* DW_CFA_advance_loc 4 */
	fde[25] = 0x0e; /* DW_CFA_def_cfa_offset 16 */
	fde[26] = 16;
	memcpy(sec + 24, fde, sizeof fde);
	uint64_t at = 0x401000;
	debug_frame_blob b;
	CHECK_EQ_INT(debug_frame_convert(sec, sizeof sec, at, &b), 0);
	CHECK_EQ_INT(b.n_fdes, 1);
	CHECK_EQ_INT(b.size % 8, 0);
	if (b.n_fdes == 1) {
		int32_t e[2];
		memcpy(e, b.data, 8);
		CHECK_EQ_INT(e[0], (int64_t)(loc - at));
		uint32_t fo = (uint32_t)e[1], cie_ptr, id;
		int32_t pc;
		memcpy(&cie_ptr, b.data + fo + 4, 4);
		uint32_t co = fo + 4 - cie_ptr;
		memcpy(&id, b.data + co + 4, 4);
		CHECK_EQ_INT(id, 0); /* an .eh_frame CIE */
		CHECK(memcmp(b.data + co + 9, "zR", 3) == 0);
		memcpy(&pc, b.data + fo + 8, 4);
		CHECK_EQ_INT(at + fo + 8 + (int64_t)pc, loc); /* pc-relative start */
		uint32_t r;
		memcpy(&r, b.data + fo + 12, 4);
		CHECK_EQ_INT(r, range);
		CHECK(memcmp(b.data + fo + 17, fde + 24, 3) == 0); /* instructions copied */
	}
	debug_frame_blob_free(&b);
	/* a location below the overlay address cannot be expressed: skipped */
	CHECK_EQ_INT(debug_frame_convert(sec, sizeof sec, loc + 1, &b), -ENOENT);
	srand(7);
	uint8_t bad[sizeof sec];
	for (int k = 0; k < 3000; k++) {
		memcpy(bad, sec, sizeof sec);
		for (int j = 1 + rand() % 4; j > 0; j--)
			bad[rand() % sizeof bad] = (uint8_t)rand();
		size_t len = (size_t)rand() % (sizeof bad + 1);
		if (debug_frame_convert(bad, len, at, &b) == 0) {
			CHECK(b.n_fdes >= 1 && b.size % 8 == 0);
			debug_frame_blob_free(&b);
		}
	}
}

/* The runtime address of a function of our vDSO (its image is mapped whole,
 * section headers included), or 0. */
static uint64_t vdso_function(const char *name)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	if (!base)
		return 0;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	uint64_t first = UINT64_MAX;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < first)
			first = ph[i].p_vaddr;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
			if (strcmp(str + sym[k].st_name, name) == 0 && sym[k].st_value)
				return (uint64_t)(uintptr_t)base + sym[k].st_value - first;
	}
	return 0;
}

/* The snapshot being unwound (static: main's own frame must stay small for
 * the copy to reach past it). */
static uint64_t regs[N_REGS], ips[MAX_IPS];
static uint8_t stack[STACK_COPY];
static size_t size;

static void load_snapshot(void)
{
	memcpy(regs, snap_regs, sizeof regs);
	memcpy(stack, snap_stack, snap_size);
	size = snap_size;
}

/* Unwinds the last snapshot; checks it reaches the outermost frame through
 * chain. Leaves the frames in ips and the counters around it in st0/st1. */
static int unwind_chain(ember_unwinder *u, const char *what, const char *const *chain,
                        ember_unwinder_stats *st0, ember_unwinder_stats *st1)
{
	ember_unwind_reason why;
	load_snapshot();
	ember_unwinder_get_stats(u, st0);
	int n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, st1);
	CHECK(has_chain(ips, n, chain));
	CHECK_EQ_INT(why, EMBER_UNWIND_N_REASONS);
	if (!has_chain(ips, n, chain) || why != EMBER_UNWIND_N_REASONS)
		dump(what, ips, n, why);
	return n;
}

int main(void)
{
	test_debug_frame_convert();

	CHECK_EQ_INT(__builtin_popcountll(ember_unwind_regs_mask()), N_REGS);
	/* at least ip, sp, bp, bx, r12-r15 (perf_regs bits) */
	uint64_t need = (1ull << 8) | (1ull << 7) | (1ull << 6) | (1ull << 1) | (0xfull << 20);
	CHECK((ember_unwind_regs_mask() & need) == need);

	const char *lib = getenv("EMBER_TEST_DEEP_LIB");
	if (!lib) {
		fprintf(stderr, "EMBER_TEST_DEEP_LIB not set\n");
		return 1;
	}
	void *h = dlopen(lib, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	deep_enter_p = (int (*)(int (*)(int), int))dlsym(h, "deep_enter");
	CHECK(deep_enter_p != NULL);
	const char *dflib = getenv("EMBER_TEST_DF_LIB");
	void *hdf = dflib ? dlopen(dflib, RTLD_NOW) : NULL;
	if (!hdf) {
		fprintf(stderr, "dlopen EMBER_TEST_DF_LIB: %s\n", dflib ? dlerror() : "not set");
		return 1;
	}
	df_enter_p = (int (*)(int (*)(int), int))dlsym(hdf, "df_enter");
	CHECK(df_enter_p != NULL);
	load_maps();
	for (size_t i = 0; i < n_maps; i++)
		if (strcmp(maps[i].path, "[stack]") == 0)
			stack_top = maps[i].end;
	{
		/* [stack] is not executable: look for it separately */
		FILE *f = fopen("/proc/self/maps", "r");
		char line[512];
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "[stack]")) {
				uint64_t a, b;
				if (sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) == 2)
					stack_top = b;
			}
		if (f)
			fclose(f);
	}
	CHECK(stack_top != 0);

	ember_unwinder *u;
	ember_error err;
	ember_unwind_callbacks cb = {.ctx = NULL, .find_mapping = find_mapping};
	if (ember_unwinder_new(&u, &cb, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}

	/* 1. the whole chain, through the dlopen'd library, to main and beyond */
	tu_outer(1);
	static uint64_t full[MAX_IPS];
	load_snapshot();
	ember_unwind_reason why;
	int n_full = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, full, MAX_IPS, &why);
	static const char *const chain[] = {"tu_capture", "deep_leaf", "deep_mid", "deep_enter",
	                                    "tu_middle",  "tu_outer",  "main",     NULL};
	CHECK(has_chain(full, n_full, chain));
	CHECK_EQ_INT(find_frame(full, n_full, 0, "tu_capture"), 0);
	CHECK_EQ_INT(find_frame(full, n_full, 0, "main"), 6);
	CHECK_EQ_INT(why, EMBER_UNWIND_N_REASONS);
	if (!has_chain(full, n_full, chain) || why != EMBER_UNWIND_N_REASONS)
		dump("full", full, n_full, why);

	/* 1b. a frame in the vDSO, which has no file: find_mapping says "[vdso]"
	 * and the unwinder reads its own vDSO. The frame is made by hand: the
	 * snapshot as if tu_capture had just called __vdso_clock_gettime (ip at
	 * its entry, the return address pushed). */
	{
		uint64_t fn = vdso_function("__vdso_clock_gettime");
		CHECK(fn != 0);
		static uint64_t vregs[N_REGS], vips[MAX_IPS];
		static uint8_t vstack[STACK_COPY + 8];
		memcpy(vregs, regs, sizeof vregs);
		memcpy(vstack, &regs[R_IP], 8);
		memcpy(vstack + 8, stack, size);
		vregs[R_IP] = fn;
		vregs[R_SP] = regs[R_SP] - 8;
		ember_unwinder_stats v0, v1;
		ember_unwinder_get_stats(u, &v0);
		int vn = ember_unwinder_unwind(u, 1, vregs, N_REGS, vstack, size + 8, vips, MAX_IPS,
		                               &why);
		ember_unwinder_get_stats(u, &v1);
		CHECK_EQ_INT(vn, n_full + 1);
		CHECK(vn == n_full + 1 && memcmp(vips + 1, full, (size_t)n_full * 8) == 0);
		CHECK_EQ_INT(why, EMBER_UNWIND_N_REASONS);
		CHECK_EQ_INT(v1.fp_steps, v0.fp_steps); /* by the vDSO's CFI, not rbp */
		if (vn != n_full + 1)
			dump("vdso", vips, vn, why);
	}

	/* 2. once cached: the same result, no new binary, no malloc */
	ember_unwinder_stats st0, st1;
	ember_unwinder_get_stats(u, &st0);
	unsigned long mallocs0 = n_mallocs;
	uint64_t elided0 = ember_unwind_sigmask_elided();
	for (int rep = 0; rep < 200; rep++) {
		int n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
		if (n != n_full || memcmp(ips, full, (size_t)n * 8) != 0 ||
		    why != EMBER_UNWIND_N_REASONS) {
			CHECK(!"repeat unwind differs");
			break;
		}
	}
	ember_unwinder_get_stats(u, &st1);
	CHECK_EQ_INT(n_mallocs - mallocs0, 0);
	/* libunwind's signal masking (two sigprocmask per frame) reached
	 * ember's definition and made no system call */
	CHECK(ember_unwind_sigmask_elided() - elided0 >= 2 * 200 * (uint64_t)(n_full - 1));
	/* ... and sigprocmask outside the unwinder still masks for real */
	{
		sigset_t usr1, now;
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		CHECK_EQ_INT(sigprocmask(SIG_BLOCK, &usr1, NULL), 0);
		CHECK_EQ_INT(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
		CHECK(sigismember(&now, SIGUSR1) == 1);
		CHECK_EQ_INT(sigprocmask(SIG_UNBLOCK, &usr1, &now), 0);
		CHECK(sigismember(&now, SIGUSR1) == 1); /* the old mask, for real */
		CHECK_EQ_INT(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
		CHECK(sigismember(&now, SIGUSR1) == 0);
		CHECK_EQ_INT(sigprocmask(99, &usr1, NULL), -1);
		CHECK_EQ_INT(errno, EINVAL);
	}
	CHECK_EQ_INT(st1.binaries_loaded, st0.binaries_loaded);
	CHECK(st0.binaries_loaded >= 3); /* the test, deep_lib.so, libc */
	CHECK_EQ_INT(st0.binaries_failed, 0);

	/* 3. shorter copies: a prefix of the full stack, stopped for lack of stack */
	int last_n = 0, prefix_ok = 1, reason_ok = 1, mono_ok = 1;
	for (size_t s = 0; s <= size; s += 8) {
		int n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, s, ips, MAX_IPS, &why);
		if (n < 1 || n > n_full || memcmp(ips, full, (size_t)n * 8) != 0)
			prefix_ok = 0;
		if (why != EMBER_UNWIND_STACK_TOO_SMALL &&
		    !(why == EMBER_UNWIND_N_REASONS && n == n_full))
			reason_ok = 0;
		if (n < last_n)
			mono_ok = 0;
		last_n = n;
	}
	CHECK(prefix_ok);
	CHECK(reason_ok);
	CHECK(mono_ok);
	CHECK_EQ_INT(last_n, n_full);
	int n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, 64, ips, MAX_IPS, &why);
	CHECK(n < n_full);
	CHECK_EQ_INT(why, EMBER_UNWIND_STACK_TOO_SMALL);

	/* 4. corrupted stack bytes and registers: a clean stop, never a crash */
	srand(42);
	static uint8_t bad[STACK_COPY];
	int clean = 1;
	for (int seed = 0; seed < 300; seed++) {
		memcpy(bad, stack, size);
		int words = 1 + rand() % 64;
		for (int w = 0; w < words; w++) {
			size_t at = ((size_t)rand() % (size / 8)) * 8;
			uint64_t v;
			switch (rand() % 4) {
			case 0:
				v = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
				break;
			case 1:
				v = regs[R_SP] + (uint64_t)(rand() % 65536) - 1024;
				break; /* stack-ish */
			case 2:
				v = full[rand() % n_full] + (uint64_t)(rand() % 64) - 32;
				break; /* code-ish */
			default:
				v = 0;
				break;
			}
			memcpy(bad + at, &v, 8);
		}
		n = ember_unwinder_unwind(u, 1, regs, N_REGS, bad, size, ips, MAX_IPS, &why);
		if (n < 1 || n > MAX_IPS || why > EMBER_UNWIND_N_REASONS)
			clean = 0;
	}
	memset(bad, 0x41, size);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, bad, size, ips, MAX_IPS, &why);
	CHECK(n >= 1 && why != EMBER_UNWIND_N_REASONS);
	static uint64_t bregs[N_REGS];
	for (int k = 0; k < 50; k++) {
		memcpy(bregs, regs, sizeof bregs);
		bregs[rand() % N_REGS] = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
		n = ember_unwinder_unwind(u, 1, bregs, N_REGS, stack, size, ips, MAX_IPS, &why);
		if (n < 1 || why > EMBER_UNWIND_N_REASONS)
			clean = 0;
	}
	CHECK(clean);

	/* 5. an ip in no mapping; too few registers; max_ips */
	memcpy(bregs, regs, sizeof bregs);
	bregs[R_IP] = 0x10;
	n = ember_unwinder_unwind(u, 1, bregs, N_REGS, stack, size, ips, MAX_IPS, &why);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(why, EMBER_UNWIND_NO_MAPPING);
	CHECK(ember_unwinder_unwind(u, 1, regs, 5, stack, size, ips, MAX_IPS, &why) < 0);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, 3, &why);
	CHECK_EQ_INT(n, 3);
	CHECK(why != EMBER_UNWIND_N_REASONS);

	/* 6. a frame without unwind info: crossed by the frame pointer */
	tu_fp_outer(1);
	static const char *const fp_chain[] = {"tu_capture", "fp_noinfo_call", "tu_fp_outer",
	                                       "main", NULL};
	unwind_chain(u, "fp fallback", fp_chain, &st0, &st1);
	CHECK(st1.fp_steps > st0.fp_steps);

	/* 6b. a library whose CFI is only in .debug_frame */
	tu_df_outer(1);
	static const char *const df_chain[] = {"tu_capture",  "df_mid", "df_enter",
	                                       "tu_df_outer", "main",   NULL};
	unwind_chain(u, "debug_frame", df_chain, &st0, &st1);
	CHECK(st1.debug_frame_lookups >= st0.debug_frame_lookups + 2);
	CHECK_EQ_INT(st1.fp_steps, st0.fp_steps);

	/* 7. a recursion deeper than the copy: only recursion frames, then STACK_TOO_SMALL */
	tu_recurse(2000);
	load_snapshot();
	CHECK_EQ_INT(size, STACK_COPY);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	CHECK_EQ_INT(why, EMBER_UNWIND_STACK_TOO_SMALL);
	CHECK(n > 20);
	int only_recursion = strcmp(name_of(ips[0], 0), "tu_capture") == 0;
	for (int i = 1; i < n; i++)
		if (strcmp(name_of(ips[i], 1), "tu_recurse") != 0)
			only_recursion = 0;
	CHECK(only_recursion);
	if (!only_recursion || why != EMBER_UNWIND_STACK_TOO_SMALL)
		dump("recursion", ips, n, why);

	/* 8. forgetting a process flushes its rules, keeps the binaries and
	 * the address space for reuse; another process gets its own */
	ember_unwinder_get_stats(u, &st0);
	ember_unwinder_forget(u, 1);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	n = ember_unwinder_unwind(u, 2, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, &st1);
	CHECK_EQ_INT(st1.as_flushes, st0.as_flushes + 1);
	CHECK_EQ_INT(st1.address_spaces, st0.address_spaces + 1); /* pid 2 */
	CHECK_EQ_INT(st1.binaries_loaded, st0.binaries_loaded);
	CHECK_EQ_INT(why, EMBER_UNWIND_STACK_TOO_SMALL);
	/* many processes: address spaces are capped and reused, no malloc */
	for (int pid = 100; pid < 140; pid++)
		ember_unwinder_unwind(u, pid, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, &st0);
	mallocs0 = n_mallocs;
	for (int pid = 200; pid < 300; pid++)
		ember_unwinder_unwind(u, pid, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, &st1);
	CHECK_EQ_INT(n_mallocs - mallocs0, 0);
	CHECK(st1.address_spaces <= 32);
	CHECK_EQ_INT(st1.as_flushes, st0.as_flushes + 100);
	CHECK_EQ_INT(why, EMBER_UNWIND_STACK_TOO_SMALL);

	/* 9. a file that cannot be opened does not poison its build id: the
	 * failure is remembered under its path, and the next readable path with
	 * the same build id loads */
	ember_unwinder_free(u);
	if (ember_unwinder_new(&u, &cb, &err) != 0)
		return 1;
	fm.build_id = "0123abcd";
	fm.bad_path = 1;
	ember_unwinder_get_stats(u, &st0);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, &st1);
	CHECK_EQ_INT(why, EMBER_UNWIND_NO_INFO);
	CHECK_EQ_INT(st1.binaries_loaded - st0.binaries_loaded, 1); /* once, not per unwind */
	CHECK_EQ_INT(st1.binaries_failed - st0.binaries_failed, 1);
	fm.bad_path = 0;
	n = ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, 8, &why);
	CHECK_EQ_INT(n, 8); /* the test binary loaded under the same build id */
	ember_unwinder_free(u);

	/* 10. the binary cache is bounded: many distinct binaries trim it */
	if (ember_unwinder_new(&u, &cb, &err) != 0)
		return 1;
	fm.build_id = NULL;
	fm.unique_bad_paths = 1;
	for (int k = 0; k < 1100; k++)
		ember_unwinder_unwind(u, 1, regs, N_REGS, stack, size, ips, MAX_IPS, &why);
	ember_unwinder_get_stats(u, &st1);
	CHECK(st1.cache_trims >= 1);
	CHECK(st1.binaries_loaded >= 1100);
	fm.unique_bad_paths = 0;
	ember_unwinder_free(u);
	dlclose(h);
	dlclose(hdf);
	fprintf(stderr, "find_mapping calls: %lu\n", n_find_calls);
	return check_exit();
}
