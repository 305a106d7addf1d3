# Shared helpers for scripts/ci/*.sh (sourced, not executed).
# Timing helpers print seconds with one decimal, so CI logs show where time goes.
tick() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(tick)" 'BEGIN { printf "%.1fs", b - a }'; }
log()  { printf '==> %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root (apt, dockerd and binfmt_misc need it)"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# apt-get that waits for another package-manager run (unattended upgrades, a parallel job) instead of
# failing at once. DPkg::Lock::Timeout makes install/remove wait for dpkg's lock; `apt-get update`
# takes the lists lock, which that option does not cover (apt 2.6), so a run that could not get a
# lock is retried until APT_LOCK_WAIT seconds have passed. Every apt-get in .ci/run and scripts/ci goes
# through here (test/ci/ci-scripts.test.ts checks it).
APT_LOCK_WAIT=${APT_LOCK_WAIT:-600}
apt_get() {
  local deadline=$(( $(date +%s) + APT_LOCK_WAIT )) err rc
  err=$(mktemp)
  while :; do
    rc=0
    apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" 2>"$err" || rc=$?
    cat "$err" >&2
    if [ "$rc" -ne 0 ] && grep -q 'Could not get lock\|Unable to lock' "$err" && [ "$(date +%s)" -lt "$deadline" ]; then
      log "apt-get $1: another apt/dpkg run holds the lock; retrying in 5 s"
      sleep 5
      continue
    fi
    rm -f "$err"
    return "$rc"
  done
}

# apt_install PACKAGE...: installs the ones that are missing (refreshing the lists once if needed).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing ${missing[*]}"
  apt-cache show "${missing[@]}" >/dev/null 2>&1 || apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
