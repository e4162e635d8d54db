/* cli/cmd_symbolize.c — `ember symbolize`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_symbolize(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember symbolize: not built yet\n");
	return EXIT_RUNTIME;
}
