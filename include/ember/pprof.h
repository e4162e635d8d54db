/* ember/pprof.h — pprof files (exporter/pprof.c, exporter/compress.c,
 * exporter/atomic_file.c): encode the in-memory model with protobuf-c, decode
 * and validate it, compress with gzip or zstd, and write files atomically.
 *
 * Readers accept raw protobuf, gzip and zstd alike, chosen by magic bytes, and
 * reject corrupt or truncated input with one line. Writers never leave a
 * partial file: they write a temp name in the same directory and rename.
 */
#ifndef EMBER_PPROF_H
#define EMBER_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/profile.h"

typedef enum ember_compression {
	EMBER_COMPRESS_NONE = 0,
	EMBER_COMPRESS_GZIP,
	EMBER_COMPRESS_ZSTD,
} ember_compression;

/* Serializes p (compressed as asked) and appends to out. */
int ember_pprof_encode(const ember_profile *p, ember_compression c, ember_buf *out,
		       ember_error *err);

/* Decodes (after detecting and undoing compression), validates every id,
 * string index and reference, and renumbers sparse ids into dense ones. */
int ember_pprof_decode(const void *data, size_t len, ember_profile **out, ember_error *err);

/* Compression by itself (also used for HTTP bodies). Output appended. */
int ember_compress(const void *data, size_t len, ember_compression c, ember_buf *out,
		   ember_error *err);
/* Detects gzip/zstd by magic; raw input is copied through. Caps the output
 * at max_out bytes (a decompression bomb is an error, not an OOM). */
int ember_decompress(const void *data, size_t len, size_t max_out, ember_buf *out,
		     ember_error *err);

/* Reads a whole file (or "-" for stdin) and decodes it. Errors start with the path. */
int ember_pprof_read_file(const char *path, ember_profile **out, ember_error *err);
/* Writes gzip pprof, or zstd when the name ends in ".zst"; "-" is stdout. */
int ember_pprof_write_file(const ember_profile *p, const char *path, ember_error *err);

/* Writes len bytes to path via a temp name + rename; fsyncs the file and the
 * directory when durable is set. */
int ember_write_file_atomic(const char *path, const void *data, size_t len, bool durable,
			    ember_error *err);

#endif
