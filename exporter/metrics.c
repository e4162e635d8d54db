/* exporter/metrics.c — the per-function CPU metrics registry of
 * ember/metrics.h: ember_function_{self,cumulative}_seconds_total with the
 * labels --metrics.labels picks (default comm, binary, function),
 * accumulated across profiles.
 *
 * Each added profile is aggregated per key (fnstat.c): the chosen sample
 * labels (the "group"), binary and function.
 * A key that already has a series keeps it forever. New keys get a series
 * when they rank among the profile's top_n by self time (ties: by cumulative
 * time, then by name, so callers fill a profile with few leaves) or match the
 * allow-list, while fewer than max_series exist; every other key adds to
 * function="[other]" of its other labels (when function is a label), and when
 * even that series cannot be created, to the one series whose every label is
 * "[other]". So the registry never holds more than max_series + 1
 * series, and no CPU time is lost. Cumulative time of a folded series counts
 * once per sample too.
 *
 * Label values longer than LABEL_MAX bytes are cut at a UTF-8 boundary and
 * end in "~" and 16 hex digits of a hash of the whole value; should two
 * series still render the same labels, the later one gets "~2", "~3", ...
 *
 * Owns: the series, their exemplars and the lock. Must never: drop or lower
 * a series; hold the lock while doing anything but registry work.
 */
#include "ember/metrics.h"
#include "ember/grow.h"
#include "ember/hash.h"
#include "frames.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 200
#define OTHER "[other]"
#define SELF_FAMILY "ember_function_self_seconds"
#define CUM_FAMILY "ember_function_cumulative_seconds"
/* OpenMetrics: an exemplar's label names and values, at most 128 code points */
#define EXEMPLAR_MAX_CODEPOINTS 128

typedef struct exemplar {
	char *labels; /* escaped `profile_id="..."`, NULL for none */
	int64_t ns;   /* what that profile added */
	int64_t ts_ms;
} exemplar;

typedef struct series {
	char *group, *binary, *function; /* the full key (one allocation at group) */
	char *labels;                   /* escaped, shortened label set */
	int64_t self_ns, cum_ns;
	exemplar self_ex, cum_ex;
	/* scratch of one add_profile */
	int64_t add_self, add_cum;
	size_t last_sample;
} series;

/* Open addressing over series indices (+1; 0 empty). */
typedef struct index {
	uint32_t *slots;
	size_t mask;
} sindex;

/* The labels a series may carry, in the order they render. */
static const char *const label_names[] = { "comm",   "binary",       "function",    "cgroup",
					   "container_id", "pod_uid", "systemd_unit" };
enum { N_LABEL_NAMES = sizeof label_names / sizeof *label_names, L_BINARY = 1, L_FUNCTION = 2 };

struct ember_metrics {
	pthread_mutex_t mu;
	unsigned labels;      /* bit i: label_names[i] */
	fnstat_keys keys;     /* the sample labels among them (the group), binary, function */
	char *other_group;    /* "[other]" for each group label */
	size_t top_n, max_series;
	bool has_regex;
	regex_t regex;
	series *s;
	size_t n, cap;
	sindex by_key;    /* (comm, binary, function) */
	sindex by_labels; /* rendered labels: no two series render alike */
	uint64_t dropped;
	size_t *order; /* render order (by labels), NULL when stale */
};

static uint64_t key_hash(const char *group, const char *binary, const char *function)
{
	uint64_t h = ember_hash_bytes(group, strlen(group), 0x22);
	h = ember_hash_bytes(binary, strlen(binary), h);
	return ember_hash_bytes(function, strlen(function), h);
}

static uint64_t labels_hash(const char *labels)
{
	return ember_hash_bytes(labels, strlen(labels), 0x33);
}

static uint64_t series_hash(const series *s, bool by_labels)
{
	return by_labels ? labels_hash(s->labels) : key_hash(s->group, s->binary, s->function);
}

static bool index_grow(ember_metrics *m, sindex *ix, bool by_labels)
{
	if (ix->slots && (m->n + 1) * 2 <= ix->mask + 1)
		return true;
	size_t cap = ix->slots ? (ix->mask + 1) * 2 : 256;
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	free(ix->slots);
	ix->slots = slots;
	ix->mask = cap - 1;
	for (size_t i = 0; i < m->n; i++) {
		size_t h = (size_t)series_hash(&m->s[i], by_labels) & ix->mask;
		while (ix->slots[h])
			h = (h + 1) & ix->mask;
		ix->slots[h] = (uint32_t)(i + 1);
	}
	return true;
}

static long find_key(const ember_metrics *m, const char *group, const char *binary,
                     const char *function)
{
	if (!m->by_key.slots)
		return -1;
	size_t h = (size_t)key_hash(group, binary, function) & m->by_key.mask;
	while (m->by_key.slots[h]) {
		const series *s = &m->s[m->by_key.slots[h] - 1];
		if (strcmp(s->function, function) == 0 && strcmp(s->binary, binary) == 0 &&
		    strcmp(s->group, group) == 0)
			return (long)m->by_key.slots[h] - 1;
		h = (h + 1) & m->by_key.mask;
	}
	return -1;
}

static bool labels_taken(const ember_metrics *m, const char *labels)
{
	if (!m->by_labels.slots)
		return false;
	size_t h = (size_t)labels_hash(labels) & m->by_labels.mask;
	while (m->by_labels.slots[h]) {
		if (strcmp(m->s[m->by_labels.slots[h] - 1].labels, labels) == 0)
			return true;
		h = (h + 1) & m->by_labels.mask;
	}
	return false;
}

static void index_put(sindex *ix, uint64_t hash, size_t i)
{
	size_t h = (size_t)hash & ix->mask;
	while (ix->slots[h])
		h = (h + 1) & ix->mask;
	ix->slots[h] = (uint32_t)(i + 1);
}

/* Appends name="value" with value shortened to LABEL_MAX bytes and escaped. */
static void put_label(ember_buf *b, const char *name, const char *value, unsigned suffix)
{
	ember_buf_printf(b, "%s=\"", name);
	size_t len = strlen(value);
	if (len <= LABEL_MAX && !suffix) {
		ember_expo_escape(b, value);
	} else {
		size_t cut = len <= LABEL_MAX ? len : LABEL_MAX - 17;
		while (cut > 0 && ((unsigned char)value[cut] & 0xc0) == 0x80)
			cut--; /* never split a UTF-8 sequence */
		char *head = strndup(value, cut);
		if (!head) {
			b->oom = true;
			return;
		}
		ember_expo_escape(b, head);
		free(head);
		if (len > LABEL_MAX)
			ember_buf_printf(b, "~%016llx",
			                 (unsigned long long)ember_hash_bytes(value, len, 0x44));
		if (suffix)
			ember_buf_printf(b, "~%u", suffix);
	}
	ember_buf_putc(b, '"');
}

/* The label set of a key, in label_names order; the suffix (set apart two
 * keys that would render alike) goes on function, else on the last label. */
static char *render_labels(const ember_metrics *m, const char *group, const char *binary,
                           const char *function, unsigned suffix)
{
	ember_buf b = EMBER_BUF_INIT;
	const char *g = group;
	int last = -1;
	for (int i = 0; i < N_LABEL_NAMES; i++)
		if (m->labels & (1u << i))
			last = i;
	for (int i = 0; i < N_LABEL_NAMES; i++) {
		if (!(m->labels & (1u << i)))
			continue;
		const char *v = function;
		char *part = NULL;
		if (i == L_BINARY) {
			v = binary;
		} else if (i != L_FUNCTION) { /* the next value of the group */
			size_t n = strcspn(g, (char[]){FNSTAT_SEP, 0});
			v = part = strndup(g, n);
			g += n + (g[n] != '\0');
			if (!part) {
				b.oom = true;
				break;
			}
		}
		if (b.len)
			ember_buf_putc(&b, ',');
		bool suffixed = (m->labels & (1u << L_FUNCTION)) ? i == L_FUNCTION : i == last;
		put_label(&b, label_names[i], v, suffixed ? suffix : 0);
		free(part);
	}
	if (!ember_buf_ok(&b)) {
		ember_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Index of a new series for the key; -1 on ENOMEM. */
static long series_add(ember_metrics *m, const char *group, const char *binary, const char *function)
{
	assert(find_key(m, group, binary, function) < 0);
	if (!index_grow(m, &m->by_key, false) || !index_grow(m, &m->by_labels, true))
		return -1;
	if (!ember_grow((void **)&m->s, &m->cap, m->n + 1, sizeof *m->s))
		return -1;
	char *labels = NULL;
	for (unsigned suffix = 0;; suffix = suffix ? suffix + 1 : 2) {
		free(labels);
		labels = render_labels(m, group, binary, function, suffix);
		if (!labels || !labels_taken(m, labels))
			break;
	}
	size_t lc = strlen(group) + 1, lb = strlen(binary) + 1, lf = strlen(function) + 1;
	char *key = malloc(lc + lb + lf);
	if (!labels || !key) {
		free(labels);
		free(key);
		return -1;
	}
	memcpy(key, group, lc);
	memcpy(key + lc, binary, lb);
	memcpy(key + lc + lb, function, lf);
	series *s = &m->s[m->n];
	*s = (series){.group = key,
	              .binary = key + lc,
	              .function = key + lc + lb,
	              .labels = labels,
	              .last_sample = SIZE_MAX};
	index_put(&m->by_key, series_hash(s, false), m->n);
	index_put(&m->by_labels, series_hash(s, true), m->n);
	free(m->order);
	m->order = NULL;
	return (long)m->n++;
}

static long series_get(ember_metrics *m, const char *group, const char *binary, const char *function)
{
	long i = find_key(m, group, binary, function);
	return i >= 0 ? i : series_add(m, group, binary, function);
}

/* The bits of label_names named by a comma-separated list. */
static int parse_labels(const char *list, unsigned *out, ember_error *err)
{
	unsigned bits = 0;
	for (const char *p = list;;) {
		size_t n = strcspn(p, ",");
		int found = -1;
		for (int i = 0; i < N_LABEL_NAMES && found < 0; i++)
			if (strlen(label_names[i]) == n && strncmp(p, label_names[i], n) == 0)
				found = i;
		if (found < 0)
			return ember_errorf(err, EINVAL,
			                    "metrics: unknown label '%.*s' in '%.200s': use a comma "
			                    "list of " EMBER_METRICS_LABELS,
			                    (int)(n < 64 ? n : 64), p, list);
		if (bits & (1u << found))
			return ember_errorf(err, EINVAL, "metrics: label '%s' given twice in '%.200s'",
			                    label_names[found], list);
		bits |= 1u << found;
		if (!p[n])
			break;
		p += n + 1;
	}
	*out = bits;
	return 0;
}

int ember_metrics_labels_check(const char *list, ember_error *err)
{
	unsigned bits;
	return parse_labels(list, &bits, err);
}

/* The registry's keys and the "[other]" group for the label bits. */
static int set_labels(ember_metrics *m, unsigned bits)
{
	m->labels = bits;
	m->keys = (fnstat_keys){.binary = bits & (1u << L_BINARY),
	                        .function = bits & (1u << L_FUNCTION)};
	ember_buf g = EMBER_BUF_INIT;
	for (int i = 0; i < N_LABEL_NAMES; i++) {
		if (!(bits & (1u << i)) || i == L_BINARY || i == L_FUNCTION)
			continue;
		if (m->keys.n_labels)
			ember_buf_putc(&g, FNSTAT_SEP);
		ember_buf_puts(&g, OTHER);
		m->keys.labels[m->keys.n_labels++] = label_names[i];
	}
	m->other_group = ember_buf_ok(&g) ? (g.data ? g.data : strdup("")) : NULL;
	if (!m->other_group) {
		ember_buf_free(&g);
		return -ENOMEM;
	}
	return 0;
}

int ember_metrics_new(ember_metrics **out, const ember_metrics_opts *opts, ember_error *err)
{
	ember_metrics *m = calloc(1, sizeof *m);
	if (!m)
		return ember_errorf(err, ENOMEM, "metrics: out of memory");
	m->top_n = opts && opts->top_n ? opts->top_n : 50;
	m->max_series = opts && opts->max_series ? opts->max_series : 2000;
	if (opts && opts->functions_regex && *opts->functions_regex) {
		int rc = regcomp(&m->regex, opts->functions_regex, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char why[128];
			regerror(rc, &m->regex, why, sizeof why);
			free(m);
			return ember_errorf(err, EINVAL,
			                    "metrics: bad function regex '%s': %s (POSIX extended "
			                    "syntax)",
			                    opts->functions_regex, why);
		}
		m->has_regex = true;
	}
	unsigned bits = (1u << 0) | (1u << L_BINARY) | (1u << L_FUNCTION);
	int rc = opts && opts->labels ? parse_labels(opts->labels, &bits, err) : 0;
	if (rc == 0 && set_labels(m, bits) < 0)
		rc = ember_errorf(err, ENOMEM, "metrics: out of memory");
	if (rc < 0) {
		if (m->has_regex)
			regfree(&m->regex);
		free(m->other_group);
		free(m);
		return rc;
	}
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void ember_metrics_free(ember_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->s[i].group);
		free(m->s[i].labels);
		free(m->s[i].self_ex.labels);
		free(m->s[i].cum_ex.labels);
	}
	free(m->s);
	free(m->by_key.slots);
	free(m->by_labels.slots);
	free(m->order);
	free(m->other_group);
	if (m->has_regex)
		regfree(&m->regex);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Series index for each fnstat entry (-1: none, the key has no CPU time). */
static int assign(ember_metrics *m, const fnstat *fs, long *target)
{
	size_t *rank = fnstat_rank(fs);
	if (!rank)
		return -ENOMEM;
	int rc = 0;
	for (size_t r = 0; r < fs->n_entries && rc == 0; r++) {
		const fnstat_entry *e = &fs->entries[rank[r]];
		long t = find_key(m, e->group, e->binary, e->function);
		if (t < 0 && e->cum == 0) {
			target[rank[r]] = -1;
			continue;
		}
		bool wanted = r < m->top_n ||
		              (m->has_regex && regexec(&m->regex, e->function, 0, NULL, 0) == 0);
		if (t < 0 && wanted && m->n < m->max_series)
			t = series_add(m, e->group, e->binary, e->function);
		if (t < 0) {
			m->dropped++;
			if (m->keys.function) {
				t = find_key(m, e->group, e->binary, OTHER);
				if (t < 0 && m->n < m->max_series)
					t = series_add(m, e->group, e->binary, OTHER);
			}
			if (t < 0)
				t = series_get(m, m->other_group, m->keys.binary ? OTHER : "",
				               m->keys.function ? OTHER : "");
		}
		if (t < 0)
			rc = -ENOMEM;
		target[rank[r]] = t;
	}
	free(rank);
	return rc;
}

/* Sets an exemplar to (profile, ns, ts), or clears it when the id does not
 * fit OpenMetrics' limit (a cut id would point at the wrong profile). */
static void exemplar_set(exemplar *ex, const char *profile_id, int64_t ns, int64_t ts_ms)
{
	free(ex->labels);
	ex->labels = NULL;
	if (!profile_id || ember_expo_codepoints("profile_id") + ember_expo_codepoints(profile_id) >
	                       EXEMPLAR_MAX_CODEPOINTS)
		return;
	ember_buf b = EMBER_BUF_INIT;
	ember_buf_puts(&b, "profile_id=\"");
	ember_expo_escape(&b, profile_id);
	ember_buf_putc(&b, '"');
	if (!ember_buf_ok(&b)) {
		ember_buf_free(&b);
		return;
	}
	ex->labels = b.data;
	ex->ns = ns;
	ex->ts_ms = ts_ms;
}

int ember_metrics_add_profile(ember_metrics *m, const ember_profile *p, const char *profile_id,
                              int64_t timestamp_ms, ember_error *err)
{
	frame_weight w;
	int rc = frame_weight_cpu(p, &w, err);
	if (rc < 0)
		return rc;
	fnstat fs;
	rc = fnstat_build(&fs, p, &w, &m->keys, err);
	if (rc < 0)
		return rc;
	long *target = malloc((fs.n_entries ? fs.n_entries : 1) * sizeof *target);
	if (!target) {
		fnstat_free(&fs);
		return ember_errorf(err, ENOMEM, "metrics: out of memory");
	}
	pthread_mutex_lock(&m->mu);
	rc = assign(m, &fs, target);
	if (rc == 0) {
		for (size_t i = 0; i < m->n; i++) {
			m->s[i].add_self = m->s[i].add_cum = 0;
			m->s[i].last_sample = SIZE_MAX;
		}
		for (size_t si = 0; si < p->n_samples; si++) {
			int64_t v = fs.sample_value[si];
			for (size_t k = fs.sample_start[si]; k < fs.sample_start[si + 1]; k++) {
				long t = target[fs.frames[k]];
				if (t < 0)
					continue;
				series *s = &m->s[t];
				if (k == fs.sample_start[si])
					s->add_self = frame_sat_add(s->add_self, v);
				if (s->last_sample != si) {
					s->last_sample = si;
					s->add_cum = frame_sat_add(s->add_cum, v);
				}
			}
		}
		for (size_t i = 0; i < m->n; i++) {
			series *s = &m->s[i];
			/* counters never go down, whatever a file's values say */
			if (s->add_self > 0) {
				s->self_ns = frame_sat_add(s->self_ns, s->add_self);
				exemplar_set(&s->self_ex, profile_id, s->add_self, timestamp_ms);
			}
			if (s->add_cum > 0) {
				s->cum_ns = frame_sat_add(s->cum_ns, s->add_cum);
				exemplar_set(&s->cum_ex, profile_id, s->add_cum, timestamp_ms);
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
	free(target);
	fnstat_free(&fs);
	if (rc < 0)
		return ember_errorf(err, -rc, "metrics: out of memory");
	return 0;
}

static int order_cmp(const void *a, const void *b, void *arg)
{
	const series *s = arg;
	return strcmp(s[*(const size_t *)a].labels, s[*(const size_t *)b].labels);
}

static void render_family(ember_metrics *m, ember_expo_format f, ember_buf *out, bool self)
{
	const char *name = self ? SELF_FAMILY : CUM_FAMILY;
	ember_expo_family(out, f, name, EMBER_COUNTER,
	                  self ? "CPU seconds spent in the function itself (it was the leaf of "
	                         "the sampled stack)"
	                       : "CPU seconds with the function anywhere on the sampled stack "
	                         "(once per sample)");
	for (size_t i = 0; i < m->n; i++) {
		const series *s = &m->s[m->order[i]];
		const exemplar *ex = self ? &s->self_ex : &s->cum_ex;
		ember_expo_sample_exemplar(out, f, name, EMBER_COUNTER, s->labels,
		                           (double)(self ? s->self_ns : s->cum_ns) / 1e9,
		                           ex->labels, (double)ex->ns / 1e9,
		                           (double)ex->ts_ms / 1e3);
	}
}

int ember_metrics_render(ember_metrics *m, ember_expo_format f, ember_buf *out, ember_error *err)
{
	pthread_mutex_lock(&m->mu);
	if (!m->order && m->n) {
		m->order = malloc(m->n * sizeof *m->order);
		if (m->order) {
			for (size_t i = 0; i < m->n; i++)
				m->order[i] = i;
			qsort_r(m->order, m->n, sizeof *m->order, order_cmp, m->s);
		}
	}
	if (m->n && !m->order) {
		pthread_mutex_unlock(&m->mu);
		return ember_errorf(err, ENOMEM, "metrics: out of memory");
	}
	render_family(m, f, out, true);
	render_family(m, f, out, false);
	pthread_mutex_unlock(&m->mu);
	if (!ember_buf_ok(out))
		return ember_errorf(err, ENOMEM, "metrics: out of memory while rendering");
	return 0;
}

size_t ember_metrics_series(const ember_metrics *m)
{
	ember_metrics *mm = (ember_metrics *)m;
	pthread_mutex_lock(&mm->mu);
	size_t n = m->n;
	pthread_mutex_unlock(&mm->mu);
	return n;
}

uint64_t ember_metrics_dropped(const ember_metrics *m)
{
	ember_metrics *mm = (ember_metrics *)m;
	pthread_mutex_lock(&mm->mu);
	uint64_t n = m->dropped;
	pthread_mutex_unlock(&mm->mu);
	return n;
}
