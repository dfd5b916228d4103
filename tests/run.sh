#!/usr/bin/env bash
# Builds the project (installing what is missing) and runs the test suites with CTest.
#   ./tests/run.sh                 everything (gpu tests skip without a GPU)
#   ./tests/run.sh -L unit         one tier: unit, mpi, gpu, slurm, slow (any ctest arguments pass through)
# A skipped test outside the gpu tier fails the run: a check that did not run checked nothing.
# DIFFWAVE_ALLOW_SKIP=slurm,slow (tier labels) accepts skips in those tiers too.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/setup.sh
source tests/skip_check.sh
start=$(date +%s)
diffwave_setup
diffwave_reference_python
diffwave_build
diffwave_log "set-up and build took $(( $(date +%s) - start )) s"
cd "$DIFFWAVE_BUILD_DIR"
log=$DIFFWAVE_BUILD_DIR/ctest.log
set +e
ctest --output-on-failure -j "$(nproc)" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
diffwave_check_skips "$log" "gpu${DIFFWAVE_ALLOW_SKIP:+,$DIFFWAVE_ALLOW_SKIP}" || status=1
diffwave_log "tests took $(( $(date +%s) - start )) s in all"
exit "$status"
