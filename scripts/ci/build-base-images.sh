#!/usr/bin/env bash
# Build the base images the container tests need, WITHOUT pulling anything
# (no container registry is reachable in CI). Both are FROM scratch images whose
# root filesystem is made of host binaries plus the shared libraries `ldd` lists:
#   local/node:20-min         the host's node (must be 20.x: better-sqlite3 in the
#                             server image is built against it), /etc/passwd with the
#                             same non-root user as the official image (node, 1000).
#   local/distribution:2.8    /usr/bin/docker-registry (CNCF Distribution 2.8, Debian
#                             package) with a config listening on :5000 and storage
#                             under /var/lib/registry; the peer registry for tests.
# No shell in either image: give containers explicit wait strategies / health checks.
# Idempotent; FORCE=1 rebuilds. Needs a running engine (scripts/ci/setup-docker.sh).
set -Eeuo pipefail
trap 'echo "build-base-images: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

NODE_IMAGE=${NODE_IMAGE:-local/node:20-min}
DISTRIBUTION_IMAGE=${DISTRIBUTION_IMAGE:-local/distribution:2.8}
FORCE=${FORCE:-0}

# copy_with_libs ROOTFS BINARY...: each binary (symlinks resolved) and every library
# ldd reports, at the same absolute paths, plus the dynamic loader.
copy_with_libs() {
  local root=$1 bin lib; shift
  for bin in "$@"; do
    install -D -m 0755 "$(readlink -f "$bin")" "$root$bin"
    for lib in $(ldd "$(readlink -f "$bin")" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
      install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
  done
}

# Minimal /etc and /tmp every process expects.
base_files() {
  local root=$1
  mkdir -p "$root/etc" "$root/tmp"; chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
}

build_scratch_image() {  # build_scratch_image TAG CONTEXT_DIR
  docker buildx build --quiet --provenance=false --load -t "$1" "$2" >/dev/null
}

build_node_image() {
  local t0 work node major
  t0=$(tick)
  node=$(command -v node); major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" = 20 ] || die "host node is $(node --version); $NODE_IMAGE must be node 20 (the server's native modules match the host's node)"
  work=$(mktemp -d)
  copy_with_libs "$work/rootfs" /usr/bin/node
  [ "$(readlink -f "$node")" = "$(readlink -f /usr/bin/node)" ] || die "node on PATH is not /usr/bin/node"
  base_files "$work/rootfs"
  mkdir -p "$work/rootfs/home/node"
  cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
CMD ["node"]
DOCKERFILE
  # /home/node belongs to the node user, as in the official image.
  chown 1000:1000 "$work/rootfs/home/node"
  build_scratch_image "$NODE_IMAGE" "$work"; rm -rf "$work"
  log "$NODE_IMAGE (node $(node --version)) built [$(took "$t0")]"
}

build_distribution_image() {
  local t0 work
  t0=$(tick)
  [ -x /usr/bin/docker-registry ] || die "/usr/bin/docker-registry missing (apt package docker-registry; run setup-docker.sh)"
  work=$(mktemp -d)
  copy_with_libs "$work/rootfs" /usr/bin/docker-registry
  base_files "$work/rootfs"
  mkdir -p "$work/rootfs/etc/docker/registry" "$work/rootfs/var/lib/registry"
  cat >"$work/rootfs/etc/docker/registry/config.yml" <<'YAML'
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
YAML
  cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/usr/bin/docker-registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
DOCKERFILE
  build_scratch_image "$DISTRIBUTION_IMAGE" "$work"; rm -rf "$work"
  log "$DISTRIBUTION_IMAGE ($(/usr/bin/docker-registry --version 2>/dev/null | awk '{print $NF}')) built [$(took "$t0")]"
}

main() {
  local T0; T0=$(tick)
  docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/ci/setup-docker.sh first"
  if [ "$FORCE" = 1 ] || ! have_image "$NODE_IMAGE"; then build_node_image; else log "$NODE_IMAGE present"; fi
  if [ "$FORCE" = 1 ] || ! have_image "$DISTRIBUTION_IMAGE"; then build_distribution_image; else log "$DISTRIBUTION_IMAGE present"; fi
  log "base images ready in $(took "$T0")"
}
main "$@"
