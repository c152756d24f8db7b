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
  // Every floating-point tensor of the state, named as in PyTorch's state_dict: the
  // parameters, frozen ones included, then the floating buffers (BatchNorm statistics).
  // airbench94's lookahead averages all of them. The default names the trainable
  // parameters and the buffers ("buffer.<i>").
  virtual std::vector<std::pair<std::string, torch::Tensor>> state();
  // The state as it was before a data-dependent initialization (airbench94's whitening),
  // in the order of state(): the lookahead's average starts from it, as published. Empty
  // when the network has no such initialization.
  virtual std::vector<torch::Tensor> state_before_data_init() { return {}; }
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
// group_norm: GroupNorm instead of BatchNorm (model.norm: group).
std::unique_ptr<Network> build_wide_resnet(int64_t depth, int64_t width, double dropout, const NetworkInputs& in,
                                           bool group_norm = false);
std::unique_ptr<Network> build_resnet18(const NetworkInputs& in, bool group_norm = false);
std::unique_ptr<Network> build_airbench(const std::vector<int64_t>& widths, const NetworkInputs& in);
// airbench94 (legacy) as published: 32x32 images only; ConfigError for other sizes.
std::unique_ptr<Network> build_airbench94(const NetworkInputs& in);
std::unique_ptr<Network> load_torchscript(const std::string& path, bool reinit, const NetworkInputs& in);

// airbench's first-layer filters for images [n, C, H, W]: the eigenvectors of the covariance
// of all patch x patch patches, each scaled by 1 / sqrt(eigenvalue + eps), and their
// negatives: [2 C patch^2, C, patch, patch]. Patches filtered by the first half have
// covariance diag(eigenvalue / (eigenvalue + eps)).
torch::Tensor patch_whitening_filters(const torch::Tensor& images, int64_t patch, double eps);

// airbench94's whitening filters, as published: the uncentered 12x12 second-moment matrix
// of all 2x2 stride-1 patches of `images` [n, 3, H, W] (flattened channel, row, column) in
// float32, its eigenvectors in descending order of eigenvalue, each divided by
// sqrt(eigenvalue + 5e-4), then their negatives: [24, 3, 2, 2].
torch::Tensor airbench94_whitening_filters(const torch::Tensor& images);

// XLA/TensorFlow "SAME" padding of one spatial dimension of size n for a kernel k and
// stride s: {before, after}, with output ceil(n / s) and the odd pixel after.
std::pair<int64_t, int64_t> same_padding(int64_t n, int64_t k, int64_t s);
// conv2d of x [B, C, H, W] with w [out, C, k, k], stride s, "SAME" padding, no bias.
torch::Tensor same_conv2d(const torch::Tensor& x, const torch::Tensor& w, int64_t stride);

// objax's xavier_truncated_normal for a [out, in] weight: a standard normal truncated to
// [-2, 2], scaled to the Xavier std sqrt(2 / (in + out)) (divided by the truncated
// normal's std 0.8796).
void xavier_truncated_normal_(torch::Tensor& weight);

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
  std::vector<std::pair<std::string, torch::Tensor>> state() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : module_->named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
    for (const auto& item : module_->named_buffers(/*recurse=*/true))
      if (item.value().is_floating_point()) out.emplace_back(item.key(), item.value());
    return out;
  }
  Holder& module() { return module_; }
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
