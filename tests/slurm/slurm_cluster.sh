#!/usr/bin/env bash
# A real one-node Slurm cluster on loopback, for the slurm test tier and for trying cluster/*.sbatch
# by hand. Everything (munge key and socket, slurm.conf, state, spool, logs, pid files) lives in
# one base folder (munge's, in a /tmp folder of its own when BASE lies inside a private folder:
# munged wants every folder above its socket searchable by all); nothing else is touched (no
# system services, no /etc/slurm).
#
#   tests/slurm/slurm_cluster.sh up     [BASE]   install what is missing, start munged, slurmctld,
#                                                slurmd, wait until the node is idle; prints
#                                                SLURM_CONF=BASE/slurm.conf (export it for sbatch)
#   tests/slurm/slurm_cluster.sh status [BASE]   node state and jobs; exit 0 when the node answers
#   tests/slurm/slurm_cluster.sh down   [BASE]   cancel jobs, stop the daemons by their pid files;
#                                                removes BASE when `up` created it
#
# BASE: the argument, else $SLURM_CLUSTER_DIR, else (up) a new folder from mktemp.
# Exit codes: 0 done; 77 cannot run here (not root and no Slurm installed, or no apt-get): the
# message says why and the tests skip with it; 1 failure (the message names the log to read).
#
# Slurm (Debian 12: 22.05) and munge come from `apt-get install --no-install-recommends
# slurmctld slurmd slurm-client munge` when missing and we are root. The configuration follows
# the measured recipe: auth/munge with its own key, proctrack/pgid, task/none, MpiDefault=pmix,
# cons_tres with CR_CPU, config_overrides so the node may claim SLURM_CLUSTER_CPUS (default 4)
# CPUs on a smaller machine, two partitions (`low`, the default, preemptible by `high`) with
# PreemptMode=REQUEUE and GraceTime, preempt_send_user_signal (the job's --signal arrives at once
# on preemption), KillWait=5 and cred_expire=5 (a requeued job may start again after ~5 s).
# Ports: the first free pair from SLURM_CLUSTER_PORT (default 26817), so clusters in different
# base folders can run side by side.
set -uo pipefail

die() { echo "slurm_cluster.sh: error: $*" >&2; exit 1; }
cannot() { echo "slurm_cluster.sh: cannot run a Slurm cluster here: $*" >&2; exit 77; }
log() { echo "slurm_cluster.sh: $*" >&2; }

cmd=${1:-}
case "$cmd" in up | down | status) ;; *) echo "usage: $0 up|down|status [BASE]" >&2; exit 2 ;; esac
BASE=${2:-${SLURM_CLUSTER_DIR:-}}
SBIN=/usr/sbin

need_packages() {
  local missing=()
  command -v "$SBIN/slurmctld" >/dev/null 2>&1 || command -v slurmctld >/dev/null 2>&1 || missing+=(slurmctld)
  command -v "$SBIN/slurmd" >/dev/null 2>&1 || command -v slurmd >/dev/null 2>&1 || missing+=(slurmd)
  command -v sbatch >/dev/null 2>&1 || missing+=(slurm-client)
  command -v "$SBIN/munged" >/dev/null 2>&1 || command -v munged >/dev/null 2>&1 || missing+=(munge)
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(need_packages)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -eq 0 ] || cannot "Slurm is not installed (missing: $missing) and installing it needs root (apt-get install slurmctld slurmd slurm-client munge)"
  command -v apt-get >/dev/null 2>&1 || cannot "Slurm is not installed (missing: $missing) and there is no apt-get"
  [ "${DIFFWAVE_NO_APT:-0}" = 1 ] && cannot "Slurm is not installed (missing: $missing) and DIFFWAVE_NO_APT=1"
  log "installing: slurmctld slurmd slurm-client munge"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge)
  # Several installers at once (parallel test runs) would fight over dpkg's lock: one at a time.
  (
    flock -w 600 9 || exit 1
    [ -z "$(need_packages)" ] && exit 0
    "${apt[@]}" >/tmp/slurm_cluster_apt.log 2>&1 ||
      { env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>/tmp/slurm_cluster_apt.log 2>&1 &&
        "${apt[@]}" >>/tmp/slurm_cluster_apt.log 2>&1; }
  ) 9>/tmp/slurm_cluster_apt.lock || die "apt-get install failed; see /tmp/slurm_cluster_apt.log"
  missing=$(need_packages)
  [ -z "$missing" ] || die "still missing after apt-get: $missing"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() { [ -f "$1" ] && cat "$1" 2>/dev/null; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Waits up to $2 tenths of a second for the command in $1 to succeed.
wait_for() {
  local i
  for ((i = 0; i < $2; i++)); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

stop_pids() {  # pid files: SIGTERM to all at once, wait up to 10 s, then SIGKILL what is left
  local f pid pids=()
  for f in "$@"; do
    pid=$(pid_of "$f") && alive "$pid" && pids+=("$pid")
  done
  [ "${#pids[@]}" -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null
  for pid in "${pids[@]}"; do
    wait_for "! kill -0 $pid" 100 || { log "pid $pid ignored SIGTERM for 10 s; SIGKILL"; kill -KILL "$pid" 2>/dev/null; }
  done
}

up() {
  install_packages
  if [ -z "$BASE" ]; then
    BASE=$(mktemp -d /tmp/slurm-cluster-XXXXXX) || die "mktemp failed"
    touch "$BASE/.created-by-slurm_cluster"
  elif [ ! -d "$BASE" ]; then
    mkdir -p "$BASE" || die "cannot create $BASE"
    touch "$BASE/.created-by-slurm_cluster"
  fi
  BASE=$(cd "$BASE" && pwd)
  alive "$(pid_of "$BASE/run/slurmctld.pid")" && die "a cluster is already running in $BASE (run: $0 down $BASE)"
  chmod 755 "$BASE"
  mkdir -p "$BASE/munge" "$BASE/state" "$BASE/spool" "$BASE/log" "$BASE/run"

  local user node cpus port
  user=$(id -un)
  node=$(hostname -s)
  cpus=${SLURM_CLUSTER_CPUS:-4}
  # munged insists that every folder above its socket be searchable by all; a base folder inside
  # a private one (mkdtemp's 0700) gets its munge folder elsewhere, recorded for `down`.
  local munge_dir=$BASE/munge dir=$BASE
  while [ "$dir" != / ]; do
    [ "$(( 8#$(stat -c %a "$dir") & 1 ))" -eq 1 ] || { munge_dir=""; break; }
    dir=$(dirname "$dir")
  done
  if [ -z "$munge_dir" ]; then
    munge_dir=$(mktemp -d /tmp/slurm-cluster-munge-XXXXXX) || die "mktemp failed"
    rmdir "$BASE/munge"
  fi
  echo "$munge_dir" >"$BASE/run/munge.dir"
  chmod 755 "$munge_dir"
  # Every daemon runs as the current user (munged also as root, with its own root-owned key).
  dd if=/dev/urandom of="$munge_dir/munge.key" bs=1024 count=1 status=none || die "cannot write the munge key"
  chmod 400 "$munge_dir/munge.key"
  local munged=$SBIN/munged
  [ -x "$munged" ] || munged=$(command -v munged)
  "$munged" --socket="$munge_dir/munge.socket" --key-file="$munge_dir/munge.key" \
    --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" --seed-file="$munge_dir/munge.seed" ||
    die "munged did not start; see $munge_dir/munged.log"
  wait_for "test -S '$munge_dir/munge.socket'" 100 || die "munged made no socket; see $munge_dir/munged.log"

  port=${SLURM_CLUSTER_PORT:-26817}
  while ! port_free "$port" || ! port_free $((port + 1)); do
    port=$((port + 2))
    [ "$port" -gt 40000 ] && die "no free port pair found"
  done

  cat >"$BASE/slurm.conf" <<EOF
# Written by tests/slurm/slurm_cluster.sh: a one-node cluster on loopback.
ClusterName=diffwave-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_dir/munge.socket,cred_expire=5
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=pmix
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=5
ReturnToService=2
InactiveLimit=0
MinJobAge=300
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=low Nodes=$node Default=YES PriorityTier=1 PreemptMode=REQUEUE GraceTime=10 MaxTime=INFINITE State=UP
PartitionName=high Nodes=$node PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$BASE/slurm.conf
  local ctld=$SBIN/slurmctld slurmd=$SBIN/slurmd
  [ -x "$ctld" ] || ctld=$(command -v slurmctld)
  [ -x "$slurmd" ] || slurmd=$(command -v slurmd)
  "$ctld" -f "$SLURM_CONF" -i || die "slurmctld did not start; see $BASE/log/slurmctld.log"
  "$slurmd" -f "$SLURM_CONF" || die "slurmd did not start; see $BASE/log/slurmd.log"
  local state=""
  for ((i = 0; i < 300; i++)); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    [ "$state" = idle ] && break
    sleep 0.1
  done
  [ "$state" = idle ] || die "the node is not idle after 30 s (state '${state}'); see $BASE/log/slurmctld.log and slurmd.log"
  echo "SLURM_CONF=$SLURM_CONF"
}

down() {
  [ -n "$BASE" ] || die "down needs the base folder (argument or SLURM_CLUSTER_DIR)"
  [ -d "$BASE" ] || return 0
  export SLURM_CONF=$BASE/slurm.conf
  if alive "$(pid_of "$BASE/run/slurmctld.pid")"; then
    local jobs
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null
      wait_for "[ -z \"\$(squeue -h -t PD,R,CG,S,CF,RQ,RS -o %i 2>/dev/null)\" ]" 200 || log "jobs still listed after 20 s: $(squeue -h 2>&1)"
    fi
  fi
  local munge_dir
  munge_dir=$(cat "$BASE/run/munge.dir" 2>/dev/null) || munge_dir=$BASE/munge
  # All three at once: each takes 1-2 s to stop.
  stop_pids "$BASE/run/slurmd.pid" "$BASE/run/slurmctld.pid" "$munge_dir/munged.pid"
  [ "$munge_dir" != "$BASE/munge" ] && [ -d "$munge_dir" ] && rm -rf "$munge_dir"
  if [ -f "$BASE/.created-by-slurm_cluster" ]; then
    rm -rf "$BASE"
  fi
  return 0
}

status() {
  [ -n "$BASE" ] || die "status needs the base folder (argument or SLURM_CLUSTER_DIR)"
  export SLURM_CONF=$BASE/slurm.conf
  alive "$(pid_of "$BASE/run/slurmctld.pid")" || { echo "no cluster running in $BASE"; return 1; }
  echo "SLURM_CONF=$SLURM_CONF"
  sinfo -N || return 1
  squeue
}

"$cmd"
