// Residual networks for 32x32 images: the wide ResNet of the LiRA paper and official demo
// (pre-activation, Zagoruyko and Komodakis 2016; WRN-28-2, WRN-16-4) and the CIFAR variant
// of ResNet-18 (3x3 stem, no max-pool; He et al. 2016).
#include "common/errors.hpp"
#include "network.hpp"

namespace lira {
namespace {
namespace nn = torch::nn;

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}
nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

// Pre-activation block: BN-ReLU-conv-BN-ReLU-(dropout)-conv, plus the (projected) input.
struct WideBlockImpl : nn::Module {
  WideBlockImpl(int64_t in, int64_t out, int64_t stride, double dropout)
      : bn1(register_module("bn1", nn::BatchNorm2d(in))),
        conv1(register_module("conv1", conv3x3(in, out, stride))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", conv3x3(out, out, 1))),
        dropout(dropout) {
    if (in != out || stride != 1) shortcut = register_module("shortcut", conv1x1(in, out, stride));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto o = torch::relu(bn1->forward(x));
    auto y = torch::relu(bn2->forward(conv1->forward(o)));
    if (dropout > 0) y = torch::dropout(y, dropout, is_training());
    y = conv2->forward(y);
    return y + (shortcut ? shortcut->forward(o) : x);
  }
  nn::BatchNorm2d bn1;
  nn::Conv2d conv1;
  nn::BatchNorm2d bn2;
  nn::Conv2d conv2;
  nn::Conv2d shortcut{nullptr};
  double dropout;
};
TORCH_MODULE(WideBlock);

struct WideResNetImpl : nn::Module {
  WideResNetImpl(int64_t depth, int64_t k, double dropout, int64_t in_channels, int64_t classes) {
    const int64_t n = (depth - 4) / 6;
    stem = register_module("stem", conv3x3(in_channels, 16, 1));
    int64_t in = 16;
    const int64_t widths[3] = {16 * k, 32 * k, 64 * k};
    for (int g = 0; g < 3; ++g)
      for (int64_t b = 0; b < n; ++b) {
        blocks->push_back(WideBlock(in, widths[g], (g > 0 && b == 0) ? 2 : 1, dropout));
        in = widths[g];
      }
    register_module("blocks", blocks);
    bn = register_module("bn", nn::BatchNorm2d(in));
    fc = register_module("fc", nn::Linear(in, classes));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = blocks->forward(stem->forward(x));
    y = torch::relu(bn->forward(y));
    return fc->forward(y.mean({2, 3}));
  }
  nn::Conv2d stem{nullptr};
  nn::Sequential blocks;
  nn::BatchNorm2d bn{nullptr};
  nn::Linear fc{nullptr};
};
TORCH_MODULE(WideResNet);

// Post-activation basic block of ResNet-18.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(register_module("conv1", conv3x3(in, out, stride))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", conv3x3(out, out, 1))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (in != out || stride != 1) {
      shortcut = register_module("shortcut", nn::Sequential(conv1x1(in, out, stride), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNet18Impl : nn::Module {
  ResNet18Impl(int64_t in_channels, int64_t classes) {
    stem = register_module("stem", nn::Sequential(conv3x3(in_channels, 64, 1), nn::BatchNorm2d(64), nn::ReLU()));
    int64_t in = 64;
    const int64_t widths[4] = {64, 128, 256, 512};
    for (int g = 0; g < 4; ++g)
      for (int b = 0; b < 2; ++b) {
        blocks->push_back(BasicBlock(in, widths[g], (g > 0 && b == 0) ? 2 : 1));
        in = widths[g];
      }
    register_module("blocks", blocks);
    fc = register_module("fc", nn::Linear(512, classes));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc->forward(blocks->forward(stem->forward(x)).mean({2, 3})); }
  nn::Sequential stem{nullptr};
  nn::Sequential blocks;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet18);

}  // namespace

std::unique_ptr<Network> build_wide_resnet(int64_t depth, int64_t width, double dropout, const NetworkInputs& in) {
  if (depth < 10 || (depth - 4) % 6 != 0)
    throw ConfigError("model.depth: a wide ResNet needs depth 6n + 4 >= 10, got " + std::to_string(depth));
  return std::make_unique<NativeNetwork<WideResNet>>(
      WideResNet(depth, width, dropout, in.example_shape[0], in.classes));
}

std::unique_ptr<Network> build_resnet18(const NetworkInputs& in) {
  return std::make_unique<NativeNetwork<ResNet18>>(ResNet18(in.example_shape[0], in.classes));
}

}  // namespace lira
