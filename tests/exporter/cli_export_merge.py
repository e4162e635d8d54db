"""`ember export` and `ember merge` end to end: every format, -o written
atomically, go tool pprof reads what they write, merge(A, A) doubles A,
two processes of one binary share functions, and bad input (a table of
corrupt files, bad flags, mismatched profiles) gets one line, the right exit
code and no output file."""
import os
import re
import subprocess
import sys
import tempfile

fixture = sys.argv[1]
ember = os.environ["EMBER"]


def run(*args, **kw):
    return subprocess.run([ember, *args], capture_output=True, timeout=60, **kw)


def one_line_error(r, code, must_contain=""):
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, (r.returncode, err)
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert must_contain in err, (must_contain, err)
    return err


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"), PPROF_TMPDIR=tmp)
    f = {}
    for kind in ("good", "raw", "other", "alloc", "bad-string", "dangling-location",
                 "dangling-function", "truncated", "truncated-gzip", "empty", "garbage"):
        f[kind] = os.path.join(tmp, kind + (".pb.zst" if kind == "other" else ".pb.gz"))
        subprocess.run([fixture, "write", kind, f[kind]], check=True)

    # folded: root first, inline frames expanded (work before inl)
    r = run("export", f["good"], "--format", "folded")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "main 5\nmain;other_fn 15\nmain;work;inl 30\n", r.stdout
    # unsymbolized frames: binary+file offset
    r = run("export", f["raw"], "--format=folded")
    assert r.stdout.decode() == "app+0x2200 5\napp+0x2200;app+0x2100 30\n" \
        "app+0x2200;app+0x2300 15\n", r.stdout

    # top
    r = run("export", f["good"], "--format", "top")
    out = r.stdout.decode()
    print(out)
    assert r.returncode == 0
    assert re.search(r"^\s+0\.30s\s+60\.00%\s+60\.00%\s+0\.30s\s+60\.00%\s+inl\s+app$", out, re.M)
    assert re.search(r"^\s+0\.05s\s+10\.00%\s+100\.00%\s+0\.50s\s+100\.00%\s+main\s+app$", out, re.M)
    r = run("export", f["good"], "--format", "top", "-n", "1")
    assert "Dropped 3 nodes" in r.stdout.decode()

    # metrics, text and OpenMetrics; the profile id defaults to the file name
    r = run("export", f["good"], "--format", "metrics")
    text = r.stdout.decode()
    assert 'ember_function_cumulative_seconds_total{comm="app",binary="app",function="main"} 0.5\n' in text
    assert "# {" not in text and "# EOF" not in text
    r = run("export", f["good"], "--format", "metrics", "--openmetrics")
    om = r.stdout.decode()
    assert om.endswith("# EOF\n")
    assert 'function="inl"} 0.3 # {profile_id="good.pb.gz"} 0.3 1700000010.000\n' in om, om
    r = run("export", f["good"], "--format", "metrics", "--metrics.top", "1")
    assert 'function="[other]"} 0.2\n' in r.stdout.decode(), r.stdout

    # -o: the same bytes, written atomically; pprof rewrite readable by pprof
    out_path = os.path.join(tmp, "out", "top.txt")
    os.mkdir(os.path.dirname(out_path))
    r = run("export", f["good"], "--format", "folded", "-o", out_path)
    assert r.returncode == 0 and r.stdout == b""
    assert open(out_path).read() == "main 5\nmain;other_fn 15\nmain;work;inl 30\n"
    rewritten = os.path.join(tmp, "out", "rewritten.pb.gz")
    assert run("export", f["other"], "--format", "pprof", "-o", rewritten).returncode == 0
    assert open(rewritten, "rb").read(2) == b"\x1f\x8b"

    # merge: A+A doubles; A + another process of the same binary shares
    # mappings and functions (rebased addresses) with the pids kept apart
    aa = os.path.join(tmp, "out", "aa.pb.gz")
    r = run("merge", f["good"], f["good"], "-o", aa)
    assert r.returncode == 0, r.stderr
    r = run("export", aa, "--format", "folded")
    assert r.stdout.decode() == "main 10\nmain;other_fn 30\nmain;work;inl 60\n", r.stdout
    ab = os.path.join(tmp, "out", "ab.pb.gz")
    r = run("merge", f["good"], f["other"], "-o", ab)
    assert r.returncode == 0, r.stderr
    raw = subprocess.run(["go", "tool", "pprof", "-raw", ab], env=env, capture_output=True,
                         text=True, timeout=120)
    print(raw.stdout, raw.stderr)
    assert raw.returncode == 0, raw.stderr
    locs = re.findall(r"^\s+(\d+): 0x[0-9a-f]+ M=\d+", raw.stdout, re.M)
    maps = re.findall(r"^\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ /usr/bin/app", raw.stdout, re.M)
    assert len(locs) == 3 and len(maps) == 1, (locs, maps)
    assert re.search(r"^Duration: 20s", raw.stdout, re.M), "duration spans both inputs"
    for path in (ab, rewritten):
        top = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=samples", path],
                             env=env, capture_output=True, text=True, timeout=120)
        print(top.stdout, top.stderr)
        assert top.returncode == 0, top.stderr
        n = 60 if path == ab else 30
        assert re.search(rf"^\s+{n}\s+60(\.00)?%.*\binl\b", top.stdout, re.M), top.stdout

    # bad input: one line, exit 1, no output file and no temp file left
    outdir = os.path.join(tmp, "bad")
    os.mkdir(outdir)
    cases = {"bad-string": "string index", "dangling-location": "missing location",
             "dangling-function": "missing function", "truncated": "", "truncated-gzip": "",
             "empty": "empty", "garbage": ""}
    for kind, what in cases.items():
        for fmt in ("pprof", "folded", "metrics", "top"):
            target = os.path.join(outdir, "x.out")
            r = run("export", f[kind], "--format", fmt, "-o", target)
            err = one_line_error(r, 1, what)
            assert err.startswith(f"ember export: {f[kind]}: "), err
        r = run("merge", f["good"], f[kind], "-o", os.path.join(outdir, "m.pb.gz"))
        one_line_error(r, 1, f[kind])
        print(kind, "->", err.strip())
    one_line_error(run("export", os.path.join(tmp, "nope"), "--format", "top"), 1,
                   "No such file")
    one_line_error(run("export", tmp, "--format", "top"), 1, "directory")
    assert os.listdir(outdir) == [], os.listdir(outdir)
    one_line_error(run("export", f["good"], "--format", "folded", "-o",
                       "/nonexistent/dir/x"), 1, "/nonexistent/dir")
    one_line_error(run("merge", f["good"], f["alloc"], "-o", os.path.join(outdir, "m")), 1,
                   "alloc_space/bytes")
    assert os.listdir(outdir) == []

    # usage errors: exit 2, one line; --help: exit 0 on stdout
    one_line_error(run("export", f["good"], "--format", "svg"), 2, "unknown --format 'svg'")
    one_line_error(run("export", f["good"]), 2, "missing --format")
    one_line_error(run("export", "--format", "top"), 2, "missing FILE")
    one_line_error(run("export", f["good"], "--format", "top", "--bogus"), 2, "--bogus")
    one_line_error(run("export", f["good"], "--format", "top", "-n", "x"), 2, "--nodes")
    one_line_error(run("export", f["good"], "--format", "metrics",
                       "--metrics.functions", "(["), 1, "regex")
    one_line_error(run("merge", f["good"]), 2, "missing -o")
    one_line_error(run("merge", "-o", os.path.join(outdir, "m")), 2, "no input")
    for cmd in ("export", "merge"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: ember {cmd}".encode())
print("ok")
