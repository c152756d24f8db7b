// Implements GangSync (gang_sync.hpp).
#include "gang_sync.hpp"

namespace lira {

GangSync::GangSync(GangComm& host, GangComm& tensors, torch::Device device)
    : host_(host), tensors_(tensors), device_(device) {}

void GangSync::broadcast(const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  for (const auto& t : state) {
    const bool host = !tensors_.device_memory() || !t.is_cuda();
    auto buf = host ? t.detach().to(torch::kCPU).contiguous().clone() : t.detach().contiguous().clone();
    tensors_.broadcast(buf.data_ptr(), static_cast<size_t>(buf.numel()) * buf.element_size(),
                       "broadcast of the initial weights");
    auto target = t;  // a handle to the same tensor
    target.copy_(buf);
  }
}

void GangSync::allreduce_gradients(const std::vector<torch::Tensor>& params) {
  constexpr int64_t kBucket = 8 << 20;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    auto param = p;
    if (!param.grad().defined()) param.mutable_grad() = torch::zeros_like(param);
    grads.push_back(param.grad());
  }
  const bool host = !tensors_.device_memory() || !device_.is_cuda();
  for (size_t first = 0; first < grads.size();) {
    size_t last = first;
    int64_t n = 0;
    while (last < grads.size() && (n == 0 || n + grads[last].numel() <= kBucket)) n += grads[last++].numel();
    std::vector<torch::Tensor> flat;
    for (size_t i = first; i < last; ++i) flat.push_back(grads[i].flatten().to(torch::kFloat32));
    auto bucket = torch::cat(flat);
    if (host) bucket = bucket.to(torch::kCPU).contiguous();
    tensors_.allreduce_sum(bucket.data_ptr<float>(), static_cast<size_t>(bucket.numel()), "all-reduce of gradients");
    if (host) bucket = bucket.to(device_);
    int64_t offset = 0;
    for (size_t i = first; i < last; ++i) {
      const int64_t m = grads[i].numel();
      grads[i].copy_(bucket.slice(0, offset, offset + m).view_as(grads[i]));
      offset += m;
    }
    first = last;
  }
}

double GangSync::allreduce(double value, const char* what) {
  host_.allreduce_sum(&value, 1, what);
  return value;
}

}  // namespace lira
