/* cli/cmd_export.c — `ember export`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember export: not built yet\n");
	return EXIT_RUNTIME;
}
