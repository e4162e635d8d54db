#!/usr/bin/env python3
"""bench/fidelity_model.py — how often counting noise alone fails a run of
the fidelity test (tests/profiler/fidelity.py), from a model of ember's
random sampling judged by the test's own bars (fidelity_bars.py).

The model, per window of 2 s and per thread of the split workload (rounds
of ROUND ms of CPU, 50/30/20 by construction), on the thread's CPU clock:
a period is drawn every ~DRAW ms (uniform in 0.9-1.3 of it: the changer
thread's pace and the drains), from rates uniform in [F/2, 3F/2]; the
first sample of a draw comes one period after the change (the kernel
restarts its timer), the next ones a period apart; each sample counts for
the phase of the round it lands on. --fixed keeps 1/F throughout, with no
restarts.

It prints, over RUNS runs of 12 windows: the share of runs each bar
fails, the chi-square ratio's median, 99th percentile and largest, and
the largest window error in standard deviations of counting noise.

usage: bench/fidelity_model.py [--round-ms 10.10101] [--rate 99]
         [--draw-ms 100] [--runs 10000] [--seed 1] [--fixed]
"""
import argparse
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "profiler"))
from fidelity_bars import SD_MAX, SD_TOL, judge  # noqa: E402

SHARES = {"split_a": 0.50, "split_b": 0.30, "split_c": 0.20}


def window(rng, a, threads=2, length_ms=2000.0):
    cycle = a.round_ms
    edges = [0.5 * cycle, 0.8 * cycle]
    counts = dict.fromkeys(SHARES, 0)
    for _ in range(threads):
        phase0 = rng.uniform(0, cycle)
        t, s = 0.0, 1000.0 / a.rate
        while t < length_ms:
            period = 1000.0 / (a.rate if a.fixed else rng.uniform(a.rate / 2, 1.5 * a.rate))
            stands = a.draw_ms * rng.uniform(0.9, 1.3)
            if not a.fixed:
                s = t + period   # the change restarts the timer
            while s < min(t + stands, length_ms):
                ph = (phase0 + s) % cycle
                counts["split_a" if ph < edges[0] else "split_b" if ph < edges[1]
                       else "split_c"] += 1
                s += period
            t += stands
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--round-ms", type=float, default=1000 / 99)
    p.add_argument("--rate", type=float, default=99)
    p.add_argument("--draw-ms", type=float, default=100)
    p.add_argument("--runs", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fixed", action="store_true")
    a = p.parse_args()
    rng = random.Random(a.seed)
    fails, ratios, worst = {}, [], []
    for _ in range(a.runs):
        wins = [("w%d" % i, window(rng, a)) for i in range(12)]
        why, _, ratio = judge(wins, SHARES, "fixed" if a.fixed else "random")
        ratios.append(ratio)
        sd = 0.0
        for _, c in wins:
            n = sum(c.values())
            for fn, share in SHARES.items():
                sd = max(sd, abs(c[fn] / n - share) / math.sqrt(share * (1 - share) / n))
        worst.append(sd)
        if why:
            key = why.split(":")[0].split(" (")[0]
            fails[key] = fails.get(key, 0) + 1
    ratios.sort()
    worst.sort()
    print("model: rounds of %g ms, %g Hz %s, a draw every ~%g ms, %d runs of 12 windows"
          % (a.round_ms, a.rate, "fixed" if a.fixed else "random", a.draw_ms, a.runs))
    print("runs failed: %d (%.3f %%) %s" % (sum(fails.values()),
                                           100.0 * sum(fails.values()) / a.runs, fails))
    print("chi-square / quantile: median %.2f, 99th percentile %.2f, largest %.2f"
          % (ratios[len(ratios) // 2], ratios[int(0.99 * len(ratios))], ratios[-1]))
    print("largest window error (SD of counting noise; bars %g and %g): median %.2f, "
          "99th percentile %.2f, largest %.2f" % (SD_TOL, SD_MAX, worst[len(worst) // 2],
                                                   worst[int(0.99 * len(worst))], worst[-1]))


if __name__ == "__main__":
    main()
