"""tests/workloads/go/gobuild.py — builds the Go workloads at test time with
each Go toolchain the machine has (scripts/deps.sh installs Debian's
golang-go, Go 1.19: the 1.18 .gopclntab layout, and bookworm-backports'
golang-1.23-go: the 1.20+ layout). Binaries live in the meson build
directory, so a rebuild happens only when a source changes; Go's own build
cache is the user's (as `go build` always uses it), so a second build
directory (the ASan one) links without compiling Go's runtime again.

toolchains() -> [(name, go_binary)]; build(go, name, source, stripped) -> path
"""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.environ.get("EMBER_BUILD_ROOT", "/tmp"), "tests", "workloads", "go")

# Both must exist: the tests cover both table layouts (see scripts/deps.sh).
TOOLCHAINS = [("go1.19", "/usr/lib/go-1.19/bin/go"), ("go1.23", "/usr/lib/go-1.23/bin/go")]


def toolchains():
    missing = [g for _, g in TOOLCHAINS if not os.access(g, os.X_OK)]
    if missing:
        raise SystemExit("missing Go toolchains %s: run scripts/deps.sh" % missing)
    return TOOLCHAINS


def env():
    os.makedirs(OUT, exist_ok=True)
    e = dict(os.environ, GO111MODULE="off", GOPATH=os.path.join(OUT, "gopath"), GOFLAGS="",
             CGO_ENABLED="0")
    if not e.get("GOCACHE") and not e.get("HOME"):
        e["GOCACHE"] = os.path.join(OUT, "gocache")  # no home: the build's own
    return e


def build(go, name, source, stripped=False):
    """Builds tests/workloads/go/SOURCE with GO; stripped: -ldflags=-s -w."""
    src = os.path.join(HERE, source)
    tag = os.path.basename(os.path.dirname(os.path.dirname(go)))  # go-1.19
    out = os.path.join(OUT, "%s-%s%s" % (name, tag, "-stripped" if stripped else ""))
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    args = [go, "build", "-o", out + ".tmp"]
    if stripped:
        args.append("-ldflags=-s -w")
    r = subprocess.run(args + [src], capture_output=True, text=True, env=env(), cwd=HERE)
    if r.returncode != 0:
        raise SystemExit("go build %s: %s" % (source, r.stderr))
    os.rename(out + ".tmp", out)
    return out
