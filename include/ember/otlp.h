/* ember/otlp.h — OTLP profiles (exporter/otlp.c): one profile window as the
 * protobuf body of an OTLP/HTTP export, an ExportProfilesServiceRequest of
 * opentelemetry-proto profiles/v1development (commit ac2c4b5, 2026-08-18).
 *
 * A pure function of the profile and the options: it knows nothing of HTTP,
 * compression or where the bytes go.
 *
 * The mapping (docs/ARCHITECTURE.md, "Push"):
 *  - one ResourceProfiles per process (the samples' "pid" and "comm" labels:
 *    an exec within the window starts another), with the
 *    resource attributes service.name, host.name, process.pid and
 *    process.executable.name (the process's comm), plus the configured
 *    extras; one ScopeProfiles (scope "ember") holding one Profile per sample
 *    type of the pprof (samples/count and cpu/nanoseconds), since OTLP allows
 *    one sample type per Profile;
 *  - one ProfilesDictionary for the request, every table with the zero value
 *    at index 0. Mapping, location and function ids of the pprof are their
 *    table indices, and the pprof's string table is the dictionary's prefix;
 *  - a sample's "tid" and "thread" labels become the attributes thread.id and
 *    thread.name; a mapping's build id process.executable.build_id.gnu;
 *  - profile_id: 16 bytes derived from the window id, the process and the
 *    sample type (ember_otlp_profile_id), so a resent window carries the same
 *    ids and a receiver can drop the duplicate.
 */
#ifndef EMBER_OTLP_H
#define EMBER_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "ember/buf.h"
#include "ember/error.h"
#include "ember/kv.h"
#include "ember/profile.h"

typedef struct ember_otlp_opts {
	const char *window_id;      /* required: the dedup key */
	const char *service_name;   /* NULL or "": each process's comm */
	const char *host_name;      /* NULL or "": no host.name */
	const ember_kv *resource_attrs;   /* extra resource attributes (strings); keys
					     service.name, host.name, process.pid and
					     process.executable.name are ignored here */
	size_t n_resource_attrs;
	const char *scope_version;  /* the InstrumentationScope's version, or NULL */
} ember_otlp_opts;

/* Appends the serialized ExportProfilesServiceRequest (uncompressed) to out.
 * 0, or -ENOMEM / -EINVAL (a profile too large for int32 indices). */
int ember_otlp_encode(const ember_profile *p, const ember_otlp_opts *o, ember_buf *out,
		      ember_error *err);

/* Reads an ExportProfilesServiceResponse: *rejected gets its
 * partial_success.rejected_profiles (0 when absent) and msg its
 * error_message. 0, or -EINVAL when the body is not one. */
int ember_otlp_partial_success(const void *body, size_t len, int64_t *rejected, char *msg,
			       size_t msglen);

/* The 16-byte profile_id of sample type `type_index` of process (pid, comm)
 * in window `window_id`: never all zero, a fixed function of its inputs. */
void ember_otlp_profile_id(const char *window_id, int64_t pid, const char *comm,
			   size_t type_index, uint8_t id[16]);

#endif
