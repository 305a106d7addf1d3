#!/usr/bin/env bash
# Make a real Docker engine available on a Debian 12 (bookworm) CI machine WITHOUT
# systemd and WITHOUT a container registry, so the container tests can run:
#   1. apt: docker.io + docker-cli + docker-buildx from Debian trixie (bookworm's
#      docker.io is 20.10, too old for the containerd image store and multi-platform
#      --push), which pull containerd 1.7 from trixie too. trixie is added pinned to priority 100, so it is only used for the
#      packages we name; the install is simulated first and refused if it would
#      upgrade libc6/systemd/base-files. From bookworm: qemu-user-static,
#      binfmt-support, skopeo, docker-registry (CNCF Distribution 2.8),
#      apache2-utils (htpasswd -B), jq, curl, openssl (test certificates).
#   2. dockerd with the containerd image store (needed for multi-platform images with
#      the default "docker" buildx driver) and published ports bound to 127.0.0.1,
#      started with setsid; PID in $DOCKERD_PIDFILE, log in $DOCKERD_LOG.
#   3. binfmt_misc + qemu-aarch64, so linux/arm64 RUN steps also work.
# Idempotent: on an already prepared machine it only checks and exits in ~1 s.
# Usage: scripts/ci/setup-docker.sh [packages|daemon|binfmt]...   (default: all three)
set -Eeuo pipefail
trap 'echo "setup-docker: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/nitro-dockerd.log}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/var/run/nitro-dockerd.pid}
DOCKERD_WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}
export DEBIAN_FRONTEND=noninteractive

# apt_get (common.sh): waits for the dpkg and lists locks instead of failing at once.
APT=(apt_get -y -q --no-install-recommends)

installed_version() {  # prints the installed version, or nothing
  { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '/install ok installed/ { print $4 }'
}

ensure_trixie_source() {
  if apt-cache policy 2>/dev/null | grep -q 'n=trixie'; then return 0; fi
  log "adding Debian trixie as an apt source, pinned to priority 100 (never chosen implicitly)"
  cat >/etc/apt/sources.list.d/nitro-trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >/etc/apt/preferences.d/nitro-trixie <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  "${APT[@]}" update
}

install_packages() {
  need_root
  local t0 missing=() pkg dv
  t0=$(tick)
  for pkg in qemu-user-static binfmt-support skopeo docker-registry apache2-utils jq curl iptables openssl; do
    [ -n "$(installed_version "$pkg")" ] || missing+=("$pkg")
  done
  dv=$(installed_version docker.io)
  if [ ${#missing[@]} -eq 0 ] && [ -n "$(installed_version docker-buildx)" ] && dpkg --compare-versions "${dv:-0}" ge 24; then
    log "packages already installed (docker.io $dv) [$(took "$t0")]"; return 0
  fi
  # Lists are missing on a fresh machine (or do not know skopeo yet): refresh once.
  apt-cache show skopeo >/dev/null 2>&1 || "${APT[@]}" update
  ensure_trixie_source
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from bookworm: ${missing[*]}"
    "${APT[@]}" install "${missing[@]}"
  fi
  if [ -z "$(installed_version docker-buildx)" ] || ! dpkg --compare-versions "${dv:-0}" ge 24; then
    log "installing docker.io, docker-cli, docker-buildx from trixie (simulating first)"
    local sim
    sim=$("${APT[@]}" -s install docker.io/trixie docker-cli/trixie docker-buildx/trixie)
    # Expected: docker.io, docker-cli, docker-buildx, containerd 1.7 (trixie's docker.io
    # needs it; a static Go binary), runc + tini from bookworm. Never a new libc/systemd.
    if grep -E '^(Inst (libc6|libc-bin|systemd|libsystemd0|base-files) |Remv )' <<<"$sim"; then
      grep -E '^Inst ' <<<"$sim" >&2
      die "the trixie docker install would upgrade core packages or remove some; refusing"
    fi
    grep -E '^Inst ' <<<"$sim" >&2 || true
    # A running old dockerd would keep the old binary; stop it (only if we started it).
    stop_our_dockerd
    "${APT[@]}" install docker.io/trixie docker-cli/trixie docker-buildx/trixie
  fi
  log "packages ready (docker.io $(installed_version docker.io), buildx $(installed_version docker-buildx)) [$(took "$t0")]"
}

# ---------------------------------------------------------------- dockerd ----
DAEMON_JSON='{
  "features": { "containerd-snapshotter": true },
  "ip": "127.0.0.1"
}'

dockerd_pid() {  # PID of a running dockerd, from dockerd's own pid file
  local p; p=$(cat /var/run/docker.pid 2>/dev/null || true)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qa dockerd "/proc/$p/cmdline" && echo "$p"
}

stop_our_dockerd() {
  local p; p=$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qa dockerd "/proc/$p/cmdline" || return 0
  log "stopping dockerd PID $p"
  kill -TERM "$p"
  for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
  rm -f "$DOCKERD_PIDFILE"
}

start_daemon() {
  need_root
  local t0 changed=0 p
  t0=$(tick)
  mkdir -p /etc/docker
  if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$DAEMON_JSON" ]; then
    printf '%s\n' "$DAEMON_JSON" >/etc/docker/daemon.json; changed=1
  fi
  p=$(dockerd_pid || true)
  if [ -n "$p" ]; then
    # Capture first: `docker info | grep -q` under pipefail can fail on SIGPIPE.
    local info; info=$(docker info 2>/dev/null || true)
    if [ "$changed" = 0 ] && grep -q 'driver-type: io.containerd.snapshotter.v1' <<<"$info"; then
      [ -s "$DOCKERD_PIDFILE" ] || echo "$p" >"$DOCKERD_PIDFILE"
      log "dockerd already running (PID $p, containerd image store) [$(took "$t0")]"; return 0
    fi
    [ "$(cat "$DOCKERD_PIDFILE" 2>/dev/null)" = "$p" ] ||
      die "a dockerd (PID $p) we did not start runs with another configuration; stop it first"
    stop_our_dockerd
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  # "cd /;" and not "cd / &&": with && bash forks a subshell and $! is not dockerd.
  ( cd /; setsid /usr/sbin/dockerd --config-file /etc/docker/daemon.json >>"$DOCKERD_LOG" 2>&1 </dev/null & echo $! >"$DOCKERD_PIDFILE" )
  local deadline=$(( $(date +%s) + DOCKERD_WAIT_SECONDS ))
  until docker info >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null; then
      tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd did not answer within ${DOCKERD_WAIT_SECONDS}s"
    fi
    sleep 0.25
  done
  log "dockerd PID $(cat "$DOCKERD_PIDFILE") up [$(took "$t0")]"
  docker info 2>/dev/null | grep -E 'Server Version|driver-type|Cgroup Version' >&2 || true
}

# ----------------------------------------------------------------- binfmt ----
setup_binfmt() {
  need_root
  local t0; t0=$(tick)
  # Without systemd nobody mounts binfmt_misc or runs binfmt-support's service.
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || update-binfmts --enable qemu-aarch64
  # The F (fix-binary) flag lets the handler work inside containers that lack qemu.
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || log "WARNING: qemu-aarch64 lacks the F flag"
  log "binfmt qemu-aarch64 enabled [$(took "$t0")]"
}

main() {
  local T0 steps=("$@"); T0=$(tick)
  [ ${#steps[@]} -gt 0 ] || steps=(packages daemon binfmt)
  for s in "${steps[@]}"; do
    case $s in
      packages) install_packages ;;
      daemon)   start_daemon ;;
      binfmt)   setup_binfmt ;;
      *) die "unknown step: $s (packages|daemon|binfmt)" ;;
    esac
  done
  log "setup-docker done in $(took "$T0")"
}
main "$@"
