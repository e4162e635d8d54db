"""promtool (Prometheus' own linter and parser) accepts the text exposition:
the registry rendered with hostile names, and `ember export --format
metrics` of a profile file. A known-bad exposition must be refused, so the
check can fail."""
import os
import subprocess
import sys
import tempfile

fixture = sys.argv[1]
ember = os.environ["EMBER"]


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


text = subprocess.run([fixture, "metrics", "text"], check=True,
                      capture_output=True).stdout
assert b'function="quote\\"back\\\\slash\\nnewline"' in text, text
rc, out = promtool(text)
print(out)
assert rc == 0 and out.strip() == "", f"promtool refused the fixture: {out}"

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "window-1.pb.gz")
    subprocess.run([fixture, "write", "good", path], check=True)
    text = subprocess.run([ember, "export", path, "--format", "metrics"],
                          check=True, capture_output=True).stdout
    assert b'ember_function_self_seconds_total{comm="app",binary="app",function="inl"} 0.3\n' \
        in text, text
    rc, out = promtool(text)
    print(out)
    assert rc == 0 and out.strip() == "", f"promtool refused ember export: {out}"

# the control: a counter without _total and a broken label value are refused
rc, out = promtool(b"# TYPE bad counter\nbad{a=\"x} 1\n")
assert rc != 0, "promtool accepted a broken exposition; the check proves nothing"
print("ok")
