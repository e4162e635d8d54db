"""The bars of the fidelity test (fidelity.py), in one place: the test
judges serve's windows with them, and bench/fidelity_model.py judges a
model of the sampler with them to find how often counting noise alone
fails a run.

A window's share may be off by 7 points (issue 14's bar), or by SD_TOL
standard deviations of counting noise when 7 points are fewer than that:
at 99 Hz a window of 2 threads holds ~396 samples on an idle machine
(split_a's noise 2.5 points: 7 points is 2.8 of them), and a loaded
machine gives the workload less CPU and the windows fewer samples (150:
4.1 points). Counting noise alone puts a share of one window in 12 beyond
3.5 SD in ~1.5 % of runs (33 shares), and two windows in ~1e-4; a period
drawn near the workload's cycle clumps its ~10 samples on one phase, which
fattens the tail a little. So one window may be beyond SD_TOL, none
beyond SD_MAX: aliasing shows in many windows and in the chi-square, not
in one.

Random: the chi-square of all windows' counts below CHI2_MAX_RATIO times
its 99.9 % quantile. Fixed at resonance: above FIXED_MIN_RATIO times it
(with 20-24 degrees of freedom noise alone gets there with p < 1e-4).
"""
import math

SD_TOL = 3.5
SD_MAX = 5.0
CHI2_MAX_RATIO = 1.5
FIXED_MIN_RATIO = 3


def chi2_quantile(k, z=3.09):
    """Wilson-Hilferty: the chi-square(k) quantile at the normal quantile z
    (3.09: 99.9 %)."""
    return k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3


def judge(windows, shares, sampling):
    """windows: [(name, {function: samples})]; shares: {function: truth}.
    -> (why or None, report lines, chi-square / quantile). Windows of fewer
    than 10 samples are left out; at least 10 must be left."""
    lines, worst, chi2, k = [], [], 0.0, 0
    for name, c in windows:
        n = sum(c.values())
        if n < 10:
            lines.append("%s: %d samples, left out" % (name, n))
            continue
        row = []
        for fn, p in shares.items():
            share = 100.0 * c[fn] / n
            sd = 100.0 * math.sqrt(p * (1 - p) / n)
            tol = max(7.0, SD_TOL * sd)
            row.append("%s %.1f (+-%.1f)" % (fn, share, tol))
            worst.append((abs(share - 100 * p) / tol, name, fn, share, tol,
                          abs(share - 100 * p) / sd))
            chi2 += (c[fn] - n * p) ** 2 / (n * p)
        k += len(shares) - 1
        lines.append("%s: %4d samples  %s" % (name, n, "  ".join(row)))
    usable = k // (len(shares) - 1)
    if usable < 10:
        return "only %d usable windows" % usable, lines, 0.0
    q = chi2_quantile(k)
    lines.append("chi-square %.1f over %d windows; 99.9%% quantile of counting noise %.1f "
                 "(ratio %.2f)" % (chi2, usable, q, chi2 / q))
    if sampling == "fixed":
        if chi2 <= FIXED_MIN_RATIO * q:
            return ("fixed sampling no longer aliases with the workload (chi-square %.1f)"
                    % chi2, lines, chi2 / q)
        return None, lines, chi2 / q
    bad = [x for x in worst if x[0] > 1]
    if len({x[1] for x in bad}) > 1:
        return "windows off the truth: %s" % bad, lines, chi2 / q
    if any(x[5] > SD_MAX for x in worst):
        return ("a window %g SD off: %s" % (SD_MAX, [x for x in worst if x[5] > SD_MAX]),
                lines, chi2 / q)
    if chi2 >= CHI2_MAX_RATIO * q:
        return ("the windows err more than counting noise (chi-square %.1f): aliasing?" % chi2,
                lines, chi2 / q)
    return None, lines, chi2 / q
