# Stages for .ci/run (sourced after common.sh). A stage is a shell function run under
# `set -Eeuo pipefail` in a subshell of its own, so a failing command inside it fails it:
#
#   stage NAME FUNCTION   setup: when it fails, nothing after it can work, so the run stops
#                         (after the summary)
#   check NAME FUNCTION   a check: when it fails, the failure is recorded and the next stages
#                         still run; finish exits non-zero
#   finish                prints every stage with its status and duration, then the lines saved
#                         with stage_note (the test count), and exits 1 if any stage failed
#
# A stage runs in a subshell: what it exports is lost unless it uses stage_export NAME=VALUE,
# which later stages see. Banners show each stage's number, its duration and the elapsed time.
_STAGES_T0=$(tick)
_STAGE_DIR=$(mktemp -d)
: >"$_STAGE_DIR/env"
: >"$_STAGE_DIR/notes"
_stage_names=()
_stage_results=()
_stage_times=()

# stage_export NAME=VALUE...: export for this stage and every later one.
stage_export() {
  local kv
  for kv in "$@"; do
    export "${kv?}"
    printf 'export %q\n' "$kv" >>"$_STAGE_DIR/env"
  done
}

# stage_note LINE: a line repeated at the very end of the run (e.g. the test count).
stage_note() { printf '%s\n' "$*" >>"$_STAGE_DIR/notes"; }

_run_stage() {  # _run_stage KIND NAME FUNCTION [ARGS...]
  local kind=$1 name=$2 n t0 rc=0 took_s
  shift 2
  n=$(( ${#_stage_names[@]} + 1 ))
  t0=$(tick)
  printf '\n=== [%d] %s (started at +%s)\n' "$n" "$name" "$(took "$_STAGES_T0")"
  # In the background and then waited for: a subshell on the left of `||` would run with
  # errexit ignored, and the stage's failing commands would not stop it.
  ( set -Eeuo pipefail; "$@" ) &
  wait $! || rc=$?
  # shellcheck disable=SC1091
  . "$_STAGE_DIR/env"
  took_s=$(took "$t0")
  _stage_names+=("$name")
  _stage_times+=("$took_s")
  if [ "$rc" -eq 0 ]; then
    _stage_results+=(ok)
    printf '=== [%d] %s: ok in %s (elapsed %s)\n' "$n" "$name" "$took_s" "$(took "$_STAGES_T0")"
    return 0
  fi
  _stage_results+=("FAILED (exit $rc)")
  printf '=== [%d] %s: FAILED (exit %d) in %s (elapsed %s)\n' "$n" "$name" "$rc" "$took_s" "$(took "$_STAGES_T0")"
  if [ "$kind" = stage ]; then
    printf '=== a setup stage failed: the stages after it cannot run\n'
    finish
  fi
  return 0
}

stage() { _run_stage stage "$@"; }
check() { _run_stage check "$@"; }

finish() {
  local i failed=0
  printf '\n=== summary (total %s)\n' "$(took "$_STAGES_T0")"
  for i in "${!_stage_names[@]}"; do
    printf '  %-20s %8s  %s\n' "${_stage_results[$i]}" "${_stage_times[$i]}" "${_stage_names[$i]}"
    [ "${_stage_results[$i]}" = ok ] || failed=1
  done
  cat "$_STAGE_DIR/notes"
  rm -rf "$_STAGE_DIR"
  exit "$failed"
}
