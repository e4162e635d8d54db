#!/bin/bash
# bench/symbolize.sh — `ember addr2line -f -i -C` against llvm-symbolizer,
# eu-addr2line -f -i and binutils addr2line -f -i on the same random
# addresses of a large real -O2 -g binary with heavy inlining: the SQLite
# amalgamation (sqlite3.c from the better-sqlite3 npm package, fetched at
# bench time with `npm pack`; nothing downloaded is committed) compiled with a
# small main. Reports addresses/s, peak RSS and agreement with binutils on
# the innermost frame (function and file:line), medians of RUNS runs, and
# writes them into bench/README.md between the symbolize markers.
#
# usage: bench/symbolize.sh [BUILDDIR]   (default build; env: N=20000
#        addresses, RUNS=3, EU_N=400 addresses for eu-addr2line (it is very
#        slow; its rate is measured on that subset), WORK=dir to keep files,
#        NO_README=1 to only print)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
ember="$root/$build/cli/ember"
[ -x "$ember" ] || { echo "symbolize.sh: build ember first ($ember)" >&2; exit 1; }
for t in llvm-symbolizer eu-addr2line addr2line npm gcc; do
  command -v "$t" >/dev/null || { echo "symbolize.sh: $t is not installed (scripts/deps.sh)" >&2; exit 1; }
done
work=${WORK:-$(mktemp -d /tmp/ember-bench-symbolize.XXXXXX)}
mkdir -p "$work"
if [ ! -x "$work/sqlite" ]; then
  (cd "$work" && npm pack better-sqlite3 --silent >/dev/null && tar xzf better-sqlite3-*.tgz)
  src="$work/package/deps/sqlite3"
  [ -f "$src/sqlite3.c" ] || { echo "symbolize.sh: no sqlite3.c in the npm package" >&2; exit 1; }
  cat >"$work/main.c" <<'EOF'
#include <stdio.h>
#include "sqlite3.h"
int main(void)
{
	sqlite3 *db;
	char *err = NULL;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "create table t(a, b); insert into t values (1, 2); select * from t;",
		     NULL, NULL, &err);
	printf("%s\n", sqlite3_libversion());
	sqlite3_close(db);
	return 0;
}
EOF
  echo "symbolize.sh: compiling sqlite3.c with -O2 -g (a minute)..." >&2
  gcc -O2 -g -DSQLITE_THREADSAFE=0 -I "$src" "$src/sqlite3.c" "$work/main.c" -o "$work/sqlite" -lm
fi

N=${N:-20000} RUNS=${RUNS:-3} EU_N=${EU_N:-400} EMBER_BIN=$ember WORK=$work \
  NO_README=${NO_README:-0} README="$root/bench/README.md" python3 - <<'EOF'
import bisect, itertools, os, random, re, statistics, subprocess, sys, time

work, ember = os.environ["WORK"], os.environ["EMBER_BIN"]
N, RUNS, EU_N = int(os.environ["N"]), int(os.environ["RUNS"]), int(os.environ["EU_N"])
binary = os.path.join(work, "sqlite")

# Random addresses inside functions: sized text symbols, uniform over bytes.
funcs = []
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2] in "tTwW" and int(f[1], 16) > 0:
        funcs.append((int(f[0], 16), int(f[1], 16)))
ends = list(itertools.accumulate(s for _, s in funcs))
rng = random.Random(20261125)
addrs = []
for _ in range(N):
    k = rng.randrange(ends[-1])
    i = bisect.bisect_right(ends, k)
    addrs.append(funcs[i][0] + k - (ends[i] - funcs[i][1]))
text = "".join("0x%x\n" % a for a in addrs)
eu_text = "".join("0x%x\n" % a for a in addrs[:EU_N])


def run_tool(cmd, inp):
    """(wall s, CPU s, max RSS KiB, stdout), the child's own rusage via wait4."""
    r_in, w_in = os.pipe()
    out_path = os.path.join(work, "out.txt")
    with open(out_path, "w") as out_f:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.dup2(r_in, 0)
            os.dup2(out_f.fileno(), 1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(w_in)
            os.execvp(cmd[0], cmd)
        os.close(r_in)
        with os.fdopen(w_in, "w") as w:
            w.write(inp)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    with open(out_path) as f:
        return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, f.read()


def innermost_gnu(out):
    """-a -f output (ember, binutils, eu-addr2line): {addr: (function, file:line)}"""
    res, cur, lines = {}, None, []
    for line in out.splitlines() + ["0x" + "0" * 16]:
        if re.fullmatch(r"0x[0-9a-f]{16}", line):
            if cur is not None and len(lines) >= 2:
                # eu-addr2line -i appends " inlined at FILE:LINE in CALLER"
                res[cur] = (re.sub(r" inlined at .* in .*$", "", lines[0]), norm(lines[1]))
            cur, lines = int(line, 16), []
        else:
            lines.append(line)
    return res


def innermost_llvm(out, addrs):
    blocks = [b.splitlines() for b in out.strip("\n").split("\n\n")]
    return {a: (b[0], norm(b[1])) for a, b in zip(addrs, blocks) if len(b) >= 2}


def norm(fl):
    fl = re.sub(r" \(discriminator \d+\)$", "", fl)
    m = re.fullmatch(r"(.*):(\d+|\?):(\d+)", fl)  # llvm / eu add a column
    return "%s:%s" % (m.group(1), m.group(2)) if m else fl


tools = {
    "ember addr2line -f -i -C": (None, [ember, "addr2line", "-a", "-f", "-i", "-C", "-e", binary], text),
    "llvm-symbolizer": (None, ["llvm-symbolizer", "--obj=" + binary], text),
    "binutils addr2line -f -i -C": (None, ["addr2line", "-a", "-f", "-i", "-C", "-e", binary], text),
    "eu-addr2line -f -i -C": (None, ["eu-addr2line", "-a", "-f", "-i", "-C", "-e", binary], eu_text),
}
walls = {k: [] for k in tools}
cpus = {k: [] for k in tools}
rss = {k: [] for k in tools}
outs = {}
for r in range(RUNS):
    for name, (_, cmd, inp) in tools.items():
        w, c, m, out = run_tool(cmd, inp)
        walls[name].append(w)
        cpus[name].append(c)
        rss[name].append(m)
        outs[name] = out

ref = innermost_gnu(outs["binutils addr2line -f -i -C"])
parsed = {
    "ember addr2line -f -i -C": innermost_gnu(outs["ember addr2line -f -i -C"]),
    "llvm-symbolizer": innermost_llvm(outs["llvm-symbolizer"], addrs),
    "binutils addr2line -f -i -C": ref,
    "eu-addr2line -f -i -C": innermost_gnu(outs["eu-addr2line -f -i -C"]),
}
rows = []
rate = {}
cpu_rate = {}
for name in tools:
    n = EU_N if name.startswith("eu-") else N
    med = statistics.median(walls[name])
    rate[name] = n / med
    cpu_rate[name] = n / max(statistics.median(cpus[name]), 1e-3)
    got = parsed[name]
    keys = addrs[:n]
    agree = sum(1 for a in keys if a in got and a in ref and got[a] == ref[a])
    rows.append((name, n, med, rate[name], statistics.median(cpus[name]),
                 statistics.median(rss[name]) / 1024.0, 100.0 * agree / n))
    if not name.startswith("binutils"):
        bad = [a for a in keys if got.get(a) != ref.get(a)]
        for a in bad[:5]:
            print("%s differs at 0x%x: %s, binutils %s" % (name, a, got.get(a), ref.get(a)),
                  file=sys.stderr)

e, l = "ember addr2line -f -i -C", "llvm-symbolizer"
size_mb = os.path.getsize(binary) / 1e6
table = ["| tool | addresses | wall s | addresses/s (wall) | CPU s (user+sys) | peak RSS MiB | innermost frame = binutils |",
         "| --- | --- | --- | --- | --- | --- | --- |"]
for name, n, med, rt, c, m, ag in rows:
    table.append("| %s | %d | %.3f | %.0f | %.3f | %.1f | %.2f%% |" % (name, n, med, rt, c, m, ag))
table.append("")
table.append("(medians of %d runs; each tool's wall and CPU time include its start-up and indexing)" % RUNS)
ratio = rate[e] / rate[l]
summary = ("**ember / llvm-symbolizer speed: %.2fx by wall time, %.2fx by CPU time** "
           "(bar: > 1x with >= 99%% agreement; goal 3x); "
           "ember / binutils addr2line: %.2fx; ember / eu-addr2line: %.0fx. Binary: SQLite %s "
           "amalgamation + main, gcc -O2 -g, %.1f MB; %d random addresses inside functions "
           "(eu-addr2line: the first %d, its rate scaled from those). Measured %s on %d CPUs "
           "shared with other work; wall times include each tool's start-up and indexing."
           % (ratio, cpu_rate[e] / cpu_rate[l], rate[e] / rate["binutils addr2line -f -i -C"], rate[e] / rate["eu-addr2line -f -i -C"],
              subprocess.run([binary], capture_output=True, text=True).stdout.strip(), size_mb, N, EU_N,
              time.strftime("%Y-%m-%d"), os.cpu_count()))
block = "\n".join(table) + "\n\n" + summary
print(block)
if os.environ.get("NO_README") != "1":
    readme = os.environ["README"]
    text = open(readme).read()
    begin, end = "<!-- symbolize:begin -->", "<!-- symbolize:end -->"
    new = begin + "\n" + block + "\n" + end
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: new, text, flags=re.S)
    else:
        text += "\n" + new + "\n"
    open(readme, "w").write(text)
EOF
