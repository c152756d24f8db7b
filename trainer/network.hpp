// The one interface every reference-model architecture implements, native (torch::nn)
// or TorchScript, so the training loop does not care which it trains.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config.hpp"

namespace lira {

class Network {
 public:
  virtual ~Network() = default;
  // [batch, example_shape...] -> logits [batch, classes]
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // The trainable parameters, named ("block1.conv1.weight"); frozen ones are left out.
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() = 0;
  // State that evaluation depends on besides the parameters (BatchNorm statistics).
  virtual std::vector<torch::Tensor> buffers() = 0;
  virtual void set_training(bool on) = 0;
  // Moves parameters and buffers; channels_last converts 4-d weights to that format.
  virtual void to(torch::Device device, bool channels_last) = 0;
};

struct NetworkInputs {
  std::vector<int64_t> example_shape;  // [C, H, W] or [F]
  int64_t classes = 0;
  // Normalized training images [n, C, H, W] for data-dependent initialization (airbench's
  // patch-whitening layer); may be undefined for other architectures.
  torch::Tensor init_sample;
};

// Builds config.arch. Parameters are drawn from torch's default generator: seed it first.
// Throws ConfigError when the architecture does not fit the data (e.g. too small images).
std::unique_ptr<Network> build_network(const ModelConfig& config, const NetworkInputs& inputs);

// Per-architecture builders (models.cpp dispatches to them).
std::unique_ptr<Network> build_wide_resnet(int64_t depth, int64_t width, double dropout, const NetworkInputs& in);
std::unique_ptr<Network> build_resnet18(const NetworkInputs& in);
std::unique_ptr<Network> build_airbench(const std::vector<int64_t>& widths, const NetworkInputs& in);
std::unique_ptr<Network> load_torchscript(const std::string& path, bool reinit, const NetworkInputs& in);

// airbench's first-layer filters for images [n, C, H, W]: the eigenvectors of the covariance
// of all patch x patch patches, each scaled by 1 / sqrt(eigenvalue + eps), and their
// negatives: [2 C patch^2, C, patch, patch]. Patches filtered by the first half have
// covariance diag(eigenvalue / (eigenvalue + eps)).
torch::Tensor patch_whitening_filters(const torch::Tensor& images, int64_t patch, double eps);

// A Network around a torch::nn module holder (Sequential, or any module with forward(x)).
template <class Holder>
class NativeNetwork final : public Network {
 public:
  explicit NativeNetwork(Holder module) : module_(std::move(module)) {}
  torch::Tensor forward(const torch::Tensor& x) override { return module_->forward(x); }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : module_->named_parameters(/*recurse=*/true))
      if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
    return out;
  }
  std::vector<torch::Tensor> buffers() override { return module_->buffers(/*recurse=*/true); }
  void set_training(bool on) override { module_->train(on); }
  void to(torch::Device device, bool channels_last) override {
    module_->to(device);
    if (!channels_last) return;
    torch::NoGradGuard no_grad;
    for (auto& p : module_->parameters(true))
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }

 private:
  Holder module_;
};

}  // namespace lira
