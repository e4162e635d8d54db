/* symbolizer/perfmap.c — JIT symbols from perf map files (/tmp/perf-PID.map,
 * the convention of perf, V8, the JVM agents): one "START SIZE NAME" per line,
 * START and SIZE in hex with or without 0x, NAME to the end of the line.
 * Later lines win where ranges overlap (a JIT reuses memory). Malformed lines
 * are skipped. Must never: trust a line without a size. */
#include "addrmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int perfmap_load(const char *path, addrmap *out, ember_error *err)
{
	*out = (addrmap){0};
	FILE *f = fopen(path, "re");
	if (!f)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *end;
		unsigned long long start = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		p = end + 1;
		unsigned long long size = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || size == 0 || start + size < start)
			continue;
		char *name = end + 1;
		size_t nl = strcspn(name, "\r\n");
		if (nl == 0)
			continue;
		if ((r = addrmap_add(out, start, start + size, name, nl, NULL, 0)) < 0)
			break;
	}
	free(line);
	bool read_err = ferror(f);
	fclose(f);
	if (r < 0 || read_err) {
		addrmap_free(out);
		return ember_errorf(err, r < 0 ? ENOMEM : EIO, "%s: %s", path,
		                    r < 0 ? "out of memory" : "read error");
	}
	addrmap_finish(out);
	return 0;
}
