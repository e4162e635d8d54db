/* ember/buildid.h — GNU build ids (NT_GNU_BUILD_ID notes) of ELF files and
 * of the running kernel, as lowercase hex strings (core/buildid.c). The
 * profiler reads them for each mapped binary, the symbolizer to match a
 * debug file or a vDSO image to the binary that was sampled. */
#ifndef EMBER_BUILDID_H
#define EMBER_BUILDID_H

#include <stddef.h>

/* Longest build id we keep: 20 bytes (SHA-1) is the norm; allow up to 64. */
#define EMBER_BUILD_ID_MAX 64
#define EMBER_BUILD_ID_HEX (EMBER_BUILD_ID_MAX * 2 + 1)

struct Elf;   /* libelf's */

/* Hex of n bytes into out (EMBER_BUILD_ID_HEX bytes). */
void ember_buildid_hex(const unsigned char *id, size_t n, char *out);

/* The NT_GNU_BUILD_ID note of the ELF file at path (its PT_NOTE segments,
 * else its SHT_NOTE sections): 0 and out filled, or -errno. */
int ember_buildid_read_file(const char *path, char out[EMBER_BUILD_ID_HEX]);

/* The note in the SHT_NOTE sections of an open ELF (a separate debug file
 * keeps its notes there): 0 and out filled, or -ENOENT and out = "". */
int ember_buildid_of_elf(struct Elf *elf, char out[EMBER_BUILD_ID_HEX]);

/* The build id in a raw notes blob (e.g. /sys/kernel/notes). */
int ember_buildid_from_notes(const void *notes, size_t len, char out[EMBER_BUILD_ID_HEX]);

/* The running kernel's build id from /sys/kernel/notes. */
int ember_buildid_read_kernel(char out[EMBER_BUILD_ID_HEX]);

#endif
