#!/usr/bin/env bash
# Throwaway scale-out backends for the reference server's tests, on a Debian 12 (bookworm) machine
# WITHOUT systemd, everything from Debian's archive, everything on 127.0.0.1:
#   - PostgreSQL 15: one cluster with test-only settings (no fsync), password auth over TCP;
#   - S3: Ceph RGW 16.2 (1 mon + 1 BlueStore OSD on a sparse file + radosgw; no ceph-mgr), auth none
#     inside the cluster, one S3 user;
#   - HAProxy is only installed: tests start their own (reference-server/test/helpers/haproxy.ts).
#
#   scripts/ci/setup-scaleout.sh install        apt packages, only the missing ones (root)
#   scripts/ci/setup-scaleout.sh up DIR         start both under DIR (again: restarts what is down, keeps
#                                               data); writes DIR/env (NITRO_TEST_* variables, see below)
#   scripts/ci/setup-scaleout.sh down DIR       stop exactly the daemons `up` started (recorded PIDs):
#                                               radosgw, then the OSD, then the mon; PostgreSQL alongside
#   scripts/ci/setup-scaleout.sh status DIR     PIDs and RSS of those daemons
#   scripts/ci/setup-scaleout.sh destroy DIR    down, then rm -rf DIR
#
# DIR/env (for `set -a; . DIR/env; set +a`):
#   NITRO_TEST_DATABASE_URL   admin URL (user postgres, database postgres): tests CREATE DATABASE from it
#   NITRO_TEST_S3_ENDPOINT    http://127.0.0.1:PORT (path-style addressing; no bucket is created)
#   NITRO_TEST_S3_ACCESS_KEY, NITRO_TEST_S3_SECRET_KEY, NITRO_TEST_S3_REGION
# The recipe and its pitfalls: docs/scaleout-testing.md. Test-only: size-1 pools, fsync off.
# Knobs: CEPH_BLOCK_GB (sparse OSD file, default 20), SCALEOUT_WAIT_SECONDS (per daemon, default 120).
set -Eeuo pipefail
trap 'echo "setup-scaleout: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
. "$(dirname "$0")/common.sh"

export DEBIAN_FRONTEND=noninteractive
# Debian's python has python3-rados; a pyenv python3 first on PATH does not.
PY=/usr/bin/python3
WAIT=${SCALEOUT_WAIT_SECONDS:-120}
S3_REGION=us-east-1

# ---------------------------------------------------------------- helpers ----
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = 'install ok installed' ]; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# Prints the tail of a log and dies: every failure says where to look and shows the start of why.
die_log() {
  local logfile=$1; shift
  if [ -s "$logfile" ]; then printf -- '--- last lines of %s:\n' "$logfile" >&2; tail -n 25 "$logfile" >&2; printf -- '---\n' >&2; fi
  die "$*"
}
# alive PID: the process exists and is not a zombie. Daemons outlive the shell that started them, so
# their parent is PID 1, which may take seconds to reap them: `kill -0` alone would still see them.
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
# our_pid PIDFILE NAME: prints the recorded PID if that process is alive AND still runs NAME (a PID
# recycled by an unrelated process after a reboot or crash is never ours).
our_pid() {
  local p c; p=$(cat "$1" 2>/dev/null || true)
  [ -n "$p" ] && alive "$p" || return 1
  c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || return 1
  [[ $c == *"$2"* ]] && echo "$p"
}
# spawn PIDFILE LOG CMD...: runs CMD as a daemon in its own session (Ctrl-C of the caller does not reach
# it), records its PID. setsid does not fork here (a background job is no group leader), so $! is CMD.
spawn() {
  local pf=$1 lf=$2; shift 2
  setsid "$@" </dev/null >>"$lf" 2>&1 &
  echo $! >"$pf"
}
# wait_for PIDFILE NAME LOG WHAT CMD...: polls CMD (each try capped at 10 s: a ceph CLI call without its
# mon waits forever) until it succeeds; fails at once with the log's tail if the daemon exited.
wait_for() {
  local pf=$1 name=$2 lf=$3 what=$4; shift 4
  local end=$((SECONDS + WAIT))
  until timeout 10 "$@" >/dev/null 2>&1; do
    our_pid "$pf" "$name" >/dev/null || die_log "$lf" "$what: the daemon exited"
    [ "$SECONDS" -lt "$end" ] || die_log "$lf" "$what: not ready after ${WAIT}s"
    sleep 0.2
  done
}
# stop_pid PIDFILE NAME [SIGNAL]: signal the recorded PID (only if it is still ours), wait up to 30 s,
# then SIGKILL. Removes the PID file.
stop_pid() {
  local pf=$1 name=$2 sig=${3:-TERM} p
  p=$(our_pid "$pf" "$name" || true)
  if [ -n "$p" ]; then
    kill "-$sig" "$p" 2>/dev/null || true
    for _ in $(seq 1 300); do alive "$p" || break; sleep 0.1; done
    if alive "$p"; then log "$name (PID $p) still running 30 s after SIG$sig: SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
  fi
  rm -f "$pf"
}

# ---------------------------------------------------------------- install ----
pg_bindir() {  # the directory of initdb/pg_ctl/postgres: on PATH, or Debian's newest
  local b
  if b=$(command -v initdb 2>/dev/null); then dirname "$(readlink -f "$b")"; return 0; fi
  for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do [ -x "$b/initdb" ] && { echo "$b"; return 0; }; done
  return 1
}

cmd_install() {
  need_root
  local t0 missing=() p; t0=$(tick)
  # ceph-common brings the ceph CLI, radosgw-admin, monmaptool and python3-rados; no ceph-mgr: RGW
  # works without it (saves ~300 MB RSS; `ceph -s` then shows PGs as unknown).
  for p in ceph-mon ceph-osd radosgw ceph-common haproxy curl; do installed "$p" || missing+=("$p"); done
  pg_bindir >/dev/null || missing+=(postgresql-15)
  if [ ${#missing[@]} -eq 0 ]; then log "scale-out packages already installed [$(took "$t0")]"; return 0; fi
  log "installing ${missing[*]}"
  # Lists are missing on a fresh machine: refresh once (apt-cache knows radosgw afterwards).
  apt-cache show radosgw >/dev/null 2>&1 || apt_get update -qq
  # Nothing here pulls in systemd; postinst scripts cannot start daemons without an init system.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed ${missing[*]} [$(took "$t0")]"
}

# ---------------------------------------------------------------- PostgreSQL ----
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  local D=$1/pg BIN t0 p; t0=$(tick)
  BIN=$(pg_bindir) || die "PostgreSQL is not installed: run '$0 install'"
  mkdir -p "$D"
  # initdb refuses root: the cluster belongs to 'postgres', which must reach DIR and own DIR/pg.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' is missing (Debian's postgresql-common creates it): run '$0 install'"
    chown postgres: "$D"; chmod 755 "$1"
  fi
  if p=$(our_pid "$D/pid" "postgres -D $D/data"); then log "PostgreSQL already running (PID $p) [$(took "$t0")]"; return 0; fi
  if [ ! -f "$D/data/PG_VERSION" ]; then
    rm -rf "$D/data"
    random_hex 16 >"$D/password"; chmod 600 "$D/password"
    install -m 600 -o "$(stat -c %u "$D")" /dev/null "$D/pwfile" && cat "$D/password" >"$D/pwfile"
    # Password (SCRAM) over TCP, as deployments use it; trust on the socket in DIR/pg (pg_ctl -w uses
    # it). C collation: byte order, as OCI's lexical tag and catalog order expect. -N: no fsync.
    as_pg "$BIN/initdb" -D "$D/data" -U postgres --pwfile="$D/pwfile" --auth-host=scram-sha-256 --auth-local=trust \
      --no-locale -E UTF8 -N >"$D/initdb.log" 2>&1 || { rm -f "$D/pwfile"; die_log "$D/initdb.log" "initdb failed"; }
    rm -f "$D/pwfile"
    free_port >"$D/port"
    cat >>"$D/data/postgresql.conf" <<EOF
# setup-scaleout.sh: test-only settings (no durability; a crash loses the cluster)
listen_addresses = '127.0.0.1'
port = $(cat "$D/port")
unix_socket_directories = '$D'
fsync = off
synchronous_commit = off
full_page_writes = off
# 3 replicas x their pools + tests creating databases in parallel
max_connections = 300
EOF
    log "PostgreSQL cluster initialised [$(took "$t0")]"
  fi
  # A stale postmaster.pid (killed cluster) is handled by postgres itself; pg_ctl waits until it accepts.
  as_pg "$BIN/pg_ctl" -D "$D/data" -l "$D/postgres.log" -w -t "$WAIT" start >/dev/null 2>&1 ||
    die_log "$D/postgres.log" "PostgreSQL did not start"
  head -1 "$D/data/postmaster.pid" >"$D/pid"
  log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$(cat "$D/port"), PID $(cat "$D/pid") [$(took "$t0")]"
}

pg_env() {
  local D=$1/pg
  echo "NITRO_TEST_DATABASE_URL=postgres://postgres:$(cat "$D/password")@127.0.0.1:$(cat "$D/port")/postgres"
}

pg_down() {
  local D=$1/pg t0; t0=$(tick)
  [ -f "$D/pid" ] || return 0
  # SIGINT = PostgreSQL's fast shutdown: roll back open transactions, disconnect clients, checkpoint.
  stop_pid "$D/pid" "postgres -D $D/data" INT
  log "PostgreSQL stopped [$(took "$t0")]"
}

# ---------------------------------------------------------------- Ceph RGW ----
# Pitfalls (docs/scaleout-testing.md): radosgw needs ms_mon_client_mode=crc with auth none or it never
# opens its port; RGW's 7 pools x 32 default PGs exceed one OSD's limit; each pool create costs ~1 s
# unless paxos proposes faster; the mon stops itself below 5 % free disk.
write_ceph_conf() {
  local D=$1
  free_port >"$D/rgw.port"
  cat >"$D/ceph.conf" <<EOF
# Generated by setup-scaleout.sh: single-node, test-only (size-1 pools: NOT durable).
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon_host = [v2:127.0.0.1:$(free_port)]
public_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_msgr1 = false
ms_bind_msgr2 = true
# no cephx: only 127.0.0.1 reaches the cluster; S3 clients still authenticate (SigV4) at radosgw
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# everything inside DIR (nothing in /var/lib/ceph, /var/run/ceph, /var/log/ceph, /etc/ceph)
log_file = $D/log/\$name.log
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
run_dir = $D/run
crash_dir = $D/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
mon_data_avail_warn = 2
mon_data_avail_crit = 0
osd_objectstore = bluestore
[mon]
paxos_propose_interval = 0.05
mon_data = $D/mon.\$id
[osd]
osd_data = $D/osd.\$id
# BlueStore on a sparse regular file: no loop device, LVM or ceph-volume
bluestore_block_path = $D/osd.\$id/block.file
bluestore_block_create = true
bluestore_block_size = $(( ${CEPH_BLOCK_GB:-20} * 1024 * 1024 * 1024 ))
bluestore_fsck_on_mkfs = false
# the minimum allowed (896 MiB; default 4 GiB)
osd_memory_target = 939524096
# the block device's aio thread polls for its stop every 250 ms by default, and the OSD opens and
# closes the device once per op shard at start: ~0.3 s each
bdev_aio_poll_ms = 10
[client.rgw.a]
rgw_data = $D/rgw.\$id
rgw_frontends = beast endpoint=127.0.0.1:$(cat "$D/rgw.port")
ms_mon_client_mode = crc
# no bucket lifecycle workers: nothing here uses lifecycle rules, and at shutdown radosgw waits for
# them; after a radosgw was killed they retry its stale lock every 5 s and delay stopping by up to 30 s
rgw_enable_lc_threads = false
# reclaim deleted objects' space after 60 s instead of 2 h (long test runs delete many blobs)
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
EOF
}

# RGW's pools, created up front in one client session: neither radosgw's start nor the first CreateBucket
# then creates them one by one.
CREATE_POOLS='
import json, sys, rados
c = rados.Rados(conffile=sys.argv[1]); c.connect(timeout=30)
for p in [".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
          "default.rgw.buckets.index", "default.rgw.buckets.data", "default.rgw.buckets.non-ec"]:
    for cmd in ({"prefix": "osd pool create", "pool": p, "pg_num": 8, "pgp_num": 8},
                {"prefix": "osd pool application enable", "pool": p, "app": "rgw"}):
        r, out, err = c.mon_command(json.dumps(cmd), b"")
        if r != 0: sys.exit(f"{cmd}: {r} {err}")
c.shutdown()
'

s3_up() {
  local D=$1/ceph t0 p; t0=$(tick)
  mkdir -p "$D"/{log,run,crash,mon.a,osd.0,rgw.a}
  export CEPH_CONF=$D/ceph.conf
  [ -f "$D/ceph.conf" ] || write_ceph_conf "$D"
  local port; port=$(cat "$D/rgw.port")
  local rgw_url=http://127.0.0.1:$port/

  if p=$(our_pid "$D/pid.rgw" "radosgw -c $D/ceph.conf") && curl -sf -m 5 -o /dev/null "$rgw_url" && [ -f "$D/.user" ]; then
    log "Ceph RGW already running (PID $p) [$(took "$t0")]"; return 0
  fi

  # mon: the one-monitor map and its store, once; then the daemon in the foreground (-f) of its session
  if [ ! -f "$D/mon.a/kv_backend" ]; then
    monmaptool --create --fsid "$(ceph-conf --lookup fsid)" --addv a "$(ceph-conf --lookup mon_host)" "$D/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$D/monmap" >>"$D/log/mon.a.out" 2>&1 || die_log "$D/log/mon.a.out" "ceph-mon --mkfs failed"
  fi
  our_pid "$D/pid.mon" "ceph-mon -c $D/ceph.conf" >/dev/null || spawn "$D/pid.mon" "$D/log/mon.a.out" ceph-mon -c "$CEPH_CONF" -f -i a
  wait_for "$D/pid.mon" "ceph-mon -c $D/ceph.conf" "$D/log/mon.a.log" "ceph-mon" ceph --connect-timeout 5 mon stat
  log "ceph-mon up, PID $(cat "$D/pid.mon") [$(took "$t0")]"

  # osd: registered and formatted once (BlueStore creates its sparse block file), then started
  if [ ! -f "$D/osd.0/fsid" ]; then
    local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
    timeout 60 ceph osd new "$uuid" 0 >/dev/null 2>>"$D/log/osd.0.out" || die_log "$D/log/osd.0.out" "ceph osd new failed"
    ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >>"$D/log/osd.0.out" 2>&1 || die_log "$D/log/osd.0.out" "ceph-osd --mkfs failed"
  fi
  our_pid "$D/pid.osd" "ceph-osd -c $D/ceph.conf" >/dev/null || spawn "$D/pid.osd" "$D/log/osd.0.out" ceph-osd -c "$CEPH_CONF" -f -i 0
  wait_for "$D/pid.osd" "ceph-osd -c $D/ceph.conf" "$D/log/osd.0.log" "ceph-osd (osd.0 up)" bash -c 'ceph osd dump -f json | grep -q "\"up\":1"'
  log "ceph-osd up, PID $(cat "$D/pid.osd") [$(took "$t0")]"

  if [ ! -f "$D/.pools" ]; then
    timeout 120 "$PY" -c "$CREATE_POOLS" "$CEPH_CONF" >>"$D/log/pools.out" 2>&1 || die_log "$D/log/pools.out" "creating RGW's pools failed"
    touch "$D/.pools"
    log "RGW pools created [$(took "$t0")]"
  fi

  our_pid "$D/pid.rgw" "radosgw -c $D/ceph.conf" >/dev/null || spawn "$D/pid.rgw" "$D/log/rgw.a.out" radosgw -c "$CEPH_CONF" -f -n client.rgw.a
  wait_for "$D/pid.rgw" "radosgw -c $D/ceph.conf" "$D/log/client.rgw.a.log" "radosgw on 127.0.0.1:$port" curl -sf -m 5 -o /dev/null "$rgw_url"
  log "radosgw up on 127.0.0.1:$port, PID $(cat "$D/pid.rgw") [$(took "$t0")]"

  if [ ! -f "$D/.user" ]; then
    printf 'testaccess%s\n' "$(random_hex 5)" >"$D/access_key"
    random_hex 20 >"$D/secret_key"; chmod 600 "$D/secret_key"
    timeout 60 radosgw-admin user create --uid=nitro-test --display-name=nitro-test \
      --access-key="$(cat "$D/access_key")" --secret-key="$(cat "$D/secret_key")" >/dev/null 2>>"$D/log/user.out" ||
      die_log "$D/log/user.out" "radosgw-admin user create failed"
    touch "$D/.user"
  fi
  log "Ceph RGW ready [$(took "$t0")]"
}

s3_env() {
  local D=$1/ceph
  cat <<EOF
NITRO_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "$D/rgw.port")
NITRO_TEST_S3_ACCESS_KEY=$(cat "$D/access_key")
NITRO_TEST_S3_SECRET_KEY=$(cat "$D/secret_key")
NITRO_TEST_S3_REGION=$S3_REGION
EOF
}

s3_down() {
  local D=$1/ceph t0; t0=$(tick)
  [ -d "$D" ] || return 0
  # Order matters: radosgw needs RADOS to shut down (it hangs ~20 s once the OSD is gone), and the OSD
  # reports to the mon. So radosgw, then the OSD, then the mon; each stops cleanly on SIGTERM.
  stop_pid "$D/pid.rgw" "radosgw -c $D/ceph.conf"; log "radosgw stopped [$(took "$t0")]"
  stop_pid "$D/pid.osd" "ceph-osd -c $D/ceph.conf"; log "ceph-osd stopped [$(took "$t0")]"
  stop_pid "$D/pid.mon" "ceph-mon -c $D/ceph.conf"; log "ceph-mon stopped [$(took "$t0")]"
}

# ---------------------------------------------------------------- commands ----
abs_dir() {
  [ -n "${1:-}" ] || die "usage: $0 $cmd DIR"
  [[ $1 != *[[:space:]]* ]] || die "DIR must not contain whitespace (it ends up in ceph.conf): '$1'"
  mkdir -p "$1"; (cd "$1" && pwd)
}

cmd_up() {
  local DIR t0; DIR=$(abs_dir "${1:-}"); t0=$(tick)
  # Side by side: PostgreSQL's initdb overlaps Ceph's start. If Ceph fails, the EXIT trap still waits
  # for PostgreSQL, so its PID is recorded for `down`.
  pg_up "$DIR" & local pg=$!
  # shellcheck disable=SC2064  # (expand $pg now)
  trap "wait $pg" EXIT
  s3_up "$DIR"
  wait "$pg" || die "PostgreSQL did not start (see above)"
  trap - EXIT
  { echo "# written by scripts/ci/setup-scaleout.sh up $DIR"; pg_env "$DIR"; s3_env "$DIR"; } >"$DIR/env.tmp"
  chmod 600 "$DIR/env.tmp"; mv "$DIR/env.tmp" "$DIR/env"
  log "scale-out backends up; variables in $DIR/env [$(took "$t0")]"
}

cmd_down() {
  local DIR t0 pg; DIR=$(abs_dir "${1:-}"); t0=$(tick)
  pg_down "$DIR" & pg=$!
  s3_down "$DIR"
  wait "$pg"
  log "scale-out backends down [$(took "$t0")]"
}

cmd_status() {
  local DIR f name p; DIR=$(abs_dir "${1:-}")
  for f in "pg/pid:postgres -D $DIR/pg/data" "ceph/pid.mon:ceph-mon -c $DIR/ceph/ceph.conf" \
    "ceph/pid.osd:ceph-osd -c $DIR/ceph/ceph.conf" "ceph/pid.rgw:radosgw -c $DIR/ceph/ceph.conf"; do
    name=${f#*:}; name=${name%% *}
    if p=$(our_pid "$DIR/${f%%:*}" "${f#*:}"); then
      printf '%-9s PID %-7s RSS %5s MiB\n' "$name" "$p" "$(( $(ps -o rss= -p "$p") / 1024 ))"
    else
      printf '%-9s not running\n' "$name"
    fi
  done
}

cmd=${1:-}
case $cmd in
  install) cmd_install ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  destroy) d=$(abs_dir "${2:-}"); cmd_down "$d"; rm -rf "$d"; log "removed $d" ;;
  *) sed -n '2,23p' "$0" >&2; exit 2 ;;
esac
