#!/usr/bin/env bash
# Builds the project (installing what is missing) and runs the test suites with CTest.
#   ./tests/run.sh                 everything (gpu tests skip without a GPU)
#   ./tests/run.sh -L unit         one tier: unit, mpi, gpu, slurm, slow (any ctest arguments pass through)
#   ./tests/run.sh -L fuzz         the libFuzzer harnesses; -L asan, -L tsan, -L sanitize: sanitizer
#                                  builds of the tests (tests/sanitize.sh, fuzz/README.md)
# A skipped test outside the gpu tier fails the run: a check that did not run checked nothing.
# DIFFWAVE_ALLOW_SKIP=slurm,slow (tier labels) accepts skips in those tiers too.
set -euo pipefail
cd "$(dirname "$0")/.."
# The sanitizer and fuzz tiers build in folders of their own with clang: tests/sanitize.sh.
prev=""
for a in "$@"; do
  case "$prev:$a" in -L:sanitize | -L:asan | -L:tsan | -L:fuzz | *:-Lsanitize | *:-Lasan | *:-Ltsan | *:-Lfuzz)
    exec tests/sanitize.sh "$@" ;;
  esac
  prev=$a
done
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
