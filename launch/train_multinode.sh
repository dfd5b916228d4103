#!/usr/bin/env bash
# Multi-node training with mpirun (no Slurm): one rank per GPU on every host of a hostfile.
#   HOSTFILE=hosts GPUS_PER_NODE=8 launch/train_multinode.sh --config configs/base.yaml \
#       --data /shared/prep --run-dir /shared/runs/base
# The hostfile lists one host per line ("node01 slots=8"). The run dir and data must be on a
# file system every node sees (checkpoints, heartbeats). Exits with diffwave-train's code
# (75: stopped early with a checkpoint; rerun the same command to resume).
#
# Variables:
#   HOSTFILE        hostfile for mpirun (required)
#   GPUS_PER_NODE   ranks per host (default: GPUs visible here)
#   NCCL_SOCKET_IFNAME, NCCL_IB_HCA, ...   passed through to every rank when set
#   DIFFWAVE_BIN    folder with diffwave-train (default build/bin)
set -euo pipefail
: "${HOSTFILE:?set HOSTFILE to an mpirun hostfile}"
gpus=${GPUS_PER_NODE:-$(nvidia-smi -L 2>/dev/null | wc -l)}
[ "$gpus" -gt 0 ] || { echo "no GPUs found: set GPUS_PER_NODE" >&2; exit 2; }
hosts=$(grep -cv '^\s*\(#\|$\)' "$HOSTFILE")
env_args=()
for v in $(env | grep -oE '^(NCCL|OMP|HDF5|DIFFWAVE)_[A-Z_]*' || true); do env_args+=(-x "$v"); done
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}
env_args+=(-x HDF5_USE_FILE_LOCKING)
exec "$(dirname "$0")/mpirun.sh" -np $((hosts * gpus)) --hostfile "$HOSTFILE" --map-by "ppr:${gpus}:node" \
  "${env_args[@]}" "${DIFFWAVE_BIN:-build/bin}/diffwave-train" "$@"
