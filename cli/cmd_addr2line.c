/* cli/cmd_addr2line.c — `ember addr2line`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_addr2line(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember addr2line: not built yet\n");
	return EXIT_RUNTIME;
}
