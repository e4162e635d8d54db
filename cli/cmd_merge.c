/* cli/cmd_merge.c — `ember merge`. PLACEHOLDER: replaced by the issue that builds it. */
#include "args.h"

#include <stdio.h>

int cmd_merge(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ember merge: not built yet\n");
	return EXIT_RUNTIME;
}
