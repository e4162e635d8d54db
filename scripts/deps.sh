#!/bin/bash
# scripts/deps.sh — install what ember needs to build and test (Debian
# bookworm). Idempotent: installs only what is missing. Run as root.
set -euo pipefail
pkgs=(
  build-essential pkg-config meson ninja-build clang
  libunwind-dev libdw-dev libelf-dev libprotobuf-c-dev protobuf-c-compiler
  libzstd-dev zlib1g-dev libdeflate-dev libmicrohttpd-dev libiberty-dev
  libc6-dbg   # detached libc symbols: thread roots resolve to start_thread, not a nearby .dynsym name
  golang-go prometheus linux-perf llvm elfutils binutils python3 curl
  libcrypt-dev libgnutls28-dev openssl wrk util-linux
)
# the image and the pod test (scripts/image.sh, tests/container): podman with
# runc, catatonit for a pod's infra container, debootstrap for a base image,
# python3-yaml for the test to read the manifest (Debian's python3);
# not inside a container (the image's build stage)
[ -e /run/.containerenv ] || pkgs+=(podman runc catatonit debootstrap python3-yaml)
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
