// The coordinator/worker transports over MPI point-to-point messages.
//
// Rank 0 is the coordinator; worker w is rank w + 1. Every wait polls with
// MPI_Improbe/MPI_Test and sleeps between polls, so an idle rank costs almost no CPU
// (a blocking MPI_Recv spins a full core in Open MPI: docs/performance.md).
//
// Sends do not wait: a message bigger than MPI's eager limit (a 50 KB keep row, a 7 MB
// result) completes only once the receiver has polled, and waiting for that would put the
// other side's polling delay on every dispatch. Sends stay in flight, progressed by every
// later poll, and are completed before the transport is destroyed.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <deque>
#include <vector>

#include "orchestrator/transport.hpp"

namespace lira::mpi {

// Sends in flight: each one's buffer lives until MPI has finished with it.
class PendingSends {
 public:
  PendingSends() = default;
  PendingSends(const PendingSends&) = delete;
  PendingSends& operator=(const PendingSends&) = delete;
  ~PendingSends();  // completes them (bounded wait; a dead peer cannot hang the exit)
  void start(std::vector<std::byte> bytes, int dest, int tag, MPI_Comm comm);
  void progress();        // frees the completed ones; never blocks
  void wait_all();        // polls until all are complete
  size_t size() const { return sends_.size(); }

 private:
  struct Send {
    std::vector<std::byte> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::deque<Send> sends_;
};

class CoordinatorEnd final : public CoordinatorTransport {
 public:
  // Worker w is world rank worker_ranks[w]; empty: every rank but 0 (gangs: the leaders).
  explicit CoordinatorEnd(MPI_Comm comm, std::vector<int> worker_ranks = {});
  int worker_count() const override { return static_cast<int>(ranks_.size()); }
  std::string worker_name(int worker) const override;
  std::optional<Incoming> receive(std::chrono::milliseconds timeout) override;
  void send(int worker, const CoordinatorMessage& message) override;

 private:
  MPI_Comm comm_;
  int size_ = 0;
  std::vector<int> ranks_;       // worker -> world rank
  std::vector<int> worker_of_;   // world rank -> worker, or -1
  PendingSends sends_;
};

class WorkerEnd final : public WorkerTransport {
 public:
  explicit WorkerEnd(MPI_Comm comm);
  void send(const WorkerMessage& message) override;
  CoordinatorMessage receive() override;

 private:
  MPI_Comm comm_;
  PendingSends sends_;
};

}  // namespace lira::mpi
