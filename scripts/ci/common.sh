# Shared helpers for scripts/ci/*.sh (sourced, not executed).
# Timing helpers print seconds with one decimal, so CI logs show where time goes.
tick() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(tick)" 'BEGIN { printf "%.1fs", b - a }'; }
log()  { printf '==> %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root (apt, dockerd and binfmt_misc need it)"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
