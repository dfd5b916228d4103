# Finds every third-party dependency once; targets below only link the imported names.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)
find_package(HDF5 REQUIRED COMPONENTS C)
# LibTorch bundles its own fmt headers, which shadow the system ones; header-only use keeps
# whichever fmt the compiler sees consistent with what is linked (nothing).
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)  # yaml-cpp < 0.8 exports a bare target name
  add_library(yaml-cpp::yaml-cpp INTERFACE IMPORTED)
  target_link_libraries(yaml-cpp::yaml-cpp INTERFACE yaml-cpp)
endif()
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
find_package(ZLIB REQUIRED)  # CRC-32 of checkpoint data
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 of shards (libcrypto EVP)
find_package(PNG REQUIRED)  # TensorBoard image summaries are PNG-encoded
# SPTK (mel-cepstral analysis for the MCD metric): Debian ships only a static, non-PIC archive.
# Our library is static and the programs are position-independent executables, which may link
# non-PIC code; a shared library could not.
find_path(SPTK_INCLUDE_DIR SPTK.h)
find_library(SPTK_LIBRARY NAMES libSPTK.a SPTK)
if(NOT SPTK_INCLUDE_DIR OR NOT SPTK_LIBRARY)
  message(FATAL_ERROR "SPTK not found (SPTK.h and libSPTK.a): install the Debian package libsptk-dev, "
                      "or set SPTK_INCLUDE_DIR and SPTK_LIBRARY")
endif()
add_library(SPTK::SPTK STATIC IMPORTED)
set_target_properties(SPTK::SPTK PROPERTIES IMPORTED_LOCATION ${SPTK_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${SPTK_INCLUDE_DIR} INTERFACE_LINK_LIBRARIES m)

# CUDA: enabled when a toolkit is present (no GPU is needed to compile and link).
set(DIFFWAVE_HAVE_CUDA OFF)
if(DIFFWAVE_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)  # A100, H100/H200
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(DIFFWAVE_HAVE_CUDA ON)
  endif()
endif()

# LibTorch: any 2.x through CMAKE_PREFIX_PATH / Torch_DIR (tests/run.sh points at the pip one).
if(DIFFWAVE_HAVE_CUDA AND NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  # Without a GPU, Torch's CMake cannot detect an architecture; name the ones we target.
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
endif()
find_package(Torch 2 REQUIRED)
if(TORCH_CXX_FLAGS)
  set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")
endif()

# NCCL: prefer the copy that ships beside LibTorch (pip's nvidia-nccl), so one libnccl is loaded.
set(DIFFWAVE_HAVE_NCCL OFF)
if(DIFFWAVE_HAVE_CUDA)
  get_filename_component(_torch_site "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
  find_path(NCCL_INCLUDE_DIR nccl.h
    HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${_torch_site}/nvidia/nccl ${CUDAToolkit_LIBRARY_ROOT}
    PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR
    HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${_torch_site}/nvidia/nccl ${CUDAToolkit_LIBRARY_DIR}
    PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    add_library(diffwave_nccl INTERFACE)
    target_include_directories(diffwave_nccl INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(diffwave_nccl INTERFACE ${NCCL_LIBRARY} CUDA::cudart)
    set(DIFFWAVE_HAVE_NCCL ON)
    message(STATUS "NCCL: ${NCCL_LIBRARY}")
  else()
    message(WARNING "CUDA found but NCCL not found: GPU ranks will fall back to MPI all-reduce")
  endif()
endif()
message(STATUS "diffwave: CUDA=${DIFFWAVE_HAVE_CUDA} NCCL=${DIFFWAVE_HAVE_NCCL}")
