/* cli/cmd_addr2line.c — `ember addr2line`: binutils addr2line's interface
 * and output format on top of the symbolizer's index, so scripts and
 * benchmarks can swap it in. Addresses come from the command line or, when
 * none are given, from stdin (one or more per line); stdout is flushed
 * whenever stdin would block, so it also works as a co-process. */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember/symbolize.h"

enum { MAX_FRAMES = 64, MAX_DIRS = 64 };

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: ember addr2line -e FILE [-a] [-f] [-i] [-C] [--debug-dir DIR]... [ADDR...]\n"
	       "\n"
	       "Resolves addresses of an ELF file to function, file and line, printing\n"
	       "exactly what binutils addr2line prints. ADDRs are hexadecimal link-time\n"
	       "addresses (0x optional); without ADDRs they are read from stdin.\n"
	       "\n"
	       "  -e, --exe FILE       the ELF file (default a.out)\n"
	       "  -a, --addresses      print each address (0x%%016x) before its answer\n"
	       "  -f, --functions      print the function name before file:line\n"
	       "  -i, --inlines        print the whole inline chain, innermost first\n"
	       "                       (without -i: only the innermost frame)\n"
	       "  -C, --demangle       demangle C++ and Rust names\n"
	       "      --debug-dir DIR  also look for separate debug files in the build-id\n"
	       "                       tree DIR/.build-id/ab/cdef....debug (repeatable);\n"
	       "                       /usr/lib/debug and .gnu_debuglink are always searched\n"
	       "  -h, --help           this help\n"
	       "\n"
	       "Unknown addresses print ?? and ??:0 as binutils does. Exit status: 0 ok,\n"
	       "1 the file cannot be read, 2 usage error.\n");
}

typedef struct a2l {
	ember_symbolizer *s;
	const char *exe;
	bool addresses, functions, inlines;
	ember_frame frames[MAX_FRAMES];
} a2l;

/* binutils prints the innermost row's discriminator on every frame of the
 * chain (its loop never resets it); so do we, byte for byte. */
static void print_frame(const a2l *a, const ember_frame *f, unsigned discriminator)
{
	if (a->functions) {
		fputs(f->function ? f->function : "??", stdout);
		putchar('\n');
	}
	fputs(f->file ? f->file : "??", stdout);
	if (f->line > 0) {
		if (discriminator)
			printf(":%d (discriminator %u)\n", f->line, discriminator);
		else
			printf(":%d\n", f->line);
	} else {
		fputs(":?\n", stdout);
	}
}

/* Answers one address token; 0, or 1 when the file cannot be read. */
static int answer(a2l *a, const char *tok)
{
	char *end;
	errno = 0;
	uint64_t addr = strtoull(tok, &end, 16);
	if (errno || *end)
		addr = 0; /* as binutils: an unparsable address is looked up as 0 */
	if (a->addresses)
		printf("0x%016" PRIx64 "\n", addr);
	ember_error err = {0};
	int n = ember_symbolizer_addr2line(a->s, a->exe, addr, a->frames, MAX_FRAMES, &err);
	if (n < 0) {
		fflush(stdout);
		fprintf(stderr, "ember addr2line: %s\n", err.msg);
		return 1;
	}
	if (n == 0) {
		if (a->functions)
			fputs("??\n", stdout);
		fputs("??:0\n", stdout);
		return 0;
	}
	for (int i = 0; i < (a->inlines ? n : 1); i++)
		print_frame(a, &a->frames[i], a->frames[0].discriminator);
	return 0;
}

/* Reads stdin in large blocks; flushes stdout before any read that could
 * block, so a co-process sees each answer. */
static int answer_stdin(a2l *a)
{
	static char buf[1 << 16];
	char tok[128];
	size_t tl = 0;
	for (;;) {
		fflush(stdout);
		ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
				if (tl) {
					tok[tl] = '\0';
					tl = 0;
					if (answer(a, tok))
						return 1;
				}
			} else if (tl + 1 < sizeof tok) {
				tok[tl++] = c;
			}
		}
	}
	if (tl) {
		tok[tl] = '\0';
		if (answer(a, tok))
			return 1;
	}
	return 0;
}

int cmd_addr2line(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"exe", required_argument, NULL, 'e'}, {"addresses", no_argument, NULL, 'a'},
	    {"functions", no_argument, NULL, 'f'}, {"inlines", no_argument, NULL, 'i'},
	    {"demangle", no_argument, NULL, 'C'},  {"debug-dir", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
	};
	a2l a = {.exe = "a.out"};
	bool demangle = false;
	const char *dirs[MAX_DIRS];
	size_t n_dirs = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:afiCh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			a.exe = optarg;
			break;
		case 'a':
			a.addresses = true;
			break;
		case 'f':
			a.functions = true;
			break;
		case 'i':
			a.inlines = true;
			break;
		case 'C':
			demangle = true;
			break;
		case 'D':
			if (n_dirs == MAX_DIRS) {
				fprintf(stderr, "ember addr2line: at most %d --debug-dir\n",
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
	ember_symbolizer_opts opts = {
	    .debug_dirs = dirs, .n_debug_dirs = n_dirs, .no_demangle = !demangle};
	ember_error err = {0};
	if (ember_symbolizer_new(&a.s, &opts, &err) < 0) {
		fprintf(stderr, "ember addr2line: %s\n", err.msg);
		return EXIT_RUNTIME;
	}
	/* Open the file up front so a bad -e fails before any output. */
	if (ember_symbolizer_addr2line(a.s, a.exe, 0, a.frames, MAX_FRAMES, &err) < 0) {
		fprintf(stderr, "ember addr2line: %s\n", err.msg);
		ember_symbolizer_free(a.s);
		return EXIT_RUNTIME;
	}
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	int rc = 0;
	if (optind < argc) {
		for (int i = optind; i < argc && !rc; i++)
			rc = answer(&a, argv[i]);
	} else {
		rc = answer_stdin(&a);
	}
	fflush(stdout);
	ember_symbolizer_free(a.s);
	return rc ? EXIT_RUNTIME : EXIT_OK;
}
