#!/usr/bin/env python3
"""bench/smoke_test.py BUILD_DIR — the test suite's check that bench/run
still works: runs `bench/run --smoke` against BUILD_DIR and checks that it
exits 0 and prints well-formed tables (the summary with a row per measure,
the five section tables, cells where numbers belong that parse as numbers).
It never looks at what the numbers are: timings are not asserted in tests.
"""
import importlib.machinery
import importlib.util
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # importing bench/run must leave no __pycache__ in bench/

# measures the summary must hold (prefixes), whatever the machine
SUMMARY = [
    "overhead: slowdown of busy at 99 Hz, fp",
    "overhead: slowdown of busy at 99 Hz, dwarf",
    "agent CPU s, 999 Hz fp: ember record --raw vs perf record",
    "agent CPU s, 999 Hz fp: ember serve vs perf record",
    "agent CPU s, 999 Hz fp, end to end: ember record vs perf record + report",
    "agent CPU s, 999 Hz dwarf, end to end: ember record vs perf record + report",
    "agent CPU s, 999 Hz dwarf: ember serve vs perf record + report",
    "peak RSS MiB, fp: ember record vs perf record",
    "peak RSS MiB, dwarf: ember record vs perf record",
    "symbolize: addresses/s, ember addr2line vs llvm-symbolizer",
    "agent CPU s, -a 999 Hz: ember record -a --raw vs perf record -a -g",
    "agent CPU s, dwarf end to end, split_nofp",
    "DWARF unwinder alone",
    "scale: agent CPU s at",
    "accuracy: max error vs 50/30/20, points, fp",
    "accuracy: max error vs 50/30/20, points, dwarf",
]
SECTIONS = ["### 1. Overhead", "### 2. Agent cost", "### 2b. The record and dwarf",
            "### 3. Symbolization", "### 4. Scale",
            "### 5. Accuracy"]
NUMBER = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?(%|x)?( \([0-9.]+%\))?$")


def fail(msg, out=""):
    print("FAIL: " + msg)
    if out:
        print("---- output ----\n" + out[-6000:])
    sys.exit(1)


def tables(text):
    """Every markdown table in text: a list of rows (lists of cells), header
    first, separator dropped; fails on a ragged or separator-less table."""
    found, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append(line)
            continue
        if cur:
            if len(cur) < 3 or not re.fullmatch(r"\|( --- \|)+", cur[1]):
                fail("table without header, separator and a row:\n" + "\n".join(cur))
            rows = [[c.strip() for c in r.strip().strip("|").split("|")]
                    for r in [cur[0]] + cur[2:]]
            if any(len(r) != len(rows[0]) for r in rows):
                fail("ragged table:\n" + "\n".join(cur))
            found.append(rows)
            cur = []
    return found


def check_fix_perf_data():
    """bench/run's repair of perf.data files: an MMAP2 record whose build-id
    flag is set over a device-number body (length byte 254) loses the flag;
    a real build-id record (length 20) and other records are left alone."""
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(HERE, "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)

    def mmap2(misc, byte40):
        body = struct.pack("<IIQQQ", 1, 1, 0x1000, 0x1000, 0) + bytes([byte40]) + bytes(31) \
            + b"/bin/x\0\0"
        return struct.pack("<IHH", 10, misc, 8 + len(body)) + body
    recs = [mmap2(0x4002, 254), mmap2(0x4002, 20), mmap2(0x0002, 254),
            struct.pack("<IHH", 3, 0, 16) + bytes(8)]   # a COMM-sized other record
    data = b"".join(recs)
    # perf_file_header: magic, size, attr_size, attrs {offset, size}, data {offset, size}
    head = b"PERFILE2" + struct.pack("<QQQQQQ", 104, 0, 0, 0, 104, len(data))
    head += bytes(104 - len(head))
    with tempfile.NamedTemporaryFile(suffix=".data") as f:
        f.write(head + data)
        f.flush()
        if mod.fix_perf_data(f.name) != 1:
            fail("fix_perf_data did not fix exactly the one bad record")
        out = open(f.name, "rb").read()[104:]
    miscs, p = [], 0
    while p < len(out):
        _, misc, size = struct.unpack_from("<IHH", out, p)
        miscs.append(misc)
        p += size
    if miscs != [0x0002, 0x4002, 0x0002, 0]:
        fail(f"fix_perf_data left misc fields {[hex(m) for m in miscs]}")


def main():
    check_fix_perf_data()
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    p = subprocess.run([os.path.join(HERE, "run"), "--smoke", "--no-build", "--build", build],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"bench/run --smoke exited {p.returncode}", p.stdout + p.stderr)
    out = p.stdout
    for s in SECTIONS:
        if s not in out:
            fail(f"section {s!r} missing", out)
    all_tables = tables(out)
    if len(all_tables) < 8:   # summary, 1, 2, 2b, 3 (or a note), 4 (three axes), 5
        fail(f"only {len(all_tables)} tables", out)
    summ = all_tables[0]
    if summ[0] != ["measure", "ember", "peer", "ember/peer", "bar", "verdict"]:
        fail(f"summary header is {summ[0]}", out)
    for want in SUMMARY:
        rows = [r for r in summ[1:] if r[0].startswith(want)]
        if not rows:
            fail(f"summary has no row {want!r}", out)
        for r in rows:
            if r[1] == "n/a" and r[5].startswith("n/a ("):
                continue   # another script missing or failed; the verdict says why
            if r[0].startswith(("symbolize", "DWARF")) and r[1] == "n/a":
                continue
            if not NUMBER.match(r[1]):
                fail(f"summary row {r[0]!r}: ember cell {r[1]!r} is not a number", out)
    # every section table: each body cell of the first data column after the
    # name is a number (or the documented markers)
    for t in all_tables[1:]:
        for r in t[1:]:
            for c in r[1:]:
                if t[0][-1] == "note" and c == r[-1]:
                    continue   # free text
                if c and c not in ("-", "n/a", "missing") and not NUMBER.match(c) \
                        and not re.match(r"^[+-][0-9.]+%\.\.[+-][0-9.]+%$", c):
                    fail(f"cell {c!r} in row {r} is not a number", out)
    print(f"ok: {len(all_tables)} well-formed tables, {len(summ) - 1} summary rows")


if __name__ == "__main__":
    main()
