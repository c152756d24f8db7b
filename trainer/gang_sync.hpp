// Gradient and weight synchronization of a data-parallel gang, over the GangComm
// interface (common/gang_comm.hpp): the one object the job loop calls, whatever carries the
// bytes (MPI on the host, NCCL on the GPU).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/gang_comm.hpp"

namespace lira {

class GangSync {
 public:
  // `host` takes host-memory collectives (scalars); `tensors` the gradients and weights
  // (device memory when tensors.device_memory()). They may be the same object.
  GangSync(GangComm& host, GangComm& tensors, torch::Device device);

  int rank() const { return host_.rank(); }
  int size() const { return host_.size(); }
  bool broken() const { return host_.broken() || tensors_.broken(); }

  // The leader's values of `state` (parameters and buffers) on every rank.
  void broadcast(const std::vector<torch::Tensor>& state);
  // Sums the gradients of `params` over the gang in flat float32 buckets; a parameter
  // without a gradient (an empty shard, an unused parameter) contributes zeros.
  void allreduce_gradients(const std::vector<torch::Tensor>& params);
  // The sum over the gang of one value.
  double allreduce(double value, const char* what);

 private:
  GangComm& host_;
  GangComm& tensors_;
  torch::Device device_;
};

}  // namespace lira
