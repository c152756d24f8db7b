// A fast CIFAR network in the style of airbench94 (Keller Jordan): a frozen 2x2
// patch-whitening first layer computed from the training images, then three blocks of
// conv-pool-BN-GELU-conv-BN-GELU at widths 64/256/256, global max-pool and a scaled
// linear head. Not a copy of airbench's code: its tricks beyond the architecture
// (lookahead, per-layer learning rates, TTA schedule) are not reproduced; the recipe in
// configs/cifar10-fast.yaml uses lira's own options (label smoothing, EMA, onecycle).
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

}  // namespace

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
