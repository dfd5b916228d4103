#!/usr/bin/env bash
# Builds the project (installing what is missing) and runs the test suites with CTest.
#   ./tests/run.sh                 everything (gpu tests skip without a GPU)
#   ./tests/run.sh -L unit         one tier: unit, mpi, gpu, slurm, slow (any ctest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/setup.sh
start=$(date +%s)
diffwave_setup
diffwave_build
diffwave_log "set-up and build took $(( $(date +%s) - start )) s"
cd "$DIFFWAVE_BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"
