"""tests/workloads/python/split.py — a CPython workload whose CPU split is
known by construction: alpha_burn, beta_burn and gamma_burn run 5, 3 and 2
units of the same loop in turn (50/30/20 %), each calling the small
function work. Run with `-X perf` (CPython 3.12+), each Python function
gets a perf trampoline named py::NAME in /tmp/perf-PID.map.

usage: python3 -X perf split.py SECONDS"""
import sys
import time

UNIT = 2000


def work(x):
    return (x * 1103515245 + 12345) & 0xFFFFFFFF


def alpha_burn(n):
    s = 0
    for _ in range(n):
        s = work(s)
    return s


def beta_burn(n):
    s = 0
    for _ in range(n):
        s = work(s)
    return s


def gamma_burn(n):
    s = 0
    for _ in range(n):
        s = work(s)
    return s


def main():
    end = time.monotonic() + float(sys.argv[1])
    rounds = 0
    while time.monotonic() < end:
        alpha_burn(5 * UNIT)
        beta_burn(3 * UNIT)
        gamma_burn(2 * UNIT)
        rounds += 1
    print("pysplit: rounds=%d" % rounds)


main()
