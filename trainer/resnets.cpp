// Residual networks for 32x32 images: the wide ResNet of the LiRA paper and official demo
// (pre-activation, Zagoruyko and Komodakis 2016, as objax builds it; WRN-28-2, WRN-16-4)
// and the CIFAR variant of ResNet-18 (3x3 stem, no max-pool; He et al. 2016).
#include <cmath>

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

// The wide ResNet as objax builds it (objax.zoo.wide_resnet, used by the official LiRA
// code): TF "SAME" padding, He fan-out normal conv init, truncated Xavier head, and
// objax's BatchNorm (biased batch variance, momentum 0.9 = PyTorch 0.1, eps 1e-5).

// A bias-free conv with XLA "SAME" padding (a stride-2 3x3 conv on an even size pads one
// pixel after, none before) and objax's init: normal, std 1 / sqrt(0.5 k^2 out).
struct SameConvImpl : nn::Module {
  SameConvImpl(int64_t in, int64_t out, int64_t k, int64_t stride) : k(k), stride(stride) {
    weight = register_parameter("weight", torch::empty({out, in, k, k}));
    torch::NoGradGuard no_grad;
    weight.normal_(0.0, 1.0 / std::sqrt(0.5 * static_cast<double>(k * k * out)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return same_conv2d(x, weight, stride); }
  int64_t k, stride;
  torch::Tensor weight;
};
TORCH_MODULE(SameConv);

// objax.nn.BatchNorm2D: normalizes with the biased batch variance and keeps running
// averages of the batch mean and the *biased* variance (PyTorch's BatchNorm keeps the
// unbiased one), r += 0.1 (batch - r); eps 1e-5. Eval mode uses the running values.
struct ObjaxBatchNormImpl : nn::Module {
  explicit ObjaxBatchNormImpl(int64_t c) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (!is_training()) return torch::batch_norm(x, weight, bias, running_mean, running_var, false, 0.0, kEps, false);
    // native_batch_norm returns the batch mean and 1/sqrt(biased var + eps) it used.
    auto [y, mean, invstd] = torch::native_batch_norm(x, weight, bias, {}, {}, true, 0.0, kEps);
    torch::NoGradGuard no_grad;
    running_mean.add_(mean.to(running_mean.dtype()) - running_mean, kMomentum);
    running_var.add_((invstd.to(running_var.dtype()).pow(-2) - kEps) - running_var, kMomentum);
    return y;
  }
  static constexpr double kEps = 1e-5, kMomentum = 0.1;
  torch::Tensor weight, bias, running_mean, running_var;
};
TORCH_MODULE(ObjaxBatchNorm);

// model.norm: BatchNorm (objax's for the wide ResNets, PyTorch's for ResNet-18), or
// GroupNorm with 16 groups (fewer for fewer channels), which normalizes each example on
// its own and keeps no running statistics: the variant DP-SGD can train.
constexpr int64_t kNormGroups = 16;
nn::AnyModule make_norm(int64_t c, bool group, bool objax) {
  if (group) return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(std::min(kNormGroups, c), c).eps(1e-5)));
  if (objax) return nn::AnyModule(ObjaxBatchNorm(c));
  return nn::AnyModule(nn::BatchNorm2d(c));
}

// objax's WRNBlock: o1 = relu(bn1(x)); z = conv2(relu(bn2(conv1(o1)))); out = z + proj(o1)
// when the width or stride changes, else z + x. Dropout (lira's, not objax's) between.
struct WideBlockImpl : nn::Module {
  WideBlockImpl(int64_t in, int64_t out, int64_t stride, double dropout, bool group)
      : bn1(make_norm(in, group, true)),
        conv1(nullptr),
        bn2(make_norm(out, group, true)),
        conv2(nullptr),
        dropout(dropout) {
    register_module("bn1", bn1.ptr());
    conv1 = register_module("conv1", SameConv(in, out, 3, stride));
    register_module("bn2", bn2.ptr());
    conv2 = register_module("conv2", SameConv(out, out, 3, 1));
    if (in != out || stride != 1) shortcut = register_module("shortcut", SameConv(in, out, 1, stride));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto o = torch::relu(bn1.forward(x));
    auto y = torch::relu(bn2.forward(conv1->forward(o)));
    if (dropout > 0) y = torch::dropout(y, dropout, is_training());
    y = conv2->forward(y);
    return y + (shortcut ? shortcut->forward(o) : x);
  }
  nn::AnyModule bn1;
  SameConv conv1;
  nn::AnyModule bn2;
  SameConv conv2;
  SameConv shortcut{nullptr};
  double dropout;
};
TORCH_MODULE(WideBlock);

struct WideResNetImpl : nn::Module {
  WideResNetImpl(int64_t depth, int64_t k, double dropout, int64_t in_channels, int64_t classes, bool group) {
    const int64_t n = (depth - 4) / 6;
    stem = register_module("stem", SameConv(in_channels, 16, 3, 1));
    int64_t in = 16;
    const int64_t widths[3] = {16 * k, 32 * k, 64 * k};
    for (int g = 0; g < 3; ++g)
      for (int64_t b = 0; b < n; ++b) {
        blocks->push_back(WideBlock(in, widths[g], (g > 0 && b == 0) ? 2 : 1, dropout, group));
        in = widths[g];
      }
    register_module("blocks", blocks);
    bn = make_norm(in, group, true);
    register_module("bn", bn.ptr());
    fc = register_module("fc", nn::Linear(in, classes));
    torch::NoGradGuard no_grad;
    xavier_truncated_normal_(fc->weight);
    fc->bias.zero_();
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = blocks->forward(stem->forward(x));
    y = torch::relu(bn.forward(y));
    return fc->forward(y.mean({2, 3}));
  }
  SameConv stem{nullptr};
  nn::Sequential blocks;
  nn::AnyModule bn;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(WideResNet);

// Post-activation basic block of ResNet-18.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride, bool group)
      : conv1(register_module("conv1", conv3x3(in, out, stride))),
        bn1(make_norm(out, group, false)),
        conv2(nullptr),
        bn2(make_norm(out, group, false)) {
    register_module("bn1", bn1.ptr());
    conv2 = register_module("conv2", conv3x3(out, out, 1));
    register_module("bn2", bn2.ptr());
    if (in != out || stride != 1) {
      nn::Sequential s(conv1x1(in, out, stride));
      s->push_back(make_norm(out, group, false));
      shortcut = register_module("shortcut", s);
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1.forward(conv1->forward(x)));
    y = bn2.forward(conv2->forward(y));
    return torch::relu(y + (shortcut ? shortcut->forward(x) : x));
  }
  nn::Conv2d conv1;
  nn::AnyModule bn1;
  nn::Conv2d conv2;
  nn::AnyModule bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

struct ResNet18Impl : nn::Module {
  ResNet18Impl(int64_t in_channels, int64_t classes, bool group) {
    nn::Sequential s(conv3x3(in_channels, 64, 1));
    s->push_back(make_norm(64, group, false));
    s->push_back(nn::ReLU());
    stem = register_module("stem", s);
    int64_t in = 64;
    const int64_t widths[4] = {64, 128, 256, 512};
    for (int g = 0; g < 4; ++g)
      for (int b = 0; b < 2; ++b) {
        blocks->push_back(BasicBlock(in, widths[g], (g > 0 && b == 0) ? 2 : 1, group));
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

std::pair<int64_t, int64_t> same_padding(int64_t n, int64_t k, int64_t s) {
  const int64_t out = (n + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k - n, 0);
  return {total / 2, total - total / 2};
}

torch::Tensor same_conv2d(const torch::Tensor& x, const torch::Tensor& w, int64_t stride) {
  const int64_t k = w.size(2);
  const auto [top, bottom] = same_padding(x.size(2), k, stride);
  const auto [left, right] = same_padding(x.size(3), k, stride);
  if (top == bottom && left == right) return torch::conv2d(x, w, {}, stride, {top, left});
  return torch::conv2d(torch::constant_pad_nd(x, {left, right, top, bottom}, 0.0), w, {}, stride);
}

void xavier_truncated_normal_(torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  const double fan_out = static_cast<double>(weight.size(0)), fan_in = static_cast<double>(weight.numel() / weight.size(0));
  const double scale = std::sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978;  // truncnorm(-2, 2)'s std
  // Rejection of draws outside [-2, 2], redrawn in place until none is left.
  auto w = torch::randn(weight.sizes(), weight.options());
  for (auto out = w.abs().gt(2.0); out.any().item<bool>(); out = w.abs().gt(2.0))
    w = torch::where(out, torch::randn(weight.sizes(), weight.options()), w);
  weight.copy_(w * scale);
}

std::unique_ptr<Network> build_wide_resnet(int64_t depth, int64_t width, double dropout, const NetworkInputs& in,
                                           bool group_norm) {
  if (depth < 10 || (depth - 4) % 6 != 0)
    throw ConfigError("model.depth: a wide ResNet needs depth 6n + 4 >= 10, got " + std::to_string(depth));
  return std::make_unique<NativeNetwork<WideResNet>>(
      WideResNet(depth, width, dropout, in.example_shape[0], in.classes, group_norm));
}

std::unique_ptr<Network> build_resnet18(const NetworkInputs& in, bool group_norm) {
  return std::make_unique<NativeNetwork<ResNet18>>(ResNet18(in.example_shape[0], in.classes, group_norm));
}

}  // namespace lira
