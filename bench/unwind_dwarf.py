#!/usr/bin/env python3
"""bench/unwind_dwarf.py — `--call-graph dwarf` against perf, in one run.

1. End to end, total CPU of all processes: `ember record --call-graph dwarf`
   (which symbolizes at the end) vs `perf record --call-graph dwarf` followed
   by `perf report --stdio`, both at the same frequency on the same workload
   built without frame pointers (tests/unwind's split_nofp) for the same
   wall time. Rounds alternate ember and perf; medians are reported. The
   profiler's cost is the CPU of the whole process tree minus what the
   workload itself reports (split prints its own getrusage CPU).
2. The unwinder alone: bench/unwind_rate captures real samples of the same
   workload and unwinds them repeatedly (samples per second per core).

Each round also runs `ember record --raw` (no symbolization) to separate
the profiling cost from the symbolizer's. ember keeps the core kernel's
symbols per boot (EMBER_CACHE_DIR): the compared figure is a cold start
(an empty cache directory every run); a third ember run per round reuses a
filled one, as every run after the first on a machine does.

It rewrites its section of bench/README.md (between the unwind_dwarf
markers) with the table of this run, unless --no-readme.

usage: bench/unwind_dwarf.py [BUILD_DIR] [--rounds N] [--seconds S] [--freq HZ]
                             [--no-symbolize] [--no-readme]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def run_tree(argv, stdout=subprocess.DEVNULL, stderr=None, env=None):
    """Runs argv; returns (CPU seconds of it and all its waited-for
    descendants, captured stdout text or None). stderr: a file to send the
    command's stderr to; env: variables to add."""
    out = tempfile.TemporaryFile() if stdout is None else None
    pid = os.fork()
    if pid == 0:
        try:
            os.environ.update(env or {})
            if stderr is not None:
                os.dup2(stderr.fileno(), 2)
            if out is not None:
                os.dup2(out.fileno(), 1)
            else:
                fd = os.open(os.devnull, os.O_WRONLY)
                os.dup2(fd, 1)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {os.waitstatus_to_exitcode(status)}")
    text = None
    if out is not None:
        out.seek(0)
        text = out.read().decode(errors="replace")
    return ru.ru_utime + ru.ru_stime, text


def workload_cpu(text):
    m = re.search(r"split: ops=\d+ cpu=([0-9.]+)", text or "")
    if not m:
        raise RuntimeError("workload did not report its CPU: " + repr(text))
    return float(m.group(1))


def write_readme(args, table, rate, last):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    begin, end = "<!-- unwind_dwarf:begin -->", "<!-- unwind_dwarf:end -->"
    body = "\n".join([
        f"{args.rounds} rounds of {args.seconds:g} s of split_nofp (2 threads) at "
        f"{args.freq} Hz, `uname -r` {os.uname().release}:", ""] + table + [
        "", f"Unwinder alone: **{rate:.0f} samples/s per core** (median of "
        f"{args.rounds} captures); last capture: `{last}`"])
    section = begin + "\n" + body + "\n" + end
    text = open(path).read() if os.path.exists(path) else "# ember benchmarks\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text,
                      flags=re.S)
    else:
        text += "\n## --call-graph dwarf (bench/unwind_dwarf.py)\n\n" + section + "\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print("wrote bench/README.md", file=sys.stderr)


def ember_record(ember, args, extra, out, work, cache):
    """CPU of `ember record` minus the workload's own, and its sample count.
    cache: the EMBER_CACHE_DIR to use (an empty directory: a cold start)."""
    with tempfile.TemporaryFile() as err:
        cpu, text = run_tree([ember, "record", "-F", str(args.freq), "--call-graph", "dwarf"]
                             + extra + ["-o", out, "--"] + work, stdout=None, stderr=err,
                             env={"EMBER_CACHE_DIR": cache})
        err.seek(0)
        m = re.search(r"ember record: (\d+) samples", err.read().decode())
    return cpu - workload_cpu(text), int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--freq", type=int, default=999)
    ap.add_argument("--no-symbolize", action="store_true",
                    help="only ember record --raw (for builds without the symbolizer)")
    ap.add_argument("--no-readme", action="store_true", help="only print the results")
    args = ap.parse_args()
    b = os.path.abspath(args.build)
    ember = os.path.join(b, "cli", "ember")
    work = [os.path.join(b, "tests", "unwind", "split_nofp"), str(args.seconds), "2"]
    rate = os.path.join(b, "bench", "unwind_rate")
    perf = shutil.which("perf")
    tmp = tempfile.mkdtemp(prefix="ember-bench-dwarf-")
    rows = {"ember_raw": [], "ember": [], "ember_warm": [], "perf_record": [], "perf_total": []}
    samples = {"ember_raw": [], "ember": [], "ember_warm": [], "perf": []}
    # ember keeps the core kernel's symbols per boot (EMBER_CACHE_DIR): the
    # bar's figure is a cold start (a new empty directory every run, as perf
    # -N keeps no cache either); "cached" runs reuse one directory, filled by
    # a short run first, as every run after the first on a machine does.
    warm = os.path.join(tmp, "cache-warm")
    try:
        if not args.no_symbolize:
            # split_nofp's syscalls give the profile kernel frames, so the
            # cache gets written; checked, as the cached row must not be cold
            for _ in range(3):
                ember_record(ember, args, [], os.path.join(tmp, "prime.pb.gz"),
                             work[:1] + ["0.3", "1"], warm)
                if os.path.exists(os.path.join(warm, "kallsyms")):
                    break
            else:
                raise RuntimeError("the kernel symbol cache was not written (not root?)")
        for r in range(args.rounds):
            out = os.path.join(tmp, "ember.pb.gz")
            cpu, n = ember_record(ember, args, ["--raw"], out, work,
                                  os.path.join(tmp, f"cache-raw-{r}"))
            rows["ember_raw"].append(cpu)
            samples["ember_raw"].append(n)
            if not args.no_symbolize:
                cpu, n = ember_record(ember, args, [], out, work, os.path.join(tmp, f"cache-{r}"))
                rows["ember"].append(cpu)
                samples["ember"].append(n)
                cpu, n = ember_record(ember, args, [], out, work, warm)
                rows["ember_warm"].append(cpu)
                samples["ember_warm"].append(n)
            # perf: record, then report. --buildid-mmap: build ids in the
            # MMAP2 records, as ember asks for. Without it perf 6.1 aborts
            # (util/build-id.c:1010) whenever another build-id event is live
            # on the machine (e.g. any ember): the kernel then flags every
            # listener's MMAP2 records as carrying a build id. -N: no
            # ~/.debug cache (ember keeps none).
            data = os.path.join(tmp, "perf.data")
            cpu_rec, text = run_tree([perf, "record", "-q", "-N", "--buildid-mmap", "-F",
                                      str(args.freq), "-g", "--call-graph", "dwarf", "-o", data,
                                      "--"] + work, stdout=None)
            cpu_rep, _ = run_tree([perf, "report", "--stdio", "-i", data])
            prof = cpu_rec - workload_cpu(text)
            rows["perf_record"].append(prof)
            rows["perf_total"].append(prof + cpu_rep)
            n = subprocess.run([perf, "script", "-i", data, "-F", "ip"], capture_output=True,
                               text=True).stdout.count("\n\n")
            samples["perf"].append(n)
            nan = float("nan")
            print(f"round {r + 1}: ember --raw {rows['ember_raw'][-1]:.3f}s, ember "
                  f"{rows['ember'][-1] if rows['ember'] else nan:.3f}s (cached "
                  f"{rows['ember_warm'][-1] if rows['ember_warm'] else nan:.3f}s), perf record "
                  f"{prof:.3f}s + report {cpu_rep:.3f}s", file=sys.stderr)
        m = {k: statistics.median(v) for k, v in rows.items() if v}
        ns = {k: statistics.median(v) for k, v in samples.items() if v}
        print(f"end to end, {args.rounds} rounds, {args.seconds:g} s of split_nofp (2 threads) "
              f"at {args.freq} Hz; profiler CPU seconds (medians), samples, us per sample:")

        table = ["| | CPU s (median) | samples | us / sample | / perf total |",
                 "| --- | --- | --- | --- | --- |"]

        def row(label, key, nkey):
            per = m[key] / max(ns[nkey], 1) * 1e6
            print(f"  {label:66s} {m[key]:7.3f} s  {ns[nkey]:6.0f}  {per:7.1f} us"
                  f"  ratio to perf total {m[key] / m['perf_total']:.3f}")
            table.append(f"| {label} | {m[key]:.3f} | {ns[nkey]:.0f} | {per:.1f} | "
                         f"{m[key] / m['perf_total']:.2f}x |")
        row("ember record --call-graph dwarf --raw", "ember_raw", "ember_raw")
        if "ember" in m:
            row("ember record --call-graph dwarf (+symbolize)", "ember", "ember")
            row("ember record --call-graph dwarf (+symbolize, kernel symbols cached)",
                "ember_warm", "ember_warm")
        row("perf record --call-graph dwarf", "perf_record", "perf")
        row("perf record + perf report --stdio", "perf_total", "perf")
        # the unwinder alone
        rates = []
        for r in range(args.rounds):
            text = subprocess.run([rate, "-n", "2000", "-r", "20", "--"] + work,
                                  capture_output=True, text=True, check=True).stdout
            rates.append(text.strip().splitlines()[-1])
        vals = [float(re.search(r"samples_per_sec_core=([0-9.]+)", t).group(1)) for t in rates]
        print(f"unwinder alone (bench/unwind_rate, {args.rounds} captures of <=2000 samples, "
              f"20 passes each): median {statistics.median(vals):.0f} samples/s per core")
        print("  last capture: " + rates[-1])
        if not args.no_readme:
            write_readme(args, table, statistics.median(vals), rates[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
