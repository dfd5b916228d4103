#!/usr/bin/env bash
# Quick start: set-up and build, a built-in demo corpus (about 5 minutes of speech made locally),
# data preparation, training of the tiny model with MPI ranks on CPU, and sampling; then it
# prints where the WAVs are and what it measured.
#   ./launch/quickstart.sh [--corpus DIR] [--config FILE] [--ranks N] [--train-seconds S]
#                          [--run-dir DIR] [--device auto|cpu|cuda] [--skip-build]
# --corpus: your own corpus (a folder of audio, an LJSpeech folder, or a list of paths).
# --device cuda with --ranks = your GPU count trains one rank per GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="" config=configs/tiny.yaml ranks=2 seconds=180 run_dir=runs/quickstart device=auto build=1
while [ $# -gt 0 ]; do
  case $1 in
    --corpus) corpus=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --train-seconds) seconds=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --skip-build) build=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
source launch/setup.sh
t0=$(date +%s)
if [ "$build" = 1 ]; then
  diffwave_setup
  diffwave_build
fi
bin=$DIFFWAVE_BUILD_DIR/bin
mkdir -p "$run_dir"
stage() { echo; echo "== $*"; }
stage "set-up and build: $(( $(date +%s) - t0 )) s"

if [ -z "$corpus" ]; then
  corpus=$run_dir/demo_corpus
  [ -f "$corpus/metadata.csv" ] || launch/make_demo_corpus.sh "$corpus" 60
fi

t=$(date +%s)
launch/mpirun.sh -np "$ranks" "$bin/diffwave-prep" --input "$corpus" --output "$run_dir/prep" --config "$config"
stage "data preparation on $ranks ranks: $(( $(date +%s) - t )) s -> $run_dir/prep (report: $run_dir/prep/report.tsv)"

# Training stops at its step limit or after --train-seconds (then it checkpoints and exits 75,
# as it would for a preempted job); rerunning the quick start resumes it.
t=$(date +%s)
set +e
launch/mpirun.sh --quiet -np "$ranks" "$bin/diffwave-train" --config "$config" --data "$run_dir/prep" --run-dir "$run_dir/train" \
  --device "$device" --max-time "$seconds" --log-interval 100 --set train.validation_interval=500 \
  --set train.audio_interval=1000 --set train.checkpoint_interval=1000 2>&1 | tee "$run_dir/train.log"
code=${PIPESTATUS[0]}
set -e
[ "$code" = 0 ] || [ "$code" = 75 ] || { echo "training failed (exit $code); see $run_dir/train.log" >&2; exit "$code"; }
stage "training on $ranks ranks: $(( $(date +%s) - t )) s -> $run_dir/train (tensorboard --logdir $run_dir/train)"

t=$(date +%s)
rm -rf "$run_dir/samples"
# The trained weights, not the EMA: train.ema_decay (0.9999) needs far more steps than a quick
# start takes to move the average away from the initial weights.
launch/mpirun.sh -np "$ranks" "$bin/diffwave-sample" --checkpoint "$run_dir/train" --mel "$run_dir/prep" --split valid \
  --output "$run_dir/samples" --schedule fast --device "$device" 2>&1 | tee "$run_dir/sample.log"
stage "sampling on $ranks ranks: $(( $(date +%s) - t )) s"

echo
echo "== quick start done in $(( $(date +%s) - t0 )) s"
echo "   corpus:   $corpus"
echo "   shards:   $run_dir/prep ($(grep -c $'\tok' "$run_dir/prep/report.tsv" || true) inputs accepted)"
echo "   training: $(grep '^step' "$run_dir/train.log" | tail -1)"
echo "   samples:  $(ls "$run_dir/samples"/*.wav | wc -l) WAVs in $run_dir/samples"
grep -iE "real-time|rtf" "$run_dir/sample.log" | tail -2 | sed 's/^/   /' || true
