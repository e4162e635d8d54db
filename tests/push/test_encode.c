/* tests/push/test_encode.c — the push encoders (exporter/otlp.c,
 * exporter/pyroscope.c) on synthetic windows, edge cases included: an empty
 * window, samples without pid or comm labels, two processes of one comm.
 * Decodes with ember's own proto/ messages; the schema-true checks against
 * the upstream .proto files are the Python tests beside it. */
#include "../check.h"
#include "../exporter/synth.h"

#include "ember/otlp.h"
#include "ember/pprof.h"
#include "ember/pyroscope.h"

#include "otlp_profiles.pb-c.h"
#include "pyroscope_push.pb-c.h"

#include <errno.h>
#include <string.h>

/* Three samples: comm a (pid 100), b (pid 200), a (pid 300). */
static ember_profile *three(void)
{
	ember_profile *p = synth_new();
	uint64_t m = synth_mapping(p, "/usr/bin/app", "b1d", 0x400000, 0x500000, 0);
	uint64_t l1 = synth_loc(p, m, 0x401000, 2, "inl", "work");
	uint64_t l2 = synth_loc(p, m, 0x402000, 1, "main");
	synth_sample(p, "a", 3, 2, l1, l2);
	synth_sample(p, "b", 5, 1, l2);
	synth_sample(p, "a", 7, 2, l1, l2);
	p->samples[1].labels[0].num = 200;
	p->samples[2].labels[0].num = 300;
	return p;
}

static Ember__Otlp__ExportProfilesServiceRequest *otlp(const ember_profile *p,
							const ember_otlp_opts *o, ember_buf *b)
{
	ember_buf_reset(b);
	ember_error err = { 0 };
	CHECK(ember_otlp_encode(p, o, b, &err) == 0);
	return ember__otlp__export_profiles_service_request__unpack(NULL, b->len,
								    (uint8_t *)b->data);
}

static void check_zero_entries(const Ember__Otlp__ProfilesDictionary *d)
{
	CHECK(d->n_string_table >= 1 && strcmp(d->string_table[0], "") == 0);
	CHECK(d->n_mapping_table >= 1 && d->mapping_table[0]->memory_start == 0 &&
	      d->mapping_table[0]->filename_strindex == 0);
	CHECK(d->n_location_table >= 1 && d->location_table[0]->address == 0 &&
	      d->location_table[0]->n_lines == 0);
	CHECK(d->n_function_table >= 1 && d->function_table[0]->name_strindex == 0);
	CHECK(d->n_link_table == 1 && d->link_table[0]->trace_id.len == 0);
	CHECK(d->n_attribute_table >= 1 && d->attribute_table[0]->key_strindex == 0 &&
	      !d->attribute_table[0]->value);
	CHECK(d->n_stack_table >= 1 && d->stack_table[0]->n_location_indices == 0);
}

static void test_otlp(void)
{
	ember_profile *p = three();
	ember_kv extra[] = { { "deployment.environment", "ci" }, { "process.pid", "1" } };
	ember_otlp_opts o = { .window_id = "20231114T221320Z-10s", .host_name = "h",
			      .resource_attrs = extra, .n_resource_attrs = 2 };
	ember_buf b = EMBER_BUF_INIT, again = EMBER_BUF_INIT;
	Ember__Otlp__ExportProfilesServiceRequest *r = otlp(p, &o, &b);
	CHECK(r != NULL);
	if (!r)
		return;
	check_zero_entries(r->dictionary);
	/* pprof ids are the table indices */
	const Ember__Otlp__ProfilesDictionary *d = r->dictionary;
	CHECK_EQ_INT(d->n_location_table, p->n_locations + 1);
	CHECK_EQ_INT(d->location_table[1]->address, 0x401000);
	CHECK_EQ_INT(d->location_table[1]->n_lines, 2);
	CHECK_EQ_INT(d->n_stack_table, 3);   /* zero, {l1, l2}, {l2} */
	CHECK_EQ_INT(r->n_resource_profiles, 3);
	uint8_t ids[6][16];
	size_t n_ids = 0;
	int64_t cpu = 0;
	for (size_t i = 0; i < r->n_resource_profiles; i++) {
		const Ember__Otlp__ResourceProfiles *rp = r->resource_profiles[i];
		CHECK_EQ_INT(rp->resource->n_attributes, 5);   /* process.pid in extras ignored */
		CHECK(strcmp(rp->resource->attributes[0]->key, "service.name") == 0);
		CHECK(strcmp(rp->resource->attributes[4]->key, "deployment.environment") == 0);
		CHECK_EQ_INT(rp->scope_profiles[0]->n_profiles, 2);
		for (size_t k = 0; k < rp->scope_profiles[0]->n_profiles; k++) {
			const Ember__Otlp__Profile *pr = rp->scope_profiles[0]->profiles[k];
			CHECK_EQ_INT(pr->profile_id.len, 16);
			memcpy(ids[n_ids++], pr->profile_id.data, 16);
			for (size_t s = 0; s < pr->n_samples; s++) {
				CHECK_EQ_INT(pr->samples[s]->n_values, 1);
				if (k == 1)
					cpu += pr->samples[s]->values[0];
			}
		}
	}
	CHECK_EQ_INT(cpu, 15 * SYNTH_PERIOD);
	for (size_t i = 0; i < n_ids; i++)
		for (size_t j = i + 1; j < n_ids; j++)
			CHECK(memcmp(ids[i], ids[j], 16) != 0);
	/* deterministic: the same window encodes to the same bytes */
	Ember__Otlp__ExportProfilesServiceRequest *r2 = otlp(p, &o, &again);
	CHECK(r2 && again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
	ember__otlp__export_profiles_service_request__free_unpacked(r2, NULL);
	ember__otlp__export_profiles_service_request__free_unpacked(r, NULL);

	/* no window id: refused */
	ember_otlp_opts none = { 0 };
	ember_error err = { 0 };
	CHECK(ember_otlp_encode(p, &none, &b, &err) == -EINVAL);
	ember_profile_free(p);

	/* empty window, and samples without labels */
	p = synth_new();
	r = otlp(p, &o, &b);
	CHECK(r && r->n_resource_profiles == 0);
	if (r)
		check_zero_entries(r->dictionary);
	ember__otlp__export_profiles_service_request__free_unpacked(r, NULL);
	uint64_t m = synth_mapping(p, "/bin/x", "", 0x1000, 0x2000, 0);
	uint64_t l = synth_loc(p, m, 0x1100, 0);
	int64_t v[2] = { 1, SYNTH_PERIOD };
	ember_profile_add_sample(p, &l, 1, v, NULL, 0);
	r = otlp(p, &o, &b);
	CHECK(r && r->n_resource_profiles == 1);
	if (r) {
		const Ember__Otlp__Resource *res = r->resource_profiles[0]->resource;
		CHECK(strcmp(res->attributes[0]->value->string_value, "unknown_service") == 0);
		CHECK_EQ_INT(res->attributes[2]->value->int_value, 0);
		CHECK_EQ_INT(r->dictionary->mapping_table[1]->n_attribute_indices, 0);   /* no build id */
	}
	ember__otlp__export_profiles_service_request__free_unpacked(r, NULL);
	ember_profile_free(p);
	ember_buf_free(&b);
	ember_buf_free(&again);

	int64_t rejected = -1;
	char msg[64];
	CHECK(ember_otlp_partial_success("\xff\xff\xff", 3, &rejected, msg, sizeof msg) == -EINVAL);
	CHECK(ember_otlp_partial_success("", 0, &rejected, msg, sizeof msg) == 0 && rejected == 0);
}

static Ember__Pyroscope__PushRequest *pyro(const ember_profile *p, const ember_pyroscope_opts *o,
					   ember_buf *b, size_t *n)
{
	ember_buf_reset(b);
	ember_error err = { 0 };
	CHECK(ember_pyroscope_encode(p, o, b, n, &err) == 0);
	return ember__pyroscope__push_request__unpack(NULL, b->len, (uint8_t *)b->data);
}

/* The samples/count total of a series' raw_profile. */
static int64_t series_count(const Ember__Pyroscope__RawProfileSeries *s)
{
	ember_profile *q = NULL;
	ember_error err = { 0 };
	CHECK(s->n_samples == 1);
	CHECK(s->samples[0]->raw_profile.len > 2 && s->samples[0]->raw_profile.data[0] == 0x1f);
	if (ember_pprof_decode(s->samples[0]->raw_profile.data, s->samples[0]->raw_profile.len, &q,
			       &err) < 0)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; i < q->n_samples; i++)
		n += q->samples[i].values[0];
	/* only what the samples use: one mapping, no stray locations */
	CHECK_EQ_INT(q->n_mappings, 1);
	ember_profile_free(q);
	return n;
}

static void test_pyroscope(void)
{
	ember_profile *p = three();
	ember_kv labels[] = { { "env", "ci" } };
	ember_pyroscope_opts o = { .window_id = "20231114T221320Z-10s", .labels = labels,
				   .n_labels = 1 };
	ember_buf b = EMBER_BUF_INIT;
	size_t n = 0;
	Ember__Pyroscope__PushRequest *r = pyro(p, &o, &b, &n);
	CHECK(r && r->n_series == 2 && n == 2);
	for (size_t i = 0; r && i < r->n_series; i++) {
		const Ember__Pyroscope__RawProfileSeries *s = r->series[i];
		CHECK_EQ_INT(s->n_labels, 3);
		CHECK(strcmp(s->labels[0]->name, "__name__") == 0 &&
		      strcmp(s->labels[0]->value, "process_cpu") == 0);
		CHECK(strcmp(s->labels[1]->name, "service_name") == 0);
		CHECK(strcmp(s->labels[2]->name, "env") == 0);
		CHECK(strcmp(s->samples[0]->id, o.window_id) == 0);
		CHECK(s->n_annotations == 1 &&
		      strcmp(s->annotations[0]->key, EMBER_PYROSCOPE_WINDOW_ANNOTATION) == 0 &&
		      strcmp(s->annotations[0]->value, o.window_id) == 0);
		bool a = strcmp(s->labels[1]->value, "a") == 0;
		CHECK_EQ_INT(series_count(s), a ? 10 : 5);
	}
	ember__pyroscope__push_request__free_unpacked(r, NULL);
	o.service_name = "svc";
	r = pyro(p, &o, &b, &n);
	CHECK(r && r->n_series == 1 && strcmp(r->series[0]->labels[1]->value, "svc") == 0);
	if (r)
		CHECK_EQ_INT(series_count(r->series[0]), 15);
	ember__pyroscope__push_request__free_unpacked(r, NULL);
	ember_profile_free(p);
	/* an empty window: one empty series */
	p = synth_new();
	o.service_name = NULL;
	r = pyro(p, &o, &b, &n);
	CHECK(r && r->n_series == 1 &&
	      strcmp(r->series[0]->labels[1]->value, "unknown_service") == 0);
	ember__pyroscope__push_request__free_unpacked(r, NULL);
	ember_profile_free(p);
	ember_buf_free(&b);
}

int main(void)
{
	test_otlp();
	test_pyroscope();
	return check_exit();
}
