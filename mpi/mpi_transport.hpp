// The coordinator/worker transports over MPI point-to-point messages.
//
// Rank 0 is the coordinator; worker w is rank w + 1. Every wait polls with
// MPI_Improbe/MPI_Test and sleeps between polls, so an idle rank costs almost no CPU
// (a blocking MPI_Recv spins a full core in Open MPI: shared/reference/runtime-facts.md).
#pragma once

#include <mpi.h>

#include "orchestrator/transport.hpp"

namespace lira::mpi {

class CoordinatorEnd final : public CoordinatorTransport {
 public:
  explicit CoordinatorEnd(MPI_Comm comm);
  int worker_count() const override { return size_ - 1; }
  std::string worker_name(int worker) const override;
  std::optional<Incoming> receive(std::chrono::milliseconds timeout) override;
  void send(int worker, const CoordinatorMessage& message) override;

 private:
  MPI_Comm comm_;
  int size_ = 0;
};

class WorkerEnd final : public WorkerTransport {
 public:
  explicit WorkerEnd(MPI_Comm comm);
  void send(const WorkerMessage& message) override;
  CoordinatorMessage receive() override;

 private:
  MPI_Comm comm_;
};

}  // namespace lira::mpi
