// The gang backend for CUDA tensors: an NCCL communicator over the ranks of an MPI gang
// (built when the CUDA toolkit and nccl.h are found; LIRA_HAVE_NCCL). The only folder
// that includes <nccl.h>; the trainer sees a GangComm.
//
// Set-up: the leader's ncclGetUniqueId travels over the MPI gang (bootstrap.broadcast),
// then ncclCommInitRankConfig, non-blocking, polled. Every operation runs on the
// communicator's own stream after the work already queued on the legacy default stream
// (libtorch's default), and the host waits for it by polling cudaStreamQuery and
// ncclCommGetAsyncError with sleeps: an error or parallel.collective_timeout aborts the
// communicator (ncclCommAbort) and throws CommError naming the gang and the operation.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/gang_comm.hpp"

namespace lira {

// NCCL's version ("2.28.9"), or "" when this build has no NCCL backend.
std::string nccl_version();

// An NCCL gang on CUDA device `device` of this process, over the ranks of `bootstrap`
// (collective over them). Throws CommError when NCCL is not built in or set-up fails.
std::unique_ptr<GangComm> make_nccl_gang(GangComm& bootstrap, int device, std::chrono::seconds timeout);

}  // namespace lira
