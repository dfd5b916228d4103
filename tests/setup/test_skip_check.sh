#!/usr/bin/env bash
# Runs tests/run.sh's skip check on a scratch CTest project with one skipping test in the gpu tier
# and one in the unit tier: the unit skip must fail the run and be named with its reason, unless
# DIFFWAVE_ALLOW_SKIP-style labels allow it; the gpu skip alone must pass.
source "$(dirname "$0")/checks.sh"
source "$root/launch/setup.sh"
source "$root/tests/skip_check.sh"

mkdir -p "$scratch/src"
skipper='echo "[ RUN      ] $1"; echo "x.cpp:1: Skipped"; echo "because $1 has no $2"; echo "[  SKIPPED ] $1"'
cat >"$scratch/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(skips NONE)
enable_testing()
foreach(t Gpu.NeedsADevice Unit.NeedsAPackage Unit.Passes)
  string(REGEX MATCH "^[A-Za-z]+" tier \${t})
  string(TOLOWER \${tier} tier)
  if(t STREQUAL "Unit.Passes")
    add_test(NAME \${t} COMMAND true)
  else()
    add_test(NAME \${t} COMMAND bash -c [[$skipper]] _ \${t} thing)
  endif()
  set_tests_properties(\${t} PROPERTIES LABELS \${tier} SKIP_REGULAR_EXPRESSION "\\\\[  SKIPPED \\\\]")
endforeach()
CMAKE
cmake -S "$scratch/src" -B "$scratch/build" >/dev/null || { echo "FAIL: cannot configure the scratch project"; exit 1; }
cd "$scratch/build"

ctest >all.log 2>&1
out=$(diffwave_check_skips all.log gpu 2>&1) && fail "a skipped unit test passed the check: $out"
[[ $out == *"Unit.NeedsAPackage: because Unit.NeedsAPackage has no thing"* ]] || fail "the failure does not name the test and its reason: $out"
[[ $out == *"Gpu.NeedsADevice"* ]] && fail "the gpu skip was reported: $out"
diffwave_check_skips all.log gpu,unit 2>/dev/null || fail "skips in allowed tiers failed the check"

ctest -L gpu >gpu.log 2>&1
diffwave_check_skips gpu.log gpu 2>/dev/null || fail "a gpu skip alone failed the check"
ctest -L unit -E NeedsAPackage >none.log 2>&1
diffwave_check_skips none.log gpu 2>/dev/null || fail "a run without skips failed the check"

finish "skip check"
