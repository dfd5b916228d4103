#!/usr/bin/env bash
# The sanitizer and fuzz tiers. Each builds in a folder of its own with clang (the normal build/
# is not touched), then runs CTest there; other ctest arguments pass through.
#   tests/sanitize.sh -L sanitize   ASan+UBSan build of the library, the apps and the unit tests
#                                   (build-sanitize), unit tier; then the TSan tier below
#   tests/sanitize.sh -L asan       only the ASan+UBSan part
#   tests/sanitize.sh -L tsan       TSan build (build-tsan): the tests of the threaded parts
#   tests/sanitize.sh -L fuzz       every libFuzzer harness in fuzz/ (build-sanitize): its seeds and
#                                   regression inputs, then DIFFWAVE_FUZZ_SECONDS (default 30) of fuzzing
# Needs Debian's clang, libclang-rt-14-dev (sanitizer and libFuzzer runtimes) and llvm (llvm-symbolizer).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source launch/setup.sh

tier=""
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i)); do
  case ${args[i]} in
    -L) tier=${args[i + 1]:-} ;;
    -L*) tier=${args[i]#-L} ;;
  esac
done
case $tier in
  sanitize | asan | tsan | fuzz) ;;
  *) diffwave_die "tests/sanitize.sh: give one of -L sanitize, -L asan, -L tsan, -L fuzz" ;;
esac

[ -n "${DIFFWAVE_SANITIZE_CC:-}" ] || diffwave_install_debian diffwave_sanitizer_needs
CC=${DIFFWAVE_SANITIZE_CC:-$(command -v clang-14 || command -v clang || true)}
CXX=${DIFFWAVE_SANITIZE_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
[ -n "$CXX" ] && [ -n "$CC" ] || diffwave_die "the sanitizer tiers need clang (Debian: apt-get install clang libclang-rt-14-dev llvm)"
rt_dir=$("$CC" -print-runtime-dir 2>/dev/null || true)
ls "$rt_dir"/libclang_rt.asan*.a "$rt_dir"/libclang_rt.fuzzer*.a >/dev/null 2>&1 || ls "$("$CC" -print-resource-dir)"/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
  diffwave_die "clang's sanitizer/libFuzzer runtimes are missing (Debian: apt-get install libclang-rt-14-dev)"
symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -n1 || true)

start=$(date +%s)
diffwave_setup

# configure_and_build FOLDER SANITIZERS FUZZ TARGETS...
configure_and_build() {
  local dir=$1 sanitize=$2 fuzz=$3
  shift 3
  local gen=()
  command -v ninja >/dev/null && [ ! -f "$dir/Makefile" ] && gen=(-G Ninja)
  mkdir -p "$dir"
  cmake -S "$root" -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_COMPILER=$CC" "-DCMAKE_CXX_COMPILER=$CXX" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
    -DDIFFWAVE_WITH_CUDA=OFF "-DDIFFWAVE_SANITIZE=$sanitize" "-DDIFFWAVE_FUZZ=$fuzz" \
    "-DCMAKE_PREFIX_PATH=$DIFFWAVE_TORCH_PREFIX${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log" >&2; diffwave_die "cmake configure of $dir failed (log above)"; }
  cmake --build "$dir" -j "$(nproc)" --target "$@" || diffwave_die "build in $dir failed"
}

# Sanitizer options and suppressions: cmake/Sanitizers.cmake gives them to every test.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

unit_targets=$(cd tests/unit && ls test_*.cpp | sed 's/\.cpp$//')
threaded_targets="test_gradient_reducer test_watchdog test_threads"
rc=0
run_ctest() {  # DIR ARGS...
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure -j "$(nproc)" "$@") || rc=$?
}
# ctest's arguments with the tier's -L replaced by the label used inside its build folder.
with_label() {
  local label=$1 out=() skip=0 a
  for a in "${args[@]}"; do
    if ((skip)); then skip=0; continue; fi
    case $a in
      -L) skip=1; out+=(-L "$label") ;;
      -L*) out+=(-L "$label") ;;
      *) out+=("$a") ;;
    esac
  done
  echo "${out[@]}"
}

case $tier in
  fuzz)
    configure_and_build "$root/build-sanitize" address,undefined ON fuzz_all
    # shellcheck disable=SC2046
    run_ctest "$root/build-sanitize" $(with_label fuzz)
    ;;
  asan | sanitize)
    # shellcheck disable=SC2086
    configure_and_build "$root/build-sanitize" address,undefined ON $unit_targets diffwave-prep diffwave-train diffwave-export
    # shellcheck disable=SC2046
    run_ctest "$root/build-sanitize" $(with_label sanitize)
    ;;&
  tsan | sanitize)
    # shellcheck disable=SC2086
    configure_and_build "$root/build-tsan" thread OFF $threaded_targets
    # shellcheck disable=SC2046
    run_ctest "$root/build-tsan" $(with_label tsan)
    ;;
esac
diffwave_log "sanitizer tier '$tier' took $(( $(date +%s) - start )) s"
exit $rc
