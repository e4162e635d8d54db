/* cli/cmd_symbolize.c — `ember symbolize`: read a profile (raw, gzip or zstd
 * pprof), resolve its addresses with the symbolizer, write it atomically.
 * A profile that is already symbolized passes through unchanged. */
#include "args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/pprof.h"
#include "ember/symbolize.h"

enum { MAX_DIRS = 64 };

static void usage(FILE *f)
{
	fprintf(f, "usage: ember symbolize FILE [-o FILE] [--debug-dir DIR]... [-q]\n"
	           "\n"
	           "Resolves the addresses of a raw profile to functions, files, lines and\n"
	           "inline frames (DWARF through libdw; .symtab/.dynsym without DWARF; the\n"
	           "kernel from /proc/kallsyms; JIT code from /tmp/perf-PID.map), offline:\n"
	           "binaries are looked up by the paths and build ids the profile recorded.\n"
	           "Locations that already have lines are left as they are, so an already\n"
	           "symbolized profile passes through unchanged.\n"
	           "\n"
	           "  FILE                 the profile: raw, gzip or zstd pprof; - for stdin\n"
	           "  -o, --output FILE    where to write (gzip pprof, zstd if it ends in .zst;\n"
	           "                       - for stdout). Default: FILE with .sym inserted\n"
	           "                       before its extensions (cpu.pb.gz -> cpu.sym.pb.gz);\n"
	           "                       stdout when FILE is -. Written atomically.\n"
	           "      --debug-dir DIR  a build-id tree of separate debug files,\n"
	           "                       DIR/.build-id/ab/cdef....debug (repeatable, searched\n"
	           "                       in order before /usr/lib/debug and .gnu_debuglink)\n"
	           "  -q, --quiet          no warnings and no summary on stderr\n"
	           "  -h, --help           this help\n"
	           "\n"
	           "A missing or corrupt binary is a warning (once per binary) and leaves its\n"
	           "locations with addresses only; the summary line counts them.\n"
	           "As root, the core kernel's symbols are cached per boot in $EMBER_CACHE_DIR\n"
	           "(default /var/cache/ember; set it empty for no cache).\n"
	           "Exit status: 0 ok, 1 unreadable input or unwritable output, 2 usage error.\n");
}

/* FILE with ".sym" before its extensions: dir/cpu.pb.gz -> dir/cpu.sym.pb.gz. */
static char *default_output(const char *in)
{
	const char *base = strrchr(in, '/');
	base = base ? base + 1 : in;
	const char *dot = strchr(base[0] == '.' ? base + 1 : base, '.');
	size_t head = dot ? (size_t)(dot - in) : strlen(in);
	char *out = malloc(strlen(in) + 5);
	if (!out)
		return NULL;
	memcpy(out, in, head);
	strcpy(out + head, ".sym");
	strcat(out, in + head);
	return out;
}

int cmd_symbolize(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"debug-dir", required_argument, NULL, 'D'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	const char *dirs[MAX_DIRS];
	size_t n_dirs = 0;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'D':
			if (n_dirs == MAX_DIRS) {
				fprintf(stderr, "ember symbolize: at most %d --debug-dir\n",
				        MAX_DIRS);
				return EXIT_USAGE;
			}
			dirs[n_dirs++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "ember symbolize: expected one FILE (see --help)\n");
		return EXIT_USAGE;
	}
	const char *in = argv[optind];
	char *def = NULL;
	if (!out) {
		if (strcmp(in, "-") == 0) {
			out = "-";
		} else if (!(out = def = default_output(in))) {
			fprintf(stderr, "ember symbolize: out of memory\n");
			return EXIT_RUNTIME;
		}
	}
	ember_error err = {0};
	ember_profile *p = NULL;
	ember_symbolizer *s = NULL;
	int rc = EXIT_RUNTIME;
	if (ember_pprof_read_file(in, &p, &err) < 0) {
		fprintf(stderr, "ember symbolize: %s\n", err.msg);
		goto out;
	}
	char cache[512];
	ember_symbolizer_opts opts = {.debug_dirs = dirs, .n_debug_dirs = n_dirs, .quiet = quiet,
	                              .cache_dir = ember_default_cache_dir(cache, sizeof cache)};
	if (ember_symbolizer_new(&s, &opts, &err) < 0 || ember_symbolizer_run(s, p, &err) < 0) {
		fprintf(stderr, "ember symbolize: %s\n", err.msg);
		goto out;
	}
	if (ember_pprof_write_file(p, out, &err) < 0) {
		fprintf(stderr, "ember symbolize: %s\n", err.msg);
		goto out;
	}
	if (!quiet) {
		ember_symbolizer_stats st;
		ember_symbolizer_get_stats(s, &st);
		fprintf(stderr,
		        "ember symbolize: %s: %llu locations, %llu unsymbolized; %llu binaries "
		        "indexed, %llu missing, %llu corrupt, %llu files refused for a wrong build "
		        "id; %.3f s\n",
		        out, (unsigned long long)st.locations, (unsigned long long)st.unsymbolized,
		        (unsigned long long)st.binaries, (unsigned long long)st.missing,
		        (unsigned long long)st.corrupt, (unsigned long long)st.buildid_mismatch,
		        st.seconds);
	}
	rc = EXIT_OK;
out:
	ember_symbolizer_free(s);
	ember_profile_free(p);
	free(def);
	return rc;
}
