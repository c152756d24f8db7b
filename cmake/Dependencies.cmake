# Finds every third-party dependency in one place, so a build on Debian 12 (libtorch 1.13,
# CPU) and on a GPU cluster (libtorch 2.x from pip, CMAKE_PREFIX_PATH set to
# torch.utils.cmake_prefix_path) differ only in what is found here.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3 REQUIRED)
find_package(Torch REQUIRED)

# <torch/torch.h> costs 15-30 s of every translation unit that includes it (about 600 of
# the 770 CPU-seconds of a Release build here). lira_torch_pch(TARGET) precompiles it
# once, for lira_trainer, and every other target that compiles against libtorch (the
# trainer module, the torch tests, the benchmarks) reuses that one header. The PCH is
# built position-independent (-fPIC) and GCC only accepts it with the same code model,
# so those targets compile -fPIC too. -DLIRA_TORCH_PCH=OFF compiles without it.
option(LIRA_TORCH_PCH "Precompile <torch/torch.h> once and reuse it in every libtorch target" ON)
function(lira_torch_pch target)
  if(NOT LIRA_TORCH_PCH)
    return()
  endif()
  if(target STREQUAL "lira_trainer")
    target_precompile_headers(lira_trainer PRIVATE <torch/torch.h>)
  else()
    target_precompile_headers(${target} REUSE_FROM lira_trainer)
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
endfunction()

# CLI11 and doctest are header-only; Debian ships CMake configs for both, but fall back to
# a plain header search so an installation without the config files also works.
find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})
endif()

if(LIRA_BUILD_TESTS)
  find_package(doctest CONFIG QUIET)
  if(NOT TARGET doctest::doctest)
    find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h REQUIRED)
    add_library(doctest::doctest INTERFACE IMPORTED)
    target_include_directories(doctest::doctest SYSTEM INTERFACE ${DOCTEST_INCLUDE_DIR})
  endif()
  find_program(MPIEXEC_EXECUTABLE NAMES mpirun mpiexec HINTS ${MPI_HOME}/bin)
endif()

# HDF5 as one imported target, whatever form FindHDF5 returned it in.
add_library(lira_hdf5 INTERFACE)
target_include_directories(lira_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(lira_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(lira_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})

message(STATUS "lira: libtorch ${Torch_VERSION}, MPI ${MPI_CXX_VERSION}, HDF5 ${HDF5_VERSION}")
