// A data-parallel gang as the trainer sees it (the interface below worker/, mpi/ and nccl/,
// so that none of them includes another): the ranks that train one model together
// (parallel.ranks_per_model). Implemented over MPI (mpi/gang.hpp: host memory) and, on
// CUDA builds with NCCL, over NCCL (nccl/nccl_gang.hpp: device memory); the trainer never
// includes either. Every call is collective over the gang, in the same order on every
// rank, and throws CommError naming the gang and the operation when it fails or takes
// longer than parallel.collective_timeout; after that the gang is broken for good.
#pragma once

#include <cstddef>
#include <string>

namespace lira {

class GangComm {
 public:
  virtual ~GangComm() = default;
  virtual int rank() const = 0;  // 0: the leader, who talks to the coordinator
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "gang 1 (world ranks 3-4)", for messages

  // Whether the buffers passed below must be GPU memory (NCCL) rather than host memory.
  virtual bool device_memory() const = 0;
  // Sums `count` floats (or doubles) over the gang, in place. `what` names the operation
  // in errors ("all-reduce of gradients").
  virtual void allreduce_sum(float* data, size_t count, const char* what) = 0;
  virtual void allreduce_sum(double* data, size_t count, const char* what) = 0;
  // The leader's `bytes` bytes into every rank's buffer.
  virtual void broadcast(void* data, size_t bytes, const char* what) = 0;

  // Whether a collective has failed: the gang must not be used again.
  virtual bool broken() const = 0;
};

}  // namespace lira
