# Shared set-up, sourced by tests/run.sh and launch/quickstart.sh (not run directly).
# Installs only what is missing, reuses what a user already has, and builds the project.
#
# Variables a user may set:
#   DIFFWAVE_CACHE   where the LibTorch virtualenv lives (default ~/.cache/diffwave-cpp); it
#                    outlives clones, so a second clone or CI run reuses it
#   Torch_DIR / CMAKE_PREFIX_PATH   an existing LibTorch 2.x (cluster module, unzipped LibTorch);
#                    then nothing is downloaded
#   DIFFWAVE_TORCH_SPEC   pip requirement for LibTorch (default torch==2.11.0)
#   DIFFWAVE_BUILD_DIR    build folder (default build/ in the clone)
#   DIFFWAVE_NO_APT=1     never call apt-get (report what is missing instead)

DIFFWAVE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIFFWAVE_CACHE=${DIFFWAVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffwave-cpp}
DIFFWAVE_TORCH_SPEC=${DIFFWAVE_TORCH_SPEC:-torch==2.11.0}
DIFFWAVE_BUILD_DIR=${DIFFWAVE_BUILD_DIR:-$DIFFWAVE_ROOT/build}

diffwave_log() { printf '[diffwave setup] %s\n' "$*" >&2; }
diffwave_die() { printf '[diffwave setup] error: %s\n' "$*" >&2; exit 1; }

# Debian packages, each with a probe that says the need is already met another way
# (a cluster module on PATH, a user's own install). "probe:package".
diffwave_debian_needs() {
  local needs=(
    "command -v cmake:cmake"
    "command -v g++:g++"
    "command -v ninja:ninja-build"
    "command -v pkg-config:pkg-config"
    "command -v ccache:ccache"
    "command -v git:git"
    "command -v mpicxx && command -v mpirun:libopenmpi-dev openmpi-bin"
    "command -v h5cc || test -n \"\${HDF5_ROOT:-}\${HDF5_DIR:-}\":libhdf5-dev"
    "pkg-config --exists sndfile:libsndfile1-dev"
    "pkg-config --exists soxr:libsoxr-dev"
    "test -f /usr/include/png.h:libpng-dev"
    "test -f /usr/include/zlib.h:zlib1g-dev"
    "test -f /usr/include/openssl/evp.h || test -n \"\${OPENSSL_ROOT_DIR:-}\":libssl-dev"
    "test -f /usr/include/fmt/format.h || test -n \"\${fmt_DIR:-}\":libfmt-dev"
    "test -d /usr/include/yaml-cpp || test -n \"\${yaml-cpp_DIR:-}\":libyaml-cpp-dev"
    "test -f /usr/include/CLI/CLI.hpp || test -n \"\${CLI11_DIR:-}\":libcli11-dev"
    "test -f /usr/include/nlohmann/json.hpp:nlohmann-json3-dev"
    "test -f /usr/include/gtest/gtest.h || test -n \"\${GTest_DIR:-}\":libgtest-dev"
    "command -v python3:python3"
    "python3 -c 'import venv, ensurepip':python3-venv"
  )
  local missing=() entry probe
  for entry in "${needs[@]}"; do
    probe=${entry%:*}
    bash -c "$probe" >/dev/null 2>&1 || missing+=(${entry##*:})
  done
  echo "${missing[@]:-}"
}

diffwave_install_debian() {
  local missing
  missing=$(diffwave_debian_needs)
  [ -z "$missing" ] && { diffwave_log "system packages: all present"; return 0; }
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=""; fi
  fi
  if [ "${DIFFWAVE_NO_APT:-0}" = 1 ] || ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; }; then
    diffwave_die "missing: $missing. Install them (Debian/Ubuntu: apt-get install $missing) or load the matching modules, then rerun."
  fi
  diffwave_log "installing Debian packages: $missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
    diffwave_die "apt-get update failed"
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
    diffwave_die "apt-get install $missing failed"
}

# Prints a CMake prefix containing TorchConfig.cmake, installing LibTorch from PyPI if none is given.
diffwave_torch_prefix() {
  local p
  for p in ${Torch_DIR:-} $(echo "${CMAKE_PREFIX_PATH:-}" | tr ':;' '  '); do
    if ls "$p"/TorchConfig.cmake "$p"/share/cmake/Torch/TorchConfig.cmake "$p"/lib/cmake/Torch/TorchConfig.cmake >/dev/null 2>&1; then
      diffwave_log "LibTorch: using $p"
      echo "$p"
      return 0
    fi
  done
  local venv=$DIFFWAVE_CACHE/venv
  mkdir -p "$DIFFWAVE_CACHE"
  (
    # One installer at a time per cache; a second run waits, then finds it done.
    flock 9
    local want=${DIFFWAVE_TORCH_SPEC#torch==}
    if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$want')" 2>/dev/null; then
      diffwave_log "LibTorch: installing $DIFFWAVE_TORCH_SPEC from PyPI into $venv (once; reused later)"
      python3 -m venv "$venv" || diffwave_die "cannot create a virtualenv at $venv"
      "$venv/bin/pip" install -q --disable-pip-version-check "$DIFFWAVE_TORCH_SPEC" >&2 ||
        diffwave_die "pip install $DIFFWAVE_TORCH_SPEC failed"
    fi
  ) 9>"$DIFFWAVE_CACHE/.install.lock" || exit 1
  "$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)'
}

diffwave_setup() {
  diffwave_install_debian
  DIFFWAVE_TORCH_PREFIX=$(diffwave_torch_prefix) || exit 1
  export DIFFWAVE_TORCH_PREFIX
  # ccache: the cache lives outside the clone; the base dir makes paths inside it relative,
  # so a fresh clone in another folder still hits.
  export CCACHE_BASEDIR=$DIFFWAVE_ROOT
  export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache}
  export CCACHE_NOHASHDIR=1
}

diffwave_build() {
  local gen=()
  command -v ninja >/dev/null && [ ! -f "$DIFFWAVE_BUILD_DIR/Makefile" ] && gen=(-G Ninja)
  local log=$DIFFWAVE_BUILD_DIR/configure.log
  mkdir -p "$DIFFWAVE_BUILD_DIR"
  cmake -S "$DIFFWAVE_ROOT" -B "$DIFFWAVE_BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$DIFFWAVE_TORCH_PREFIX${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" "$@" >"$log" 2>&1 ||
    { cat "$log" >&2; diffwave_die "cmake configure failed (log above)"; }
  grep -E "^-- diffwave:|^-- NCCL:" "$log" >&2 || true
  cmake --build "$DIFFWAVE_BUILD_DIR" -j "$(nproc)" || diffwave_die "build failed"
}
