#!/usr/bin/env bash
# Quick start: set-up and build, a built-in demo corpus (60 sentences, about 5.5 minutes of speech
# made locally), data preparation, then the shipped demo model (models/demo) vocodes the held-out
# utterances, is fine-tuned on the corpus with MPI ranks on CPU for --train-seconds, and vocodes
# them again; it prints the metrics before and after, and where the WAVs and spectrograms are.
#   ./launch/quickstart.sh [--corpus DIR] [--config FILE] [--ranks N] [--train-seconds S]
#                          [--run-dir DIR] [--device auto|cpu|cuda] [--from-scratch] [--skip-build]
# --corpus: your own corpus (a folder of audio, an LJSpeech folder, or a list of paths).
# --from-scratch, or a --config other than configs/demo.yaml: train a fresh model instead.
# --device cuda with --ranks = your GPU count trains one rank per GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="" config=configs/demo.yaml ranks=2 seconds=180 run_dir=runs/quickstart device=auto build=1 scratch=0
while [ $# -gt 0 ]; do
  case $1 in
    --corpus) corpus=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --train-seconds) seconds=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --from-scratch) scratch=1; shift ;;
    --skip-build) build=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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
t0=$(date +%s)

if [ -z "$corpus" ]; then
  corpus=$run_dir/demo_corpus
  [ -f "$corpus/metadata.csv" ] || launch/make_demo_corpus.sh "$corpus" 60
fi

t=$(date +%s)
launch/mpirun.sh -np "$ranks" "$bin/diffwave-prep" --input "$corpus" --output "$run_dir/prep" --config "$config"
stage "data preparation on $ranks ranks: $(( $(date +%s) - t )) s -> $run_dir/prep (report: $run_dir/prep/report.tsv)"

# Vocodes the held-out utterances into $run_dir/$1 (WAVs, spectrogram pictures, metrics.tsv).
vocode() {
  rm -rf "${run_dir:?}/$1"
  launch/mpirun.sh -np "$ranks" "$bin/diffwave-sample" --checkpoint "$run_dir/train" --mel "$run_dir/prep" --split valid \
    --output "$run_dir/$1" --schedule fast --device "$device" --spectrograms >"$run_dir/$1.log" 2>&1 ||
    { cat "$run_dir/$1.log" >&2; echo "sampling failed; see $run_dir/$1.log" >&2; exit 1; }
  grep -E "real-time factor|copy synthesis" "$run_dir/$1.log" | tail -2 | sed 's/^/   /'
}
# The mean row of a metrics.tsv as "name value" lines.
means() { awk -F'\t' 'NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i } $1 == "mean" { for (i = 2; i <= NF; i++) print name[i], $i }' "$1"; }

fine_tune=0 recipe=()
if [ "$scratch" = 0 ] && [ "$config" = configs/demo.yaml ]; then
  fine_tune=1
  # Fine-tuning a trained model: a tenth of demo.yaml's peak learning rate, constant; the full
  # rate undoes part of what it learnt on 56 utterances in 3 minutes (measured: envelope
  # correlation 0.91 -> 0.85).
  recipe=(--set train.learning_rate=1e-4 --set train.lr_min=1e-4 --set train.lr_warmup_steps=0 --set train.lr_decay=constant)
  if [ ! -e "$run_dir/train/checkpoints/latest" ]; then
    "$bin/diffwave-export" --from-lmnt models/demo/diffwave-demo.pt --config configs/demo.yaml --output "$run_dir/train"
    t=$(date +%s)
    vocode samples_demo
    stage "the demo model (never trained on these utterances) vocoded the held-out ones: $(( $(date +%s) - t )) s -> $run_dir/samples_demo"
  fi
fi

# Training stops at its step limit or after --train-seconds (then it checkpoints and exits 75,
# as it would for a preempted job); rerunning the quick start resumes it.
t=$(date +%s)
set +e
launch/mpirun.sh --quiet -np "$ranks" "$bin/diffwave-train" --config "$config" --data "$run_dir/prep" --run-dir "$run_dir/train" \
  --device "$device" --max-time "$seconds" --log-interval 100 --set train.validation_interval=500 \
  --set train.quality_interval=1000 --set train.checkpoint_interval=1000 "${recipe[@]}" 2>&1 | tee "$run_dir/train.log"
code=${PIPESTATUS[0]}
set -e
[ "$code" = 0 ] || [ "$code" = 75 ] || { echo "training failed (exit $code); see $run_dir/train.log" >&2; exit "$code"; }
stage "$([ $fine_tune = 1 ] && echo fine-tuning || echo training) on $ranks ranks: $(( $(date +%s) - t )) s -> $run_dir/train (tensorboard --logdir $run_dir/train)"

t=$(date +%s)
vocode samples
stage "sampling on $ranks ranks (EMA weights): $(( $(date +%s) - t )) s"

echo
echo "== quick start done in $(( $(date +%s) - t0 )) s after set-up"
echo "   corpus:   $corpus"
echo "   shards:   $run_dir/prep ($(grep -c $'\tok' "$run_dir/prep/report.tsv" || true) inputs accepted)"
echo "   training: $(grep '^step' "$run_dir/train.log" | grep -v validation | tail -1 | cut -d'|' -f1-3)"
gain=$(grep -o 'conditioning gain [^;]*' "$run_dir/train.log" | tail -1 || true)
[ -z "$gain" ] || echo "   listens to its mel: $gain (validation loss with another utterance's mel, over its own)"
echo "   samples:  $(ls "$run_dir/samples"/*.wav | wc -l) WAVs and spectrograms (<id>.png: output above original) in $run_dir/samples"
echo "   held-out utterances against their original audio (lower is better, but envelope correlation: 1 is best):"
if [ -f "$run_dir/samples_demo/metrics.tsv" ]; then
  paste <(means "$run_dir/samples_demo/metrics.tsv") <(means "$run_dir/samples/metrics.tsv" | cut -d' ' -f2) |
    awk 'BEGIN { printf "     %-22s %12s %12s\n", "metric", "demo model", "fine-tuned" } { printf "     %-22s %12.4f %12.4f\n", $1, $2, $3 }'
else
  means "$run_dir/samples/metrics.tsv" | awk '{ printf "     %-22s %12.4f\n", $1, $2 }'
fi
