// Checks the return code of an MPI call and throws CommError naming the call, the source
// location and MPI's own error string.
//
// Every MPI call of lira goes through LIRA_MPI_CHECK or LIRA_MPI_CALL, which hold one
// process-wide mutex for the call's duration: MPI is called from more than one thread (a
// gang leader's job thread runs the gang's collectives while its main thread talks to
// the coordinator) but never from two at once, which is what MPI_THREAD_SERIALIZED asks
// of a program. Every call lira makes after start-up is non-blocking (polled with
// sleeps), so the mutex is held for microseconds. MPI_THREAD_MULTIPLE would do the same
// job inside MPI, at a price: Open MPI's locking in every poll made a worker's training
// ~15% slower on this 2-core machine (docs/distributed.md).
#pragma once

#include <mpi.h>

#include <mutex>
#include <string>

#include "common/errors.hpp"

namespace lira::mpi {

inline std::mutex& call_mutex() {
  static std::mutex m;
  return m;
}

[[noreturn]] inline void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  {
    std::lock_guard<std::mutex> lock(call_mutex());
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  }
  throw CommError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  std::string(text, static_cast<size_t>(len)));
}

}  // namespace lira::mpi

// The return code of one MPI call, made under call_mutex().
#define LIRA_MPI_CALL(call)                                                    \
  ([&]() -> int {                                                              \
    std::lock_guard<std::mutex> lira_mpi_lock_(::lira::mpi::call_mutex());     \
    return (call);                                                             \
  }())

#define LIRA_MPI_CHECK(call)                                                   \
  do {                                                                         \
    const int lira_mpi_rc_ = LIRA_MPI_CALL(call);                              \
    if (lira_mpi_rc_ != MPI_SUCCESS)                                           \
      ::lira::mpi::throw_mpi_error(lira_mpi_rc_, #call, __FILE__, __LINE__);   \
  } while (0)
