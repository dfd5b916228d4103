# Sanitizer and fuzzing builds, for a build folder of their own (tests/sanitize.sh makes them).
#   -DDIFFWAVE_SANITIZE=address,undefined   ASan + UBSan on every target of this project
#   -DDIFFWAVE_SANITIZE=thread              TSan
#   -DDIFFWAVE_FUZZ=ON                      libFuzzer coverage on every target, plus fuzz/ (clang)
# LibTorch, HDF5, libsndfile and the other system libraries are not rebuilt, so not instrumented:
# ASan still sees their heap (its malloc replaces theirs), not their stack or globals.
set(DIFFWAVE_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread (empty: none)")
option(DIFFWAVE_FUZZ "Build the libFuzzer harnesses in fuzz/ (clang only)" OFF)

if(DIFFWAVE_SANITIZE)
  add_compile_options(-fsanitize=${DIFFWAVE_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${DIFFWAVE_SANITIZE})
  if(DIFFWAVE_SANITIZE MATCHES "address")
    # Bounds checks in libstdc++'s operator[], front(), back(): an index past size() but within
    # capacity is invisible to ASan. Layout-neutral, so LibTorch's headers stay ABI-compatible.
    add_compile_definitions(_GLIBCXX_ASSERTIONS)
  endif()
  message(STATUS "diffwave: sanitizers ${DIFFWAVE_SANITIZE}")
endif()

if(DIFFWAVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DIFFWAVE_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage for libFuzzer in the library too; the harnesses link the fuzzer itself. Elsewhere
  # (unit tests) the sanitizer runtime's no-op callbacks take the counters.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# The run-time options every test of a sanitizer build gets (CTest ENVIRONMENT), so a plain
# `ctest` in the build folder behaves as tests/sanitize.sh does. The suppression files say why
# each entry is there; only code inside LibTorch and system libraries is suppressed.
set(_supp ${CMAKE_SOURCE_DIR}/tests/sanitize)
set(DIFFWAVE_SANITIZER_ENV
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:suppressions=${_supp}/asan.supp"
  "LSAN_OPTIONS=suppressions=${_supp}/lsan.supp:print_suppressions=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=${_supp}/ubsan.supp"
  "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${_supp}/tsan.supp"
  # LibTorch's OpenMP threads are not instrumented; one intra-op thread keeps ATen on the caller's.
  "OMP_NUM_THREADS=1"
  "OMPI_ALLOW_RUN_AS_ROOT=1" "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
find_program(DIFFWAVE_LLVM_SYMBOLIZER NAMES llvm-symbolizer llvm-symbolizer-14 PATHS /usr/lib/llvm-14/bin)
if(DIFFWAVE_LLVM_SYMBOLIZER)
  list(APPEND DIFFWAVE_SANITIZER_ENV "ASAN_SYMBOLIZER_PATH=${DIFFWAVE_LLVM_SYMBOLIZER}"
       "TSAN_SYMBOLIZER_PATH=${DIFFWAVE_LLVM_SYMBOLIZER}")
endif()
