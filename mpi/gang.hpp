// Data-parallel gangs over MPI (parallel.ranks_per_model): the worker ranks split into
// static gangs of k consecutive ranks at start; each gang keeps one communicator for the
// whole run. The leader (the gang's lowest rank) talks to the coordinator and shares each
// job with its gang; every rank trains its shard; the leader returns the result.
//
// Every wait polls a non-blocking call and sleeps between polls (mpi/backoff.hpp), so a
// waiting rank costs almost no CPU, and gives up after parallel.collective_timeout with a
// CommError naming the gang and the operation; the gang is then broken for good.
#pragma once

#include <mpi.h>

#include <chrono>
#include <string>
#include <vector>

#include "orchestrator/messages.hpp"
#include "common/gang_comm.hpp"

namespace lira::mpi {

// Where a world rank sits: rank 0 coordinates; workers 1..W form W/k gangs of k.
struct GangLayout {
  int ranks_per_model = 1;
  int gang = -1;       // -1 on the coordinator
  int gang_rank = -1;  // 0 = leader
  std::vector<int> leaders;  // world ranks of the gang leaders, in gang order
  bool leader() const { return gang_rank == 0; }
};
// Throws ConfigError when the W worker ranks do not divide into gangs of k.
GangLayout gang_layout(int world_rank, int world_size, int ranks_per_model);

class MpiGang final : public GangComm {
 public:
  // Collective over `world` (every rank calls it; the coordinator gets no gang and must
  // not use the object except to destroy it).
  MpiGang(MPI_Comm world, const GangLayout& layout, std::chrono::seconds timeout);
  ~MpiGang() override;
  MpiGang(const MpiGang&) = delete;
  MpiGang& operator=(const MpiGang&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  bool device_memory() const override { return false; }
  void allreduce_sum(float* data, size_t count, const char* what) override;
  void allreduce_sum(double* data, size_t count, const char* what) override;
  void broadcast(void* data, size_t bytes, const char* what) override;
  bool broken() const override { return broken_; }

  // The gang's communicator (e.g. to set up NCCL over it).
  MPI_Comm comm() const { return comm_; }

  // Leader: sends the next job (or StopWorker) to the gang.
  void share(const CoordinatorMessage& message);
  // Members: waits, without a time limit and without spinning, for the leader's next message.
  CoordinatorMessage await();

 private:
  void wait(MPI_Request& request, const char* what, bool forever = false);
  void allreduce(void* data, size_t count, MPI_Datatype type, const char* what);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::string name_;
  std::chrono::seconds timeout_;
  bool broken_ = false;
};

}  // namespace lira::mpi
