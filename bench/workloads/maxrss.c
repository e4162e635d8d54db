/* bench/workloads/maxrss.c — runs a command and reports its true peak RSS.
 *
 * usage: maxrss OUTFILE COMMAND [ARGS...]
 * Writes the peak RSS (KiB) of COMMAND and its waited-for descendants to
 * OUTFILE and exits with COMMAND's status (128+N when a signal N ended it).
 *
 * Why: Linux keeps a process's peak RSS across exec, so a command forked
 * straight from bench/run (a Python process of ~15 MiB) reports at least
 * that. This launcher is small, and the child it forks starts a fresh
 * count (a new signal struct) from the launcher's own few hundred KiB.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUTFILE COMMAND [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("maxrss: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 1;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
		perror("maxrss: OUTFILE");
		return 1;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
