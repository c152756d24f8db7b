// Checks the return code of an MPI call and throws CommError naming the call, the source
// location and MPI's own error string.
#pragma once

#include <mpi.h>

#include <string>

#include "common/errors.hpp"

namespace lira::mpi {

[[noreturn]] inline void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  throw CommError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  std::string(text, static_cast<size_t>(len)));
}

}  // namespace lira::mpi

#define LIRA_MPI_CHECK(call)                                                   \
  do {                                                                         \
    const int lira_mpi_rc_ = (call);                                           \
    if (lira_mpi_rc_ != MPI_SUCCESS)                                           \
      ::lira::mpi::throw_mpi_error(lira_mpi_rc_, #call, __FILE__, __LINE__);   \
  } while (0)
