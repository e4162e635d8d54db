/* symbolizer/kallsyms.c — kernel text symbols from /proc/kallsyms (and its
 * modules: "ADDR t name\t[module]"). kallsyms has no sizes, so a symbol ends
 * where the next one starts; the last one gets one page. All-zero addresses
 * mean kptr_restrict hides them: an error, not a table of wrong names.
 * Must never: guess a name for an address below the first symbol. */
#include "addrmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kallsyms_load(const char *path, addrmap *out, ember_error *err)
{
	*out = (addrmap){0};
	FILE *f = fopen(path, "re");
	if (!f)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	size_t nonzero = 0, lines = 0;
	int r = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lines++;
		char *end;
		unsigned long long a = strtoull(line, &end, 16);
		if (end == line || *end != ' ' || !end[1] || end[2] != ' ')
			continue;
		char type = end[1];
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		char *name = end + 3;
		size_t nl = strcspn(name, "\t\n \r");
		if (nl == 0)
			continue;
		const char *mod = NULL;
		size_t ml = 0;
		char *br = strchr(name + nl, '[');
		if (br) {
			mod = br + 1;
			ml = strcspn(mod, "]\n");
		}
		if (a)
			nonzero++;
		if ((r = addrmap_add(out, a, a, name, nl, mod, ml)) < 0)
			break;
	}
	free(line);
	bool read_err = ferror(f);
	fclose(f);
	if (r < 0) {
		addrmap_free(out);
		return ember_errorf(err, ENOMEM, "%s: out of memory", path);
	}
	if (read_err) {
		addrmap_free(out);
		return ember_errorf(err, EIO, "%s: read error", path);
	}
	if (out->n && nonzero == 0) {
		addrmap_free(out);
		return ember_errorf(
		    err, EPERM,
		    "%s: all addresses are 0 (kernel.kptr_restrict): run as root or "
		    "set kernel.kptr_restrict=0",
		    path);
	}
	(void)lines;
	addrmap_finish(out);
	for (size_t i = 0; i < out->n; i++) {
		size_t j = i + 1;
		while (j < out->n && out->e[j].lo == out->e[i].lo)
			j++;
		out->e[i].hi = j < out->n ? out->e[j].lo : out->e[i].lo + 4096;
	}
	return 0;
}
