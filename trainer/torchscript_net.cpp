// model.arch: torchscript -- any module saved with torch.jit.script or torch.jit.trace,
// trained and evaluated from C++ like a native network.
#include <torch/script.h>

#include <cmath>

#include "common/errors.hpp"
#include "network.hpp"
#include "task.hpp"

namespace lira {
namespace {

class TorchScriptNetwork final : public Network {
 public:
  explicit TorchScriptNetwork(torch::jit::Module module) : module_(std::move(module)) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    auto out = module_.forward({x});
    if (!out.isTensor()) throw TrainError("the TorchScript model's forward() must return one tensor of logits");
    return out.toTensor();
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : module_.named_parameters(/*recurse=*/true))
      if (p.value.requires_grad()) out.emplace_back(p.name, p.value);
    return out;
  }
  std::vector<torch::Tensor> buffers() override {
    std::vector<torch::Tensor> out;
    for (const auto& b : module_.buffers(/*recurse=*/true)) out.push_back(b);
    return out;
  }
  void set_training(bool on) override { module_.train(on); }
  void to(torch::Device device, bool channels_last) override {
    module_.to(device);
    if (!channels_last) return;
    torch::NoGradGuard no_grad;
    for (auto p : module_.parameters(true))
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
  // PyTorch's default initialization for weights (kaiming-uniform, a = sqrt(5): bound
  // 1/sqrt(fan_in)); biases to zero; other 1-d parameters (norm scales) kept.
  // A tied tensor listed under several names is drawn once.
  void reinitialize() {
    torch::NoGradGuard no_grad;
    NamedTensors all;
    for (const auto& p : module_.named_parameters(true)) all.emplace_back(p.name, p.value);
    for (const auto& [name, value] : unique_parameters(all)) {
      auto t = value;
      if (t.dim() >= 2) {
        const double fan_in = static_cast<double>(t.numel() / t.size(0));
        const double bound = 1.0 / std::sqrt(fan_in);
        t.uniform_(-bound, bound);
      } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
        t.zero_();
      }
    }
  }

 private:
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<Network> load_torchscript(const std::string& path, bool reinit, const NetworkInputs& in) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw DataError("cannot load the TorchScript model '" + path +
                    "' (model.torchscript_path): export it with torch.jit.script(model).save(path); libtorch said: " +
                    e.what_without_backtrace());
  }
  auto net = std::make_unique<TorchScriptNetwork>(std::move(module));
  if (reinit) net->reinitialize();
  // Check it maps one example to `classes` logits before any training starts.
  std::vector<int64_t> shape{2};
  shape.insert(shape.end(), in.example_shape.begin(), in.example_shape.end());
  torch::NoGradGuard no_grad;
  net->set_training(false);
  torch::Tensor out;
  try {
    out = net->forward(torch::zeros(shape));
  } catch (const c10::Error& e) {
    throw DataError("the TorchScript model '" + path + "' fails on inputs of this dataset's shape: " +
                    e.what_without_backtrace());
  }
  if (out.dim() != 2 || out.size(0) != 2 || out.size(1) != in.classes)
    throw DataError("the TorchScript model '" + path + "' returns shape " + c10::str(out.sizes()) +
                    " for a batch of 2; expected [2, " + std::to_string(in.classes) + "] logits");
  return net;
}

}  // namespace lira
