#!/usr/bin/env bash
# One harness as the fuzz CTest tier runs it:
#   fuzz/run_fuzzer.sh build-sanitize/fuzz/fuzz_NAME [SECONDS]
# 1. runs every input in fuzz/seeds/NAME and fuzz/regressions/NAME once (a crash fails at once);
# 2. fuzzes for SECONDS (env DIFFWAVE_FUZZ_SECONDS wins unless SECONDS is 0), growing a corpus kept in the
#    build folder (BUILD/fuzz/work/NAME/corpus, reused by the next run) from the seeds.
# A crash leaves its input in BUILD/fuzz/work/NAME/artifacts/; commit it to fuzz/regressions/NAME/.
set -euo pipefail
harness=$1
seconds=${2:-30}
[ "$seconds" = 0 ] || seconds=${DIFFWAVE_FUZZ_SECONDS:-$seconds}  # 0 from CMake: inputs only, always
name=$(basename "$harness")
here=$(cd "$(dirname "$0")" && pwd)
work=$(cd "$(dirname "$harness")" && pwd)/work/$name
mkdir -p "$work/corpus" "$work/artifacts"
# Limits: an input may take 25 s, the process 4 GiB, one allocation 2 GiB (more is a finding).
opts=(-rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=25 "-artifact_prefix=$work/artifacts/")
[ -f "$here/dicts/$name.dict" ] && opts+=("-dict=$here/dicts/$name.dict")

inputs=()
for dir in "$here/seeds/$name" "$here/regressions/$name"; do
  [ -d "$dir" ] || continue
  while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$dir" -type f ! -name '*.md' -print0 | sort -z)
done
if ((${#inputs[@]})); then
  echo "== $name: ${#inputs[@]} seed and regression inputs"
  if ! "$harness" "${opts[@]}" "${inputs[@]}" >"$work/inputs.log" 2>&1; then
    tail -n 80 "$work/inputs.log"
    echo "FAILED: a seed or regression input of $name crashes (see above)"
    exit 1
  fi
fi
((seconds > 0)) || exit 0
echo "== $name: fuzzing for $seconds s"
corpora=("$work/corpus")
for dir in "$here/seeds/$name" "$here/regressions/$name"; do [ -d "$dir" ] && corpora+=("$dir"); done
log=$work/last.log
status=0
"$harness" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 "${corpora[@]}" >"$log" 2>&1 || status=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" || true
if ((status != 0)); then
  tail -n 80 "$log"
  echo "FAILED: $name crashed; the input is in $work/artifacts/ (copy it into fuzz/regressions/$name/)"
  exit 1
fi
