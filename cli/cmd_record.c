/* cli/cmd_record.c — `ember record`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember record: not built yet\n");
	return EXIT_RUNTIME;
}
