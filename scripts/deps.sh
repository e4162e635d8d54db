#!/bin/bash
# scripts/deps.sh [--build] — install what ember needs (Debian bookworm).
#   --build  only what building ember needs: the compiler, meson, ninja,
#            pkg-config, the -dev libraries and protoc-c (the image's build
#            stage and scripts/serve.sh, the quick start);
#   (none)   that and everything the tests run: Go (bookworm's and 1.23 from
#            bookworm-backports), prometheus, perf, llvm, wrk, clang for the
#            fuzzers, podman, ... (scripts/test.sh).
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail
mode=all
case ${1:-} in
  --build) mode=build ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--build]" >&2; exit 2 ;;
esac
pkgs=(
  build-essential pkg-config meson ninja-build
  libunwind-dev libdw-dev libelf-dev libprotobuf-c-dev protobuf-c-compiler
  libzstd-dev zlib1g-dev libdeflate-dev libmicrohttpd-dev libiberty-dev
  libcrypt-dev libgnutls28-dev
  libcurl4-gnutls-dev                  # push to Pyroscope / OTLP (README: Push)
  # not to build, but what `ember serve` on this machine (scripts/serve.sh)
  # needs to name libc's frames: detached libc symbols, so thread roots
  # resolve to start_thread, not a nearby .dynsym name (a few MB)
  libc6-dbg
)
if [ "$mode" = all ]; then
  pkgs+=(
    clang golang-go prometheus linux-perf llvm elfutils binutils python3 curl
    openssl wrk util-linux
    protobuf-compiler python3-protobuf   # tests/push: receivers decode with the upstream schemas
  )
  # the image and the pod test (scripts/image.sh, tests/container): podman with
  # runc, catatonit for a pod's infra container, debootstrap for a base image,
  # python3-yaml for the test to read the manifest (Debian's python3);
  # not inside a container
  [ -e /run/.containerenv ] || pkgs+=(podman runc catatonit debootstrap python3-yaml)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$mode" = build ] && exit 0

# The UI's browser tests drive chromium with playwright-core from npm (test
# tooling only: the product needs nothing from npm), installed into
# tests/ui/node, pinned. Node and npm: Debian's when none is on PATH.
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
ui_node="$(cd "$(dirname "$0")/.." && pwd)/tests/ui/node"
if [ ! -f "$ui_node/node_modules/playwright-core/package.json" ]; then
  echo "deps: installing playwright-core into $ui_node" >&2
  mkdir -p "$ui_node"
  npm install --prefix "$ui_node" --no-audit --no-fund --silent playwright-core@1.65.2 >/dev/null
fi

# Go 1.20+ writes the newer .gopclntab layout (magic 0xfffffff1); bookworm
# has Go 1.19 (the 1.18 layout). The Go tests (tests/symbolizer/go_addr2line.py,
# tests/unwind/go_e2e.py) cover both, so Go 1.23 comes from bookworm-backports.
if ! dpkg-query -W -f='${Status}' golang-1.23-go 2>/dev/null | grep -q "ok installed"; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # the same mirror as the machine's bookworm suite
    uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
          grep -E '^(URIs:|deb )' | grep -v security | grep -m1 -oE 'https?://[^ ]+/debian/?' || true)
    [ -n "$uri" ] || { echo "deps: no Debian mirror configured for bookworm-backports" >&2; exit 1; }
    printf '%s\n' 'Types: deb' "URIs: $uri" \
      'Suites: bookworm-backports' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "$src"
  fi
  echo "deps: installing golang-1.23-go (bookworm-backports)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -t bookworm-backports golang-1.23-go >/dev/null
fi
