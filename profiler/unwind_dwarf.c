/* profiler/unwind_dwarf.c — the DWARF unwinder behind profiler/unwind.h:
 * libunwind's remote API over a sample's copied user stack and registers.
 *
 * What it owns:
 *  - a cache of binaries (key: build id, else path). Each entry is the ELF
 *    file mapped read-only once, its PT_LOAD segments, its .eh_frame_hdr
 *    search table and, where present, its .debug_frame rewritten in
 *    .eh_frame form (debug_frame.c; Debian's x86-64 libunwind has no
 *    .debug_frame support of its own). libunwind reads the tables (and, for
 *    its signal-frame and PLT guesses, a few text bytes) through our
 *    access_mem, which serves them from that cache: no file I/O per sample.
 *    A binary without usable tables is cached too, as a negative entry.
 *  - one libunwind address space per process (a small LRU table) with
 *    UNW_CACHE_GLOBAL: libunwind caches register rules per instruction
 *    address, and addresses only mean the same code within one process.
 *  - the frame-pointer fallback: where a frame has no unwind info, a valid
 *    rbp chain inside the stack copy carries the unwind to the next frame
 *    that has, and DWARF unwinding resumes there. Where rbp leads nowhere
 *    either (CPython's perf trampolines keep no frame pointer), the nearest
 *    stack word that is a return address just after a call instruction of
 *    a mapped ELF is the caller (a stack scan).
 *  - Go frames, stepped by .gopclntab's pcsp table (ember/gopclntab.h; a
 *    stripped Go binary has no other unwind info), and ended as the root at
 *    Go's top frames (runtime.goexit, mstart), so they are not [truncated].
 *  - fp mode's leaf rule (ember_unwinder_leaf_return, for unwind_leaf.c):
 *    one step from the sampled pc, its C rules cached by (pid, ip).
 *
 * Never: reads the target's memory (only the stack copy and the ELF files),
 * allocates or does I/O per sample once a binary is cached, symbolizes.
 */
#include "unwind.h"

#include "debug_frame.h"
#include "ember/gopclntab.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <assert.h>

/* libunwind exports its .eh_frame_hdr table search (the remote half of
 * dwarf_find_proc_info) but does not declare it in a public header. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

/* x86-64 perf_regs numbering (arch/x86/include/uapi/asm/perf_regs.h). */
enum {
	PR_AX = 0,
	PR_BX = 1,
	PR_CX = 2,
	PR_DX = 3,
	PR_SI = 4,
	PR_DI = 5,
	PR_BP = 6,
	PR_SP = 7,
	PR_IP = 8,
	PR_R8 = 16,
	PR_R15 = 23,
};

/* libunwind's x86-64 register numbers 0..16 (RAX, RDX, RCX, RBX, RSI, RDI,
 * RBP, RSP, R8..R15, RIP) as perf_regs bits. */
static const uint8_t unw_to_perf[17] = {
    PR_AX, PR_DX, PR_CX, PR_BX, PR_SI, PR_DI, PR_BP, PR_SP, 16, 17, 18, 19, 20, 21, 22, 23, PR_IP,
};
#define N_UNW_REGS 17

uint64_t ember_unwind_regs_mask(void)
{
	/* the general-purpose registers, no flags or segment registers */
	uint64_t m = 0;
	for (int i = 0; i < N_UNW_REGS; i++)
		m |= 1ull << unw_to_perf[i];
	return m;
}

/* ---- binaries ---------------------------------------------------------- */

#define MAX_LOADS 16

typedef struct ud_load {
	uint64_t vaddr, offset, filesz;
	bool writable, exec;
} ud_load;

typedef struct ud_binary {
	char *key;
	int err;              /* 0 usable, else a negative errno: no unwind info */
	const uint8_t *image; /* the file's bytes (or the vDSO's) */
	size_t image_size;
	bool mapped; /* image is our mmap (else the vDSO) */
	ud_load loads[MAX_LOADS];
	size_t n_loads;
	bool has_hdr;         /* .eh_frame_hdr found and usable */
	uint64_t hdr_vaddr;   /* .eh_frame_hdr */
	uint64_t table_vaddr; /* its binary search table */
	uint64_t fde_count;
	debug_frame_blob df; /* .debug_frame as .eh_frame, served at df_vaddr */
	uint64_t df_vaddr;
	ember_gopcln go; /* Go's .gopclntab (pcsp, top frames), into image */
	bool has_go;
} ud_binary;

/* One mapping resolved during the current unwind. */
typedef struct ud_map {
	uint64_t start, end, bias;
	ud_binary *bin;
} ud_map;

#define N_CTX_MAPS 8

/* One process's libunwind address space. */
typedef struct ud_proc {
	int32_t pid;
	bool live;          /* pid is this slot's process; else free (as may be kept) */
	unw_addr_space_t as;
	uint64_t last_use;
} ud_proc;

#define N_PROCS 32

/* fp mode's leaf rules by (pid, ip), learned from one libunwind step: the
 * frame is set up (off < 0: the kernel's chain is right), else the return
 * address sits at sp + off - 8. Direct-mapped; a process's entries go with
 * ember_unwinder_forget. */
#define LEAF_CACHE 1024

typedef struct leaf_rule {
	uint64_t ip;
	int32_t pid;
	int32_t off; /* 0: empty */
} leaf_rule;

struct ember_unwinder {
	ember_unwind_callbacks cb;
	/* binary cache: open addressing on the key, power-of-two capacity */
	ud_binary **bins;
	size_t bins_cap, n_bins;
	ud_proc procs[N_PROCS];
	leaf_rule leaf[LEAF_CACHE];
	uint64_t clock;
	ember_unwinder_stats stats;
	/* where each libunwind register sits in a sample's regs: the sample
	 * holds ember_unwind_regs_mask()'s registers in ascending bit order */
	uint8_t reg_idx[N_UNW_REGS];
	/* per-unwind state, reset by each ember_unwinder_unwind */
	int32_t pid;
	uint64_t regs[N_UNW_REGS]; /* by libunwind register number */
	uint64_t sp;
	const uint8_t *stack;
	size_t stack_size;
	ud_map maps[N_CTX_MAPS];
	size_t n_maps, next_map;
	int fail; /* ember_unwind_reason of the last failed access, or -1 */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: /* DW_EH_PE_absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		return 8;
	case 0x02: /* udata2 */
	case 0x0a: /* sdata2 */
		return 2;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		return 4;
	default:
		return 0;
	}
}

static uint64_t read_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Reads the .eh_frame_hdr at file offset off: its binary search table. */
static bool parse_eh_frame_hdr(ud_binary *b, uint64_t off, uint64_t size)
{
	if (off > b->image_size || size > b->image_size - off || size < 4)
		return false;
	const uint8_t *h = b->image + off;
	/* version 1; eh_frame_ptr, fde_count and table encodings */
	size_t ptr_size = enc_size(h[1]), count_size = enc_size(h[2]);
	if (h[0] != 1 || h[1] == 0xff || h[2] == 0xff || !ptr_size || !count_size ||
	    (h[2] & 0x70) != 0 || h[3] != 0x3b /* datarel | sdata4 */)
		return false;
	size_t table_off = 4 + ptr_size + count_size;
	if (table_off > size)
		return false;
	b->fde_count = read_le(h + 4 + ptr_size, count_size);
	if (b->fde_count == 0 || b->fde_count > (size - table_off) / 8)
		return false;
	b->table_vaddr = b->hdr_vaddr + table_off;
	return true;
}

/* .debug_frame, where present, rewritten as an .eh_frame blob. libunwind
 * reads it through access_mem like real unwind tables, so it needs an
 * address: it is laid over the start of the binary's largest executable
 * segment (text, which libunwind reads only for its signal-frame and PLT
 * guesses, after a failed lookup), never over .eh_frame/.eh_frame_hdr. */
static void load_debug_frame(ud_binary *b, Elf *elf)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	GElf_Shdr df = {0}, keep_out[2] = {{0}, {0}};
	bool have_df = false;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".debug_frame") == 0 && !(sh.sh_flags & SHF_COMPRESSED)) {
			df = sh;
			have_df = true;
		} else if (strcmp(name, ".eh_frame") == 0) {
			keep_out[0] = sh;
		} else if (strcmp(name, ".eh_frame_hdr") == 0) {
			keep_out[1] = sh;
		}
	}
	if (!have_df || df.sh_offset > b->image_size || df.sh_size > b->image_size - df.sh_offset)
		return;
	const ud_load *text = NULL;
	for (size_t i = 0; i < b->n_loads; i++)
		if (b->loads[i].exec && (!text || b->loads[i].filesz > text->filesz))
			text = &b->loads[i];
	if (!text)
		return;
	debug_frame_blob blob;
	if (debug_frame_convert(b->image + df.sh_offset, df.sh_size, text->vaddr, &blob) != 0)
		return;
	bool fits = blob.size <= text->filesz;
	for (int i = 0; i < 2; i++)
		if (keep_out[i].sh_size && keep_out[i].sh_addr < text->vaddr + blob.size &&
		    text->vaddr < keep_out[i].sh_addr + keep_out[i].sh_size)
			fits = false;
	if (!fits) {
		debug_frame_blob_free(&blob);
		return;
	}
	b->df = blob;
	b->df_vaddr = text->vaddr;
}

/* Reads the program headers and the unwind tables of b->image: 0 when it
 * has .eh_frame_hdr or .debug_frame, else -errno. */
static int binary_parse(ud_binary *b)
{
	Elf *elf = elf_memory((char *)b->image, b->image_size);
	if (!elf)
		return -EINVAL;
	int ret = -ENOENT;
	GElf_Ehdr eh;
	size_t n_ph;
	if (!gelf_getehdr(elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &n_ph) != 0) {
		ret = -EINVAL;
		goto out;
	}
	uint64_t hdr_off = 0, hdr_size = 0;
	bool have_hdr = false;
	for (size_t i = 0; i < n_ph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && b->n_loads < MAX_LOADS) {
			ud_load *l = &b->loads[b->n_loads++];
			l->vaddr = ph.p_vaddr;
			l->offset = ph.p_offset;
			l->filesz = ph.p_filesz;
			l->writable = (ph.p_flags & PF_W) != 0;
			l->exec = (ph.p_flags & PF_X) != 0;
		} else if (ph.p_type == PT_GNU_EH_FRAME) {
			have_hdr = true;
			b->hdr_vaddr = ph.p_vaddr;
			hdr_off = ph.p_offset;
			hdr_size = ph.p_filesz;
		}
	}
	if (have_hdr)
		b->has_hdr = parse_eh_frame_hdr(b, hdr_off, hdr_size);
	load_debug_frame(b, elf);
	/* Go: the table must lie in the image (libelf hands out its bytes
	 * in place), as it outlives this Elf */
	b->has_go = ember_gopcln_from_elf(&b->go, elf) == 0 && b->go.data >= b->image &&
	            b->go.size <= b->image_size - (size_t)(b->go.data - b->image);
	b->go.ro = NULL; /* inline trees: the symbolizer's business */
	ret = b->has_hdr || b->df.n_fdes || b->has_go ? 0 : -ENOENT;
out:
	elf_end(elf);
	return ret;
}

/* The vDSO of every 64-bit process on this kernel is the one we have. */
static int binary_open_vdso(ud_binary *b)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	if (!base)
		return -ENOENT;
	Elf64_Ehdr eh;
	memcpy(&eh, base, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	size_t size = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, base + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_offset + ph.p_filesz > size)
			size = ph.p_offset + ph.p_filesz;
	}
	b->image = base;
	b->image_size = size;
	b->mapped = false;
	return binary_parse(b);
}

static int binary_open_file(ud_binary *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	b->image = p;
	b->image_size = (size_t)st.st_size;
	b->mapped = true;
	return binary_parse(b);
}

static void binary_free(ud_binary *b)
{
	if (!b)
		return;
	if (b->mapped)
		munmap((void *)b->image, b->image_size);
	debug_frame_blob_free(&b->df);
	free(b->key);
	free(b);
}

static int bins_grow(ember_unwinder *u)
{
	size_t cap = u->bins_cap ? u->bins_cap * 2 : 64;
	ud_binary **nb = calloc(cap, sizeof *nb);
	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < u->bins_cap; i++) {
		ud_binary *b = u->bins[i];
		if (!b)
			continue;
		size_t j = hash_str(b->key) & (cap - 1);
		while (nb[j])
			j = (j + 1) & (cap - 1);
		nb[j] = b;
	}
	free(u->bins);
	u->bins = nb;
	u->bins_cap = cap;
	return 0;
}

/* The cached binary of a mapping, loading it on first sight. NULL only when
 * out of memory; a binary without usable unwind info has b->err set. */
static ud_binary *bins_find(const ember_unwinder *u, const char *key)
{
	size_t j = hash_str(key) & (u->bins_cap - 1);
	for (ud_binary *b; (b = u->bins[j]); j = (j + 1) & (u->bins_cap - 1))
		if (strcmp(b->key, key) == 0)
			return b;
	return NULL;
}

/* Inserts b under key (copied); false when out of memory. */
static bool bins_insert(ember_unwinder *u, ud_binary *b, const char *key)
{
	if ((u->n_bins + 1) * 2 > u->bins_cap && bins_grow(u) != 0)
		return false;
	size_t klen = strlen(key);
	b->key = malloc(klen + 1);
	if (!b->key)
		return false;
	memcpy(b->key, key, klen + 1);
	size_t j = hash_str(key) & (u->bins_cap - 1);
	while (u->bins[j])
		j = (j + 1) & (u->bins_cap - 1);
	u->bins[j] = b;
	u->n_bins++;
	assert(u->n_bins * 2 <= u->bins_cap);
	return true;
}

/* The cached binary of a mapping, loading it on first sight. NULL only when
 * out of memory; a binary without usable unwind info has b->err set.
 * What a file holds is cached under its build id (else its path). A file
 * that could not be opened is remembered under its path only: the path
 * names one process's view (/proc/PID/root/...), and the next process with
 * the same build id may well be readable. */
static ud_binary *binary_get(ember_unwinder *u, const ember_unwind_mapping *m)
{
	const char *path = m->path && m->path[0] ? m->path : "//anon";
	const char *key = m->build_id && m->build_id[0] ? m->build_id : path;
	ud_binary *b = bins_find(u, key);
	if (!b && key != path)
		b = bins_find(u, path);
	if (b)
		return b;
	b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	bool access_failed = false;
	if (strcmp(path, "[vdso]") == 0) {
		b->err = binary_open_vdso(b);
	} else if (path[0] == '/') {
		b->err = binary_open_file(b, path);
		access_failed = b->err && !b->image;
	} else {
		b->err = -ENOENT; /* anonymous or special: no file to read */
	}
	if (b->err) {
		if (b->mapped)
			munmap((void *)b->image, b->image_size);
		b->image = NULL;
		b->image_size = 0;
		b->mapped = false;
	}
	if (!bins_insert(u, b, access_failed ? path : key)) {
		binary_free(b);
		return NULL;
	}
	u->stats.binaries_loaded++;
	if (b->err)
		u->stats.binaries_failed++;
	return b;
}

/* Bounds the cache: past MAX_BINS entries (a long-running agent seeing many
 * short-lived binaries) everything is dropped and reloaded on demand. Only
 * between unwinds: ud_map entries point into the cache. */
#define MAX_BINS 1024

static void bins_trim(ember_unwinder *u)
{
	if (u->n_bins < MAX_BINS)
		return;
	for (size_t i = 0; i < u->bins_cap; i++) {
		binary_free(u->bins[i]);
		u->bins[i] = NULL;
	}
	u->n_bins = 0;
	u->stats.cache_trims++;
}

/* Load bias of a mapping of b: runtime address = ELF vaddr + bias. */
static bool binary_bias(const ud_binary *b, const ember_unwind_mapping *m, uint64_t *bias)
{
	for (size_t i = 0; i < b->n_loads; i++) {
		const ud_load *l = &b->loads[i];
		uint64_t page_off = l->offset & ~(uint64_t)4095;
		if (m->pgoff >= page_off && m->pgoff < l->offset + l->filesz) {
			*bias = m->start - (l->vaddr + m->pgoff - l->offset);
			return true;
		}
	}
	return false;
}

/* Copies 8 bytes at ELF vaddr from a read-only segment of b's file. */
static bool binary_read(const ud_binary *b, uint64_t vaddr, uint64_t *out)
{
	if (b->df.size && vaddr >= b->df_vaddr && vaddr - b->df_vaddr < b->df.size &&
	    b->df.size - (vaddr - b->df_vaddr) >= 8) { /* the .debug_frame overlay */
		memcpy(out, b->df.data + (vaddr - b->df_vaddr), 8);
		return true;
	}
	for (size_t i = 0; i < b->n_loads; i++) {
		const ud_load *l = &b->loads[i];
		if (l->writable || vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		uint64_t off = l->offset + (vaddr - l->vaddr);
		if (off > b->image_size || b->image_size - off < 8)
			return false;
		memcpy(out, b->image + off, 8);
		return true;
	}
	return false;
}

/* ---- per-unwind mapping lookup ----------------------------------------- */

/* The mapping of the current pid holding ip, with its usable binary; NULL
 * and u->fail set when there is none. */
static const ud_map *map_for_ip(ember_unwinder *u, uint64_t ip)
{
	for (size_t i = 0; i < u->n_maps; i++)
		if (ip >= u->maps[i].start && ip < u->maps[i].end)
			return &u->maps[i];
	ember_unwind_mapping m = {0};
	if (!u->cb.find_mapping || u->cb.find_mapping(u->cb.ctx, u->pid, ip, &m) != 0 ||
	    ip < m.start || ip >= m.end) {
		u->fail = EMBER_UNWIND_NO_MAPPING;
		return NULL;
	}
	ud_binary *b = binary_get(u, &m);
	uint64_t bias = 0;
	if (!b || b->err || !binary_bias(b, &m, &bias)) {
		u->fail = EMBER_UNWIND_NO_INFO;
		return NULL;
	}
	ud_map *slot;
	if (u->n_maps < N_CTX_MAPS) {
		slot = &u->maps[u->n_maps++];
	} else {
		slot = &u->maps[u->next_map];
		u->next_map = (u->next_map + 1) % N_CTX_MAPS;
	}
	*slot = (ud_map){.start = m.start, .end = m.end, .bias = bias, .bin = b};
	return slot;
}

/* ---- libunwind accessors ----------------------------------------------- */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                              int need_unwind_info, void *arg)
{
	ember_unwinder *u = arg;
	const ud_map *m = map_for_ip(u, ip);
	if (!m)
		return -UNW_EUNSPEC; /* not ENOINFO: that starts libunwind's own guessing */
	const ud_binary *b = m->bin;
	unw_dyn_info_t di = {0};
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = m->start;
	di.end_ip = m->end;
	int ret = -UNW_ENOINFO;
	if (b->has_hdr) { /* .eh_frame through .eh_frame_hdr */
		di.u.rti.segbase = m->bias + b->hdr_vaddr;
		di.u.rti.table_data = m->bias + b->table_vaddr;
		di.u.rti.table_len = b->fde_count * 8 / sizeof(unw_word_t);
		ret = UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, u);
	}
	if (ret == -UNW_ENOINFO && b->df.n_fdes) { /* else .debug_frame */
		di.u.rti.segbase = m->bias + b->df_vaddr;
		di.u.rti.table_data = m->bias + b->df_vaddr;
		di.u.rti.table_len = b->df.n_fdes * 8 / sizeof(unw_word_t);
		ret = UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, u);
		if (ret >= 0)
			u->stats.debug_frame_lookups++;
	}
	if (ret < 0) {
		if (u->fail < 0)
			u->fail = EMBER_UNWIND_NO_INFO;
		return -UNW_EUNSPEC;
	}
	return ret;
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* dwarf_search_unwind_table's unwind_info lives in libunwind's own pool,
	 * which libunwind releases itself. */
	(void)as;
	(void)pi;
	(void)arg;
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO;
}

/* How far above the stack copy an address still counts as "stack": beyond
 * it, a read is simply bad memory. */
#define STACK_REACH (256ull << 20)

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write,
                          void *arg)
{
	(void)as;
	ember_unwinder *u = arg;
	if (write)
		return -UNW_EREADONLYREG;
	if (addr >= u->sp && addr - u->sp <= u->stack_size && u->stack_size - (addr - u->sp) >= 8) {
		memcpy(valp, u->stack + (addr - u->sp), 8);
		return 0;
	}
	for (size_t i = 0; i < u->n_maps; i++) {
		const ud_map *m = &u->maps[i];
		if (binary_read(m->bin, addr - m->bias, valp))
			return 0;
	}
	if (u->fail < 0)
		u->fail = addr >= u->sp && addr - u->sp < STACK_REACH ? EMBER_UNWIND_STACK_TOO_SMALL
		                                                      : EMBER_UNWIND_BAD_MEMORY;
	return -UNW_EINVAL;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write,
                          void *arg)
{
	(void)as;
	ember_unwinder *u = arg;
	if (write)
		return -UNW_EREADONLYREG;
	if (reg < 0 || reg >= N_UNW_REGS)
		return -UNW_EBADREG;
	*valp = u->regs[reg];
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
                            void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as;
	(void)c;
	(void)arg;
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
                             unw_word_t *offp, void *arg)
{
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)offp;
	(void)arg;
	return -UNW_ENOINFO; /* the profiler never symbolizes */
}

static unw_accessors_t accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

/* ---- address spaces per process ------------------------------------------
 *
 * libunwind caches, per instruction address, the rules that recover the
 * caller's registers, in the address space. Addresses mean the same code only
 * within one process, so each process gets its own address space (a small
 * LRU table whose address spaces are reused, flushed, for new processes).
 * UNW_CACHE_GLOBAL is the policy that works here: Debian's libunwind 1.6
 * maps UNW_CACHE_PER_THREAD to it, and UNW_CACHE_NONE costs more (a table
 * search and an FDE parse per frame, and still the lock below). */

/* ---- libunwind's signal masking ------------------------------------------
 *
 * libunwind takes its cache lock with signals blocked: sigprocmask to a
 * full mask before the mutex, sigprocmask back after it, around every
 * frame's rule lookup. That protects a program whose signal handlers unwind
 * their own thread; ember's handlers never call libunwind. The two system
 * calls per frame were most of the unwinder's time where the kernel
 * isolates page tables (PTI: ~1 us a call): 18.6 us per 8-frame sample,
 * 64 % of it in the kernel, against 0.73 us without them. So ember defines
 * sigprocmask itself: on the thread that is inside ember_unwinder_unwind it
 * changes nothing and returns the empty set as the old mask (the paired
 * restore is elided the same way); everywhere else it is pthread_sigmask,
 * which is what glibc's sigprocmask is. The dynamic linker binds
 * libunwind's sigprocmask to this definition since the executable comes
 * first in the lookup scope (test_unwind checks that it does, through
 * ember_unwind_sigmask_elided). The mutex itself is kept. */
static _Thread_local bool in_unwind;
static _Thread_local uint64_t sigmask_elided;

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (in_unwind) {
		if (old)
			sigemptyset(old);
		sigmask_elided++;
		return 0;
	}
	int e = pthread_sigmask(how, set, old);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

uint64_t ember_unwind_sigmask_elided(void)
{
	return sigmask_elided;
}

/* Slot order of preference for a new process: one freed by forget (already
 * flushed), then one never used, then the least recently used live one.
 * Address spaces are created at most N_PROCS times and then reused with a
 * cache flush: no allocation per sample however many processes there are. */
static int slot_rank(const ud_proc *p)
{
	return !p->as ? 1 : !p->live ? 0 : 2;
}

static unw_addr_space_t proc_as(ember_unwinder *u, int32_t pid)
{
	ud_proc *victim = &u->procs[0];
	u->clock++;
	for (size_t i = 0; i < N_PROCS; i++) {
		ud_proc *p = &u->procs[i];
		if (p->live && p->pid == pid) {
			p->last_use = u->clock;
			return p->as;
		}
		int r = slot_rank(p), rv = slot_rank(victim);
		if (r < rv || (r == rv && p->last_use < victim->last_use))
			victim = p;
	}
	if (!victim->as) {
		victim->as = unw_create_addr_space(&accessors, 0);
		if (!victim->as)
			return NULL;
		unw_set_caching_policy(victim->as, UNW_CACHE_GLOBAL);
		u->stats.address_spaces++;
	} else if (victim->live) {
		unw_flush_cache(victim->as, 0, 0); /* another process's rules */
		u->stats.as_flushes++;
	}
	victim->pid = pid;
	victim->live = true;
	victim->last_use = u->clock;
	return victim->as;
}

void ember_unwinder_forget(ember_unwinder *u, int32_t pid)
{
	for (size_t i = 0; i < LEAF_CACHE; i++)
		if (u->leaf[i].pid == pid)
			u->leaf[i].off = 0;
	for (size_t i = 0; i < N_PROCS; i++) {
		ud_proc *p = &u->procs[i];
		if (p->live && p->pid == pid) {
			unw_flush_cache(p->as, 0, 0);
			p->live = false;
			u->stats.as_flushes++;
		}
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

int ember_unwinder_new(ember_unwinder **out, const ember_unwind_callbacks *cb, ember_error *err)
{
	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return ember_errorf(err, EINVAL, "libelf: %s: reinstall libelf", elf_errmsg(-1));
	ember_unwinder *u = calloc(1, sizeof *u);
	if (!u || bins_grow(u) != 0) {
		free(u);
		return ember_errorf(err, ENOMEM, "unwinder: out of memory");
	}
	u->cb = *cb;
	uint64_t mask = ember_unwind_regs_mask();
	for (int r = 0; r < N_UNW_REGS; r++) /* count the mask's bits below r's */
		for (unsigned bit = 0; bit < unw_to_perf[r]; bit++)
			u->reg_idx[r] += (mask >> bit) & 1;
	*out = u;
	return 0;
}

void ember_unwinder_free(ember_unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < N_PROCS; i++)
		if (u->procs[i].as)
			unw_destroy_addr_space(u->procs[i].as);
	for (size_t i = 0; i < u->bins_cap; i++)
		binary_free(u->bins[i]);
	free(u->bins);
	free(u);
}

void ember_unwinder_get_stats(const ember_unwinder *u, ember_unwinder_stats *out)
{
	*out = u->stats;
}

/* ---- unwinding ---------------------------------------------------------- */

static bool stack_word(ember_unwinder *u, uint64_t addr, uint64_t *out);

/* Whether the 8 code bytes before ret (b's file, at ELF address vaddr)
 * end in a call instruction: e8 rel32, or ff /2 through a register, [reg +
 * disp8], [rip/reg + disp32] (REX and SIB forms included). */
static bool ends_in_call(const uint8_t c[8])
{
	if (c[3] == 0xe8)
		return true; /* call rel32 */
	for (int len = 2; len <= 7; len++) {
		const uint8_t *op = c + 8 - len;
		int at = 0;
		if (len >= 3 && (op[0] & 0xf0) == 0x40) /* REX */
			at = 1;
		if (op[at] != 0xff || ((op[at + 1] >> 3) & 7) != 2)
			continue;
		uint8_t modrm = op[at + 1], mod = modrm >> 6, rm = modrm & 7;
		int want = at + 2 + (mod != 3 && rm == 4); /* opcode, modrm, SIB */
		if (mod == 1)
			want += 1;
		else if (mod == 2 || (mod == 0 && rm == 5))
			want += 4;
		if (want == len)
			return true;
	}
	return false;
}

/* Whether ret is a return address: in a mapped ELF whose text we hold, just
 * after a call. Addresses in code without a file (JIT) cannot be checked
 * and pass when unknown is true. */
static bool is_return_address(ember_unwinder *u, uint64_t ret, bool unknown)
{
	int fail = u->fail;
	const ud_map *m = ret > 8 ? map_for_ip(u, ret - 1) : NULL;
	u->fail = fail;
	if (!m) {
		ember_unwind_mapping mm;
		return unknown && ret > 8 && u->cb.find_mapping &&
		       u->cb.find_mapping(u->cb.ctx, u->pid, ret - 1, &mm) == 0;
	}
	const ud_binary *b = m->bin;
	uint64_t vaddr = ret - 8 - m->bias;
	for (size_t i = 0; i < b->n_loads; i++) {
		const ud_load *l = &b->loads[i];
		if (!l->exec || vaddr < l->vaddr || vaddr - l->vaddr > l->filesz - 8 ||
		    l->filesz < 8)
			continue;
		uint64_t off = l->offset + (vaddr - l->vaddr);
		if (off > b->image_size || b->image_size - off < 8)
			return false;
		return ends_in_call(b->image + off);
	}
	return false;
}

/* One frame-pointer step from the frame (ip, sp, bp): the caller's frame is
 * at bp ([bp] = caller's bp, [bp + 8] = return address). Valid only when bp
 * lies in the stack copy at or above sp and [bp + 8] is a return address.
 * Updates u->regs; false and u->fail set otherwise. */
static bool fp_step(ember_unwinder *u, uint64_t sp, uint64_t bp)
{
	if (bp < sp || (bp & 7) != 0) {
		u->fail = EMBER_UNWIND_NO_INFO;
		return false;
	}
	if (bp - u->sp > u->stack_size || u->stack_size - (bp - u->sp) < 16) {
		u->fail =
		    bp - u->sp < STACK_REACH ? EMBER_UNWIND_STACK_TOO_SMALL : EMBER_UNWIND_NO_INFO;
		return false;
	}
	uint64_t next_bp, ret;
	memcpy(&next_bp, u->stack + (bp - u->sp), 8);
	memcpy(&ret, u->stack + (bp - u->sp) + 8, 8);
	if (!is_return_address(u, ret, true)) {
		u->fail = EMBER_UNWIND_NO_INFO;
		return false;
	}
	u->regs[UNW_X86_64_RIP] = ret;
	u->regs[UNW_X86_64_RSP] = bp + 16;
	u->regs[UNW_X86_64_RBP] = next_bp;
	return true;
}

/* Code without unwind tables that keeps no frame pointer either (CPython's
 * perf trampolines: `sub $8,%rsp; call *%rcx; add $8,%rsp; ret`): the
 * nearest word above sp that is a return address into a mapped ELF, just
 * after a call instruction there, is taken as the caller (stack scanning,
 * the last resort of breakpad-style unwinders). rbp is left alone. */
#define SCAN_WORDS 8

static bool scan_step(ember_unwinder *u, uint64_t sp)
{
	for (uint64_t k = 0; k < SCAN_WORDS; k++) {
		uint64_t ret;
		if (!stack_word(u, sp + 8 * k, &ret))
			return false;
		if (is_return_address(u, ret, false)) {
			u->regs[UNW_X86_64_RIP] = ret;
			u->regs[UNW_X86_64_RSP] = sp + 8 * k + 8;
			return true;
		}
	}
	u->fail = EMBER_UNWIND_NO_INFO;
	return false;
}

/* 8 bytes of the stack copy at addr; false and u->fail set outside it. */
static bool stack_word(ember_unwinder *u, uint64_t addr, uint64_t *out)
{
	if (addr < u->sp || addr - u->sp > u->stack_size || u->stack_size - (addr - u->sp) < 8) {
		u->fail = addr >= u->sp && addr - u->sp < STACK_REACH ? EMBER_UNWIND_STACK_TOO_SMALL
		                                                      : EMBER_UNWIND_BAD_MEMORY;
		return false;
	}
	memcpy(out, u->stack + (addr - u->sp), 8);
	return true;
}

/* The Go function (by .gopclntab) holding pc, or false: not Go code. */
static bool go_func(ember_unwinder *u, uint64_t pc, const ud_map **m, ember_gofunc *f)
{
	int fail = u->fail;
	*m = map_for_ip(u, pc);
	u->fail = fail; /* not Go is no failure: the tables may still know it */
	return *m && (*m)->bin->has_go && ember_gopcln_find(&(*m)->bin->go, pc - (*m)->bias, f);
}

enum { GO_FAILED = -1, GO_STEPPED = 1, GO_ROOT = 2 };

/* One step out of Go function f by its pcsp table: at pc the return address
 * sits at SP + delta. The frame pointer, saved just below it once the
 * frame is set up, is restored from there (a frameless function leaves it
 * alone). leaf: pc is the sampled pc (else a return address - 1), where the
 * frame may not be set up yet: the saved slot counts only when rbp points
 * at it. */
static int go_step(ember_unwinder *u, const ud_map *m, const ember_gofunc *f, uint64_t pc,
                   bool leaf)
{
	const ember_gopcln *t = &m->bin->go;
	if (ember_gopcln_is_top(t, f))
		return GO_ROOT; /* runtime.goexit, mstart, rt0_go: nothing calls it */
	int32_t d;
	uint64_t sp = u->regs[UNW_X86_64_RSP], bp = u->regs[UNW_X86_64_RBP], ret, nbp = bp;
	if (!ember_gopcln_sp_delta(t, f, pc - m->bias, &d)) {
		u->fail = EMBER_UNWIND_NO_INFO;
		return GO_FAILED;
	}
	if (!stack_word(u, sp + (uint64_t)d, &ret))
		return GO_FAILED;
	if (ret == 0)
		return GO_ROOT;
	if (d >= 8 && (!leaf || bp == sp + (uint64_t)d - 8) &&
	    !stack_word(u, sp + (uint64_t)d - 8, &nbp))
		return GO_FAILED;
	u->regs[UNW_X86_64_RIP] = ret;
	u->regs[UNW_X86_64_RSP] = sp + (uint64_t)d + 8;
	u->regs[UNW_X86_64_RBP] = nbp;
	return GO_STEPPED;
}

/* Takes libunwind's view of the current frame's registers. */
static void sync_regs(ember_unwinder *u, unw_cursor_t *c)
{
	for (int r = 0; r < N_UNW_REGS; r++) {
		unw_word_t v;
		if (unw_get_reg(c, r, &v) == 0)
			u->regs[r] = v;
	}
}

/* Loads a sample's registers and stack copy as the current unwind. */
static int begin_unwind(ember_unwinder *u, int32_t pid, const void *stack, size_t stack_size)
{
	bins_trim(u);
	u->pid = pid;
	u->sp = u->regs[UNW_X86_64_RSP];
	u->stack = stack;
	u->stack_size = stack ? stack_size : 0;
	u->n_maps = 0;
	u->next_map = 0;
	u->fail = -1;
	return 0;
}

static int unwind_stack(ember_unwinder *u, int32_t pid, const uint64_t *regs, size_t n_regs,
                        const void *stack, size_t stack_size, uint64_t *ips, size_t max_ips,
                        ember_unwind_reason *stopped)
{
	*stopped = EMBER_UNWIND_OTHER;
	if (max_ips == 0)
		return 0;
	for (int r = 0; r < N_UNW_REGS; r++) {
		if (u->reg_idx[r] >= n_regs)
			return -EINVAL;
		u->regs[r] = regs[u->reg_idx[r]];
	}
	begin_unwind(u, pid, stack, stack_size);

	size_t n = 0;
	ips[n++] = u->regs[UNW_X86_64_RIP];
	unw_addr_space_t as = proc_as(u, pid);
	if (!as)
		return (int)n; /* out of memory: stopped stays OTHER */

	unw_cursor_t c;
	bool restart = true, leaf = true;
	uint64_t last_sp = u->sp, cur_ip = u->regs[UNW_X86_64_RIP];
	while (n < max_ips) {
		/* Go code: its own table (stripped Go binaries have no other) */
		const ud_map *gm;
		ember_gofunc gf;
		uint64_t pc = leaf ? cur_ip : cur_ip - 1;
		if (go_func(u, pc, &gm, &gf)) {
			if (!restart)
				sync_regs(u, &c);
			int g = go_step(u, gm, &gf, pc, leaf);
			if (g == GO_ROOT) {
				*stopped = EMBER_UNWIND_N_REASONS;
				return (int)n;
			}
			if (g == GO_FAILED)
				break;
			if (u->regs[UNW_X86_64_RSP] < last_sp) {
				u->fail = EMBER_UNWIND_OTHER;
				break;
			}
			last_sp = u->regs[UNW_X86_64_RSP];
			cur_ip = u->regs[UNW_X86_64_RIP];
			ips[n++] = cur_ip;
			u->stats.go_steps++;
			leaf = false;
			restart = true;
			continue;
		}
		if (restart) {
			if (unw_init_remote(&c, as, u) < 0)
				break;
			restart = false;
		}
		unw_word_t ip = 0, sp = 0, bp = 0;
		u->fail = -1;
		int ret = unw_step(&c);
		if (ret == 0) {
			*stopped = EMBER_UNWIND_N_REASONS; /* outermost frame reached */
			return (int)n;
		}
		if (ret > 0) {
			if (unw_get_reg(&c, UNW_X86_64_RIP, &ip) < 0 ||
			    unw_get_reg(&c, UNW_X86_64_RSP, &sp) < 0)
				break;
			if (ip == 0) {
				*stopped = EMBER_UNWIND_N_REASONS;
				return (int)n;
			}
			if (sp < last_sp) { /* the stack grows down: callers sit higher */
				u->fail = EMBER_UNWIND_OTHER;
				break;
			}
			last_sp = sp;
			ips[n++] = ip;
			cur_ip = ip;
			leaf = false;
			continue;
		}
		/* DWARF could not step: try the frame pointer where info is missing */
		if (u->fail != EMBER_UNWIND_NO_INFO)
			break;
		if (unw_get_reg(&c, UNW_X86_64_RSP, &sp) < 0 ||
		    unw_get_reg(&c, UNW_X86_64_RBP, &bp) < 0)
			break;
		sync_regs(u, &c);
		if (!fp_step(u, sp, bp)) {
			if (bp == 0 && map_for_ip(u, cur_ip - !leaf)) {
				/* rbp 0 in a file's code: the ABI's end of
				 * the frame chain (_start, clone) */
				*stopped = EMBER_UNWIND_N_REASONS;
				return (int)n;
			}
			u->fail = -1;
			if (!scan_step(u, sp))
				break;
			u->stats.scan_steps++;
		}
		last_sp = u->regs[UNW_X86_64_RSP];
		cur_ip = u->regs[UNW_X86_64_RIP];
		ips[n++] = cur_ip;
		u->stats.fp_steps++;
		leaf = false;
		restart = true;
	}
	if (n >= max_ips)
		*stopped = EMBER_UNWIND_OTHER;
	else
		*stopped = u->fail >= 0 ? (ember_unwind_reason)u->fail : EMBER_UNWIND_OTHER;
	return (int)n;
}

int ember_unwinder_unwind(ember_unwinder *u, int32_t pid, const uint64_t *regs, size_t n_regs,
                          const void *stack, size_t stack_size, uint64_t *ips, size_t max_ips,
                          ember_unwind_reason *stopped)
{
	assert(!in_unwind); /* libunwind never calls back into ember_unwinder_unwind */
	in_unwind = true;
	int n = unwind_stack(u, pid, regs, n_regs, stack, stack_size, ips, max_ips, stopped);
	in_unwind = false;
	return n;
}

int ember_unwinder_leaf_return(ember_unwinder *u, int32_t pid, uint64_t ip, uint64_t sp,
                               uint64_t bp, const void *stack, size_t stack_size, uint64_t *ret)
{
	assert(!in_unwind);
	memset(u->regs, 0, sizeof u->regs);
	u->regs[UNW_X86_64_RIP] = ip;
	u->regs[UNW_X86_64_RSP] = sp;
	u->regs[UNW_X86_64_RBP] = bp;
	begin_unwind(u, pid, stack, stack_size);
	/* C code seen before at ip (Go code is never cached: pcsp is cheap) */
	leaf_rule *rule = &u->leaf[(ip ^ (ip >> 12) ^ (uint64_t)pid * 0x9e3779b1u) % LEAF_CACHE];
	if (rule->off && rule->ip == ip && rule->pid == pid) {
		if (rule->off < 0)
			return 0; /* frame set up: nothing to fix */
		return stack_word(u, sp + (uint64_t)rule->off - 8, ret) && *ret;
	}
	const ud_map *gm;
	ember_gofunc gf;
	if (go_func(u, ip, &gm, &gf)) {
		if (go_step(u, gm, &gf, ip, true) != GO_STEPPED)
			return 0;
		*ret = u->regs[UNW_X86_64_RIP];
		u->stats.go_steps++;
		return 1;
	}
	unw_addr_space_t as = proc_as(u, pid);
	unw_cursor_t c;
	unw_word_t r = 0, cfa = 0;
	if (!as)
		return 0;
	in_unwind = true;
	int ok = unw_init_remote(&c, as, u) == 0 && unw_step(&c) > 0 &&
	         unw_get_reg(&c, UNW_X86_64_RIP, &r) == 0 && r != 0 &&
	         unw_get_reg(&c, UNW_X86_64_RSP, &cfa) == 0;
	in_unwind = false;
	if (ok && cfa > sp && cfa - sp < (1u << 20)) /* learn the rule at ip */
		*rule = (leaf_rule){ip, pid, cfa == bp + 16 ? -1 : (int32_t)(cfa - sp)};
	*ret = r;
	return ok;
}
