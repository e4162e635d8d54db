#!/bin/bash
# scripts/image.sh — build the ember container image (localhost/ember:latest)
# from deploy/container/Containerfile with podman. Run as root, from anywhere.
#
# Idempotent and cached: podman's layer cache keeps the build stage's
# packages and, while the sources are unchanged, the compiled binary; the
# base image is made once per machine and its tarball kept in
# $EMBER_IMAGE_CACHE (default /var/cache/ember-image), which survives
# checkouts and CI runs.
#
# The base: $EMBER_IMAGE_BASE (default docker.io/library/debian:bookworm-slim)
# when podman has it or can pull it; where no registry serves base images,
# a Debian bookworm made from Debian packages (debootstrap --variant=minbase,
# from $EMBER_DEBIAN_MIRROR) and imported as localhost/debian-minbase:bookworm.
#
# podman is installed (scripts/deps.sh) and configured as this kind of machine
# needs, in /etc/containers/containers.conf.d/50-ember.conf: runc with the
# cgroupfs manager (crun refuses a hybrid cgroup v1/v2 layout; no systemd to
# manage scopes), default ulimits no higher than the host's hard limits
# (podman's defaults above them make every container fail to start), events
# to a file (no journald).
#
# Environment: EMBER_IMAGE (default localhost/ember:latest), EMBER_IMAGE_BASE,
# EMBER_IMAGE_CACHE, EMBER_DEBIAN_MIRROR, EMBER_IMAGE_PULL=0 (do not try a
# registry at all). Prints the image's name and size on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${EMBER_IMAGE:-localhost/ember:latest}
BASE=${EMBER_IMAGE_BASE:-docker.io/library/debian:bookworm-slim}
CACHE=${EMBER_IMAGE_CACHE:-/var/cache/ember-image}
MIRROR=${EMBER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MINBASE=localhost/debian-minbase:bookworm

log() { echo "image: $*" >&2; }

# one build at a time on this machine (CI runs and people share the cache)
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9
rm -rf "$CACHE"/root.* "$CACHE"/*.tar.tmp   # what an interrupted run left

for tool in podman runc debootstrap catatonit; do
  command -v "$tool" >/dev/null || { bash scripts/deps.sh; break; }
done

# Container ulimits no higher than what podman's own processes may set:
# the host's hard limit of open files, and processes at most 32768, the hard
# limit conmon runs with here (measured: runc fails to set 40000 or more).
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
[ "$nofile" = unlimited ] && nofile=1048576

configure_podman() {
  local conf=/etc/containers/containers.conf.d/50-ember.conf want tmp
  want="# written by ember's scripts/image.sh: what podman needs on this machine
[containers]
# podman's default ulimits (nofile 1048576) fail above the host's hard limits
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
# crun refuses a hybrid cgroup v1/v2 layout; runc with cgroupfs works
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
"
  if [ "$(cat "$conf" 2>/dev/null)" != "$(printf '%s' "$want")" ]; then
    mkdir -p "${conf%/*}"
    tmp=$(mktemp "$conf.XXXXXX")
    printf '%s' "$want" >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$conf"
    log "wrote $conf"
  fi
}

# The base made from Debian packages: minbase (apt, dpkg, bash, coreutils),
# trimmed of documentation, man pages, locales and apt's lists as the
# slim images are, with the security and updates suites in sources.list.
make_minbase() {
  local tar=$CACHE/debian-minbase-bookworm.tar root
  if [ ! -s "$tar" ]; then
    root=$(mktemp -d "$CACHE/root.XXXXXX")
    log "debootstrap --variant=minbase bookworm from $MIRROR (once per machine)"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      { tail -20 "$CACHE/debootstrap.log" >&2; rm -rf "$root"; return 1; }
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
    cat >"$root/etc/dpkg/dpkg.cfg.d/ember-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    cat >"$root/etc/apt/apt.conf.d/ember-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$root"/usr/share/{man,info,locale,lintian}/* "$root"/var/lib/apt/lists/* \
      "$root"/var/cache/apt/* "$root"/var/log/* "$root"/tmp/*
    tar --numeric-owner --xattrs -C "$root" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  if ! podman image exists "$MINBASE"; then
    podman import --change 'CMD ["/bin/bash"]' "$tar" "$MINBASE" >/dev/null
    log "imported $tar as $MINBASE"
  fi
}

configure_podman
if podman image exists "$BASE"; then
  base=$BASE
elif [ "${EMBER_IMAGE_PULL:-1}" != 0 ] && timeout 120 podman pull -q "$BASE" >/dev/null 2>&1; then
  base=$BASE
else
  make_minbase
  base=$MINBASE
fi
log "building $IMAGE from $base"
# The build stage is tagged too ($IMAGE-build): a tagged image is not
# dangling, so the prune below keeps it (and every layer under it) for the
# next run. What earlier builds left untagged goes after a week: kept until
# then, another branch's layers (its deps.sh) stay cached.
# podman build does not take containers.conf's default_ulimits.
build=(podman build --network=host --layers --build-arg "BASE=$base"
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
  -f deploy/container/Containerfile)
{ "${build[@]}" --target build -t "${IMAGE%:*}-build:latest" . &&
  "${build[@]}" -t "$IMAGE" .; } >"$CACHE/build.log" 2>&1 ||
  { tail -40 "$CACHE/build.log" >&2; exit 1; }
podman image prune -f --filter until=168h >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "$IMAGE $((size / 1000000)) MB"
