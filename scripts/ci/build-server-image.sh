#!/usr/bin/env bash
# Build the reference server's images OFFLINE (no npm or container registry inside the
# build): the application trees are staged here on the host by scripts/stage-app.mjs and
# handed to the Dockerfile's "prebuilt" stage as the named build context `prebuilt-app`;
# the runtime base is local/node:20-min (scripts/ci/build-base-images.sh). On GitHub the
# same Dockerfile builds from source instead (see its header and .github/workflows/publish.yml).
#
# Two images (Dockerfile targets):
#   $IMAGE       target `server`: the server alone, with only its own dependencies (slim).
#   $FULL_IMAGE  target `full`: the same plus `conformance` (tap) and `verify`.
# better-sqlite3 keeps only its compiled addon, built against the host's node 20, the node
# in local/node:20-min. Nothing in the repository is modified.
#
# Env: IMAGE (default nitro-registry:local), FULL_IMAGE (default $IMAGE-full),
#      TARGETS (default "server full"; e.g. TARGETS=server builds the slim image only),
#      BASE_IMAGE (default local/node:20-min),
#      SKIP_BUILD=1 (use the existing build/ instead of running `npm run build`),
#      PLATFORM (default linux/amd64: the native addon is the host's architecture).
set -Eeuo pipefail
trap 'echo "build-server-image: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${IMAGE:-nitro-registry:local}
FULL_IMAGE=${FULL_IMAGE:-$IMAGE-full}
TARGETS=${TARGETS:-server full}
BASE_IMAGE=${BASE_IMAGE:-local/node:20-min}
PLATFORM=${PLATFORM:-linux/amd64}

# What `docker images` shows (unpacked); with the containerd store `inspect .Size` is the compressed size.
image_size() { docker image ls --format '{{.Size}}' "$1" | head -n 1; }

main() {
  local T0 t0 stage
  T0=$(tick)
  docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/ci/setup-docker.sh first"
  have_image "$BASE_IMAGE" || "$ROOT/scripts/ci/build-base-images.sh"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    t0=$(tick); (cd "$ROOT" && npm run build --silent) || die "npm run build failed"; log "npm run build [$(took "$t0")]"
  fi
  t0=$(tick); stage=$(mktemp -d)
  node "$ROOT/scripts/stage-app.mjs" "$ROOT" "$stage" >&2
  log "staged server tree ($(du -sh "$stage/server" | cut -f1)) + full extras ($(du -sh "$stage/full" | cut -f1)) [$(took "$t0")]"
  local target tag
  for target in $TARGETS; do
    case $target in
      server) tag=$IMAGE ;;
      full) tag=$FULL_IMAGE ;;
      *) die "unknown target $target (server|full)" ;;
    esac
    t0=$(tick)
    docker buildx build --quiet --provenance=false --load --platform "$PLATFORM" \
      --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg APP_SOURCE=prebuilt \
      --build-context prebuilt-app="$stage" --target "$target" \
      -f "$ROOT/Dockerfile" -t "$tag" "$ROOT" >/dev/null
    log "$tag (target $target, $(image_size "$tag")) built from $BASE_IMAGE [$(took "$t0")]"
  done
  rm -rf "$stage"
  log "total $(took "$T0")"
}
main "$@"
