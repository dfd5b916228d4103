#!/usr/bin/env bash
# mpirun for one node: binds nothing, allows oversubscription (CPU ranks on small machines), and
# runs as root where needed (containers). Usage: launch/mpirun.sh -np N PROGRAM [ARGS...]
# For several nodes pass a hostfile: launch/mpirun.sh -np 8 --hostfile hosts PROGRAM ...
set -euo pipefail
extra=(--oversubscribe --bind-to none)
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
exec mpirun "${extra[@]}" "$@"
