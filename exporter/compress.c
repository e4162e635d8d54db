/* exporter/compress.c — gzip (zlib) and zstd for pprof files and HTTP bodies.
 *
 * Owns: detecting a compression by its magic bytes and undoing it with a cap
 * on the output size, so a decompression bomb is a clear error rather than an
 * out-of-memory kill. Must never: interpret what it decompresses.
 */
#include "ember/pprof.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static bool is_gzip(const unsigned char *d, size_t len)
{
	return len >= 2 && d[0] == 0x1f && d[1] == 0x8b;
}

static bool is_zstd(const unsigned char *d, size_t len)
{
	return len >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd;
}

static int gzip_compress(const void *data, size_t len, ember_buf *out, ember_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return ember_errorf(err, ENOMEM, "gzip: cannot initialise deflate");
	size_t bound = deflateBound(&zs, (uLong)len);
	if (!ember_buf_reserve(out, bound)) {
		deflateEnd(&zs);
		return ember_errorf(err, ENOMEM, "gzip: out of memory");
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->data + out->len;
	zs.avail_out = (uInt)bound;
	int rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END) {
		deflateEnd(&zs);
		return ember_errorf(err, EIO, "gzip: deflate failed (%d)", rc);
	}
	out->len += zs.total_out;
	out->data[out->len] = '\0';
	deflateEnd(&zs);
	return 0;
}

static int zstd_compress(const void *data, size_t len, ember_buf *out, ember_error *err)
{
	size_t bound = ZSTD_compressBound(len);
	if (!ember_buf_reserve(out, bound))
		return ember_errorf(err, ENOMEM, "zstd: out of memory");
	size_t n = ZSTD_compress(out->data + out->len, bound, data, len, 3);
	if (ZSTD_isError(n))
		return ember_errorf(err, EIO, "zstd: %s", ZSTD_getErrorName(n));
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

int ember_compress(const void *data, size_t len, ember_compression c, ember_buf *out,
		   ember_error *err)
{
	switch (c) {
	case EMBER_COMPRESS_GZIP:
		return gzip_compress(data, len, out, err);
	case EMBER_COMPRESS_ZSTD:
		return zstd_compress(data, len, out, err);
	case EMBER_COMPRESS_NONE:
		ember_buf_append(out, data, len);
		return ember_buf_ok(out) ? 0 : ember_errorf(err, ENOMEM, "out of memory");
	}
	return ember_errorf(err, EINVAL, "unknown compression %d", (int)c);
}

static int gzip_decompress(const void *data, size_t len, size_t max_out, ember_buf *out,
			   ember_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return ember_errorf(err, ENOMEM, "gzip: cannot initialise inflate");
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	size_t start = out->len;
	int rc;
	do {
		if (!ember_buf_reserve(out, 64 * 1024)) {
			inflateEnd(&zs);
			return ember_errorf(err, ENOMEM, "gzip: out of memory");
		}
		size_t room = out->cap - out->len - 1;
		zs.next_out = (Bytef *)out->data + out->len;
		zs.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
		uInt before = zs.avail_out;
		rc = inflate(&zs, Z_NO_FLUSH);
		out->len += before - zs.avail_out;
		out->data[out->len] = '\0';
		if (out->len - start > max_out) {
			inflateEnd(&zs);
			return ember_errorf(err, EFBIG,
					    "gzip: decompressed data exceeds the %zu-byte limit",
					    max_out);
		}
		if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
			inflateEnd(&zs);
			return ember_errorf(err, EINVAL, "gzip: truncated data");
		}
	} while (rc == Z_OK || rc == Z_BUF_ERROR);
	inflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return ember_errorf(err, EINVAL, "gzip: corrupt data (%s)",
				    zs.msg ? zs.msg : "inflate error");
	return 0;
}

static int zstd_decompress(const void *data, size_t len, size_t max_out, ember_buf *out,
			   ember_error *err)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	if (!ds)
		return ember_errorf(err, ENOMEM, "zstd: out of memory");
	ZSTD_initDStream(ds);
	ZSTD_inBuffer in = { data, len, 0 };
	size_t start = out->len, rc = 1;
	while (in.pos < in.size || rc != 0) {
		if (!ember_buf_reserve(out, 128 * 1024)) {
			ZSTD_freeDStream(ds);
			return ember_errorf(err, ENOMEM, "zstd: out of memory");
		}
		ZSTD_outBuffer ob = { out->data + out->len, out->cap - out->len - 1, 0 };
		size_t in_before = in.pos;
		rc = ZSTD_decompressStream(ds, &ob, &in);
		if (ZSTD_isError(rc)) {
			ZSTD_freeDStream(ds);
			return ember_errorf(err, EINVAL, "zstd: corrupt data (%s)",
					    ZSTD_getErrorName(rc));
		}
		out->len += ob.pos;
		out->data[out->len] = '\0';
		if (out->len - start > max_out) {
			ZSTD_freeDStream(ds);
			return ember_errorf(err, EFBIG,
					    "zstd: decompressed data exceeds the %zu-byte limit",
					    max_out);
		}
		if (rc != 0 && in.pos == in.size && in.pos == in_before && ob.pos == 0) {
			ZSTD_freeDStream(ds);
			return ember_errorf(err, EINVAL, "zstd: truncated data");
		}
	}
	ZSTD_freeDStream(ds);
	return 0;
}

int ember_decompress(const void *data, size_t len, size_t max_out, ember_buf *out,
		     ember_error *err)
{
	if (is_gzip(data, len))
		return gzip_decompress(data, len, max_out, out, err);
	if (is_zstd(data, len))
		return zstd_decompress(data, len, max_out, out, err);
	if (len > max_out)
		return ember_errorf(err, EFBIG, "input exceeds the %zu-byte limit", max_out);
	ember_buf_append(out, data, len);
	return ember_buf_ok(out) ? 0 : ember_errorf(err, ENOMEM, "out of memory");
}
