#!/usr/bin/env bash
# Builds the OFFICIAL OCI distribution-spec conformance suites (cached) and runs them against a reference
# server this script starts on 127.0.0.1 (fresh data directory per run).
#
#   scripts/oci-conformance.sh [MODE...]        MODE: ginkgo-anonymous ginkgo-token v2-1.1 v2-1.1+dev (default: all)
#
# Suites (see docs/conformance-official.md for the figures and docs of the recipe):
#   ginkgo-*   the Ginkgo suite (79 specs) at each ref of $OCI_GINKGO_REFS (default: v1.1.1 and its successor
#              13a5d3ee), server with auth off (anonymous) and with token auth (Bearer challenge, admin login)
#   v2-*       the redesigned suite (plain Go program) at $OCI_V2_REF, OCI_VERSION=1.1 and 1.1+dev, token auth
#
# Needs Go ≥ 1.24 in GOPATH mode with the suites' libraries from Debian (offline build, no module proxy):
#   apt-get install -t trixie golang-1.24-go golang-github-onsi-ginkgo-v2-dev golang-gomega-dev \
#     golang-github-opencontainers-image-spec-dev golang-github-opencontainers-go-digest-dev \
#     golang-github-google-uuid-dev golang-github-goccy-go-yaml-dev golang-golang-x-net-dev \
#     golang-github-asaskevich-govalidator-dev golang-github-mitchellh-mapstructure-dev
# and `npm run build` done (the server runs from build/).
#
# Environment:
#   OCI_SPEC_GIT / OCI_REGGIE_GIT / OCI_RESTY_GIT  git URL or local (bare) git directory of
#        opencontainers/distribution-spec, bloodorangeio/reggie, go-resty/resty (default: the GitHub URLs)
#   OCI_GINKGO_REFS   space-separated distribution-spec refs for the Ginkgo suite (default "v1.1.1 13a5d3ee28577b88968656ab5b68b54dfef30158")
#   OCI_V2_REF        distribution-spec ref of the redesigned suite (default 967efdc079b91785ad18c77cc4f8991a47feefbf)
#   OCI_CONFORMANCE_CACHE  build cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/nitro-registry/oci-conformance)
#   OCI_CONFORMANCE_OUT    reports (default ./oci-conformance-results): one directory per run, summary.txt
#   GO                go binary (default: go on PATH, else /usr/lib/go-1.24/bin/go)
#
# Exit codes: 0 every run passed; 1 some test failed; 2 usage or build/toolchain problem; 3 server did not start.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${OCI_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nitro-registry/oci-conformance}
OUT=${OCI_CONFORMANCE_OUT:-$PWD/oci-conformance-results}
SPEC_GIT=${OCI_SPEC_GIT:-https://github.com/opencontainers/distribution-spec.git}
REGGIE_GIT=${OCI_REGGIE_GIT:-https://github.com/bloodorangeio/reggie.git}
RESTY_GIT=${OCI_RESTY_GIT:-https://github.com/go-resty/resty.git}
GINKGO_REFS=${OCI_GINKGO_REFS:-v1.1.1 13a5d3ee28577b88968656ab5b68b54dfef30158}
V2_REF=${OCI_V2_REF:-967efdc079b91785ad18c77cc4f8991a47feefbf}
ADMIN_PASSWORD=conformance-$$-$RANDOM$RANDOM

die() { echo "oci-conformance: $*" >&2; exit 2; }

MODES=("$@")
[ ${#MODES[@]} -eq 0 ] && MODES=(ginkgo-anonymous ginkgo-token v2-1.1 v2-1.1+dev)
for m in "${MODES[@]}"; do
  case $m in ginkgo-anonymous | ginkgo-token | v2-1.1 | v2-1.1+dev) ;; -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; *) die "unknown mode '$m'" ;; esac
done

GO=${GO:-$(command -v go || echo /usr/lib/go-1.24/bin/go)}
[ -x "$GO" ] || die "no Go toolchain (set GO=… or install golang-1.24-go, see the header of $0)"
[ -f "$ROOT/build/reference-server/src/cli.js" ] || die "server not built: run 'npm run build' first"
export GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0
export GOCACHE=$CACHE/gocache

# A local git directory is used as is; a URL is cloned (bare) once into the cache.
git_dir() {
  local src=$1 name=$2
  if [ -d "$src" ]; then
    if [ -d "$src/.git" ]; then echo "$src/.git"; else echo "$src"; fi
    return
  fi
  if [ ! -d "$CACHE/git/$name.git" ]; then
    git clone -q --bare "$src" "$CACHE/git/$name.git.tmp" || die "cannot clone $src (offline? set OCI_${name^^}_GIT to a local copy)"
    mv "$CACHE/git/$name.git.tmp" "$CACHE/git/$name.git"
  fi
  echo "$CACHE/git/$name.git"
}

extract() { # git-dir ref dest
  rm -rf "$3.tmp" && mkdir -p "$3.tmp"
  git --git-dir="$1" archive "$2" | tar -x -C "$3.tmp" || die "cannot extract $2 from $1"
  rm -rf "$3" && mv "$3.tmp" "$3"
}

deps_gopath() { # reggie and resty, the Ginkgo suite's two libraries Debian does not ship
  local gp=$CACHE/gopath-deps
  if [ ! -f "$gp/.done" ]; then
    extract "$(git_dir "$REGGIE_GIT" reggie)" v0.6.1 "$gp/src/github.com/bloodorangeio/reggie"
    extract "$(git_dir "$RESTY_GIT" resty)" v2.7.0 "$gp/src/github.com/go-resty/resty/v2"
    touch "$gp/.done"
  fi
  echo "$gp"
}

ginkgo_binary() { # ref → path (built once per ref)
  local ref=$1 bin=$CACHE/bin/ginkgo-$1.test
  if [ ! -x "$bin" ]; then
    local gp tree=$CACHE/tree/ginkgo-$ref
    gp=$(deps_gopath)
    extract "$(git_dir "$SPEC_GIT" distribution-spec)" "$ref" "$tree"
    mkdir -p "$CACHE/bin"
    (cd "$tree/conformance" && GOPATH=$gp:/usr/share/gocode "$GO" test -c -o "$bin.tmp" .) >&2 || die "building the Ginkgo suite at $ref failed"
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

v2_binary() {
  local bin=$CACHE/bin/conformance-v2-$V2_REF
  if [ ! -x "$bin" ]; then
    local gp=$CACHE/gopath-v2-$V2_REF
    local tree=$gp/src/github.com/opencontainers/distribution-spec
    extract "$(git_dir "$SPEC_GIT" distribution-spec)" "$V2_REF" "$tree"
    mkdir -p "$CACHE/bin"
    (cd "$tree/conformance" && GOPATH=$gp:/usr/share/gocode "$GO" build -o "$bin.tmp" .) >&2 || die "building the redesigned suite at $V2_REF failed"
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

start_server() { # auth(on|off) dir → sets PORT
  local auth=$1 dir=$2
  PORT=$(free_port)
  local flags=(--listen "127.0.0.1:$PORT" --data "$dir/data" --log-level warn)
  [ "$auth" = off ] && flags+=(--no-auth)
  NITRO_REGISTRY_ADMIN_PASSWORD=$ADMIN_PASSWORD node "$ROOT/bin/nitro-registry.js" serve "${flags[@]}" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/server.log" >&2
  echo "oci-conformance: the server did not start" >&2
  exit 3
}

FAILED=0
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }

# junit.xml → "tests failures errors skipped" (the Ginkgo suite's testsuites element carries the totals).
junit_counts() {
  if [ ! -s "$1" ]; then echo "0 0 1 0"; return; fi # no report: the suite itself failed (see output.txt)
  node -e '
    const x = require("fs").readFileSync(process.argv[1], "utf8");
    let t = 0, f = 0, e = 0, s = 0;
    for (const m of x.matchAll(/<testsuite\b[^>]*>/g)) {
      const a = (k) => Number((new RegExp(`\\b${k}="(\\d+)"`).exec(m[0]) || [])[1] || 0);
      t += a("tests"); f += a("failures"); e += a("errors"); s += a("skipped") + a("disabled");
    }
    console.log(t, f, e, s);' "$1"
}

run_ginkgo() { # ref auth
  local ref=$1 auth=$2 bin dir
  bin=$(ginkgo_binary "$ref")
  dir=$OUT/ginkgo-${ref:0:12}-$auth
  rm -rf "$dir" && mkdir -p "$dir/report"
  start_server "$([ "$auth" = anonymous ] && echo off || echo on)" "$dir"
  local creds=()
  [ "$auth" = token ] && creds=(OCI_USERNAME=admin "OCI_PASSWORD=$ADMIN_PASSWORD")
  local rc=0
  env "${creds[@]}" OCI_ROOT_URL="http://127.0.0.1:$PORT" OCI_NAMESPACE=myorg/myrepo OCI_CROSSMOUNT_NAMESPACE=myorg/other \
    OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 OCI_AUTOMATIC_CROSSMOUNT=1 \
    OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_DEBUG=0 OCI_REPORT_DIR="$dir/report" \
    "$bin" >"$dir/output.txt" 2>&1 || rc=$?
  stop_server
  local t f e s
  read -r t f e s < <(junit_counts "$dir/report/junit.xml")
  summary "ginkgo $ref auth=$auth: $((t - f - e - s)) passed, $((f + e)) failed, $s skipped (of $t)"
  [ "$rc" -ne 0 ] && FAILED=1
  return 0
}

run_v2() { # version
  local version=$1 bin dir
  bin=$(v2_binary)
  dir=$OUT/v2-$version
  rm -rf "$dir" && mkdir -p "$dir/results"
  start_server on "$dir"
  local rc=0
  OCI_REGISTRY="127.0.0.1:$PORT" OCI_TLS=disabled OCI_REPO1=a/b OCI_REPO2=a/c OCI_USERNAME=admin OCI_PASSWORD="$ADMIN_PASSWORD" \
    OCI_RESULTS_DIR="$dir/results" OCI_VERSION="$version" "$bin" >"$dir/output.txt" 2>&1 || rc=$?
  stop_server
  local t f e s
  read -r t f e s < <(junit_counts "$dir/results/junit.xml")
  summary "redesigned $V2_REF OCI_VERSION=$version: $((t - f - e - s)) passed, $((f + e)) failed, $s skipped (of $t)"
  [ "$rc" -ne 0 ] && FAILED=1
  return 0
}

mkdir -p "$OUT" "$CACHE"
: >"$OUT/summary.txt"
for m in "${MODES[@]}"; do
  case $m in
    ginkgo-anonymous) for r in $GINKGO_REFS; do run_ginkgo "$r" anonymous; done ;;
    ginkgo-token) for r in $GINKGO_REFS; do run_ginkgo "$r" token; done ;;
    v2-1.1) run_v2 1.1 ;;
    v2-1.1+dev) run_v2 1.1+dev ;;
  esac
done
echo "reports under $OUT"
exit $FAILED
