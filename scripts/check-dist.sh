#!/usr/bin/env bash
# Rebuilds the Action bundles and fails when dist/ differs from what is committed: the Action runs the
# committed dist/, so a source change without a rebuild would ship stale code.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build-action.mjs
if ! git diff --quiet --exit-code -- dist || [ -n "$(git status --porcelain --untracked-files=all -- dist)" ]; then
  echo "dist/ is out of date: run 'npm run build:action' and commit the result." >&2
  git status --short -- dist >&2
  git --no-pager diff --stat -- dist >&2 || true
  exit 1
fi
echo "dist/ is up to date."
