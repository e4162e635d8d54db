"""go tool pprof, the reference reader, opens the gzip and zstd-free pprof
files ember's codec writes, and sees the samples, functions and inline frames
we put in them."""
import os
import re
import subprocess
import sys
import tempfile

tool = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"),
               PPROF_TMPDIR=tmp)
    path = os.path.join(tmp, "p.pb.gz")
    subprocess.run([tool, "--write", path], check=True)
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], env=env,
                         capture_output=True, text=True)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, "go tool pprof failed"
    assert "cpu/nanoseconds" in out.stdout
    assert re.search(r"\b30\s+30030030:", out.stdout), "sample values missing"
    assert "abcdef0123 [FN][FL][LN][IN]" in out.stdout, "mapping flags lost"
    top = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=samples", path],
                         env=env, capture_output=True, text=True)
    print(top.stdout, top.stderr)
    assert top.returncode == 0
    # inl is inlined into work: its flat count is the leaf of 30 samples
    lines = {l.split()[5]: l.split() for l in top.stdout.splitlines()
             if len(l.split()) >= 6 and l.split()[5] in ("inl", "work", "main")}
    assert lines["inl"][6:] == ["(inline)"], lines
    assert lines["inl"][0] == "30", lines
    assert lines["main"][0] == "5", lines
    assert lines["main"][3] == "35", lines
print("ok")
