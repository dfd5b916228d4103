# Sourced by tests/run.sh: a skipped test outside the tiers allowed to skip fails the run.
# Logs through diffwave_log (launch/setup.sh).
# Fails, naming them and why they skipped, when tests outside the allowed tiers (comma-separated
# labels) skipped in the CTest run whose output is in LOG. Run from the build folder.
diffwave_check_skips() {  # LOG ALLOWED_LABELS
  local log=$1 allowed="^(${2//,/|})\$" skipped allowed_names bad=() name
  skipped=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
  [ -z "$skipped" ] && return 0
  # Read before `ctest -N`, which rewrites LastTest.log.
  local last_log
  last_log=$(cat Testing/Temporary/LastTest.log 2>/dev/null || true)
  allowed_names=$(ctest -N -L "$allowed" | sed -n 's/^[[:space:]]*Test[[:space:]]*#[0-9]*: //p')
  while read -r name; do
    grep -qxF "$name" <<<"$allowed_names" || bad+=("$name")
  done <<<"$skipped"
  [ ${#bad[@]} = 0 ] && return 0
  diffwave_log "error: ${#bad[@]} tests outside the tiers allowed to skip (${2}) skipped; a skipped check checks nothing:"
  for name in "${bad[@]}"; do
    printf '  %s: %s\n' "$name" "$(grep -A2 -F "[ RUN      ] $name" <<<"$last_log" | sed -n 3p)" >&2
  done
  diffwave_log "set DIFFWAVE_ALLOW_SKIP=<tier>[,<tier>] to accept skips in a tier on purpose"
  return 1
}
