/* cli/cmd_serve.c — `ember serve`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember serve: not built yet\n");
	return EXIT_RUNTIME;
}
