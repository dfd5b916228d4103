#!/usr/bin/env bash
# Quick start: set-up and build, a built-in demo corpus, data preparation with MPI ranks, and
# the training dry run, on CPU. Runs what this version of the project has built so far.
#   ./launch/quickstart.sh [--corpus DIR] [--config FILE] [--ranks N] [--run-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="" config=configs/tiny.yaml ranks=2 run_dir=runs/quickstart
while [ $# -gt 0 ]; do
  case $1 in
    --corpus) corpus=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source launch/setup.sh
t0=$(date +%s)
diffwave_setup
diffwave_build
bin=$DIFFWAVE_BUILD_DIR/bin
mkdir -p "$run_dir"
echo "== set-up and build: $(( $(date +%s) - t0 )) s"

if [ -z "$corpus" ]; then
  corpus=$run_dir/demo_corpus
  [ -f "$corpus/metadata.csv" ] || launch/make_demo_corpus.sh "$corpus" 60
fi

if [ -x "$bin/diffwave-prep" ]; then
  t1=$(date +%s)
  launch/mpirun.sh -np "$ranks" "$bin/diffwave-prep" --input "$corpus" --output "$run_dir/prep" --config "$config"
  echo "== data preparation ($ranks ranks): $(( $(date +%s) - t1 )) s -> $run_dir/prep"
else
  echo "== diffwave-prep is not built in this version; skipping data preparation"
fi

"$bin/diffwave-train" --config "$config" --dry-run
echo "== the distributed trainer and sampler are not built in this version: the quick start ends"
echo "   after the dry run. Outputs are under $run_dir."
