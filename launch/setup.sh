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

# Probes: each asks whether the build will find a thing where the find call that needs it looks,
# never whether some header or variable happens to exist (a header directory without the
# package's CMake config, or a stray variable, once kept yaml-cpp from ever being installed).
# DIFFWAVE_PROBE_PREFIXES replaces the system prefixes (/usr/local /usr /) for the probe tests.

# The prefixes find_package() searches: <Name>_ROOT, CMAKE_PREFIX_PATH, the parent of each
# .../bin on PATH (how cluster modules are found), then the system prefixes.
diffwave_cmake_prefixes() {
  local name=$1 entry
  printenv "${name}_ROOT" || true
  echo "${CMAKE_PREFIX_PATH:-}" | tr ':;' '\n\n'
  echo "${PATH:-}" | tr ':' '\n' | while read -r entry; do
    case $entry in */bin | */sbin) echo "${entry%/*}" ;; esac
  done
  echo "${DIFFWAVE_PROBE_PREFIXES:-/usr/local /usr /}" | tr ' ' '\n'
}

# True when find_package(NAME CONFIG) will find NAMEConfig.cmake or name-config.cmake: in the
# folder <NAME>_DIR names (environment), else in CMake's search layout under each prefix.
diffwave_has_cmake_package() (
  local name=$1 lower prefix dir
  lower=$(echo "$1" | tr '[:upper:]' '[:lower:]')
  has_config() { [ -f "$1/${name}Config.cmake" ] || [ -f "$1/${lower}-config.cmake" ]; }
  dir=$(printenv "${name}_DIR") && { has_config "$dir"; return; }
  shopt -s nullglob nocaseglob
  while read -r prefix; do
    [ -n "$prefix" ] && [ -d "$prefix" ] || continue
    prefix=${prefix%/}
    for dir in "$prefix" "$prefix"/cmake "$prefix/$name"* "$prefix/$name"*/cmake \
      "$prefix"/lib*/cmake/"$name"* "$prefix"/lib/*/cmake/"$name"* "$prefix"/share/cmake/"$name"* \
      "$prefix"/lib*/"$name"* "$prefix"/lib/*/"$name"* "$prefix"/share/"$name"* \
      "$prefix"/lib*/"$name"*/cmake "$prefix"/lib/*/"$name"*/cmake "$prefix"/share/"$name"*/cmake; do
      has_config "$dir" && return 0
    done
  done < <(diffwave_cmake_prefixes "$name")
  return 1
)
# True when PROGRAM (a path below a prefix, e.g. libexec/sptk/bin/pitch) is executable under one.
diffwave_has_system_program() {
  local prefix
  for prefix in ${DIFFWAVE_PROBE_PREFIXES:-/usr/local /usr /}; do [ -x "${prefix%/}/$1" ] && return 0; done
  return 1
}

# True when pkg-config knows MODULE (the .pc file its -dev package installs), or, for the
# modules CMake finds through a Find module, when the root variable names a prefix with HEADER.
diffwave_has_pkgconfig() { command -v pkg-config >/dev/null && pkg-config --exists "$1"; }
diffwave_has_prefix_header() { local root; root=$(printenv "$1") && [ -f "$root/include/$2" ]; }
# True when find_library/find_path find LIBRARY and HEADER under one system prefix (lib/, its
# multiarch folders, include/): for libraries without a CMake or pkg-config file, such as SPTK.
diffwave_has_system_library() (
  local prefix dir
  shopt -s nullglob
  for prefix in ${DIFFWAVE_PROBE_PREFIXES:-/usr/local /usr /}; do
    prefix=${prefix%/}
    [ -f "$prefix/include/$2" ] || continue
    for dir in "$prefix"/lib "$prefix"/lib64 "$prefix"/lib/*-linux-gnu; do
      [ -f "$dir/$1" ] && return 0
    done
  done
  return 1
)

# Debian packages, each with the probe that says the build will find it: "probe:package".
diffwave_debian_needs() {
  local needs=(
    "command -v cmake:cmake"
    "command -v g++:g++"
    "command -v ninja:ninja-build"
    "command -v pkg-config:pkg-config"
    "command -v ccache:ccache"
    "command -v git:git"
    "command -v mpicc && command -v mpirun:libopenmpi-dev openmpi-bin"
    "command -v h5cc || command -v h5pcc || diffwave_has_prefix_header HDF5_ROOT hdf5.h || diffwave_has_cmake_package HDF5:libhdf5-dev"
    "diffwave_has_pkgconfig sndfile:libsndfile1-dev"
    "diffwave_has_pkgconfig soxr:libsoxr-dev"
    "diffwave_has_pkgconfig libpng || diffwave_has_prefix_header PNG_ROOT png.h:libpng-dev"
    "diffwave_has_pkgconfig zlib || diffwave_has_prefix_header ZLIB_ROOT zlib.h:zlib1g-dev"
    "diffwave_has_pkgconfig libcrypto || diffwave_has_prefix_header OPENSSL_ROOT_DIR openssl/evp.h:libssl-dev"
    "diffwave_has_cmake_package fmt:libfmt-dev"
    "diffwave_has_cmake_package yaml-cpp:libyaml-cpp-dev"
    "diffwave_has_cmake_package CLI11:libcli11-dev"
    "diffwave_has_cmake_package nlohmann_json:nlohmann-json3-dev"
    "diffwave_has_cmake_package GTest:libgtest-dev"
    "diffwave_has_system_library libSPTK.a SPTK.h:libsptk-dev"
    "diffwave_has_system_program libexec/sptk/bin/pitch || command -v sptk:sptk"
    "command -v python3:python3"
    "python3 -c 'import venv, ensurepip':python3-venv"
  )
  diffwave_missing "${needs[@]}"
}

# Prints the packages of the "probe:package" entries whose probe fails.
diffwave_missing() {
  local missing=() entry probe
  for entry in "$@"; do
    probe=${entry%:*}
    (eval "$probe") >/dev/null 2>&1 || missing+=(${entry##*:})
  done
  echo "${missing[@]:-}"
}

# What the sanitizer and fuzz tiers need beyond the build (tests/sanitize.sh): clang, its
# sanitizer and libFuzzer runtimes, and llvm-symbolizer for stack traces with lines.
diffwave_sanitizer_needs() {
  local needs=(
    "command -v clang && command -v clang++:clang"
    "ls \"\$(clang -print-resource-dir)\"/lib/linux/libclang_rt.fuzzer-x86_64.a \"\$(clang -print-resource-dir)\"/lib/linux/libclang_rt.asan-x86_64.a:libclang-rt-14-dev"
    "command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer:llvm"
  )
  diffwave_missing "${needs[@]}"
}

# Installs the Debian packages NEEDS (a function like diffwave_debian_needs) reports missing.
diffwave_install_debian() {  # [NEEDS]
  local missing
  missing=$(${1:-diffwave_debian_needs})
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

# Installs pip requirements into the cache's virtualenv (created once, reused by later clones and
# runs) unless the Python CHECK already passes there. One installer at a time per cache; a second
# run waits, then finds it done.
diffwave_venv_ensure() {  # CHECK WHAT PIP_ARGUMENT...
  local check=$1 what=$2 venv=$DIFFWAVE_CACHE/venv
  shift 2
  mkdir -p "$DIFFWAVE_CACHE"
  (
    flock 9
    "$venv/bin/python" -c "$check" >/dev/null 2>&1 && exit 0
    diffwave_log "$what: installing $* from PyPI into $venv (once; reused later)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || diffwave_die "cannot create a virtualenv at $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" >&2 || diffwave_die "pip install $* failed"
    "$venv/bin/python" -c "$check" || diffwave_die "$what: $* installed, but the check still fails: $check"
  ) 9>"$DIFFWAVE_CACHE/.install.lock" || exit 1
}

# Python code that succeeds when every NAME==VERSION pin is installed.
diffwave_pins_check() {
  echo "import importlib.metadata as m, sys; sys.exit(any(m.version(n).split('+')[0] != v for n, v in (p.split('==') for p in '$*'.split())))"
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
  diffwave_venv_ensure "$(diffwave_pins_check "$DIFFWAVE_TORCH_SPEC")" LibTorch "$DIFFWAVE_TORCH_SPEC"
  "$DIFFWAVE_CACHE/venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)'
}

# The Python packages the reference tests run (tests/reference/; never the product): h5py reads
# shards, tensorboard the event files, safetensors and numpy checkpoints, and lmnt-com/diffwave
# 0.1.7 runs an export, auraloss checks the STFT metrics, torchaudio gives bench/quality.py its
# Griffin-Lim baseline (the three without their dependencies: they need only torch and numpy at
# run time). They go into
# the LibTorch virtualenv, since lmnt's code needs torch. Exports DIFFWAVE_REFERENCE_PYTHON.
DIFFWAVE_REFERENCE_PACKAGES="h5py==3.16.0 tensorboard==2.21.0 safetensors==0.8.0 numpy==2.4.6"
DIFFWAVE_REFERENCE_NODEPS="diffwave==0.1.7 auraloss==0.4.0 torchaudio==2.11.0"
diffwave_reference_python() {
  diffwave_venv_ensure "$(diffwave_pins_check "$DIFFWAVE_TORCH_SPEC")" LibTorch "$DIFFWAVE_TORCH_SPEC"
  diffwave_venv_ensure "$(diffwave_pins_check $DIFFWAVE_REFERENCE_PACKAGES)" "reference packages" $DIFFWAVE_REFERENCE_PACKAGES
  diffwave_venv_ensure "$(diffwave_pins_check $DIFFWAVE_REFERENCE_NODEPS)" "lmnt's diffwave" --no-deps $DIFFWAVE_REFERENCE_NODEPS
  export DIFFWAVE_REFERENCE_PYTHON=$DIFFWAVE_CACHE/venv/bin/python
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
