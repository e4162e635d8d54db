"""`ember symbolize` and `ember addr2line` as a user runs them: a raw profile
made by test_symbolizer goes through `ember symbolize`, and `go tool pprof`
(the reference reader) sees functions, inline frames and mapping flags;
symbolizing again changes nothing; bad input fails with one line and no
output file; `ember addr2line` prints what binutils addr2line prints.

usage: cli.py TEST_SYMBOLIZER WORKLOAD"""
import os
import subprocess
import sys
import tempfile

ember = os.environ["EMBER"]
tool, workload = sys.argv[1], sys.argv[2]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"),
               PPROF_TMPDIR=tmp)
    raw = os.path.join(tmp, "cpu.pb.gz")
    subprocess.run([tool, "raw", workload, raw], check=True)

    # help and usage errors
    r = run([ember, "symbolize", "--help"])
    assert r.returncode == 0 and "--debug-dir" in r.stdout and "-o" in r.stdout, r
    assert run([ember, "symbolize"]).returncode == 2
    assert run([ember, "symbolize", raw, "--bogus"]).returncode == 2
    r = run([ember, "symbolize", os.path.join(tmp, "missing.pb.gz")])
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r
    junk = os.path.join(tmp, "junk.pb")
    with open(junk, "wb") as f:
        f.write(os.urandom(3000))
    r = run([ember, "symbolize", junk, "-o", os.path.join(tmp, "junk.out")])
    assert r.returncode == 1, r
    assert not os.path.exists(os.path.join(tmp, "junk.out")), "partial output"

    # raw in, symbolized out (default name: .sym before the extensions)
    r = run([ember, "symbolize", raw])
    print(r.stderr)
    assert r.returncode == 0, r
    sym = os.path.join(tmp, "cpu.sym.pb.gz")
    assert os.path.exists(sym)
    assert "unsymbolized" in r.stderr

    top = run(["go", "tool", "pprof", "-top", "-sample_index=samples", sym], env=env)
    print(top.stdout, top.stderr)
    assert top.returncode == 0, top.stderr
    assert "work_inline" in top.stdout and "helper_mix" in top.stdout
    assert "main" in top.stdout
    rawtext = run(["go", "tool", "pprof", "-raw", sym], env=env)
    assert rawtext.returncode == 0
    assert "[FN][FL][LN][IN]" in rawtext.stdout, rawtext.stdout
    # the raw one is readable too, and has no functions
    before = run(["go", "tool", "pprof", "-symbolize=none", "-raw", raw], env=env)
    assert before.returncode == 0 and "work_inline" not in before.stdout

    # symbolizing a symbolized profile is a no-op
    again = os.path.join(tmp, "again.pb.gz")
    r = run([ember, "symbolize", sym, "-o", again, "-q"])
    assert r.returncode == 0 and r.stderr == "", r
    rawtext2 = run(["go", "tool", "pprof", "-raw", again], env=env)
    assert rawtext.stdout == rawtext2.stdout

    # addr2line: same bytes as binutils, from arguments and from stdin
    syms = run(["nm", workload]).stdout.split()
    addrs = []
    for name in ("work_inline", "main"):
        a = int(syms[syms.index(name) - 2], 16)
        addrs += ["%x" % (a + d) for d in range(0, 40, 3)]
    for flags in ([], ["-f"], ["-f", "-i"], ["-a", "-f", "-i", "-C"], ["-i"]):
        want = run(["addr2line", "-e", workload] + flags + addrs).stdout
        got = run([ember, "addr2line", "-e", workload] + flags + addrs).stdout
        assert got == want, (flags, got, want)
        got = run([ember, "addr2line", "-e", workload] + flags,
                  input="\n".join(addrs) + "\n").stdout
        assert got == want, (flags, got, want)
    assert run([ember, "addr2line", "--help"]).returncode == 0
    assert run([ember, "addr2line", "-e", workload, "--bogus"]).returncode == 2
    r = run([ember, "addr2line", "-e", os.path.join(tmp, "nope"), "0x10"])
    assert r.returncode == 1 and r.stdout == "", r
    r = run([ember, "addr2line", "-e", junk, "0x10"])
    assert r.returncode == 1 and "ELF" in r.stderr, r
print("ok")
