#!/usr/bin/env bash
# Makes a small built-in speech corpus in LJSpeech layout (wavs/*.wav + metadata.csv), made
# locally with the flite synthesiser (Debian package; installed when missing). Deterministic:
# the same arguments give the same files. FIRST numbers the first utterance, so that corpora made
# with disjoint ranges share no utterance (the shipped demo model never heard the quick start's).
#   launch/make_demo_corpus.sh OUT_DIR [UTTERANCES=60] [FIRST=0]
set -euo pipefail
out=${1:?usage: $0 OUT_DIR [UTTERANCES]}
count=${2:-60}
first=${3:-0}
if ! command -v flite >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "error: flite is missing; install it (apt-get install flite)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite >/dev/null; }
fi
mkdir -p "$out/wavs"
voices=(slt rms awb kal16)
subjects=("The old lighthouse keeper" "A small brown dog" "Every morning the baker" "Our new neighbour"
          "The tired student" "A quiet musician" "The river pilot" "My younger sister")
verbs=("carefully painted" "quickly carried" "slowly opened" "happily described"
       "nervously checked" "proudly showed")
objects=("the wooden boat by the harbour" "a letter from the northern islands" "the heavy gate of the garden"
         "seven baskets of ripe apples" "the map of the winding mountain road")
endings=("before the evening storm arrived." "while the children were singing." "and nobody noticed at all."
         "under the bright winter sky.")
: >"$out/metadata.csv"
for ((i = first; i < first + count; i++)); do
  text="${subjects[i % 8]} ${verbs[(i / 8) % 6]} ${objects[(i * 7) % 5]} ${endings[(i * 3) % 4]}"
  id=$(printf 'demo_%04d' "$i")
  flite -voice "${voices[i % 4]}" -t "$text" -o "$out/wavs/$id.wav"
  printf '%s|%s|%s\n' "$id" "$text" "$text" >>"$out/metadata.csv"
done
echo "demo corpus: $count utterances (from number $first) in $out" >&2
