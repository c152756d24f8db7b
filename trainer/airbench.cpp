// Keller Jordan's airbench94 CIFAR network, twice:
//  - model.arch airbench94: the published legacy network item by item (whitening with eps
//    5e-4 and a bias, dirac-initialized convs, BatchNorm eps 1e-12 / momentum 0.4 with the
//    weight frozen, MaxPool 3, x 1/9); its published training recipe is trainer/recipe_airbench94.cpp.
//  - model.arch airbench: the same layout with lira's generic choices (centered whitening
//    with eps 1e-2 and no bias, PyTorch's BatchNorm, widths from model.airbench_widths),
//    trained by the training.* keys like every other architecture.
// docs/training.md tabulates the published recipe against this code.
#include "common/errors.hpp"
#include "network.hpp"

namespace lira {
namespace {
namespace nn = torch::nn;

constexpr int64_t kPatch = 2;

struct ConvGroupImpl : nn::Module {
  ConvGroupImpl(int64_t in, int64_t out)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::max_pool2d(conv1->forward(x), 2);
    y = torch::gelu(bn1->forward(y));
    return torch::gelu(bn2->forward(conv2->forward(y)));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
};
TORCH_MODULE(ConvGroup);

struct AirbenchImpl : nn::Module {
  AirbenchImpl(const std::vector<int64_t>& widths, int64_t in_channels, int64_t classes) {
    const int64_t whiten_out = 2 * in_channels * kPatch * kPatch;
    whiten = register_module("whiten", nn::Conv2d(nn::Conv2dOptions(in_channels, whiten_out, kPatch).bias(false)));
    whiten->weight.set_requires_grad(false);
    int64_t in = whiten_out;
    for (auto w : widths) {
      groups->push_back(ConvGroup(in, w));
      in = w;
    }
    register_module("groups", groups);
    head = register_module("head", nn::Linear(nn::LinearOptions(in, classes).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = groups->forward(torch::gelu(whiten->forward(x)));
    y = std::get<0>(y.flatten(2).max(2));  // global max-pool
    return head->forward(y) / 9.0;          // airbench's output scaling
  }
  void init_whitening(const torch::Tensor& images) {
    torch::NoGradGuard no_grad;
    whiten->weight.copy_(patch_whitening_filters(images, kPatch, 1e-2).to(whiten->weight.device()));
  }
  nn::Conv2d whiten{nullptr};
  nn::Sequential groups;
  nn::Linear head{nullptr};
};
TORCH_MODULE(Airbench);

// --- airbench94 (legacy), as published ---------------------------------------------

// A 3x3 'same' conv without bias whose first in_channels filters start as the identity
// (dirac), after PyTorch's default init.
nn::Conv2d dirac_conv(int64_t in, int64_t out, int64_t k, int64_t padding, bool bias) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, k).padding(padding).bias(bias));
  torch::NoGradGuard no_grad;
  if (bias) conv->bias.zero_();
  auto head = conv->weight.slice(0, 0, std::min(in, out));
  nn::init::dirac_(head);
  return conv;
}

// BatchNorm with eps 1e-12, PyTorch momentum 0.4 (airbench's 0.6 for the old running
// value), weight frozen at 1, bias trained.
nn::BatchNorm2d frozen_scale_norm(int64_t c) {
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(c).eps(1e-12).momentum(0.4));
  bn->weight.set_requires_grad(false);
  return bn;
}

struct ConvGroup94Impl : nn::Module {
  ConvGroup94Impl(int64_t in, int64_t out)
      : conv1(register_module("conv1", dirac_conv(in, out, 3, 1, false))),
        norm1(register_module("norm1", frozen_scale_norm(out))),
        conv2(register_module("conv2", dirac_conv(out, out, 3, 1, false))),
        norm2(register_module("norm2", frozen_scale_norm(out))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::gelu(norm1->forward(torch::max_pool2d(conv1->forward(x), 2)));
    return torch::gelu(norm2->forward(conv2->forward(y)));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d norm1;
  nn::Conv2d conv2;
  nn::BatchNorm2d norm2;
};
TORCH_MODULE(ConvGroup94);

struct Airbench94Impl : nn::Module {
  explicit Airbench94Impl(int64_t classes) {
    // Parameter names matter: the recipe gives the names containing "norm" (the BatchNorm
    // biases) their own learning rate, as published.
    whiten = register_module("whiten", dirac_conv(3, 24, 2, 0, true));
    whiten->weight.set_requires_grad(false);
    int64_t in = 24;
    for (const int64_t w : {64, 256, 256}) {
      groups->push_back(ConvGroup94(in, w));
      in = w;
    }
    register_module("groups", groups);
    head = register_module("head", nn::Linear(nn::LinearOptions(256, classes).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = groups->forward(torch::gelu(whiten->forward(x)));
    y = torch::max_pool2d(y, 3).flatten(1);  // 3x3 -> 1x1
    return head->forward(y) * (1.0 / 9.0);
  }
  nn::Conv2d whiten{nullptr};
  nn::Sequential groups;
  nn::Linear head{nullptr};
};
TORCH_MODULE(Airbench94);

class Airbench94Network final : public Network {
 public:
  Airbench94Network(Airbench94 module, const torch::Tensor& whiten_sample) : net_(std::move(module)) {
    // The lookahead's average starts from the state before whitening, as published.
    for (auto& [name, t] : net_.state()) before_.push_back(t.detach().clone());
    torch::NoGradGuard no_grad;
    net_.module()->whiten->weight.copy_(airbench94_whitening_filters(whiten_sample));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net_.forward(x); }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override { return net_.named_parameters(); }
  std::vector<torch::Tensor> buffers() override { return net_.buffers(); }
  void set_training(bool on) override { net_.set_training(on); }
  void to(torch::Device device, bool channels_last) override {
    net_.to(device, channels_last);
    for (auto& t : before_) t = t.to(device);
  }
  std::vector<std::pair<std::string, torch::Tensor>> state() override { return net_.state(); }
  std::vector<torch::Tensor> state_before_data_init() override { return before_; }

 private:
  NativeNetwork<Airbench94> net_;
  std::vector<torch::Tensor> before_;
};

}  // namespace

torch::Tensor airbench94_whitening_filters(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  const int64_t c = images.size(1);
  // [n, C, h, w, 2, 2] -> one row per patch, flattened (channel, row, column).
  // float32 as published (float64 when torch's default dtype is, for the equivalence check).
  auto patches = images.to(torch::typeMetaToScalarType(torch::get_default_dtype())).unfold(2, 2, 1).unfold(3, 2, 1);
  patches = patches.permute({0, 2, 3, 1, 4, 5}).reshape({-1, c * 4});
  const auto moment = patches.t().mm(patches) / static_cast<double>(patches.size(0));  // uncentered
  const auto [eigenvalues, eigenvectors] = torch::linalg_eigh(moment, "U");             // ascending
  const auto values = eigenvalues.flip(0).view({-1, 1, 1, 1});
  const auto vectors = eigenvectors.t().reshape({c * 4, c, 2, 2}).flip(0);
  const auto filters = vectors / torch::sqrt(values + 5e-4);
  return torch::cat({filters, -filters});
}

std::unique_ptr<Network> build_airbench94(const NetworkInputs& in) {
  const auto& shape = in.example_shape;
  if (shape.size() != 3 || shape[0] != 3 || shape[1] != 32 || shape[2] != 32)
    throw Error("airbench94 built for examples of shape " + c10::str(shape) +
                " (check_config_with_data refuses any shape but 3x32x32)");
  if (!in.init_sample.defined() || in.init_sample.size(0) == 0)
    throw Error("airbench94 needs training images to initialize its whitening layer");
  return std::make_unique<Airbench94Network>(Airbench94(in.classes), in.init_sample);
}

torch::Tensor patch_whitening_filters(const torch::Tensor& images, int64_t patch, double eps) {
  torch::NoGradGuard no_grad;
  const int64_t c = images.size(1);
  auto patches = images.to(torch::kFloat64).unfold(2, patch, 1).unfold(3, patch, 1);  // [n, C, h, w, p, p]
  patches = patches.permute({0, 2, 3, 1, 4, 5}).reshape({-1, c * patch * patch});
  patches = patches - patches.mean(0, true);
  const auto cov = patches.t().mm(patches) / static_cast<double>(patches.size(0));
  const auto [eigenvalues, eigenvectors] = torch::linalg_eigh(cov);
  const auto filters = (eigenvectors.t() / (eigenvalues + eps).sqrt().unsqueeze(1)).reshape({-1, c, patch, patch});
  return torch::cat({filters, -filters}).to(torch::kFloat32);
}

std::unique_ptr<Network> build_airbench(const std::vector<int64_t>& widths, const NetworkInputs& in) {
  if (in.example_shape[1] < 16 || in.example_shape[2] < 16)
    throw ConfigError("model.arch: airbench needs images of at least 16x16 (three 2x poolings after a 2x2 layer)");
  Airbench net(widths, in.example_shape[0], in.classes);
  if (!in.init_sample.defined() || in.init_sample.size(0) == 0)
    throw Error("airbench needs training images to initialize its whitening layer");
  net->init_whitening(in.init_sample);
  return std::make_unique<NativeNetwork<Airbench>>(net);
}

}  // namespace lira
