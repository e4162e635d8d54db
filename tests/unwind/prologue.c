/* tests/unwind/prologue.c — a C workload whose time is spent where a
 * function has not set up its frame: prologue_spin loops first before its
 * `push %rbp`, then between the push and `mov %rsp, %rbp` (its CFI says so,
 * as a compiler's would). Samples there see rbp still pointing at the
 * caller's frame, so the kernel's frame-pointer chain goes from the leaf
 * straight to main, skipping caller_a / caller_b; ember's fp-mode leaf
 * fix-up (profiler/unwind_leaf.h) must restore them. caller_a calls it with
 * 3 times the work of caller_b, so the callers also split 75/25.
 *
 * usage: prologue SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void prologue_spin(unsigned long n);

__asm__(".text\n"
        ".globl prologue_spin\n"
        ".type prologue_spin, @function\n"
        "prologue_spin:\n"
        ".cfi_startproc\n"
        "  mov %rdi, %rcx\n"
        "1: dec %rcx\n" /* not yet pushed: CFA = rsp + 8 */
        "  jnz 1b\n"
        "  push %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_offset %rbp, -16\n"
        "  mov %rdi, %rcx\n"
        "2: dec %rcx\n" /* pushed, rbp not yet set: CFA = rsp + 16 */
        "  jnz 2b\n"
        "  mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "  pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size prologue_spin, .-prologue_spin\n");

__attribute__((noinline)) void caller_a(void)
{
	prologue_spin(300000);
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void caller_b(void)
{
	prologue_spin(100000);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long rounds = 0;
	do {
		caller_a();
		caller_b();
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	printf("prologue: rounds=%lu\n", rounds);
	return 0;
}
