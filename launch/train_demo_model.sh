#!/usr/bin/env bash
# Trains the demo model that the quick start ships (models/demo/diffwave-demo.pt) from the built-in
# demo corpus's utterances 60-239 (the quick start's corpus is 0-59: the model never heard it; the
# corpus's sentences repeat from 240 on), with configs/demo.yaml, on the CPU or a GPU; then exports
# the EMA weights as an lmnt-format file. Resumes if interrupted; rerun to continue.
#   launch/train_demo_model.sh [--work DIR] [--max-time SECONDS] [--device auto|cpu|cuda] [--ranks N]
set -euo pipefail
cd "$(dirname "$0")/.."
work=runs/demo_model max_time=5100 device=auto ranks=1
while [ $# -gt 0 ]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --max-time) max_time=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source launch/setup.sh
bin=$DIFFWAVE_BUILD_DIR/bin
[ -x "$bin/diffwave-train" ] || { echo "error: build first (./tests/run.sh or launch/quickstart.sh)" >&2; exit 1; }
[ -f "$work/corpus/metadata.csv" ] || launch/make_demo_corpus.sh "$work/corpus" 180 60
[ -f "$work/prep/manifest.json" ] || launch/mpirun.sh -np 1 "$bin/diffwave-prep" --input "$work/corpus" --output "$work/prep" --config configs/demo.yaml
set +e
launch/mpirun.sh --quiet -np "$ranks" "$bin/diffwave-train" --config configs/demo.yaml --data "$work/prep" --run-dir "$work/train" \
  --device "$device" --max-time "$max_time" --log-interval 500 --set train.validation_interval=1000 \
  --set train.quality_interval=2000 --set train.checkpoint_interval=2000 2>&1 | tee -a "$work/train.log"
code=${PIPESTATUS[0]}
set -e
[ "$code" = 0 ] || [ "$code" = 75 ] || { echo "training failed (exit $code); see $work/train.log" >&2; exit "$code"; }
mkdir -p models/demo
"$bin/diffwave-export" --checkpoint "$work/train" --weights ema --output models/demo/diffwave-demo.pt
[ "$code" = 0 ] || echo "stopped by --max-time (exit 75): rerun to continue to train.max_steps" >&2
