"""Helpers of the `ember record` end-to-end tests: run ember, read the
profile back with `go tool pprof -raw` (the reference reader), and map
sample addresses to the split workload's functions with its ELF symbol
table (nm) and program headers (readelf), accounting for the PIE load
address through each Mapping's start and file offset."""
import os
import re
import subprocess
import tempfile

EMBER = os.environ["EMBER"]
SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]
SHARES = {"split_a": 0.50, "split_b": 0.30, "split_c": 0.20}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def pprof_raw(path, tmp):
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"),
               PPROF_TMPDIR=tmp, PPROF_BINARY_PATH="/nonexistent")
    out = run(["go", "tool", "pprof", "-raw", "-symbolize=none", path], env=env)
    assert out.returncode == 0, "go tool pprof failed: " + out.stderr
    return parse_raw(out.stdout)


def parse_raw(text):
    """-> dict(samples=[(count, ns, [loc ids], labels)], locations={id: (addr, mapping)},
    mappings={id: (start, limit, offset, file, build_id)}, period=int)"""
    prof = {"samples": [], "locations": {}, "mappings": {}, "period": None}
    section = None
    for line in text.splitlines():
        if line.startswith("Period:"):
            prof["period"] = int(line.split()[1])
            continue
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            m = re.match(r"^\s+(\d+)\s+(\d+):((?:\s+\d+)*)\s*$", line)
            if m:
                prof["samples"].append([int(m.group(1)), int(m.group(2)),
                                        [int(x) for x in m.group(3).split()], {}])
            elif prof["samples"] and ":[" in line:
                for k, v in re.findall(r"(\w+):\[([^\]]*)\]", line):
                    prof["samples"][-1][3][k] = v
        elif section == "Locations":
            m = re.match(r"^\s*(\d+): 0x([0-9a-f]+)(?: M=(\d+))?", line)
            if m:
                prof["locations"][int(m.group(1))] = (int(m.group(2), 16),
                                                      int(m.group(3) or 0))
        elif section == "Mappings":
            m = re.match(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S+)\s*([0-9a-f]*)",
                         line)
            if m:
                prof["mappings"][int(m.group(1))] = (
                    int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16),
                    m.group(5), m.group(6))
    return prof


def elf_symbols(binary):
    """{name: (start, end)} of the split functions in ELF virtual addresses,
    and the bias (p_vaddr - p_offset) of the executable PT_LOAD."""
    syms = {}
    for line in run(["nm", "-S", "--defined-only", binary]).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in SHARES:
            syms[parts[3]] = (int(parts[0], 16), int(parts[0], 16) + int(parts[1], 16))
    assert set(syms) == set(SHARES), syms
    bias = None
    for line in run(["readelf", "-lW", binary]).stdout.splitlines():
        p = line.split()
        if p and p[0] == "LOAD" and "E" in p[6:-1]:
            bias = int(p[2], 16) - int(p[1], 16)
    assert bias is not None
    return syms, bias


def build_id(binary):
    out = run(["readelf", "-n", binary]).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else ""


def split_counts(prof, pid=None):
    """Samples per split function (the innermost split_* frame of each
    stack), and the number of samples considered. The per-function figures
    are cpu/nanoseconds expressed in samples (ns / the mean ns a sample):
    random periods keep a draw for a while, so raw counts of a short run can
    skew where the weights do not, and the noise of a share still goes with
    the number of samples."""
    syms, bias = elf_symbols(SPLIT)
    counts = {k: 0 for k in SHARES}
    total = 0
    total_ns = 0
    real = os.path.realpath(SPLIT)
    for count, ns, locs, labels in prof["samples"]:
        if pid is not None and labels.get("pid") != str(pid):
            continue
        total += count
        total_ns += ns
        for lid in locs:
            addr, mid = prof["locations"][lid]
            if mid not in prof["mappings"]:
                continue
            start, _limit, off, fname, _bid = prof["mappings"][mid]
            if os.path.realpath(fname) != real:
                continue
            vaddr = addr - start + off + bias
            hit = [k for k, (lo, hi) in syms.items() if lo <= vaddr < hi]
            if hit:
                counts[hit[0]] += ns
                break
    per = total_ns / total if total and total_ns else 1
    return {k: v / per for k, v in counts.items()}, total


def check_shares(counts, total, tol=0.04, min_attributed=0.9):
    attributed = sum(counts.values())
    assert total > 0, "no samples of the workload"
    assert attributed >= min_attributed * total, (
        "only %d of %d samples have a split_* frame" % (attributed, total))
    for k, want in SHARES.items():
        got = counts[k] / attributed
        # tol, or 4 standard deviations of the counting noise when wider
        t = max(tol, 4 * (want * (1 - want) / attributed) ** 0.5)
        assert abs(got - want) <= t, "%s: %.3f of samples, want %.2f +- %.3f (%s)" % (
            k, got, want, t, counts)


def only_workload(prof, pids):
    """Asserts every sample carries one of the workload's pids. The events
    follow the target's tasks and their descendants only, and split starts
    no process (its sanitizer leak check, which would, is off), so any other
    pid is a sample labelled with the wrong process."""
    pids = {str(p) for p in ([pids] if isinstance(pids, int) else pids)}
    total = sum(s[0] for s in prof["samples"])
    others = {}
    for s in prof["samples"]:
        if s[3].get("pid") not in pids:
            key = (s[3].get("pid"), s[3].get("tid"), s[3].get("comm"))
            others[key] = others.get(key, 0) + s[0]
    assert total and not others, (
        "%d samples, %d not of pids %s: (pid, tid, comm) %s"
        % (total, sum(others.values()), sorted(pids), others))


def start_split(seconds, threads=2):
    return subprocess.Popen([SPLIT, str(seconds), str(threads)], stdout=subprocess.PIPE,
                            text=True)


def wait_running(proc, threads=2, timeout=5.0):
    """Waits until the workload's threads exist."""
    import time
    end = time.time() + timeout
    while time.time() < end:
        try:
            if len(os.listdir("/proc/%d/task" % proc.pid)) >= threads:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError("workload did not start")
