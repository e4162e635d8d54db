/* tests/symbolizer/test_symbolizer.c — the symbolizer against its referee,
 * binutils addr2line, and against files it must survive.
 *
 * usage: test_symbolizer MODE ARGS...
 *   agree [-C] BIN...        every .text address (or a dense sample of
 *                            20,000) answers exactly as `addr2line -a -f -i`
 *   inline BIN               helper_mix is an inline frame of work_inline
 *   cxx BIN                  demangled C++ names, mangled system names
 *   debugdir BIN OTHER       stripped BIN + build-id tree; wrong build id refused
 *   corrupt BIN              truncated / flipped copies warn, never crash
 *   tables                   kallsyms, perf maps and the vDSO
 *   recorded PROFILE BIN     every location of a recorded profile in BIN's
 *                            mapping equals `addr2line -f -i` (functions,
 *                            lines, inline chain)
 *   raw BIN OUT              writes a raw pprof of BIN loaded as PIE to OUT
 *   profile BIN [OUT]        a raw pprof of BIN loaded as PIE symbolizes like
 *                            addr2line; twice is a no-op; OUT gets the result
 *   lazy BIN                 the per-CU (lazy) index of a many-CU BIN indexes
 *                            only the CUs asked and answers every .text
 *                            address exactly as the whole index does
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "../rng.h"
#include "ember/buf.h"
#include "ember/pprof.h"
#include "ember/profile.h"
#include "ember/symbolize.h"

#include "../../symbolizer/addrmap.h"
#include "../../symbolizer/debuginfo.h"
#include "../../symbolizer/kcache.h"
#include "../../symbolizer/elf_index.h"

enum { MAXF = 64 };

/* ---- helpers ----------------------------------------------------------- */

typedef struct elf_facts {
	uint64_t text_lo, text_hi; /* .text */
	uint64_t (*funcs)[2];      /* sized FUNC symbols [lo, hi) */
	size_t n_funcs;
	uint64_t x_off, x_vaddr, x_filesz; /* the executable PT_LOAD */
	bool pie;
	char build_id[129];
} elf_facts;

/* Inside a function symbol (not padding between functions). */
static bool in_function(const elf_facts *f, uint64_t a)
{
	for (size_t i = 0; i < f->n_funcs; i++)
		if (a >= f->funcs[i][0] && a < f->funcs[i][1])
			return true;
	return false;
}

static bool read_facts(const char *path, elf_facts *f)
{
	free(f->funcs);
	memset(f, 0, sizeof *f);
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	bool ok = elf && gelf_getehdr(elf, &eh);
	size_t shstrndx = 0;
	if (ok)
		ok = elf_getshdrstrndx(elf, &shstrndx) == 0;
	f->pie = ok && eh.e_type == ET_DYN;
	Elf_Scn *scn = NULL;
	while (ok && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".text") == 0) {
			f->text_lo = sh.sh_addr;
			f->text_hi = sh.sh_addr + sh.sh_size;
		}
		if (sh.sh_type == SHT_SYMTAB && sh.sh_entsize) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t n = sh.sh_size / sh.sh_entsize;
			f->funcs = calloc(n + 1, sizeof *f->funcs);
			for (size_t i = 0; d && f->funcs && i < n; i++) {
				GElf_Sym sym;
				const char *name = gelf_getsym(d, (int)i, &sym)
				                       ? elf_strptr(elf, sh.sh_link, sym.st_name)
				                       : NULL;
				/* GCC's _sub_I/_sub_D constructors (sanitizers) have
				 * rows but no DIE: binutils answers there depend on
				 * which CUs earlier lookups made it read. */
				if (name && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
				    sym.st_size > 0 && sym.st_shndx != SHN_UNDEF &&
				    strncmp(name, "_sub_", 5) != 0) {
					f->funcs[f->n_funcs][0] = sym.st_value;
					f->funcs[f->n_funcs++][1] = sym.st_value + sym.st_size;
				}
			}
		}
		if (sh.sh_type == SHT_NOTE) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t off = 0, no, doff;
			GElf_Nhdr nh;
			while (d && (off = gelf_getnote(d, off, &nh, &no, &doff)) > 0) {
				if (nh.n_type != NT_GNU_BUILD_ID || nh.n_descsz > 64)
					continue;
				for (size_t i = 0; i < nh.n_descsz; i++)
					sprintf(f->build_id + 2 * i, "%02x",
					        ((unsigned char *)d->d_buf)[doff + i]);
			}
		}
	}
	size_t nph = 0;
	if (ok && elf_getphdrnum(elf, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
			    (ph.p_flags & PF_X)) {
				f->x_off = ph.p_offset;
				f->x_vaddr = ph.p_vaddr;
				f->x_filesz = ph.p_filesz;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return ok && f->text_hi > f->text_lo && f->x_filesz;
}

/* Formats frames exactly as binutils `addr2line -f -i` prints them. */
static void format_frames(ember_buf *b, const ember_frame *fr, int n)
{
	if (n <= 0) {
		ember_buf_puts(b, "??\n??:0\n");
		return;
	}
	for (int i = 0; i < n; i++) {
		ember_buf_printf(b, "%s\n%s:", fr[i].function ? fr[i].function : "??",
		                 fr[i].file ? fr[i].file : "??");
		if (fr[i].line <= 0)
			ember_buf_puts(b, "?\n");
		else if (fr[0].discriminator)
			ember_buf_printf(b, "%d (discriminator %u)\n", fr[i].line,
			                 fr[0].discriminator);
		else
			ember_buf_printf(b, "%d\n", fr[i].line);
	}
}

static ember_symbolizer *new_symbolizer(bool demangle, const char *const *dirs, size_t n_dirs)
{
	ember_symbolizer_opts o = {
	    .debug_dirs = dirs, .n_debug_dirs = n_dirs, .no_demangle = !demangle};
	ember_symbolizer *s = NULL;
	ember_error err = {0};
	if (ember_symbolizer_new(&s, &o, &err) < 0)
		fprintf(stderr, "symbolizer: %s\n", err.msg);
	return s;
}

static char tmpdir[] = "/tmp/ember-symtest-XXXXXX";

static void make_tmpdir(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void remove_tmpdir(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

/* This test cannot run here: says why and exits 77, meson's "skipped"
 * (a failure already counted still fails). */
static void skip(const char *why)
{
	remove_tmpdir();
	if (check_failures)
		exit(check_exit());
	fprintf(stderr, "skipped: %s\n", why);
	exit(77);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int r = system(cmd);
	if (r != 0)
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
	return r;
}

/* ---- agree: every address as binutils addr2line says -------------------- */

static void agree(const char *bin, bool demangle)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	uint64_t span = f.text_hi - f.text_lo, step = span / 20000 + 1;
	char in[512], out[512];
	snprintf(in, sizeof in, "%s/addrs", tmpdir);
	snprintf(out, sizeof out, "%s/binutils", tmpdir);
	/* Every address inside a function: padding between functions and code
	 * no CU describes are where binutils' answers depend on the order of
	 * earlier lookups (it widens a CU's ranges once it has read its lines). */
	FILE *fp = fopen(in, "w");
	size_t n_addrs = 0;
	for (uint64_t a = f.text_lo; a < f.text_hi; a += step)
		if (in_function(&f, a)) {
			fprintf(fp, "%" PRIx64 "\n", a);
			n_addrs++;
		}
	fclose(fp);
	if (sh("addr2line -a -f -i %s -e '%s' < '%s' > '%s'", demangle ? "-C" : "", bin, in, out))
		return;
	/* Split binutils' answer per address (each starts with 0x%016x). */
	fp = fopen(out, "r");
	ember_symbolizer *s = new_symbolizer(demangle, NULL, 0);
	CHECK(s != NULL);
	if (!fp || !s)
		return;
	char *line = NULL;
	size_t cap = 0;
	ember_buf want = EMBER_BUF_INIT, got = EMBER_BUF_INIT;
	ember_frame fr[MAXF];
	size_t compared = 0, differ = 0, with_inline = 0;
	uint64_t cur = 0;
	bool have = false;
	for (;;) {
		ssize_t len = getline(&line, &cap, fp);
		bool header = len > 0 && strncmp(line, "0x", 2) == 0 && len == 19;
		if ((len <= 0 || header) && have) {
			ember_buf_reset(&got);
			ember_error err = {0};
			int n = ember_symbolizer_addr2line(s, bin, cur, fr, MAXF, &err);
			format_frames(&got, fr, n);
			with_inline += n > 1;
			compared++;
			if (strcmp(want.data ? want.data : "", got.data) != 0 && differ++ < 5)
				fprintf(stderr, "%s 0x%" PRIx64 ":\n binutils:\n%s ember:\n%s", bin,
				        cur, want.data, got.data);
		}
		if (len <= 0)
			break;
		if (header) {
			cur = strtoull(line, NULL, 16);
			have = true;
			ember_buf_reset(&want);
		} else {
			ember_buf_puts(&want, line);
		}
	}
	fprintf(stderr, "%s%s: %zu addresses compared, %zu with inline frames, %zu differ\n", bin,
	        demangle ? " (-C)" : "", compared, with_inline, differ);
	CHECK_EQ_INT(compared, n_addrs);
	CHECK_EQ_INT(differ, 0);
	free(line);
	fclose(fp);
	ember_buf_free(&want);
	ember_buf_free(&got);
	ember_symbolizer_free(s);
	free(f.funcs);
}

/* ---- inline / cxx: named frames ---------------------------------------- */

/* Scans .text for an address whose frames[k].function equals want (and,
 * when outer is set, frames[k+1] equals outer); returns it or 0. */
static uint64_t find_frame(ember_symbolizer *s, const char *bin, const elf_facts *f,
                           const char *want, const char *outer, ember_frame *fr, int *n_out)
{
	for (uint64_t a = f->text_lo; a < f->text_hi; a++) {
		int n = ember_symbolizer_addr2line(s, bin, a, fr, MAXF, NULL);
		for (int k = 0; k < n; k++) {
			if (!fr[k].function || strcmp(fr[k].function, want) != 0)
				continue;
			if (outer && (k + 1 >= n || !fr[k + 1].function ||
			              strcmp(fr[k + 1].function, outer) != 0))
				continue;
			*n_out = n;
			return a;
		}
	}
	return 0;
}

static void test_inline(const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	ember_symbolizer *s = new_symbolizer(true, NULL, 0);
	ember_frame fr[MAXF];
	int n = 0;
	uint64_t a = find_frame(s, bin, &f, "helper_mix", "work_inline", fr, &n);
	CHECK(a != 0);
	if (a) {
		CHECK(n >= 2);
		CHECK(strcmp(fr[0].function, "helper_mix") == 0);
		CHECK(fr[0].file && strstr(fr[0].file, "inline_work.c"));
		/* the call site in work_inline is the line of `s += helper_mix(...)` */
		CHECK(fr[1].line > fr[0].line);
		CHECK(fr[0].start_line > 0 && fr[1].start_line > fr[0].start_line);
	}
	ember_symbolizer_free(s);
	free(f.funcs);
}

static void test_cxx(const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	ember_symbolizer *s = new_symbolizer(true, NULL, 0);
	static const char *want[][2] = {
	    {"ember_test::Accumulator<long>::add(long)", "_ZN10ember_test11AccumulatorIlE3addEl"},
	    {"ember_test::Accumulator<double>::add(double)",
	     "_ZN10ember_test11AccumulatorIdE3addEd"},
	    {"ember_test::scale(long)", "_ZN10ember_test5scaleEl"},
	    {"ember_test::scale(double)", "_ZN10ember_test5scaleEd"},
	};
	ember_frame fr[MAXF];
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int n = 0;
		uint64_t a = find_frame(s, bin, &f, want[i][0], NULL, fr, &n);
		if (!a)
			fprintf(stderr, "no address names %s\n", want[i][0]);
		CHECK(a != 0);
		if (a)
			CHECK(fr[0].linkage_name && strcmp(fr[0].linkage_name, want[i][1]) == 0);
	}
	ember_symbolizer_free(s);
	/* Without demangling the linker name is the function, as addr2line. */
	s = new_symbolizer(false, NULL, 0);
	int n = 0;
	CHECK(find_frame(s, bin, &f, "_ZN10ember_test5scaleEd", NULL, fr, &n) != 0);
	ember_symbolizer_free(s);
	free(f.funcs);
}

/* ---- profiles ------------------------------------------------------------ */

static const uint64_t PIE_BASE = 0x5555550000ULL;

/* A raw profile of bin as a process would have mapped it (PIE at PIE_BASE),
 * with one sample per link-time address of vaddrs. */
static ember_profile *raw_profile_at(const char *bin, const elf_facts *f, const char *build_id,
                                     int64_t pid, const uint64_t *vaddrs, size_t n)
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_profile_add_sample_type(p, "cpu", "nanoseconds");
	ember_profile_set_period_type(p, "cpu", "nanoseconds");
	p->period = 10000000;
	uint64_t base = f->pie ? PIE_BASE : 0;
	ember_mapping m = {0};
	m.memory_start = base + (f->x_vaddr & ~0xfffULL);
	m.memory_limit = base + f->x_vaddr + f->x_filesz;
	m.file_offset = f->x_off & ~0xfffULL;
	m.filename = ember_profile_intern(p, bin);
	m.build_id = ember_profile_intern(p, build_id);
	uint64_t mid = ember_profile_add_mapping(p, &m);
	ember_label lab = {ember_profile_intern(p, "pid"), 0, pid, 0};
	for (size_t i = 0; i < n; i++) {
		uint64_t loc = ember_profile_add_location(p, mid, base + vaddrs[i]);
		int64_t v[2] = {1, 10000000};
		ember_profile_add_sample(p, &loc, 1, v, &lab, 1);
	}
	return p;
}

/* The same, at n addresses spread evenly over .text (*vaddrs gets them). */
static ember_profile *raw_profile(const char *bin, const elf_facts *f, const char *build_id,
                                  int64_t pid, uint64_t *vaddrs, size_t n)
{
	uint64_t span = f->text_hi - f->text_lo;
	for (size_t i = 0; i < n; i++)
		vaddrs[i] = f->text_lo + span * i / n;
	return raw_profile_at(bin, f, build_id, pid, vaddrs, n);
}

/* The mapping flags are honest (issue 13): each holds exactly when every
 * location of its mapping has what it claims. */
static bool flags_honest(const ember_profile *p)
{
	bool ok = true;
	for (size_t mi = 0; mi < p->n_mappings; mi++) {
		const ember_mapping *m = &p->mappings[mi];
		bool fn = true, file = true, line = true, any = false;
		for (size_t i = 0; i < p->n_locations; i++) {
			const ember_location *l = &p->locations[i];
			if (l->mapping_id != m->id)
				continue;
			any = true;
			fn = fn && l->n_lines > 0;
			for (size_t k = 0; k < l->n_lines; k++) {
				ember_function *f = ember_profile_function(p, l->lines[k].function_id);
				file = file && f && ember_profile_str(p, f->filename)[0];
				line = line && l->lines[k].line > 0;
			}
		}
		if (any && (m->has_functions != fn || m->has_filenames != (fn && file) ||
		            m->has_line_numbers != (fn && line) ||
		            (m->has_inline_frames && !fn))) {
			fprintf(stderr, "mapping %zu: flags %d%d%d%d, locations say %d%d%d\n", mi,
			        m->has_functions, m->has_filenames, m->has_line_numbers,
			        m->has_inline_frames, fn, fn && file, fn && line);
			ok = false;
		}
	}
	return ok;
}

static bool bytes_equal(const ember_profile *a, const ember_profile *b)
{
	ember_buf x = EMBER_BUF_INIT, y = EMBER_BUF_INIT;
	bool eq = ember_pprof_encode(a, EMBER_COMPRESS_NONE, &x, NULL) == 0 &&
	          ember_pprof_encode(b, EMBER_COMPRESS_NONE, &y, NULL) == 0 && x.len == y.len &&
	          memcmp(x.data, y.data, x.len) == 0;
	ember_buf_free(&x);
	ember_buf_free(&y);
	return eq;
}

/* Every location's lines equal the addr2line answer for its address. */
static size_t check_profile_lines(ember_profile *p, const char *bin, const elf_facts *f,
                                  const uint64_t *vaddrs, size_t n, const char *const *dirs,
                                  size_t n_dirs, size_t *with_line)
{
	*with_line = 0;
	ember_symbolizer *ref = new_symbolizer(true, dirs, n_dirs);
	ember_frame fr[MAXF];
	size_t matched = 0;
	for (size_t i = 0; i < n; i++) {
		ember_location *l = ember_profile_location(p, i + 1);
		int k = ember_symbolizer_addr2line(ref, bin, vaddrs[i], fr, MAXF, NULL);
		/* Profiles name only what a function covers; addr2line also
		 * takes the nearest symbol before: padding may stay empty. */
		bool inside = in_function(f, vaddrs[i]);
		bool same =
		    k == (int)l->n_lines || (k == 1 && !l->n_lines && (fr[0].line == 0 || !inside));
		for (int j = 0; same && j < k && j < (int)l->n_lines; j++) {
			ember_function *fn = ember_profile_function(p, l->lines[j].function_id);
			same = fn && fr[j].function &&
			       strcmp(ember_profile_str(p, fn->name), fr[j].function) == 0 &&
			       l->lines[j].line == fr[j].line;
		}
		*with_line += k > 0 && fr[0].line > 0 && inside;
		if (!same)
			fprintf(stderr,
			        "location at 0x%" PRIx64 " differs from addr2line (%d vs %zu)\n",
			        vaddrs[i], k, l->n_lines);
		matched += same;
	}
	ember_symbolizer_free(ref);
	return matched;
}

static void test_profile(const char *bin, const char *out)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	enum { N = 400 };
	uint64_t vaddrs[N];
	ember_profile *p = raw_profile(bin, &f, f.build_id, getpid(), vaddrs, N);
	ember_symbolizer *s = new_symbolizer(true, NULL, 0);
	ember_error err = {0};
	CHECK_EQ_INT(ember_symbolizer_run(s, p, &err), 0);
	char msg[256];
	CHECK_EQ_INT(ember_profile_check(p, msg, sizeof msg), 0);
	size_t with_line;
	CHECK_EQ_INT(check_profile_lines(p, bin, &f, vaddrs, N, NULL, 0, &with_line), N);
	CHECK(flags_honest(p));
	ember_symbolizer_stats st;
	ember_symbolizer_get_stats(s, &st);
	CHECK_EQ_INT(st.binaries, 1);
	/* only addresses with lines: every flag holds */
	uint64_t lined[N];
	size_t n_lined = 0;
	ember_symbolizer *ref = new_symbolizer(true, NULL, 0);
	for (size_t i = 0; i < N; i++) {
		ember_frame fr[MAXF];
		if (ember_symbolizer_addr2line(ref, bin, vaddrs[i], fr, MAXF, NULL) > 0 &&
		    fr[0].line > 0 && fr[0].file && in_function(&f, vaddrs[i]))
			lined[n_lined++] = vaddrs[i];
	}
	ember_symbolizer_free(ref);
	CHECK(n_lined > N / 8);
	ember_profile *pl = raw_profile_at(bin, &f, f.build_id, getpid(), lined, n_lined);
	CHECK_EQ_INT(ember_symbolizer_run(s, pl, &err), 0);
	ember_mapping *m = ember_profile_mapping(pl, 1);
	CHECK(m->has_functions && m->has_filenames && m->has_line_numbers && m->has_inline_frames);
	CHECK(flags_honest(pl));
	ember_profile_free(pl);
	/* all with DWARF lines, and sized symbols without (crt code) */
	CHECK(with_line > N / 4 && N - st.unsymbolized >= with_line);
	/* Twice is a no-op, with the same symbolizer and with a fresh one. */
	ember_profile *again = ember_profile_clone(p);
	CHECK_EQ_INT(ember_symbolizer_run(s, again, &err), 0);
	CHECK(bytes_equal(p, again));
	ember_symbolizer *s2 = new_symbolizer(true, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s2, again, &err), 0);
	CHECK(bytes_equal(p, again));
	ember_symbolizer_free(s2);
	ember_profile_free(again);
	if (out)
		CHECK_EQ_INT(ember_pprof_write_file(p, out, &err), 0);
	ember_profile_free(p);

	/* A second profile of the same binary costs lookups only: the cache
	 * holds one index. Without build id it is keyed by path. */
	p = raw_profile(bin, &f, "", getpid(), vaddrs, N);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, &err), 0);
	CHECK_EQ_INT(check_profile_lines(p, bin, &f, vaddrs, N, NULL, 0, &with_line), N);
	ember_profile_free(p);
	ember_symbolizer_get_stats(s, &st);
	CHECK_EQ_INT(st.binaries, 2); /* one by build id, one by path */

	/* The kernel's name for a replaced file, "PATH (deleted)". */
	char deleted[600];
	snprintf(deleted, sizeof deleted, "%s (deleted)", bin);
	p = raw_profile(deleted, &f, "", getpid(), vaddrs, N);
	ember_symbolizer *s4 = new_symbolizer(true, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s4, p, &err), 0);
	CHECK_EQ_INT(check_profile_lines(p, bin, &f, vaddrs, N, NULL, 0, &with_line), N);
	ember_symbolizer_get_stats(s4, &st);
	CHECK_EQ_INT(st.missing, 0);
	ember_symbolizer_free(s4);
	ember_profile_free(p);

	/* A cache of one binary: alternating keys evict and re-index, and
	 * answers stay right (addr2line's remembered file included). */
	ember_symbolizer_opts one = {.max_binaries = 1, .quiet = true};
	ember_symbolizer *s5 = NULL;
	CHECK_EQ_INT(ember_symbolizer_new(&s5, &one, NULL), 0);
	for (int round = 0; round < 4; round++) {
		p = raw_profile(bin, &f, round % 2 ? f.build_id : "", getpid(), vaddrs, N);
		CHECK_EQ_INT(ember_symbolizer_run(s5, p, &err), 0);
		CHECK_EQ_INT(check_profile_lines(p, bin, &f, vaddrs, N, NULL, 0, &with_line), N);
		ember_profile_free(p);
		ember_frame fr[MAXF];
		CHECK(ember_symbolizer_addr2line(s5, bin, vaddrs[N / 2], fr, MAXF, NULL) >= 0);
	}
	ember_symbolizer_get_stats(s5, &st);
	CHECK(st.binaries >= 4);
	ember_symbolizer_free(s5);

	/* A missing binary: reported once, locations keep addresses only. */
	p = raw_profile("/nonexistent/ember-test-binary", &f, "", 0, vaddrs, N);
	ember_symbolizer *s3 = new_symbolizer(true, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s3, p, &err), 0);
	ember_symbolizer_get_stats(s3, &st);
	CHECK_EQ_INT(st.missing, 1);
	CHECK_EQ_INT(st.unsymbolized, N);
	CHECK_EQ_INT(p->n_functions, 0);
	CHECK(!ember_profile_mapping(p, 1)->has_functions);
	ember_symbolizer_free(s3);
	ember_profile_free(p);
	ember_symbolizer_free(s);
	free(f.funcs);
}

/* ---- debug dirs ------------------------------------------------------------ */

static void test_debugdir(const char *bin, const char *other)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	CHECK(strlen(f.build_id) > 4);
	char app[600], stripped[600], dbg[600], bad[600];
	snprintf(app, sizeof app, "%s/app", tmpdir);
	snprintf(stripped, sizeof stripped, "%s/app.stripped", tmpdir);
	snprintf(dbg, sizeof dbg, "%s/debug", tmpdir);
	snprintf(bad, sizeof bad, "%s/bad", tmpdir);
	CHECK_EQ_INT(sh("cp '%s' '%s' && objcopy --only-keep-debug '%s' '%s.debug' && "
	                "objcopy --strip-all '%s' '%s' && mkdir -p '%s/.build-id/%.2s' && "
	                "mv '%s.debug' '%s/.build-id/%.2s/%s.debug'",
	                bin, app, app, app, app, stripped, dbg, f.build_id, app, dbg, f.build_id,
	                f.build_id + 2),
	             0);
	/* A debug file of another binary, filed under this build id. */
	CHECK_EQ_INT(sh("mkdir -p '%s/.build-id/%.2s' && objcopy --only-keep-debug '%s' "
	                "'%s/.build-id/%.2s/%s.debug'",
	                bad, f.build_id, other, bad, f.build_id, f.build_id + 2),
	             0);

	/* The reference answer, from the unstripped copy, which then goes. */
	ember_symbolizer *s = new_symbolizer(true, NULL, 0);
	ember_frame fr[MAXF], want[MAXF];
	int n_want = 0;
	uint64_t a = find_frame(s, app, &f, "helper_mix", "work_inline", want, &n_want);
	CHECK(a != 0);
	char want_file[512];
	snprintf(want_file, sizeof want_file, "%s", want[0].file ? want[0].file : "");
	int want_line = want[0].line;
	ember_symbolizer_free(s);
	CHECK_EQ_INT(unlink(app), 0);

	/* Stripped, no debug dir: helper_mix cannot be known. */
	s = new_symbolizer(true, NULL, 0);
	int n = ember_symbolizer_addr2line(s, stripped, a, fr, MAXF, NULL);
	CHECK(n <= 0 || !fr[0].function || strcmp(fr[0].function, "helper_mix") != 0);
	ember_symbolizer_free(s);

	/* Through --debug-dir: the same answer as the unstripped binary. */
	const char *dirs[] = {dbg};
	s = new_symbolizer(true, dirs, 1);
	n = ember_symbolizer_addr2line(s, stripped, a, fr, MAXF, NULL);
	CHECK_EQ_INT(n, n_want);
	if (n >= 2) {
		CHECK(strcmp(fr[0].function, "helper_mix") == 0);
		CHECK(strcmp(fr[1].function, "work_inline") == 0);
		CHECK(fr[0].file && strcmp(fr[0].file, want_file) == 0);
		CHECK_EQ_INT(fr[0].line, want_line);
	}
	ember_symbolizer_free(s);

	/* A profile of the stripped binary, offline, after the binary is gone
	 * too: the build id finds the debug file, which alone serves. */
	enum { N = 200 };
	uint64_t vaddrs[N];
	for (int gone = 0; gone < 2; gone++) {
		if (gone)
			CHECK_EQ_INT(unlink(stripped), 0);
		ember_profile *p = raw_profile(stripped, &f, f.build_id, 0, vaddrs, N);
		s = new_symbolizer(true, dirs, 1);
		CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
		ember_symbolizer_stats st;
		ember_symbolizer_get_stats(s, &st);
		CHECK_EQ_INT(st.missing, 0);
		/* the unstripped reference is gone; compare with the debug file */
		char ref[1024];
		snprintf(ref, sizeof ref, "%s/.build-id/%.2s/%s.debug", dbg, f.build_id,
		         f.build_id + 2);
		size_t with_line;
		CHECK_EQ_INT(check_profile_lines(p, ref, &f, vaddrs, N, NULL, 0, &with_line), N);
		CHECK(with_line > N / 4 && N - st.unsymbolized >= with_line);
		bool saw_inline = false;
		for (size_t i = 0; i < p->n_locations; i++)
			saw_inline |= p->locations[i].n_lines >= 2;
		CHECK(saw_inline);
		ember_symbolizer_free(s);
		ember_profile_free(p);
	}

	/* .gnu_debuglink: the debug file next to the binary, then in .debug/. */
	for (int in_dot_debug = 0; in_dot_debug < 2; in_dot_debug++) {
		char dir[600];
		snprintf(dir, sizeof dir, "%s/link%d", tmpdir, in_dot_debug);
		CHECK_EQ_INT(
		    sh("mkdir -p '%s/.debug' && cd '%s' && cp '%s' app && "
		       "objcopy --only-keep-debug app app.debug && "
		       "objcopy --strip-all --add-gnu-debuglink=app.debug app app.stripped && "
		       "rm app%s",
		       dir, dir, bin, in_dot_debug ? " && mv app.debug .debug/" : ""),
		    0);
		char path[700];
		snprintf(path, sizeof path, "%s/app.stripped", dir);
		s = new_symbolizer(true, NULL, 0);
		n = ember_symbolizer_addr2line(s, path, a, fr, MAXF, NULL);
		CHECK_EQ_INT(n, n_want);
		CHECK(n >= 1 && fr[0].function && strcmp(fr[0].function, "helper_mix") == 0);
		ember_symbolizer_free(s);
	}

	/* The wrong debug file is refused (counted), never used. */
	const char *bad_dirs[] = {bad};
	ember_profile *p = raw_profile(stripped, &f, f.build_id, 0, vaddrs, N);
	s = new_symbolizer(true, bad_dirs, 1);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	ember_symbolizer_stats st;
	ember_symbolizer_get_stats(s, &st);
	CHECK(st.buildid_mismatch >= 1);
	CHECK_EQ_INT(st.unsymbolized, N);
	CHECK_EQ_INT(p->n_functions, 0);
	ember_symbolizer_free(s);
	ember_profile_free(p);
	free(f.funcs);
}

/* ---- corrupt files ----------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
#define next_rand() test_rng_next(&rng)

static void symbolize_copy(const char *path, const elf_facts *f, bool quiet,
                           ember_symbolizer_stats *st)
{
	ember_symbolizer_opts o = {.quiet = quiet};
	ember_symbolizer *s = NULL;
	CHECK_EQ_INT(ember_symbolizer_new(&s, &o, NULL), 0);
	ember_frame fr[MAXF];
	for (uint64_t a = f->text_lo; a < f->text_hi; a += 7)
		(void)ember_symbolizer_addr2line(s, path, a, fr, MAXF, NULL);
	enum { N = 64 };
	uint64_t vaddrs[N];
	ember_profile *p = raw_profile(path, f, "", 0, vaddrs, N);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	char msg[256];
	CHECK_EQ_INT(ember_profile_check(p, msg, sizeof msg), 0);
	ember_symbolizer_get_stats(s, st);
	ember_profile_free(p);
	ember_symbolizer_free(s);
}

static void test_corrupt(const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	FILE *fp = fopen(bin, "rb");
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	rewind(fp);
	if (len < 4096) {
		CHECK(len >= 4096);
		fclose(fp);
		return;
	}
	unsigned char *orig = malloc(len), *buf = malloc(len);
	CHECK(fread(orig, 1, len, fp) == (size_t)len);
	fclose(fp);
	char path[600];
	snprintf(path, sizeof path, "%s/corrupt", tmpdir);
	ember_symbolizer_stats st;

	/* Truncated: the header alone, half, all but the end. */
	long cuts[] = {0, 16, 63, 200, len / 10, len / 3, len / 2, len - 100, len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		fp = fopen(path, "wb");
		fwrite(orig, 1, cuts[i], fp);
		fclose(fp);
		symbolize_copy(path, &f, i != 2, &st); /* one shows its warning */
		if (cuts[i] < 64)
			CHECK(st.corrupt >= 1); /* not even an ELF header */
		CHECK(st.corrupt + st.binaries >= 1);
	}
	/* Flipped bytes anywhere, and in runs. */
	for (int round = 0; round < 120; round++) {
		memcpy(buf, orig, len);
		int flips = round < 60 ? 8 : 1;
		for (int k = 0; k < flips; k++) {
			long at = (long)(next_rand() % (uint64_t)len);
			long run = round < 60 ? 1 : 1 + (long)(next_rand() % 512);
			for (long j = at; j < at + run && j < len; j++)
				buf[j] ^= (unsigned char)(next_rand() | 1);
		}
		fp = fopen(path, "wb");
		fwrite(buf, 1, len, fp);
		fclose(fp);
		symbolize_copy(path, &f, true, &st);
	}
	/* The ELF header's section table pointer past the end of the file. */
	static const unsigned char far[8] = {0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f};
	fp = fopen(path, "wb");
	fwrite(orig, 1, len, fp);
	fseek(fp, 0x28, SEEK_SET); /* e_shoff of ELF64 */
	fwrite(far, 1, sizeof far, fp);
	fclose(fp);
	symbolize_copy(path, &f, false, &st);
	fprintf(stderr, "bad e_shoff: corrupt %d binaries %d missing %d\n", (int)st.corrupt,
	        (int)st.binaries, (int)st.missing);
	CHECK(st.corrupt >= 1);
	free(orig);
	free(buf);
	free(f.funcs);
}

/* ---- compressed debug sections ------------------------------------------ */

/* File offset and size of a section's bytes as stored, or false. */
static bool section_bytes(const char *path, const char *want, long *off, long *size,
                          bool *compressed)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	bool found = false;
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
		Elf_Scn *scn = NULL;
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;
			if (gelf_getshdr(scn, &sh) && (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
			    strcmp(name, want) == 0) {
				*off = (long)sh.sh_offset;
				*size = (long)sh.sh_size;
				*compressed = (sh.sh_flags & SHF_COMPRESSED) != 0;
				found = true;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

static void patch_file(const char *path, long off, const void *bytes, size_t n)
{
	FILE *fp = fopen(path, "r+b");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fseek(fp, off, SEEK_SET);
	CHECK(fwrite(bytes, 1, n, fp) == n);
	fclose(fp);
}

/* A distribution's compressed debug file, large enough that the inflated
 * sections get a mapping of their own (huge-page advised, 1 MiB and more:
 * dwarf_sections.c): libc6-dbg's file for the libc this test runs on. Every
 * function's frames must read as from a copy objcopy decompressed (which
 * libdw reads as it is). binutils is no referee here: addr2line 2.40 names
 * the CU's file instead of the header a line comes from in this DWARF 5
 * (llvm-symbolizer and eu-addr2line agree with ember). */
static void test_compressed_large(void)
{
	elf_facts lf = {0};
	CHECK(read_facts("/lib/x86_64-linux-gnu/libc.so.6", &lf));
	char dbg[600], plain[600];
	snprintf(dbg, sizeof dbg, "/usr/lib/debug/.build-id/%.2s/%s.debug", lf.build_id,
	         lf.build_id + 2);
	snprintf(plain, sizeof plain, "%s/libc-plain.debug", tmpdir);
	free(lf.funcs);
	long off = 0, size = 0;
	bool compressed = false;
	if (!section_bytes(dbg, ".debug_info", &off, &size, &compressed)) {
		fprintf(stderr, "%s: no such debug file (scripts/deps.sh installs libc6-dbg)\n", dbg);
		CHECK(false);
		return;
	}
	CHECK(compressed);
	CHECK_EQ_INT(sh("objcopy --decompress-debug-sections '%s' '%s'", dbg, plain), 0);
	CHECK(section_bytes(plain, ".debug_info", &off, &size, &compressed) && !compressed);
	CHECK(size >= (1 << 20)); /* the mapped region's path */

	elf_facts f = {0};
	(void)read_facts(dbg, &f); /* false for a debug file (its code is NOBITS); funcs are read */
	ember_symbolizer *sz = new_symbolizer(true, NULL, 0), *sp = new_symbolizer(true, NULL, 0);
	ember_buf a = EMBER_BUF_INIT, b = EMBER_BUF_INIT;
	ember_frame fr[MAXF];
	size_t differ = 0, named = 0;
	for (size_t i = 0; sz && sp && i < f.n_funcs; i++) {
		uint64_t at = f.funcs[i][0] + (f.funcs[i][1] - f.funcs[i][0]) / 2;
		ember_buf_reset(&a);
		ember_buf_reset(&b);
		int n = ember_symbolizer_addr2line(sz, dbg, at, fr, MAXF, NULL);
		named += n > 0 && fr[0].file != NULL;
		format_frames(&a, fr, n);
		format_frames(&b, fr, ember_symbolizer_addr2line(sp, plain, at, fr, MAXF, NULL));
		if (strcmp(a.data, b.data) != 0 && differ++ < 5)
			fprintf(stderr, "0x%" PRIx64 ":\n compressed:\n%s plain:\n%s", at, a.data,
			        b.data);
	}
	fprintf(stderr, "%s: %zu functions, %zu with file:line, %zu differ from the plain copy\n",
	        dbg, f.n_funcs, named, differ);
	CHECK(f.n_funcs > 1000 && named > f.n_funcs / 2);
	CHECK_EQ_INT(differ, 0);
	ember_buf_free(&a);
	ember_buf_free(&b);
	ember_symbolizer_free(sz);
	ember_symbolizer_free(sp);
	free(f.funcs);
}

/* A copy of bin with zlib-compressed (SHF_COMPRESSED) DWARF, as
 * distributions ship debug files: the symbolizer inflates what it needs
 * itself (symbolizer/dwarf_sections.c) and must answer exactly as for the
 * plain file, lazily per CU and all at once; a damaged compressed section
 * costs its DWARF, never a crash. */
static void test_compressed(const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	char z[600], bad[600];
	snprintf(z, sizeof z, "%s/zlib", tmpdir);
	snprintf(bad, sizeof bad, "%s/zlib-bad", tmpdir);
	if (sh("objcopy --compress-debug-sections=zlib '%s' '%s'", bin, z) != 0) {
		CHECK(false);
		return;
	}
	long off = 0, size = 0;
	bool compressed = false;
	CHECK(section_bytes(z, ".debug_info", &off, &size, &compressed) && compressed);
	CHECK(section_bytes(z, ".debug_line", &off, &size, &compressed) && compressed);

	/* All at once (addr2line): every address as binutils says. */
	agree(z, false);

	/* Lazily (a profile): every location as the plain file's answer. */
	enum { N = 400 };
	uint64_t vaddrs[N];
	ember_profile *p = raw_profile(z, &f, f.build_id, getpid(), vaddrs, N);
	ember_symbolizer *s = new_symbolizer(true, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	size_t with_line;
	CHECK_EQ_INT(check_profile_lines(p, bin, &f, vaddrs, N, NULL, 0, &with_line), N);
	CHECK(with_line > N / 4);
	CHECK(flags_honest(p));
	ember_symbolizer_free(s);
	ember_profile_free(p);

	/* Damaged: the middle of the compressed .debug_info, then a header
	 * claiming more than deflate can produce. Symbols still name code. */
	for (int how = 0; how < 2; how++) {
		CHECK_EQ_INT(sh("cp '%s' '%s'", z, bad), 0);
		CHECK(section_bytes(bad, ".debug_info", &off, &size, &compressed));
		if (how == 0) {
			static const unsigned char junk[64] = {0xde, 0xad, 0xbe, 0xef, 0x55};
			patch_file(bad, off + size / 2, junk, size / 2 > 64 ? 64 : (size_t)size / 4);
		} else {
			uint64_t huge = (uint64_t)1 << 40; /* Elf64_Chdr.ch_size */
			patch_file(bad, off + 8, &huge, sizeof huge);
		}
		ember_symbolizer_stats st;
		symbolize_copy(bad, &f, true, &st);
		CHECK(st.binaries >= 1); /* opened, not refused as corrupt */
		ember_symbolizer *sb = new_symbolizer(true, NULL, 0);
		ember_frame fr[MAXF];
		int named = 0;
		for (size_t i = 0; i < f.n_funcs && i < 50; i++) {
			int k = ember_symbolizer_addr2line(sb, bad, f.funcs[i][0], fr, MAXF, NULL);
			named += k > 0 && fr[0].function != NULL;
		}
		fprintf(stderr, "damaged .debug_info (%s): %d of %zu functions named\n",
		        how ? "huge size" : "bad bytes", named, f.n_funcs < 50 ? f.n_funcs : 50);
		CHECK(named > 0);
		ember_symbolizer_free(sb);
	}
	free(f.funcs);
}

/* ---- kallsyms and perf maps ------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
}

static const char *line_name(ember_profile *p, uint64_t loc_id)
{
	ember_location *l = ember_profile_location(p, loc_id);
	if (!l || l->n_lines == 0)
		return NULL;
	return ember_profile_str(p, ember_profile_function(p, l->lines[0].function_id)->name);
}

static void test_tables(void)
{
	char ks[600], zero[600];
	snprintf(ks, sizeof ks, "%s/kallsyms", tmpdir);
	snprintf(zero, sizeof zero, "%s/kallsyms0", tmpdir);
	write_file(ks, "ffffffff81000000 T _text\n"
	               "ffffffff81001000 T do_one\n"
	               "ffffffff81001800 D some_data\n"
	               "ffffffff81002000 t helper_two\n"
	               "ffffffff81003000 T _etext\n"
	               "ffffffffc0001000 t mod_fn\t[mymod]\n"
	               "garbage line\n"
	               "ffffffffc0002000 T tail_fn"); /* no newline at the end */
	write_file(zero, "0000000000000000 T _text\n0000000000000000 T do_one\n");
	char pm[600];
	snprintf(pm, sizeof pm, "%s/perf-4242.map", tmpdir);
	write_file(pm, "7f0000001000 100 jit_alpha\n"
	               "0x7f0000001100 0x80 _ZN2ns3jitEv\n"
	               "not a line\n"
	               "7f0000002000 40 LazyCompile:*foo bar.js:1\n"
	               "7f0000003000 40 _ZN4core3fmt5write17h0123456789abcdefE\n"
	               "7f0000003100 40 _RNvNtCs1234_7mycrate4util3bar\n");

	for (int variant = 0; variant < 2; variant++) {
		ember_profile *p = ember_profile_new();
		ember_profile_add_sample_type(p, "samples", "count");
		ember_mapping km = {.memory_start = 0xffffffff81000000ULL,
		                    .memory_limit = 0xffffffffffffffffULL,
		                    .filename = ember_profile_intern(p, "[kernel.kallsyms]"),
		                    .build_id = 0};
		ember_mapping am = {.memory_start = 0x7f0000000000ULL,
		                    .memory_limit = 0x7f0000100000ULL,
		                    .filename = ember_profile_intern(p, "//anon")};
		uint64_t k = ember_profile_add_mapping(p, &km),
		         an = ember_profile_add_mapping(p, &am);
		uint64_t addrs[][2] = {
		    {k, 0xffffffff81001010ULL}, {k, 0xffffffff81002fffULL},
		    {k, 0xffffffffc0001004ULL}, {k, 0xffffffff80000000ULL},
		    {an, 0x7f0000001010ULL},    {an, 0x7f0000001150ULL},
		    {an, 0x7f0000001200ULL},    {an, 0x7f0000002004ULL},
		    {an, 0x7f0000001010ULL},    {an, 0x7f0000003008ULL},
		    {an, 0x7f0000003108ULL}, {k, 0xffffffffc0002010ULL},
		};
		ember_label lab = {ember_profile_intern(p, "pid"), 0, 4242, 0};
		for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
			uint64_t id = ember_profile_add_location(p, addrs[i][0], addrs[i][1]);
			int64_t v = 1;
			lab.num = i == 8 ? 9999 : 4242; /* pid 9999 has no map */
			ember_profile_add_sample(p, &id, 1, &v, &lab, 1);
		}
		ember_symbolizer_opts o = {.kallsyms_path = variant ? zero : ks,
		                           .perfmap_dir = tmpdir};
		ember_symbolizer *s = NULL;
		CHECK_EQ_INT(ember_symbolizer_new(&s, &o, NULL), 0);
		CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
		ember_symbolizer_stats st;
		ember_symbolizer_get_stats(s, &st);
		if (variant == 0) {
			CHECK(line_name(p, 1) && strcmp(line_name(p, 1), "do_one") == 0);
			CHECK(line_name(p, 2) && strcmp(line_name(p, 2), "helper_two") == 0);
			CHECK(line_name(p, 3) && strcmp(line_name(p, 3), "mod_fn") == 0);
			ember_function *fn = ember_profile_function(
			    p, ember_profile_location(p, 3)->lines[0].function_id);
			CHECK(strcmp(ember_profile_str(p, fn->filename), "[mymod]") == 0);
			CHECK(line_name(p, 4) == NULL); /* below the first symbol */
			CHECK(line_name(p, 12) && strcmp(line_name(p, 12), "tail_fn") == 0);
			/* location 4 has no name: the mapping cannot claim functions */
			CHECK(!ember_profile_mapping(p, k)->has_functions);
			CHECK_EQ_INT(st.unsymbolized, 2); /* 4 and 7 */
		} else {
			/* kptr_restrict: no kernel names at all, never wrong ones */
			for (uint64_t id = 1; id <= 4; id++)
				CHECK(line_name(p, id) == NULL);
			CHECK(!ember_profile_mapping(p, k)->has_functions);
		}
		CHECK(line_name(p, 5) && strcmp(line_name(p, 5), "jit_alpha") == 0);
		CHECK(line_name(p, 6) && strcmp(line_name(p, 6), "ns::jit()") == 0);
		if (line_name(p, 6)) {
			ember_function *fn = ember_profile_function(
			    p, ember_profile_location(p, 6)->lines[0].function_id);
			CHECK(strcmp(ember_profile_str(p, fn->system_name), "_ZN2ns3jitEv") == 0);
		}
		CHECK(line_name(p, 7) == NULL); /* past jit_beta's 0x80 bytes */
		CHECK(line_name(p, 8) && strcmp(line_name(p, 8), "LazyCompile:*foo bar.js:1") == 0);
		/* pid 9999: no perf map, no jitdump: its JIT code is [jit] */
		CHECK(line_name(p, 9) && strcmp(line_name(p, 9), "[jit]") == 0);
		/* Rust, legacy and v0 manglings */
		CHECK(line_name(p, 10) && strcmp(line_name(p, 10), "core::fmt::write") == 0);
		CHECK(line_name(p, 11) && strcmp(line_name(p, 11), "mycrate::util::bar") == 0);
		CHECK(st.missing >= 1);
		/* 7 has no name */
		CHECK(!ember_profile_mapping(p, an)->has_functions);
		CHECK(!ember_profile_mapping(p, an)->has_line_numbers);
		CHECK(flags_honest(p));
		ember_symbolizer_free(s);
		ember_profile_free(p);
	}
}

/* A jitdump record: header (id, total size, timestamp) then body. */
static void jd_record(FILE *f, uint32_t id, const void *body, size_t len)
{
	uint32_t h[2] = {id, (uint32_t)(16 + len)};
	uint64_t ts = 1;
	fwrite(h, 4, 2, f);
	fwrite(&ts, 8, 1, f);
	fwrite(body, 1, len, f);
}

static void jd_load(FILE *f, uint64_t addr, uint64_t size, uint64_t index, const char *name)
{
	unsigned char b[256] = {0};
	uint64_t v[4] = {addr, addr, size, index}; /* vma, code_addr, size, index */
	memcpy(b + 8, v, sizeof v);
	size_t n = strlen(name) + 1;
	memcpy(b + 40, name, n);
	jd_record(f, 0, b, 40 + n + 16); /* 16 bytes of "code" */
}

/* jitdump files, [jit] for processes without JIT symbols, and perf maps
 * reread when they change (a long-lived symbolizer, as ember serve's). */
static void test_jit(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/jit-5151.dump", tmpdir);
	FILE *f = fopen(path, "w");
	uint32_t hdr[10] = {0x4a695444, 1, 40, 62, 0, 5151};
	fwrite(hdr, 4, 10, f);
	jd_load(f, 0x7f0000005000, 0x100, 7, "jd_alpha");
	jd_load(f, 0x7f0000005100, 0x100, 8, "jd_beta");
	unsigned char dbg[24] = {0};
	jd_record(f, 2, dbg, sizeof dbg); /* debug info: skipped */
	uint64_t mv[6] = {0, 0x7f0000005100, 0x7f0000009000, 0x100, 8};
	unsigned char move[48] = {0};
	memcpy(move + 8, mv, 40); /* pid/tid, vma, old, new, size, index */
	jd_record(f, 1, move, sizeof move);
	uint32_t cut[4] = {0, 500, 0, 0}; /* a record still being written */
	fwrite(cut, 4, 4, f);
	fclose(f);
	snprintf(path, sizeof path, "%s/jit-5252.dump", tmpdir);
	write_file(path, "not a jitdump at all, longer than its header would be");
	char pm[600];
	snprintf(pm, sizeof pm, "%s/perf-5353.map", tmpdir);
	write_file(pm, "7f0000001000 100 first_fn\n");

	ember_symbolizer_opts o = {.perfmap_dir = tmpdir, .quiet = true};
	ember_symbolizer *s = NULL;
	CHECK_EQ_INT(ember_symbolizer_new(&s, &o, NULL), 0);
	for (int round = 0; round < 2; round++) {
		ember_profile *p = ember_profile_new();
		ember_profile_add_sample_type(p, "samples", "count");
		ember_mapping am = {.memory_start = 0x7f0000000000ULL,
		                    .memory_limit = 0x7f0000100000ULL,
		                    .filename = ember_profile_intern(p, "//anon")};
		uint64_t an = ember_profile_add_mapping(p, &am);
		struct {
			int64_t pid;
			uint64_t addr;
		} at[] = {{5151, 0x7f0000005010}, {5151, 0x7f0000009010}, {5151, 0x7f0000005110},
		          {5252, 0x7f0000005010}, {5353, 0x7f0000001010}, {5353, 0x7f0000002010},
		          {5454, 0x7f0000001010}};
		ember_label lab = {ember_profile_intern(p, "pid"), 0, 0, 0};
		for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
			uint64_t id = ember_profile_add_location(p, an, at[i].addr);
			int64_t v = 1;
			lab.num = at[i].pid;
			ember_profile_add_sample(p, &id, 1, &v, &lab, 1);
		}
		CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
		CHECK(line_name(p, 1) && strcmp(line_name(p, 1), "jd_alpha") == 0);
		CHECK(line_name(p, 2) && strcmp(line_name(p, 2), "jd_beta") == 0); /* moved */
		CHECK(line_name(p, 3) && strcmp(line_name(p, 3), "jd_beta") == 0); /* old place */
		CHECK(line_name(p, 4) == NULL); /* a corrupt dump names nothing, not [jit] */
		CHECK(line_name(p, 5) && strcmp(line_name(p, 5), "first_fn") == 0);
		if (round == 0)
			CHECK(line_name(p, 6) == NULL);
		else /* the map grew between the runs: read again */
			CHECK(line_name(p, 6) && strcmp(line_name(p, 6), "second_fn") == 0);
		CHECK(line_name(p, 7) && strcmp(line_name(p, 7), "[jit]") == 0);
		CHECK(flags_honest(p));
		ember_profile_free(p);
		write_file(pm, "7f0000001000 100 first_fn\n7f0000002000 100 second_fn\n");
	}
	ember_symbolizer_stats st;
	ember_symbolizer_get_stats(s, &st);
	CHECK_EQ_INT(st.missing, 1); /* pid 5454, counted once over both runs */
	ember_symbolizer_free(s);
}

/* The real /proc/kallsyms: every 997th text symbol's own address names it
 * (the last alias listed at that address, as later definitions win). */
static void test_real_kallsyms(void)
{
	FILE *fp = fopen("/proc/kallsyms", "r");
	CHECK(fp != NULL);
	if (!fp)
		return;
	enum { MAXPICK = 400 };
	uint64_t pick[MAXPICK];
	char *want[MAXPICK] = {0};
	size_t n_pick = 0, n_text = 0;
	char line[1024];
	unsigned long long a;
	char type, name[512];
	size_t nonzero = 0;
	while (fgets(line, sizeof line, fp)) {
		if (sscanf(line, "%llx %c %511s", &a, &type, name) != 3 || !strchr("tTwW", type))
			continue;
		nonzero += a != 0;
		if (strchr(line, '['))
			continue; /* modules, BPF, trampolines may come and go meanwhile */
		n_text++;
		for (size_t i = 0; i < n_pick; i++)
			if (pick[i] == a) { /* an alias listed later wins */
				free(want[i]);
				want[i] = strdup(name);
			}
		if (n_text % 997 == 0 && n_pick < MAXPICK && a != 0) {
			pick[n_pick] = a;
			want[n_pick++] = strdup(name);
		}
	}
	fclose(fp);
	if (nonzero == 0) { /* kptr_restrict: nothing to compare against */
		for (size_t i = 0; i < n_pick; i++)
			free(want[i]);
		skip("/proc/kallsyms shows no addresses here (kptr_restrict; run as root)");
	}
	CHECK(n_text > 10000 && n_pick > 10);
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_mapping km = {.memory_start = 0,
	                    .memory_limit = 0xffffffffffffffffULL,
	                    .filename = ember_profile_intern(p, "[kernel.kallsyms]")};
	uint64_t k = ember_profile_add_mapping(p, &km), ids[MAXPICK];
	for (size_t i = 0; i < n_pick; i++) {
		ids[i] = ember_profile_add_location(p, k, pick[i]);
		int64_t v = 1;
		ember_profile_add_sample(p, &ids[i], 1, &v, NULL, 0);
	}
	ember_symbolizer *s = new_symbolizer(false, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	size_t same = 0;
	for (size_t i = 0; i < n_pick; i++) {
		const char *got = line_name(p, ids[i]);
		if (got && strcmp(got, want[i]) == 0)
			same++;
		else
			fprintf(stderr, "kallsyms %llx: %s, want %s\n", (unsigned long long)pick[i],
			        got ? got : "(none)", want[i]);
		free(want[i]);
	}
	fprintf(stderr, "/proc/kallsyms: %zu text symbols, %zu of %zu picked named right\n",
	        n_text, same, n_pick);
	CHECK_EQ_INT(same, n_pick);
	ember_symbolizer_free(s);
	ember_profile_free(p);
}

/* ---- the kernel symbol cache ------------------------------------------------ */

typedef struct ksym_pick {
	uint64_t addr[96];
	size_t n;
	uint64_t init_addr; /* in [_sinittext, _einittext): outside the cache */
	bool hidden;        /* kptr_restrict: all addresses 0 */
} ksym_pick;

/* 32 core text symbols spread over [_stext, _etext), each asked at its
 * first byte (aliases), its second and its last (next symbol - 1); and
 * one address in init text. */
static void pick_kernel(ksym_pick *k)
{
	memset(k, 0, sizeof *k);
	FILE *fp = fopen("/proc/kallsyms", "r");
	CHECK(fp != NULL);
	if (!fp)
		return;
	char line[1024], type, name[512];
	unsigned long long a;
	bool core = false;
	uint64_t *all = NULL;
	size_t n = 0, cap = 0, nonzero = 0;
	while (fgets(line, sizeof line, fp)) {
		if (sscanf(line, "%llx %c %511s", &a, &type, name) != 3 || !strchr("tTwW", type))
			continue;
		nonzero += a != 0;
		if (strcmp(name, "_stext") == 0)
			core = true;
		else if (strcmp(name, "_etext") == 0)
			core = false;
		else if (strcmp(name, "_sinittext") == 0)
			k->init_addr = a + 1;
		if (core && (n == 0 || all[n - 1] != a)) {
			if (n == cap && !(all = realloc(all, (cap = cap ? 2 * cap : 4096) * sizeof *all)))
				abort();
			all[n++] = a;
		}
	}
	fclose(fp);
	k->hidden = nonzero == 0;
	for (size_t i = 1; n > 64 && i < 32; i++) {
		size_t at = i * (n - 2) / 32;
		k->addr[k->n++] = all[at];
		k->addr[k->n++] = all[at] + 1 < all[at + 1] ? all[at] + 1 : all[at];
		k->addr[k->n++] = all[at + 1] - 1;
	}
	free(all);
}

/* Symbolizes the picked addresses (and the init one when asked) into
 * names[]; returns the symbolizer's stats. */
static ember_symbolizer_stats kernel_names(const ksym_pick *k, bool with_init,
                                           const char *cache_dir, char names[][128])
{
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_mapping km = {.memory_limit = 0xffffffffffffffffULL,
	                    .filename = ember_profile_intern(p, "[kernel.kallsyms]")};
	uint64_t m = ember_profile_add_mapping(p, &km), ids[97];
	size_t n = k->n + (with_init ? 1 : 0);
	for (size_t i = 0; i < n; i++) {
		ids[i] = ember_profile_add_location(p, m, i < k->n ? k->addr[i] : k->init_addr);
		int64_t v = 1;
		ember_profile_add_sample(p, &ids[i], 1, &v, NULL, 0);
	}
	ember_symbolizer_opts o = {.cache_dir = cache_dir, .quiet = true};
	ember_symbolizer *s = NULL;
	CHECK_EQ_INT(ember_symbolizer_new(&s, &o, NULL), 0);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	ember_symbolizer_stats st;
	ember_symbolizer_get_stats(s, &st);
	for (size_t i = 0; i < n; i++) {
		const char *nm = line_name(p, ids[i]);
		snprintf(names[i], 128, "%s", nm ? nm : "(none)");
	}
	ember_symbolizer_free(s);
	ember_profile_free(p);
	return st;
}

static bool same_names(char a[][128], char b[][128], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0) {
			fprintf(stderr, "kernel name %zu: %s vs %s\n", i, a[i], b[i]);
			return false;
		}
	return true;
}

/* The core kernel's symbols are cached per boot (symbolizer/kcache.c): the
 * second run reads no /proc/kallsyms and answers the same; a cache of
 * another boot, damaged, or writable by others is not used; an address
 * outside [_stext, _etext) still reads /proc/kallsyms. */
static void test_kcache(void)
{
	ksym_pick k;
	pick_kernel(&k);
	if (k.hidden || geteuid() != 0) {
		/* the cache is root's, and needs real addresses to compare */
		skip("the kernel symbol cache is root's and needs /proc/kallsyms addresses: "
		     "run as root");
	}
	CHECK(k.n > 60 && k.init_addr != 0);
	char want[97][128], got[97][128];
	char dir[600], file[700];
	snprintf(dir, sizeof dir, "%s/cache/ember", tmpdir);
	snprintf(file, sizeof file, "%s/kallsyms", dir);
	ember_symbolizer_stats st = kernel_names(&k, true, NULL, want);
	CHECK_EQ_INT(st.kallsyms_reads, 1);
	CHECK(strcmp(want[0], "(none)") != 0);

	/* cold: reads kallsyms, writes the cache (0600 in a 0700 directory) */
	st = kernel_names(&k, false, dir, got);
	CHECK_EQ_INT(st.kallsyms_reads, 1);
	CHECK(same_names(want, got, k.n));
	struct stat sb;
	CHECK(stat(file, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK_EQ_INT(sh("test \"$(ls -A '%s')\" = kallsyms", dir), 0); /* no temporaries left */
	/* warm: no kallsyms at all */
	st = kernel_names(&k, false, dir, got);
	CHECK_EQ_INT(st.kallsyms_reads, 0);
	CHECK(same_names(want, got, k.n));
	/* an address outside the cached range: kallsyms after all, same names */
	st = kernel_names(&k, true, dir, got);
	CHECK_EQ_INT(st.kallsyms_reads, 1);
	CHECK(same_names(want, got, k.n + 1));

	/* Not to be trusted: each is refused (kallsyms read again, names
	 * right) and the cache rewritten whole for the next run. */
	const char *how[] = {"boot id", "truncated", "bad offset", "unsorted", "group-writable",
	                     "symlink", "too long"};
	for (size_t h = 0; h < sizeof how / sizeof how[0]; h++) {
		switch (h) {
		case 0: patch_file(file, 16, "00000000", 8); break; /* boot_id[0..8) */
		case 1: CHECK_EQ_INT(truncate(file, 4000), 0); break;
		case 2: { /* the first entry's name offset */
			uint32_t far = 0x7fffffff;
			patch_file(file, 80 + 8, &far, sizeof far);
			break;
		}
		case 3: { /* the second entry's address below the first's */
			uint64_t lo = 0;
			FILE *fp = fopen(file, "rb");
			CHECK(fp && fseek(fp, 56, SEEK_SET) == 0 && fread(&lo, 8, 1, fp) == 1);
			if (fp)
				fclose(fp);
			patch_file(file, 80 + 16, &lo, sizeof lo); /* = header lo */
			uint64_t hi_lo = lo + 1;
			patch_file(file, 80, &hi_lo, sizeof hi_lo);
			break;
		}
		case 4: CHECK_EQ_INT(chmod(file, 0620), 0); break;
		case 6: { /* the first entry's size past _etext (and past 2^64) */
			uint32_t huge = 0xffffffffu;
			patch_file(file, 80 + 12, &huge, sizeof huge);
			break;
		}
		case 5: {
			char moved[720];
			snprintf(moved, sizeof moved, "%s.real", file);
			CHECK_EQ_INT(rename(file, moved), 0);
			CHECK_EQ_INT(symlink(moved, file), 0);
			break;
		}
		}
		st = kernel_names(&k, false, dir, got);
		if (st.kallsyms_reads != 1)
			fprintf(stderr, "cache %s: used\n", how[h]);
		CHECK_EQ_INT(st.kallsyms_reads, 1);
		CHECK(same_names(want, got, k.n));
		if (h == 5) { /* a symlink is replaced, not followed */
			CHECK(lstat(file, &sb) == 0 && S_ISREG(sb.st_mode));
		}
		st = kernel_names(&k, false, dir, got);
		CHECK_EQ_INT(st.kallsyms_reads, 0);
		CHECK(same_names(want, got, k.n));
	}

	/* A cache directory reached through a symlink is neither read nor
	 * written (it could point anywhere by the time the file is made). */
	char link[700];
	snprintf(link, sizeof link, "%s/cache/link", tmpdir);
	CHECK_EQ_INT(symlink(dir, link), 0);
	for (int run = 0; run < 2; run++) {
		st = kernel_names(&k, false, link, got);
		CHECK_EQ_INT(st.kallsyms_reads, 1);
		CHECK(same_names(want, got, k.n));
	}

	/* A kallsyms file of our own (tests, other machines' tables) never
	 * touches the cache. */
	char other[600], fake[600];
	snprintf(other, sizeof other, "%s/cache2", tmpdir);
	snprintf(fake, sizeof fake, "%s/fake-kallsyms", tmpdir);
	write_file(fake, "ffffffff81000000 T _stext\nffffffff81001000 T one\n"
	                 "ffffffff81002000 T _etext\n");
	ember_symbolizer_opts o = {.cache_dir = other, .kallsyms_path = fake, .quiet = true};
	ember_symbolizer *s = NULL;
	CHECK_EQ_INT(ember_symbolizer_new(&s, &o, NULL), 0);
	ember_profile *p = ember_profile_new();
	ember_profile_add_sample_type(p, "samples", "count");
	ember_mapping km = {.memory_limit = 0xffffffffffffffffULL,
	                    .filename = ember_profile_intern(p, "[kernel.kallsyms]")};
	uint64_t id = ember_profile_add_location(p, ember_profile_add_mapping(p, &km),
	                                         0xffffffff81001004ULL);
	int64_t v = 1;
	ember_profile_add_sample(p, &id, 1, &v, NULL, 0);
	CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
	CHECK(line_name(p, id) && strcmp(line_name(p, id), "one") == 0);
	CHECK(access(other, F_OK) != 0);
	ember_symbolizer_free(s);
	ember_profile_free(p);

	/* Not root: nothing is written or read, even in a directory of one's
	 * own (a capability can show a process real addresses that its user's
	 * other processes cannot see). */
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		char d[] = "/tmp/ember-kcache-nobody-XXXXXX";
		if (!mkdtemp(d))
			_exit(4);
		addrmap t = {0};
		if (addrmap_add(&t, 0xffffffff81000000ULL, 0, "_stext", 6, NULL, 0) < 0 ||
		    addrmap_add(&t, 0xffffffff81000100ULL, 0, "fn", 2, NULL, 0) < 0 ||
		    addrmap_add(&t, 0xffffffff81000200ULL, 0, "_etext", 6, NULL, 0) < 0)
			_exit(5);
		addrmap_finish(&t);
		for (size_t i = 0; i < t.n; i++)
			t.e[i].hi = t.e[i].lo + 0x100;
		int stored = kcache_store(d, &t);
		char f[128];
		snprintf(f, sizeof f, "%s/kallsyms", d);
		bool exists = access(f, F_OK) == 0;
		kcache kc;
		int loaded = kcache_load(d, &kc);
		unlink(f);
		rmdir(d);
		addrmap_free(&t);
		_exit(stored == 0 || exists || loaded != 0 ? 1 : 0);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "kernel cache as nobody: status %d\n", status);

	/* A table the format cannot hold exactly (a "function" of 4 GiB and
	 * more, found by fuzz_ksyms) is not cached rather than cut short. */
	addrmap t = {0};
	CHECK_EQ_INT(addrmap_add(&t, 0x000fffff81000000ULL, 0, "_stext", 6, NULL, 0), 0);
	CHECK_EQ_INT(addrmap_add(&t, 0x00ffffff81004000ULL, 0, "last", 4, NULL, 0), 0);
	CHECK_EQ_INT(addrmap_add(&t, 0xffffffff81003000ULL, 0, "_etext", 6, NULL, 0), 0);
	addrmap_finish(&t);
	for (size_t i = 0; i < t.n; i++)
		t.e[i].hi = i + 1 < t.n ? t.e[i + 1].lo : t.e[i].lo + 4096;
	char huge[600];
	snprintf(huge, sizeof huge, "%s/cache-huge", tmpdir);
	CHECK(kcache_store(huge, &t) < 0);
	snprintf(file, sizeof file, "%s/kallsyms", huge);
	CHECK(access(file, F_OK) != 0);
	addrmap_free(&t);

	/* EMBER_CACHE_DIR: set picks the directory, empty turns caching off. */
	char buf[600];
	setenv("EMBER_CACHE_DIR", dir, 1);
	CHECK(ember_default_cache_dir(buf, sizeof buf) && strcmp(buf, dir) == 0);
	setenv("EMBER_CACHE_DIR", "", 1);
	CHECK(ember_default_cache_dir(buf, sizeof buf) == NULL);
	unsetenv("EMBER_CACHE_DIR");
	CHECK(ember_default_cache_dir(buf, sizeof buf) &&
	      strcmp(buf, "/var/cache/ember") == 0); /* root */
}

/* [vdso]: this process's own vDSO, mapped where the kernel put it. */
static void test_vdso(void)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	CHECK(base != 0);
	if (!base)
		return;
	/* the address of clock_gettime in the image, from its .dynsym */
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	uint64_t value = 0;
	for (int i = 0; i < eh->e_shnum && !value; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++)
			if (strcmp(str + sym[k].st_name, "__vdso_clock_gettime") == 0)
				value = sym[k].st_value;
	}
	CHECK(value != 0);
	for (int wrong = 0; wrong < 2; wrong++) {
		ember_profile *p = ember_profile_new();
		ember_profile_add_sample_type(p, "samples", "count");
		ember_mapping m = {.memory_start = base,
		                   .memory_limit = base + 0x2000,
		                   .filename = ember_profile_intern(p, "[vdso]"),
		                   .build_id = ember_profile_intern(p, wrong ? "00ff00ff" : "")};
		uint64_t mid = ember_profile_add_mapping(p, &m);
		uint64_t id = ember_profile_add_location(p, mid, base + value + 4);
		int64_t v = 1;
		ember_profile_add_sample(p, &id, 1, &v, NULL, 0);
		ember_symbolizer *s = new_symbolizer(true, NULL, 0);
		CHECK_EQ_INT(ember_symbolizer_run(s, p, NULL), 0);
		ember_symbolizer_stats st;
		ember_symbolizer_get_stats(s, &st);
		const char *name = line_name(p, id);
		if (wrong) {
			CHECK(name == NULL); /* another kernel's vDSO: not ours to name */
			CHECK(st.buildid_mismatch >= 1);
		} else {
			CHECK(name && strstr(name, "clock_gettime"));
		}
		ember_symbolizer_free(s);
		ember_profile_free(p);
	}
}

/* ---- a recorded profile against binutils ---------------------------------- */

/* Every location of PROFILE (symbolized, as `ember record` writes it) in
 * BIN's mapping has the frames `addr2line -f -i -e BIN` gives for its
 * address: the same functions and lines, innermost first. */
static void test_recorded(const char *path, const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	ember_profile *p = NULL;
	ember_error err = {0};
	CHECK_EQ_INT(ember_pprof_read_file(path, &p, &err), 0);
	if (!p) {
		free(f.funcs);
		return;
	}
	char in[512], out[512];
	snprintf(in, sizeof in, "%s/addrs", tmpdir);
	snprintf(out, sizeof out, "%s/binutils", tmpdir);
	FILE *fp = fopen(in, "w");
	size_t n = 0;
	uint64_t *ids = calloc(p->n_locations + 1, sizeof *ids);
	for (size_t i = 0; i < p->n_locations; i++) {
		const ember_location *l = &p->locations[i];
		const ember_mapping *m = ember_profile_mapping(p, l->mapping_id);
		if (!m || strcmp(ember_profile_str(p, m->filename), bin) != 0)
			continue;
		uint64_t va = l->address - m->memory_start + m->file_offset - f.x_off + f.x_vaddr;
		fprintf(fp, "%" PRIx64 "\n", va);
		ids[n++] = l->id;
	}
	fclose(fp);
	fprintf(stderr, "%zu locations of %s in %s\n", n, bin, path);
	CHECK(n >= 5);
	CHECK_EQ_INT(sh("addr2line -a -f -i -e '%s' < '%s' > '%s'", bin, in, out), 0);
	fp = fopen(out, "r");
	char *line = NULL;
	size_t cap = 0, k = 0, frame = 0, differ = 0;
	ember_location *l = NULL;
	char fn[512] = "";
	bool want_fn = true;
	while (fp && getline(&line, &cap, fp) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0x", 2) == 0 && strlen(line) == 18) {
			if (l && frame != l->n_lines && differ++ < 5)
				fprintf(stderr, "0x%" PRIx64 ": binutils %zu frames, profile %zu\n",
				        l->address, frame, l->n_lines);
			l = k < n ? ember_profile_location(p, ids[k++]) : NULL;
			frame = 0;
			want_fn = true;
			continue;
		}
		if (!l)
			continue;
		if (want_fn) {
			snprintf(fn, sizeof fn, "%s", line);
			want_fn = false;
			continue;
		}
		want_fn = true;
		if (strcmp(fn, "??") == 0 && strcmp(line, "??:0") == 0)
			continue; /* unknown (a PLT stub): no frame, as in the profile */
		/* "file:line" or "file:line (discriminator N)"; "?" for none */
		char *paren = strstr(line, " (discriminator");
		if (paren)
			*paren = '\0';
		char *colon = strrchr(line, ':');
		long want_line = colon ? strtol(colon + 1, NULL, 10) : 0;
		if (frame >= l->n_lines) {
			frame++;
			continue;
		}
		ember_function *f2 = ember_profile_function(p, l->lines[frame].function_id);
		bool same = f2 && strcmp(ember_profile_str(p, f2->name), fn) == 0 &&
		            l->lines[frame].line == want_line;
		if (!same && differ < 5)
			fprintf(stderr,
			        "0x%" PRIx64 " frame %zu: binutils %s:%ld, profile %s:%lld\n",
			        l->address, frame, fn, want_line,
			        f2 ? ember_profile_str(p, f2->name) : "?",
			        (long long)l->lines[frame].line);
		differ += !same;
		frame++;
	}
	if (l && frame != l->n_lines && differ++ < 5)
		fprintf(stderr, "0x%" PRIx64 ": binutils %zu frames, profile %zu\n", l->address,
		        frame, l->n_lines);
	CHECK_EQ_INT(k, n);
	CHECK_EQ_INT(differ, 0);
	free(line);
	if (fp)
		fclose(fp);
	free(ids);
	ember_profile_free(p);
	free(f.funcs);
}

/* ---- lazy (per-CU) index --------------------------------------------- */

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static elf_index *open_index(const char *bin, unsigned build_flags)
{
	ei_file f;
	ember_error err = {0};
	if (debuginfo_open_elf(bin, &f, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	elf_index *ix = NULL;
	if (elf_index_new(&ix, f, f, build_flags, &err) < 0)
		fprintf(stderr, "%s\n", err.msg);
	return ix;
}

static void test_lazy(const char *bin)
{
	elf_facts f = {0};
	CHECK(read_facts(bin, &f));
	elf_index *whole = open_index(bin, 0), *lazy = open_index(bin, EI_BUILD_LAZY);
	CHECK(whole && lazy);
	if (!whole || !lazy) {
		elf_index_free(whole);
		elf_index_free(lazy);
		free(f.funcs);
		return;
	}
	elf_index_info wi, li;
	elf_index_get_info(whole, &wi);
	elf_index_get_info(lazy, &li);
	CHECK(!wi.lazy && li.lazy);
	CHECK(li.n_cus >= 10); /* a binary of many CUs */
	CHECK_EQ_INT(li.n_cus_indexed, 0);
	CHECK_EQ_INT(li.n_rows, 0);
	CHECK(f.n_funcs > 0);
	/* One address with a line (in some CU) indexes that CU only. */
	ember_frame a[MAXF], b[MAXF];
	uint64_t mid = 0;
	for (size_t i = f.n_funcs / 2; i < f.n_funcs && !mid; i++)
		if (elf_index_lookup(whole, f.funcs[i][0], 0, a, MAXF) > 0 && a[0].file &&
		    a[0].line > 0)
			mid = f.funcs[i][0];
	CHECK(mid != 0);
	CHECK(elf_index_lookup(lazy, mid, EI_DEMANGLE, a, MAXF) > 0);
	elf_index_get_info(lazy, &li);
	CHECK_EQ_INT(li.n_cus_indexed, 1);
	CHECK(li.n_rows > 0 && li.n_rows < wi.n_rows);
	/* Every address (densely sampled) answers the same. */
	uint64_t span = f.text_hi - f.text_lo, step = span / 40000 + 1;
	size_t differ = 0, asked = 0, outside = 0;
	for (uint64_t va = f.text_lo; va < f.text_hi; va += step, asked++) {
		size_t n = elf_index_lookup(whole, va, EI_DEMANGLE, a, MAXF);
		size_t m = elf_index_lookup(lazy, va, EI_DEMANGLE, b, MAXF);
		bool same = n == m;
		for (size_t i = 0; same && i < n; i++)
			same = str_same(a[i].function, b[i].function) &&
			       str_same(a[i].linkage_name, b[i].linkage_name) &&
			       str_same(a[i].file, b[i].file) && a[i].line == b[i].line &&
			       a[i].column == b[i].column &&
			       a[i].discriminator == b[i].discriminator &&
			       str_same(a[i].decl_file, b[i].decl_file) &&
			       a[i].start_line == b[i].start_line;
		/* Code outside every CU's ranges (as ASan's module destructors)
		 * has line rows the whole index finds but no CU claims: the lazy
		 * index answers from the symbol table there, as binutils does. */
		if (!same && n == 1 && m == 1 && b[0].line == 0 && a[0].line > 0 &&
		    str_same(a[0].function, b[0].function)) {
			outside++;
			continue;
		}
		/* Padding after a function's last instruction (no symbol covers
		 * it, no CU range either, yet the line table has a row for it,
		 * seen after main under ASan): the whole index gives that row
		 * without a function, the lazy one nothing. No sample lands
		 * there, since nothing executes it. */
		if (!same && n == 1 && m == 0 && !a[0].function && !in_function(&f, va)) {
			outside++;
			continue;
		}
		if (!same && differ++ < 5)
			fprintf(stderr, "0x%" PRIx64 ": whole %zu frames (%s %s:%d), lazy %zu (%s %s:%d)\n",
			        va, n, n ? a[0].function : "-", n ? a[0].file : "-",
			        n ? a[0].line : 0, m, m ? b[0].function : "-", m ? b[0].file : "-",
			        m ? b[0].line : 0);
	}
	CHECK_EQ_INT(differ, 0);
	elf_index_get_info(lazy, &li);
	fprintf(stderr, "%zu addresses (%zu outside every CU); %zu of %zu CUs indexed\n", asked,
	        outside, li.n_cus_indexed, li.n_cus);
	CHECK(outside < asked / 100);
	CHECK(li.n_cus_indexed > 1 && li.n_cus_indexed <= li.n_cus);
	elf_index_free(whole);
	elf_index_free(lazy);
	free(f.funcs);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_symbolizer MODE ARGS...\n");
		return 2;
	}
	make_tmpdir();
	const char *mode = argv[1];
	if (strcmp(mode, "agree") == 0) {
		bool demangle = argc > 2 && strcmp(argv[2], "-C") == 0;
		for (int i = demangle ? 3 : 2; i < argc; i++)
			agree(argv[i], demangle);
	} else if (strcmp(mode, "inline") == 0 && argc == 3) {
		test_inline(argv[2]);
	} else if (strcmp(mode, "cxx") == 0 && argc == 3) {
		test_cxx(argv[2]);
	} else if (strcmp(mode, "debugdir") == 0 && argc == 4) {
		test_debugdir(argv[2], argv[3]);
	} else if (strcmp(mode, "corrupt") == 0 && argc == 3) {
		test_corrupt(argv[2]);
	} else if (strcmp(mode, "compressed") == 0 && argc == 3) {
		test_compressed(argv[2]);
	} else if (strcmp(mode, "compressed-large") == 0) {
		test_compressed_large();
	} else if (strcmp(mode, "kcache") == 0) {
		test_kcache();
	} else if (strcmp(mode, "tables") == 0) {
		test_tables();
		test_jit();
		test_vdso();
	} else if (strcmp(mode, "real-kallsyms") == 0) {
		test_real_kallsyms();
	} else if (strcmp(mode, "raw") == 0 && argc == 4) {
		/* a raw profile of BIN (for the CLI and go tool pprof tests) */
		elf_facts f = {0};
		CHECK(read_facts(argv[2], &f));
		/* of code with debug info (a symbolized mapping then claims
		 * every flag, so go tool pprof keeps ember's answers) */
		enum { N = 300 };
		uint64_t vaddrs[N], lined[N];
		size_t n = 0;
		ember_profile *p = raw_profile(argv[2], &f, f.build_id, getpid(), vaddrs, N);
		ember_profile_free(p);
		ember_symbolizer *s = new_symbolizer(true, NULL, 0);
		for (size_t i = 0; i < N; i++) {
			ember_frame fr[MAXF];
			if (in_function(&f, vaddrs[i]) &&
			    ember_symbolizer_addr2line(s, argv[2], vaddrs[i], fr, MAXF, NULL) > 0 &&
			    fr[0].file && fr[0].line > 0)
				lined[n++] = vaddrs[i];
		}
		ember_symbolizer_free(s);
		CHECK(n > 20);
		p = raw_profile_at(argv[2], &f, f.build_id, getpid(), lined, n);
		CHECK_EQ_INT(ember_pprof_write_file(p, argv[3], NULL), 0);
		ember_profile_free(p);
		free(f.funcs);
	} else if (strcmp(mode, "recorded") == 0 && argc == 4) {
		test_recorded(argv[2], argv[3]);
	} else if (strcmp(mode, "lazy") == 0 && argc == 3) {
		test_lazy(argv[2]);
	} else if (strcmp(mode, "profile") == 0 && argc >= 3) {
		test_profile(argv[2], argc > 3 ? argv[3] : NULL);
	} else {
		fprintf(stderr, "test_symbolizer: bad mode or arguments\n");
		remove_tmpdir();
		return 2;
	}
	remove_tmpdir();
	return check_exit();
}
