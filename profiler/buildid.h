/* profiler/buildid.h — GNU build ids of ELF files and of the running kernel,
 * private to profiler/. Results are lowercase hex strings. */
#ifndef EMBER_PROFILER_BUILDID_H
#define EMBER_PROFILER_BUILDID_H

#include <stddef.h>

/* Longest build id we keep: 20 bytes (SHA-1) is the norm; allow up to 64. */
#define EMBER_BUILD_ID_MAX 64
#define EMBER_BUILD_ID_HEX (EMBER_BUILD_ID_MAX * 2 + 1)

/* Hex of n bytes into out (EMBER_BUILD_ID_HEX bytes). */
void buildid_hex(const unsigned char *id, size_t n, char *out);

/* The NT_GNU_BUILD_ID note of the ELF file at path (its PT_NOTE segments,
 * else its SHT_NOTE sections): 0 and out filled, or -errno. */
int buildid_read_file(const char *path, char out[EMBER_BUILD_ID_HEX]);

/* The build id in a raw notes blob (e.g. /sys/kernel/notes). */
int buildid_from_notes(const void *notes, size_t len, char out[EMBER_BUILD_ID_HEX]);

/* The running kernel's build id from /sys/kernel/notes. */
int buildid_read_kernel(char out[EMBER_BUILD_ID_HEX]);

#endif
