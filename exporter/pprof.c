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
#include "ember/hash.h"

#include "profile.pb-c.h"

#include <errno.h>
#include <fcntl.h>
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

/* A file's id -> our dense id. Open addressing; key 0 is never stored (id 0
 * means "none" in pprof and is rejected for objects). */
typedef struct idmap {
	uint64_t *keys;
	uint64_t *vals;
	size_t mask;
} idmap;

static int idmap_init(idmap *m, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	m->keys = calloc(cap, sizeof *m->keys);
	m->vals = calloc(cap, sizeof *m->vals);
	m->mask = cap - 1;
	return m->keys && m->vals ? 0 : -ENOMEM;
}

static void idmap_free(idmap *m)
{
	free(m->keys);
	free(m->vals);
}

/* Inserts key -> val; false if key is already present. */
static bool idmap_put(idmap *m, uint64_t key, uint64_t val)
{
	size_t h = (size_t)ember_hash_mix64(key) & m->mask;
	while (m->keys[h]) {
		if (m->keys[h] == key)
			return false;
		h = (h + 1) & m->mask;
	}
	m->keys[h] = key;
	m->vals[h] = val;
	return true;
}

/* Our id for a file's id, or 0 when the file never defined it. */
static uint64_t idmap_get(const idmap *m, uint64_t key)
{
	if (key == 0)
		return 0;
	size_t h = (size_t)ember_hash_mix64(key) & m->mask;
	while (m->keys[h]) {
		if (m->keys[h] == key)
			return m->vals[h];
		h = (h + 1) & m->mask;
	}
	return 0;
}

#define BAD(...)                                              \
	do {                                                  \
		rc = ember_errorf(err, EINVAL, "invalid pprof: " __VA_ARGS__); \
		goto out;                                     \
	} while (0)

static int from_pb(const PbProfile *pb, ember_profile **out, ember_error *err)
{
	int rc = 0;
	idmap maps = { 0 }, fns = { 0 }, locs = { 0 };
	ember_profile *p = ember_profile_new();
	uint64_t *stack = NULL;
	ember_label *labels = NULL;
	if (!p)
		return ember_errorf(err, ENOMEM, "pprof decode: out of memory");
	if (idmap_init(&maps, pb->n_mapping) < 0 || idmap_init(&fns, pb->n_function) < 0 ||
	    idmap_init(&locs, pb->n_location) < 0) {
		rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
		goto out;
	}

	if (pb->n_string_table == 0)
		BAD("empty string table (not a profile, or an empty file)");
	if (pb->string_table[0][0] != '\0')
		BAD("string_table[0] is not the empty string");
	const int64_t ns = (int64_t)pb->n_string_table;
	/* the model's string table starts with "" already */
	for (size_t i = 1; i < pb->n_string_table; i++)
		if (ember_profile_push_string(p, pb->string_table[i]) != (int64_t)i) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
#define STR(i, what)                                                              \
	do {                                                                      \
		if ((i) < 0 || (i) >= ns)                                         \
			BAD("%s: string index %lld out of range (table has %lld)", \
			    what, (long long)(i), (long long)ns);                 \
	} while (0)

	if (pb->n_sample_type > 64)
		BAD("%zu sample types", pb->n_sample_type);
	if (pb->n_sample_type) {
		p->sample_types = calloc(pb->n_sample_type, sizeof *p->sample_types);
		if (!p->sample_types) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < pb->n_sample_type; i++) {
		STR(pb->sample_type[i]->type, "sample_type");
		STR(pb->sample_type[i]->unit, "sample_type");
		p->sample_types[i].type = pb->sample_type[i]->type;
		p->sample_types[i].unit = pb->sample_type[i]->unit;
	}
	p->n_sample_types = pb->n_sample_type;

	for (size_t i = 0; i < pb->n_mapping; i++) {
		const PbMapping *m = pb->mapping[i];
		if (m->id == 0)
			BAD("mapping %zu has id 0", i);
		STR(m->filename, "mapping filename");
		STR(m->build_id, "mapping build_id");
		ember_mapping d = {
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
		uint64_t id = ember_profile_add_mapping(p, &d);
		if (!id) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
		if (!idmap_put(&maps, m->id, id))
			BAD("duplicate mapping id %llu", (unsigned long long)m->id);
	}

	for (size_t i = 0; i < pb->n_function; i++) {
		const PbFunction *f = pb->function[i];
		if (f->id == 0)
			BAD("function %zu has id 0", i);
		STR(f->name, "function name");
		STR(f->system_name, "function system_name");
		STR(f->filename, "function filename");
		uint64_t id = ember_profile_add_function(p, f->name, f->system_name, f->filename,
							 f->start_line);
		if (!id) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
		if (!idmap_put(&fns, f->id, id))
			BAD("duplicate function id %llu", (unsigned long long)f->id);
	}

	for (size_t i = 0; i < pb->n_location; i++) {
		const PbLocation *l = pb->location[i];
		if (l->id == 0)
			BAD("location %zu has id 0", i);
		uint64_t mid = 0;
		if (l->mapping_id) {
			mid = idmap_get(&maps, l->mapping_id);
			if (!mid)
				BAD("location %llu refers to missing mapping %llu",
				    (unsigned long long)l->id, (unsigned long long)l->mapping_id);
		}
		uint64_t id = ember_profile_add_location(p, mid, l->address);
		if (!id) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
		if (!idmap_put(&locs, l->id, id))
			BAD("duplicate location id %llu", (unsigned long long)l->id);
		p->locations[id - 1].is_folded = l->is_folded;
		for (size_t j = 0; j < l->n_line; j++) {
			uint64_t fid = idmap_get(&fns, l->line[j]->function_id);
			if (!fid)
				BAD("location %llu refers to missing function %llu",
				    (unsigned long long)l->id,
				    (unsigned long long)l->line[j]->function_id);
			if (ember_profile_location_add_line(p, id, fid, l->line[j]->line) < 0) {
				rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
				goto out;
			}
			p->locations[id - 1].lines[j].column = l->line[j]->column;
		}
	}

	for (size_t i = 0; i < pb->n_sample; i++) {
		const PbSample *s = pb->sample[i];
		if (s->n_value != pb->n_sample_type)
			BAD("sample %zu has %zu values for %zu sample types", i, s->n_value,
			    pb->n_sample_type);
		stack = realloc(stack, (s->n_location_id ? s->n_location_id : 1) * sizeof *stack);
		labels = realloc(labels, (s->n_label ? s->n_label : 1) * sizeof *labels);
		if (!stack || !labels) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
		for (size_t j = 0; j < s->n_location_id; j++) {
			stack[j] = idmap_get(&locs, s->location_id[j]);
			if (!stack[j])
				BAD("sample %zu refers to missing location %llu", i,
				    (unsigned long long)s->location_id[j]);
		}
		for (size_t j = 0; j < s->n_label; j++) {
			const PbLabel *lb = s->label[j];
			STR(lb->key, "label key");
			STR(lb->str, "label str");
			STR(lb->num_unit, "label num_unit");
			labels[j] = (ember_label){ lb->key, lb->str, lb->num, lb->num_unit };
		}
		if (ember_profile_add_sample(p, stack, s->n_location_id, s->value, labels,
					     s->n_label) < 0) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
	}

	STR(pb->drop_frames, "drop_frames");
	STR(pb->keep_frames, "keep_frames");
	STR(pb->default_sample_type, "default_sample_type");
	p->drop_frames = pb->drop_frames;
	p->keep_frames = pb->keep_frames;
	p->time_nanos = pb->time_nanos;
	p->duration_nanos = pb->duration_nanos;
	if (pb->period_type) {
		STR(pb->period_type->type, "period_type");
		STR(pb->period_type->unit, "period_type");
		p->period_type.type = pb->period_type->type;
		p->period_type.unit = pb->period_type->unit;
	}
	p->period = pb->period;
	p->default_sample_type = pb->default_sample_type;
	if (pb->n_comment) {
		p->comments = calloc(pb->n_comment, sizeof *p->comments);
		if (!p->comments) {
			rc = ember_errorf(err, ENOMEM, "pprof decode: out of memory");
			goto out;
		}
		for (size_t i = 0; i < pb->n_comment; i++) {
			STR(pb->comment[i], "comment");
			p->comments[i] = pb->comment[i];
		}
		p->n_comments = pb->n_comment;
	}
#undef STR
	char msg[256];
	if (ember_profile_check(p, msg, sizeof msg) < 0)
		BAD("%s", msg);
out:
	free(stack);
	free(labels);
	idmap_free(&maps);
	idmap_free(&fns);
	idmap_free(&locs);
	if (rc < 0) {
		ember_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}
#undef BAD

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
