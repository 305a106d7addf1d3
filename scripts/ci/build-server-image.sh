#!/usr/bin/env bash
# Build the reference server's image OFFLINE (no npm or container registry inside the
# build): the application tree is prepared here on the host and handed to the
# Dockerfile's "prebuilt" stage as the named build context `prebuilt-app`; the runtime
# base is local/node:20-min (scripts/ci/build-base-images.sh). On GitHub the same
# Dockerfile builds from source instead (see its header and .github/workflows/publish.yml).
#
# The tree: package.json, bin/, build/ (compiled JS, no source maps) and the production
# dependencies only (`npm ls --omit=dev`), copied from the repository's node_modules;
# nothing in the repository is modified. better-sqlite3 keeps only its compiled addon,
# which was built against the host's node 20, the node in local/node:20-min.
#
# Env: IMAGE (default nitro-registry:local), BASE_IMAGE (default local/node:20-min),
#      SKIP_BUILD=1 (use the existing build/ instead of running `npm run build`),
#      PLATFORM (default linux/amd64: the native addon is the host's architecture).
set -Eeuo pipefail
trap 'echo "build-server-image: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${IMAGE:-nitro-registry:local}
BASE_IMAGE=${BASE_IMAGE:-local/node:20-min}
PLATFORM=${PLATFORM:-linux/amd64}

stage_tree() {  # stage_tree DIR
  local stage=$1 dep
  mkdir -p "$stage/node_modules"
  cp "$ROOT/package.json" "$stage/"
  cp -r "$ROOT/bin" "$stage/bin"
  # Compiled output without source maps, declarations or tsc's incremental state.
  (cd "$ROOT" && find build -type f -name '*.js' -o -type f -name '*.json' ! -name '.tsbuildinfo') |
    while read -r f; do install -D -m 0644 "$ROOT/$f" "$stage/$f"; done
  # `npm ls` lists each production package by path, nested ones included; it exits
  # non-zero on extraneous packages, which do not matter here.
  { (cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) || true; } | sed -n "s#^$ROOT/node_modules/#node_modules/#p" |
    while read -r dep; do
      mkdir -p "$stage/$(dirname "$dep")"
      cp -r "$ROOT/$dep" "$stage/$dep"
    done
  [ -d "$stage/node_modules/better-sqlite3" ] || die "better-sqlite3 missing from the production dependencies"
  # better-sqlite3 at run time needs lib/, package.json and the addon; not the SQLite
  # sources (deps/, src/) or the compiler's intermediate files.
  local b="$stage/node_modules/better-sqlite3"
  rm -rf "$b/deps" "$b/src" "$b/build/deps" "$b/build/Release/obj.target" "$b/build/Release/.deps" \
         "$b/build/Release/obj" "$b/build/Release/test_extension.node"
  find "$stage/node_modules" -name '*.md' -delete
  [ -f "$stage/build/reference-server/src/cli.js" ] || die "build/reference-server/src/cli.js missing: the server is not built"
}

main() {
  local T0 t0 stage
  T0=$(tick)
  docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/ci/setup-docker.sh first"
  have_image "$BASE_IMAGE" || "$ROOT/scripts/ci/build-base-images.sh"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    t0=$(tick); (cd "$ROOT" && npm run build --silent) || die "npm run build failed"; log "npm run build [$(took "$t0")]"
  fi
  t0=$(tick); stage=$(mktemp -d)
  stage_tree "$stage"
  log "staged app tree ($(du -sh "$stage" | cut -f1)) [$(took "$t0")]"
  t0=$(tick)
  docker buildx build --quiet --provenance=false --load --platform "$PLATFORM" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg APP_SOURCE=prebuilt \
    --build-context prebuilt-app="$stage" \
    -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" >/dev/null
  rm -rf "$stage"
  log "$IMAGE built from $BASE_IMAGE [$(took "$t0")]; total $(took "$T0")"
}
main "$@"
