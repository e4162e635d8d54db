/* exporter/pprof.c — the pprof wire format: encode ember's in-memory profile
 * with protobuf-c, decode and validate what others (or we) wrote, and read and
 * write pprof files.
 *
 * Owns: the mapping between proto/profile.proto and ember/profile.h, the
 * validation of every reference in a decoded file, and the renumbering of
 * sparse ids into the dense ids the model requires. Must never: accept a
 * profile whose references dangle, or write a file that is not complete.
 */
#include "ember/pprof.h"
#include "ember/grow.h"
#include "ember/u64map.h"

#include "profile.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest decompressed profile we accept (a bomb guard, far above real use). */
#define PPROF_MAX_BYTES ((size_t)1 << 30)

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;

/* ---- encode ------------------------------------------------------------ */

int ember_pprof_encode(const ember_profile *p, ember_compression c, ember_buf *out,
		       ember_error *err)
{
	int rc = -ENOMEM;
	PbProfile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	PbValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	PbValueType *st = NULL, **st_ptr = NULL;
	PbSample *samples = NULL, **sample_ptr = NULL;
	PbLabel *labels = NULL, **label_ptr = NULL;
	PbMapping *maps = NULL, **map_ptr = NULL;
	PbLocation *locs = NULL, **loc_ptr = NULL;
	PbLine *lines = NULL, **line_ptr = NULL;
	PbFunction *fns = NULL, **fn_ptr = NULL;
	uint8_t *packed = NULL;

	size_t n_labels = 0, n_lines = 0;
	for (size_t i = 0; i < p->n_samples; i++)
		n_labels += p->samples[i].n_labels;
	for (size_t i = 0; i < p->n_locations; i++)
		n_lines += p->locations[i].n_lines;

#define ALLOC(ptr, n) ((ptr) = calloc((n) ? (n) : 1, sizeof *(ptr)))
	if (!ALLOC(st, p->n_sample_types) || !ALLOC(st_ptr, p->n_sample_types) ||
	    !ALLOC(samples, p->n_samples) || !ALLOC(sample_ptr, p->n_samples) ||
	    !ALLOC(labels, n_labels) || !ALLOC(label_ptr, n_labels) ||
	    !ALLOC(maps, p->n_mappings) || !ALLOC(map_ptr, p->n_mappings) ||
	    !ALLOC(locs, p->n_locations) || !ALLOC(loc_ptr, p->n_locations) ||
	    !ALLOC(lines, n_lines) || !ALLOC(line_ptr, n_lines) ||
	    !ALLOC(fns, p->n_functions) || !ALLOC(fn_ptr, p->n_functions)) {
		ember_errorf(err, ENOMEM, "pprof encode: out of memory");
		goto out;
	}
#undef ALLOC

	for (size_t i = 0; i < p->n_sample_types; i++) {
		perftools__profiles__value_type__init(&st[i]);
		st[i].type = p->sample_types[i].type;
		st[i].unit = p->sample_types[i].unit;
		st_ptr[i] = &st[i];
	}
	pb.n_sample_type = p->n_sample_types;
	pb.sample_type = st_ptr;

	size_t li = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		const ember_sample *s = &p->samples[i];
		PbSample *d = &samples[i];
		perftools__profiles__sample__init(d);
		d->n_location_id = s->n_locations;
		d->location_id = s->location_ids;
		d->n_value = p->n_sample_types;
		d->value = s->values;
		d->n_label = s->n_labels;
		d->label = &label_ptr[li];
		for (size_t j = 0; j < s->n_labels; j++, li++) {
			perftools__profiles__label__init(&labels[li]);
			labels[li].key = s->labels[j].key;
			labels[li].str = s->labels[j].str;
			labels[li].num = s->labels[j].num;
			labels[li].num_unit = s->labels[j].num_unit;
			label_ptr[li] = &labels[li];
		}
		sample_ptr[i] = d;
	}
	pb.n_sample = p->n_samples;
	pb.sample = sample_ptr;

	for (size_t i = 0; i < p->n_mappings; i++) {
		const ember_mapping *m = &p->mappings[i];
		PbMapping *d = &maps[i];
		perftools__profiles__mapping__init(d);
		d->id = m->id;
		d->memory_start = m->memory_start;
		d->memory_limit = m->memory_limit;
		d->file_offset = m->file_offset;
		d->filename = m->filename;
		d->build_id = m->build_id;
		d->has_functions = m->has_functions;
		d->has_filenames = m->has_filenames;
		d->has_line_numbers = m->has_line_numbers;
		d->has_inline_frames = m->has_inline_frames;
		map_ptr[i] = d;
	}
	pb.n_mapping = p->n_mappings;
	pb.mapping = map_ptr;

	li = 0;
	for (size_t i = 0; i < p->n_locations; i++) {
		const ember_location *l = &p->locations[i];
		PbLocation *d = &locs[i];
		perftools__profiles__location__init(d);
		d->id = l->id;
		d->mapping_id = l->mapping_id;
		d->address = l->address;
		d->is_folded = l->is_folded;
		d->n_line = l->n_lines;
		d->line = &line_ptr[li];
		for (size_t j = 0; j < l->n_lines; j++, li++) {
			perftools__profiles__line__init(&lines[li]);
			lines[li].function_id = l->lines[j].function_id;
			lines[li].line = l->lines[j].line;
			lines[li].column = l->lines[j].column;
			line_ptr[li] = &lines[li];
		}
		loc_ptr[i] = d;
	}
	pb.n_location = p->n_locations;
	pb.location = loc_ptr;

	for (size_t i = 0; i < p->n_functions; i++) {
		const ember_function *f = &p->functions[i];
		PbFunction *d = &fns[i];
		perftools__profiles__function__init(d);
		d->id = f->id;
		d->name = f->name;
		d->system_name = f->system_name;
		d->filename = f->filename;
		d->start_line = f->start_line;
		fn_ptr[i] = d;
	}
	pb.n_function = p->n_functions;
	pb.function = fn_ptr;

	pb.n_string_table = p->n_strings;
	pb.string_table = p->strings;
	pb.drop_frames = p->drop_frames;
	pb.keep_frames = p->keep_frames;
	pb.time_nanos = p->time_nanos;
	pb.duration_nanos = p->duration_nanos;
	period_type.type = p->period_type.type;
	period_type.unit = p->period_type.unit;
	pb.period_type = &period_type;
	pb.period = p->period;
	pb.n_comment = p->n_comments;
	pb.comment = p->comments;
	pb.default_sample_type = p->default_sample_type;

	size_t size = perftools__profiles__profile__get_packed_size(&pb);
	packed = malloc(size ? size : 1);
	if (!packed) {
		ember_errorf(err, ENOMEM, "pprof encode: out of memory (%zu bytes)", size);
		goto out;
	}
	size_t n = perftools__profiles__profile__pack(&pb, packed);
	if (n != size) {
		rc = ember_errorf(err, EIO, "pprof encode: packed %zu of %zu bytes", n, size);
		goto out;
	}
	rc = ember_compress(packed, size, c, out, err);
out:
	free(st);
	free(st_ptr);
	free(samples);
	free(sample_ptr);
	free(labels);
	free(label_ptr);
	free(maps);
	free(map_ptr);
	free(locs);
	free(loc_ptr);
	free(lines);
	free(line_ptr);
	free(fns);
	free(fn_ptr);
	free(packed);
	return rc;
}

/* ---- decode ------------------------------------------------------------ */

/* The decoder's state: the file being read, the model being filled, and the
 * file's ids -> the model's dense ids (id 0 means "none" in pprof and is
 * rejected for objects, so it is never a key). Steps return 0, -EINVAL with
 * the message set (invalid_pb), or -ENOMEM with no message: from_pb words
 * that one. */
typedef struct decoder {
	const PbProfile *pb;
	ember_profile *p;
	ember_error *err;
	u64map maps, fns, locs;
	uint64_t *stack;   /* one sample's location ids, reused */
	size_t stack_cap;
	ember_label *labels;
	size_t labels_cap;
} decoder;

static int invalid_pb(decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int invalid_pb(decoder *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ember_errorf(d->err, EINVAL, "invalid pprof: %s", msg);
}

/* 0 when i indexes the file's string table; else -EINVAL naming what. */
static int str_ref(decoder *d, int64_t i, const char *what)
{
	const int64_t ns = (int64_t)d->pb->n_string_table;
	if (i >= 0 && i < ns)
		return 0;
	return invalid_pb(d, "%s: string index %lld out of range (table has %lld)", what,
			  (long long)i, (long long)ns);
}

/* The model's id for a file's id, or 0 when the file never defined it. */
static uint64_t our_id(const u64map *m, uint64_t file_id)
{
	const uint64_t *v = u64map_get(m, file_id);
	return v ? *v : 0;
}

/* Records file_id -> id; -EINVAL when the file defines file_id twice. */
static int map_id(decoder *d, u64map *m, const char *what, uint64_t file_id, uint64_t id)
{
	if (u64map_get(m, file_id))
		return invalid_pb(d, "duplicate %s id %llu", what, (unsigned long long)file_id);
	return u64map_put(m, file_id, id);
}

static int decode_strings(decoder *d)
{
	const PbProfile *pb = d->pb;
	if (pb->n_string_table == 0)
		return invalid_pb(d, "empty string table (not a profile, or an empty file)");
	if (pb->string_table[0][0] != '\0')
		return invalid_pb(d, "string_table[0] is not the empty string");
	/* the model's string table starts with "" already */
	for (size_t i = 1; i < pb->n_string_table; i++)
		if (ember_profile_push_string(d->p, pb->string_table[i]) != (int64_t)i)
			return -ENOMEM;
	return 0;
}

static int decode_sample_types(decoder *d)
{
	const PbProfile *pb = d->pb;
	ember_profile *p = d->p;
	if (pb->n_sample_type > 64)
		return invalid_pb(d, "%zu sample types", pb->n_sample_type);
	if (pb->n_sample_type) {
		p->sample_types = calloc(pb->n_sample_type, sizeof *p->sample_types);
		if (!p->sample_types)
			return -ENOMEM;
	}
	for (size_t i = 0; i < pb->n_sample_type; i++) {
		const PbValueType *t = pb->sample_type[i];
		if (str_ref(d, t->type, "sample_type") || str_ref(d, t->unit, "sample_type"))
			return -EINVAL;
		p->sample_types[i].type = t->type;
		p->sample_types[i].unit = t->unit;
	}
	p->n_sample_types = pb->n_sample_type;
	return 0;
}

static int decode_mappings(decoder *d)
{
	for (size_t i = 0; i < d->pb->n_mapping; i++) {
		const PbMapping *m = d->pb->mapping[i];
		if (m->id == 0)
			return invalid_pb(d, "mapping %zu has id 0", i);
		if (str_ref(d, m->filename, "mapping filename") ||
		    str_ref(d, m->build_id, "mapping build_id"))
			return -EINVAL;
		ember_mapping dm = {
			.memory_start = m->memory_start,
			.memory_limit = m->memory_limit,
			.file_offset = m->file_offset,
			.filename = m->filename,
			.build_id = m->build_id,
			.has_functions = m->has_functions,
			.has_filenames = m->has_filenames,
			.has_line_numbers = m->has_line_numbers,
			.has_inline_frames = m->has_inline_frames,
		};
		uint64_t id = ember_profile_add_mapping(d->p, &dm);
		int rc = id ? map_id(d, &d->maps, "mapping", m->id, id) : -ENOMEM;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int decode_functions(decoder *d)
{
	for (size_t i = 0; i < d->pb->n_function; i++) {
		const PbFunction *f = d->pb->function[i];
		if (f->id == 0)
			return invalid_pb(d, "function %zu has id 0", i);
		if (str_ref(d, f->name, "function name") ||
		    str_ref(d, f->system_name, "function system_name") ||
		    str_ref(d, f->filename, "function filename"))
			return -EINVAL;
		uint64_t id = ember_profile_add_function(d->p, f->name, f->system_name, f->filename,
							 f->start_line);
		int rc = id ? map_id(d, &d->fns, "function", f->id, id) : -ENOMEM;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The lines of location l, which became the model's location id. */
static int decode_lines(decoder *d, const PbLocation *l, uint64_t id)
{
	for (size_t j = 0; j < l->n_line; j++) {
		const PbLine *ln = l->line[j];
		uint64_t fid = our_id(&d->fns, ln->function_id);
		if (!fid)
			return invalid_pb(d, "location %llu refers to missing function %llu",
					  (unsigned long long)l->id,
					  (unsigned long long)ln->function_id);
		if (ember_profile_location_add_line(d->p, id, fid, ln->line) < 0)
			return -ENOMEM;
		d->p->locations[id - 1].lines[j].column = ln->column;
	}
	return 0;
}

static int decode_locations(decoder *d)
{
	for (size_t i = 0; i < d->pb->n_location; i++) {
		const PbLocation *l = d->pb->location[i];
		if (l->id == 0)
			return invalid_pb(d, "location %zu has id 0", i);
		uint64_t mid = l->mapping_id ? our_id(&d->maps, l->mapping_id) : 0;
		if (l->mapping_id && !mid)
			return invalid_pb(d, "location %llu refers to missing mapping %llu",
					  (unsigned long long)l->id,
					  (unsigned long long)l->mapping_id);
		uint64_t id = ember_profile_add_location(d->p, mid, l->address);
		int rc = id ? map_id(d, &d->locs, "location", l->id, id) : -ENOMEM;
		if (rc < 0)
			return rc;
		d->p->locations[id - 1].is_folded = l->is_folded;
		if ((rc = decode_lines(d, l, id)) < 0)
			return rc;
	}
	return 0;
}

/* Sample i: its stack and labels into the reused buffers, then the model.
 * The buffers grow with ember_grow, which keeps the old block when realloc
 * fails (from_pb frees it): `p = realloc(p, n)` would lose it. */
static int decode_sample(decoder *d, size_t i)
{
	const PbSample *s = d->pb->sample[i];
	if (s->n_value != d->pb->n_sample_type)
		return invalid_pb(d, "sample %zu has %zu values for %zu sample types", i,
				  s->n_value, d->pb->n_sample_type);
	if (!ember_grow((void **)&d->stack, &d->stack_cap, s->n_location_id + 1,
			sizeof *d->stack) ||
	    !ember_grow((void **)&d->labels, &d->labels_cap, s->n_label + 1, sizeof *d->labels))
		return -ENOMEM;
	for (size_t j = 0; j < s->n_location_id; j++) {
		d->stack[j] = our_id(&d->locs, s->location_id[j]);
		if (!d->stack[j])
			return invalid_pb(d, "sample %zu refers to missing location %llu", i,
					  (unsigned long long)s->location_id[j]);
	}
	for (size_t j = 0; j < s->n_label; j++) {
		const PbLabel *lb = s->label[j];
		if (str_ref(d, lb->key, "label key") || str_ref(d, lb->str, "label str") ||
		    str_ref(d, lb->num_unit, "label num_unit"))
			return -EINVAL;
		d->labels[j] = (ember_label){ lb->key, lb->str, lb->num, lb->num_unit };
	}
	if (ember_profile_add_sample(d->p, d->stack, s->n_location_id, s->value, d->labels,
				     s->n_label) < 0)
		return -ENOMEM;
	return 0;
}

/* The profile-wide fields: frames filters, times, period, comments. */
static int decode_header(decoder *d)
{
	const PbProfile *pb = d->pb;
	ember_profile *p = d->p;
	if (str_ref(d, pb->drop_frames, "drop_frames") ||
	    str_ref(d, pb->keep_frames, "keep_frames") ||
	    str_ref(d, pb->default_sample_type, "default_sample_type"))
		return -EINVAL;
	p->drop_frames = pb->drop_frames;
	p->keep_frames = pb->keep_frames;
	p->time_nanos = pb->time_nanos;
	p->duration_nanos = pb->duration_nanos;
	if (pb->period_type) {
		if (str_ref(d, pb->period_type->type, "period_type") ||
		    str_ref(d, pb->period_type->unit, "period_type"))
			return -EINVAL;
		p->period_type.type = pb->period_type->type;
		p->period_type.unit = pb->period_type->unit;
	}
	p->period = pb->period;
	p->default_sample_type = pb->default_sample_type;
	if (!pb->n_comment)
		return 0;
	p->comments = calloc(pb->n_comment, sizeof *p->comments);
	if (!p->comments)
		return -ENOMEM;
	for (size_t i = 0; i < pb->n_comment; i++) {
		if (str_ref(d, pb->comment[i], "comment"))
			return -EINVAL;
		p->comments[i] = pb->comment[i];
	}
	p->n_comments = pb->n_comment;
	return 0;
}

static int decode_all(decoder *d)
{
	int rc;
	if ((rc = decode_strings(d)) < 0 || (rc = decode_sample_types(d)) < 0 ||
	    (rc = decode_mappings(d)) < 0 || (rc = decode_functions(d)) < 0 ||
	    (rc = decode_locations(d)) < 0)
		return rc;
	for (size_t i = 0; i < d->pb->n_sample; i++)
		if ((rc = decode_sample(d, i)) < 0)
			return rc;
	if ((rc = decode_header(d)) < 0)
		return rc;
	char msg[256];
	if (ember_profile_check(d->p, msg, sizeof msg) < 0)
		return invalid_pb(d, "%s", msg);
	return 0;
}

static int from_pb(const PbProfile *pb, ember_profile **out, ember_error *err)
{
	decoder d = { .pb = pb, .p = ember_profile_new(), .err = err,
		      .maps = U64MAP_INIT, .fns = U64MAP_INIT, .locs = U64MAP_INIT };
	int rc = d.p ? decode_all(&d) : -ENOMEM;
	free(d.stack);
	free(d.labels);
	u64map_free(&d.maps);
	u64map_free(&d.fns);
	u64map_free(&d.locs);
	if (rc < 0) {
		ember_profile_free(d.p);
		if (rc == -ENOMEM)
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
		return rc;
	}
	*out = d.p;
	return 0;
}

int ember_pprof_decode(const void *data, size_t len, ember_profile **out, ember_error *err)
{
	if (len == 0)
		return ember_errorf(err, EINVAL, "invalid pprof: empty input");
	ember_buf raw = EMBER_BUF_INIT;
	int rc = ember_decompress(data, len, PPROF_MAX_BYTES, &raw, err);
	if (rc < 0) {
		ember_buf_free(&raw);
		return rc;
	}
	PbProfile *pb = perftools__profiles__profile__unpack(NULL, raw.len,
							     (const uint8_t *)raw.data);
	ember_buf_free(&raw);
	if (!pb)
		return ember_errorf(err, EINVAL,
				    "invalid pprof: not a profile.proto message (corrupt or truncated)");
	rc = from_pb(pb, out, err);
	perftools__profiles__profile__free_unpacked(pb, NULL);
	return rc;
}

/* ---- files ------------------------------------------------------------- */

static int read_all(int fd, ember_buf *b, size_t max)
{
	for (;;) {
		if (!ember_buf_reserve(b, 64 * 1024))
			return -ENOMEM;
		ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (b->len > max)
			return -EFBIG;
	}
	return 0;
}

int ember_pprof_read_file(const char *path, ember_profile **out, ember_error *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (!is_stdin && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return ember_errorf(err, EISDIR, "%s: is a directory, not a profile", path);
	}
	ember_buf b = EMBER_BUF_INIT;
	int rc = read_all(fd, &b, PPROF_MAX_BYTES);
	if (!is_stdin)
		close(fd);
	if (rc < 0) {
		ember_buf_free(&b);
		return ember_errorf(err, -rc, "%s: %s", path,
				    rc == -EFBIG ? "file too large for a profile" : strerror(-rc));
	}
	rc = ember_pprof_decode(b.data, b.len, out, err);
	ember_buf_free(&b);
	if (rc < 0)
		ember_error_prefix(err, "%s", path);
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int ember_pprof_write_file(const ember_profile *p, const char *path, ember_error *err)
{
	ember_buf b = EMBER_BUF_INIT;
	ember_compression c = ends_with(path, ".zst") ? EMBER_COMPRESS_ZSTD : EMBER_COMPRESS_GZIP;
	int rc = ember_pprof_encode(p, c, &b, err);
	if (rc == 0)
		rc = ember_write_file_atomic(path, b.data, b.len, false, err);
	ember_buf_free(&b);
	return rc;
}
