"""tests/unwind/dwarf_e2e.py — `ember record --call-graph dwarf --raw` end to
end, judged with the binaries' own symbol tables (rawprof.py), not ember's
symbolizer. One scenario per run:

  split      the known-split workload built with -fomit-frame-pointer
             (split_nofp, 2 threads): split_a/b/c shares 50/30/20 within
             +-3 points, and >= 95% of stacks reach main or the thread entry
             (worker, called by start_thread) without a [truncated] marker.
  fp_broken  the same binary in frame-pointer mode: the kernel's callchain
             cannot walk code without frame pointers, so stacks stop at the
             leaf and almost none reach main or the thread entry. This is why
             dwarf mode exists; the test fails if fp mode ever stops being
             broken here (then this workload no longer shows the point).
  dlopen     a no-frame-pointer library dlopen'd after recording started
             (dlopen_spin + deep_lib.so): >= 95% of its samples unwind through
             deep_leaf, deep_mid, deep_enter to main.
  recursion  a recursion far deeper than the 32 KiB stack copy: stacks end
             in [truncated] after recurse_down frames only, no garbage, and
             record's summary counts them as stack_too_small.

usage: dwarf_e2e.py SCENARIO   (env: EMBER, EMBER_UNWIND_BUILD)
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawprof  # noqa: E402

EMBER = os.environ["EMBER"]
BUILD = os.environ["EMBER_UNWIND_BUILD"]


last_summary = ""


def record(tmp, mode, cmd, freq=499):
    global last_summary
    out = os.path.join(tmp, "raw.pb.gz")
    p = subprocess.run([EMBER, "record", "-F", str(freq), "--call-graph", mode, "--raw",
                        "-o", out, "--"] + cmd, capture_output=True, text=True, timeout=60)
    sys.stderr.write(p.stderr)
    assert p.returncode == 0, f"ember record exited {p.returncode}"
    last_summary = p.stderr
    return rawprof.stacks(out)


def show(stacks, n=8):
    agg = {}
    for c, f in stacks:
        k = ";".join(reversed(f))
        agg[k] = agg.get(k, 0) + c
    for k, c in sorted(agg.items(), key=lambda kv: -kv[1])[:n]:
        print(f"  {c:6d} {k}")


def user_frames(frames):
    """The user part of a stack (the kernel's frames sit at the leaf end)."""
    return [f for f in frames if not f.startswith("[kernel")]


def reaches_root(frames):
    fr = user_frames(frames)
    if "[truncated]" in fr:
        return False
    return "main" in fr or "start_thread" in fr or "worker" in fr


def split_counts(stacks):
    counts = {"split_a": 0, "split_b": 0, "split_c": 0}
    total = rooted = 0
    for c, frames in stacks:
        total += c
        rooted += c if reaches_root(frames) else 0
        for f in frames:
            if f in counts:
                counts[f] += c
                break
    return counts, total, rooted


def scenario_split(tmp):
    # split runs for wall time, so a busy machine gives it fewer samples;
    # +-3 points needs ~1500 (binomial sd of a 50% share at n=1500: 1.3
    # points), so record again while there are fewer (at most 4 runs of 4 s;
    # an idle machine gives ~8000 in the first)
    stacks = []
    for _ in range(4):
        stacks += record(tmp, "dwarf", [os.path.join(BUILD, "split_nofp"), "4", "2"], freq=999)
        if sum(c for c, _ in stacks) >= 1500:
            break
    show(stacks)
    counts, total, rooted = split_counts(stacks)
    n = sum(counts.values())
    print(f"samples {total}, in split_a/b/c {n}, reaching main/thread entry {rooted}")
    assert total >= 1500, "too few samples to judge shares within +-3 points"
    assert n >= 0.9 * total, "most samples should be under split_a/b/c"
    for name, want in (("split_a", 50), ("split_b", 30), ("split_c", 20)):
        share = 100.0 * counts[name] / n
        # 3 points, or 4 standard deviations of counting noise when wider
        tol = max(3.0, 400.0 * (want / 100 * (1 - want / 100) / n) ** 0.5)
        print(f"  {name}: {share:.1f}% (want {want} +-{tol:.1f})")
        assert abs(share - want) <= tol, f"{name} share {share:.1f}% not {want}+-{tol:.1f}"
    assert rooted >= 0.95 * total, f"only {100.0 * rooted / total:.1f}% of stacks reach the root"


def scenario_fp_broken(tmp):
    stacks = record(tmp, "fp", [os.path.join(BUILD, "split_nofp"), "2", "2"], freq=999)
    show(stacks)
    counts, total, rooted = split_counts(stacks)
    n = sum(counts.values())
    print(f"fp mode: samples {total}, attributed to split_a/b/c {n}, reaching the root {rooted}")
    assert total >= 200, "too few samples"
    # without frame pointers the kernel walk stops at (or soon after) the leaf
    assert rooted <= 0.2 * total, "fp mode unexpectedly unwinds -fomit-frame-pointer code"
    assert n <= 0.5 * total, "fp mode unexpectedly finds split_a/b/c"


def scenario_dlopen(tmp):
    lib = os.path.join(BUILD, "libdeep_lib.so")
    stacks = record(tmp, "dwarf", [os.path.join(BUILD, "dlopen_spin"), lib, "1.5", "0.4"])
    show(stacks)
    spin = good = 0
    want = ["dlspin_work", "deep_leaf", "deep_mid", "deep_enter", "main"]
    for c, frames in stacks:
        fr = user_frames(frames)
        if "dlspin_work" not in fr:
            continue
        spin += c
        i = fr.index("dlspin_work")
        chain = [f for f in fr[i:] if f in want]
        if chain == want and "[truncated]" not in fr:
            good += c
    print(f"samples in dlspin_work {spin}, complete through deep_lib {good}")
    assert spin >= 300, "too few samples in the dlopen'd library"
    assert good >= 0.95 * spin, f"only {100.0 * good / spin:.1f}% unwound through the library"


def scenario_recursion(tmp):
    stacks = record(tmp, "dwarf", [os.path.join(BUILD, "recurse"), "1.5", "4000"])
    show(stacks, 3)
    spin = truncated = clean = 0
    depths = []
    for c, frames in stacks:
        fr = user_frames(frames)
        if "recurse_spin" not in fr:
            continue
        spin += c
        i = fr.index("recurse_spin")
        rest = fr[i + 1:]
        if rest and rest[-1] == "[truncated]":
            truncated += c
            body = rest[:-1]
            if body and all(f == "recurse_down" for f in body):
                clean += c
                depths.append(len(body))
    print(f"samples in recurse_spin {spin}, ending [truncated] {truncated}, "
          f"clean recurse_down chains {clean}, depth {min(depths or [0])}..{max(depths or [0])}")
    assert spin >= 300, "too few samples"
    assert truncated >= 0.99 * spin, "deep stacks must end in [truncated]"
    assert clean >= 0.99 * spin, "frames before [truncated] must all be recurse_down"
    # ~32 KiB of copy over ~240-byte frames: about 130 frames, well short of 4000
    assert min(depths) >= 60 and max(depths) < 1000, depths
    # the summary counts the failures by reason
    m = re.search(r"unwind errors \(.*stack_too_small (\d+)", last_summary)
    assert m and int(m.group(1)) >= 0.99 * spin, last_summary


def main():
    scenario = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        globals()["scenario_" + scenario](tmp)
    print("ok")


if __name__ == "__main__":
    main()
