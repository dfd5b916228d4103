#!/usr/bin/env bash
# Runs launch/setup.sh's package probes in a scratch world where nothing is installed, then adds
# each thing the way a user could provide it, and checks that only the real thing satisfies a
# probe: a header directory or a variable pointing nowhere must not. (A probe that was always true
# once kept libyaml-cpp-dev from ever being installed on fresh machines.)
source "$(dirname "$0")/checks.sh"

# A PATH with only the tools the probes themselves run; everything else is absent.
mkdir -p "$scratch/bin" "$scratch/sys/pkgconfig"
for tool in bash env tr printenv cat dirname id pkg-config; do
  real=$(command -v "$tool") || { echo "FAIL: $tool is needed to run this test"; exit 1; }
  ln -s "$real" "$scratch/bin/$tool"
done

# Prints the missing packages, probing under a clean environment plus the given assignments.
missing() {
  env -i HOME="$scratch" PATH="$scratch/bin" DIFFWAVE_PROBE_PREFIXES="$scratch/sys" \
    PKG_CONFIG_LIBDIR="$scratch/sys/pkgconfig" PKG_CONFIG_PATH= "$@" \
    bash -c "source '$root/launch/setup.sh' && diffwave_debian_needs"
}
expect_missing() {  # expect_missing PACKAGE yes|no DESCRIPTION [VAR=VALUE...]
  local package=$1 want=$2 what=$3 got
  shift 3
  got=$(missing "$@")
  case " $got " in *" $package "*) [ "$want" = yes ] || fail "$what: $package reported missing ($got)" ;;
                   *) [ "$want" = no ] || fail "$what: $package not reported missing ($got)" ;; esac
}

everything="cmake g++ ninja-build ccache git libopenmpi-dev openmpi-bin libhdf5-dev libsndfile1-dev libsoxr-dev libpng-dev zlib1g-dev libssl-dev libfmt-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libgtest-dev libsptk-dev sptk python3 python3-venv"
got=$(missing)
[ "$got" = "$everything" ] || fail "in an empty world the probes report '$got', expected '$everything'"

got=$(env -i HOME="$scratch" PATH="$scratch/bin" bash -c "source '$root/launch/setup.sh' && diffwave_sanitizer_needs")
[ "$got" = "clang libclang-rt-14-dev llvm" ] || fail "in an empty world the sanitizer probes report '$got'"

# Stand-ins that must not count: headers without the package, variables naming empty folders.
mkdir -p "$scratch/sys/include/yaml-cpp" "$scratch/sys/include/fmt" "$scratch/sys/include/CLI" \
  "$scratch/sys/include/nlohmann" "$scratch/sys/include/gtest" "$scratch/empty"
touch "$scratch/sys/include/fmt/format.h" "$scratch/sys/include/CLI/CLI.hpp" "$scratch/sys/include/gtest/gtest.h" \
  "$scratch/sys/include/nlohmann/json.hpp" "$scratch/sys/include/zlib.h" "$scratch/sys/include/png.h"
expect_missing libyaml-cpp-dev yes "header folder only"
expect_missing libyaml-cpp-dev yes "yaml-cpp_DIR names an empty folder" "yaml-cpp_DIR=$scratch/empty"
expect_missing libfmt-dev yes "fmt_DIR names an empty folder" "fmt_DIR=$scratch/empty"
expect_missing libhdf5-dev yes "HDF5_ROOT names an empty folder" "HDF5_ROOT=$scratch/empty"
expect_missing libssl-dev yes "OPENSSL_ROOT_DIR names an empty folder" "OPENSSL_ROOT_DIR=$scratch/empty"
expect_missing zlib1g-dev yes "zlib.h alone"
expect_missing libgtest-dev yes "gtest.h alone"

# The real things, each where its find call looks.
mkdir -p "$scratch/sys/lib/x86_64-linux-gnu/cmake/yaml-cpp"
touch "$scratch/sys/lib/x86_64-linux-gnu/cmake/yaml-cpp/yaml-cpp-config.cmake"
expect_missing libyaml-cpp-dev no "yaml-cpp-config.cmake in the multiarch CMake folder"
mkdir -p "$scratch/myfmt" && touch "$scratch/myfmt/fmt-config.cmake"
expect_missing libfmt-dev no "fmt_DIR names a folder with fmt-config.cmake" "fmt_DIR=$scratch/myfmt"
mkdir -p "$scratch/prefix/share/cmake/CLI11" && touch "$scratch/prefix/share/cmake/CLI11/CLI11Config.cmake"
expect_missing libcli11-dev yes "CLI11 outside every searched prefix"
expect_missing libcli11-dev no "CLI11 under CMAKE_PREFIX_PATH" "CMAKE_PREFIX_PATH=/nowhere:$scratch/prefix"
mkdir -p "$scratch/module/bin" "$scratch/module/lib64/cmake/nlohmann_json"
touch "$scratch/module/lib64/cmake/nlohmann_json/nlohmann_jsonConfig.cmake"
expect_missing nlohmann-json3-dev no "a module whose bin/ is on PATH" "PATH=$scratch/bin:$scratch/module/bin"
mkdir -p "$scratch/gtest-root/lib/cmake/GTest" && touch "$scratch/gtest-root/lib/cmake/GTest/GTestConfig.cmake"
expect_missing libgtest-dev no "GTest_ROOT" "GTest_ROOT=$scratch/gtest-root"
mkdir -p "$scratch/hdf5/include" && touch "$scratch/hdf5/include/hdf5.h"
expect_missing libhdf5-dev no "HDF5_ROOT with include/hdf5.h" "HDF5_ROOT=$scratch/hdf5"
printf 'Name: sndfile\nDescription: test\nVersion: 1.2.0\n' >"$scratch/sys/pkgconfig/sndfile.pc"
expect_missing libsndfile1-dev no "sndfile.pc where pkg-config looks"
expect_missing libsoxr-dev yes "soxr without its .pc file"
printf '#!/bin/sh\n' >"$scratch/bin/mpicc" && chmod +x "$scratch/bin/mpicc"
expect_missing libopenmpi-dev yes "mpicc without mpirun"
printf '#!/bin/sh\n' >"$scratch/bin/mpirun" && chmod +x "$scratch/bin/mpirun"
expect_missing libopenmpi-dev no "mpicc and mpirun on PATH"

# SPTK has neither a CMake nor a pkg-config file: its archive and header, in one system prefix.
touch "$scratch/sys/include/SPTK.h"
expect_missing libsptk-dev yes "SPTK.h alone"
mkdir -p "$scratch/sys/lib/x86_64-linux-gnu" && touch "$scratch/sys/lib/x86_64-linux-gnu/libSPTK.a"
expect_missing libsptk-dev no "libSPTK.a in the multiarch folder and SPTK.h"
mkdir -p "$scratch/sys/libexec/sptk/bin" && touch "$scratch/sys/libexec/sptk/bin/pitch"
expect_missing sptk yes "a pitch program that cannot run"
chmod +x "$scratch/sys/libexec/sptk/bin/pitch"
expect_missing sptk no "SPTK's pitch program in libexec"

# Without apt, the set-up names what is missing and stops.
out=$(env -i HOME="$scratch" PATH="$scratch/bin" DIFFWAVE_PROBE_PREFIXES="$scratch/sys" DIFFWAVE_NO_APT=1 \
  PKG_CONFIG_LIBDIR="$scratch/sys/pkgconfig" bash -c "source '$root/launch/setup.sh' && diffwave_install_debian" 2>&1)
[ $? -ne 0 ] && [[ $out == *"missing: "*libsoxr-dev* ]] || fail "DIFFWAVE_NO_APT=1 did not stop naming the missing packages: $out"

# On this machine, after the set-up ran, every probe is satisfied (none is always false).
got=$(bash -c "source '$root/launch/setup.sh' && diffwave_debian_needs")
[ -z "$got" ] || fail "after set-up the probes still report missing: $got"
if command -v clang >/dev/null; then  # clang here: the sanitizer tiers' set-up ran
  got=$(bash -c "source '$root/launch/setup.sh' && diffwave_sanitizer_needs")
  [ -z "$got" ] || fail "with clang installed the sanitizer probes still report missing: $got"
fi

finish "setup probes"
