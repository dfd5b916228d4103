# Sourced by the set-up tests: a scratch folder removed at exit (kept with KEEP=1), the repository
# root, and fail/finish to count failed checks and end with their verdict.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scratch=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {  # finish WHAT
  [ "$failures" = 0 ] && echo "$1: all checks passed" || { echo "$1: $failures checks failed"; exit 1; }
}
