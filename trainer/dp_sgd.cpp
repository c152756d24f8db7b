// Implements the per-example clipping of DP-SGD (dp_sgd.hpp).
#include "dp_sgd.hpp"

#include <unordered_map>

#include "common/errors.hpp"
#include "network.hpp"
#include "torch_compat.hpp"

namespace lira {
namespace {

namespace nn = torch::nn;

nn::Sequential* sequential_of(Network& net) {
  auto* native = dynamic_cast<NativeNetwork<nn::Sequential>*>(&net);
  return native ? &native->module() : nullptr;
}

// Conv2d layers the batched path handles: zero padding given as numbers, one group.
bool plain_conv(const nn::Conv2dImpl& conv) {
  const auto& o = conv.options;
  return o.groups() == 1 && compat::conv2d_explicit_padding(o).has_value() &&
         get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr;
}

// Clip factors min(1, C / (|g_i| + 1e-6)) for squared norms [b] (the 1e-6 keeps a zero
// gradient finite, as Opacus does).
torch::Tensor clip_factors(const torch::Tensor& squared_norms, double max_norm) {
  return (max_norm / (squared_norms.sqrt() + 1e-6)).clamp_max(1.0);
}

// Index of each parameter tensor in `params`, by identity.
std::unordered_map<const void*, size_t> index_of(const std::vector<torch::Tensor>& params) {
  std::unordered_map<const void*, size_t> index;
  for (size_t i = 0; i < params.size(); ++i) index.emplace(params[i].unsafeGetTensorImpl(), i);
  return index;
}

}  // namespace

ClippedGradients clipped_gradients_loop(Network& net, const std::vector<torch::Tensor>& params,
                                        const torch::Tensor& x, const torch::Tensor& y, const ExampleLossFn& loss,
                                        double max_norm) {
  const int64_t b = x.size(0);
  ClippedGradients out;
  for (const auto& p : params) out.sum.push_back(torch::zeros_like(p));
  out.norms = torch::zeros({b}, torch::kFloat64);
  std::vector<torch::Tensor> losses;
  for (int64_t i = 0; i < b; ++i) {
    const auto li = loss(net.forward(x.slice(0, i, i + 1)), y.slice(0, i, i + 1)).sum();
    const auto grads = torch::autograd::grad({li}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                             /*allow_unused=*/true);
    auto squared = torch::zeros({}, torch::TensorOptions(x.device()).dtype(torch::kFloat64));
    for (const auto& g : grads)
      if (g.defined()) squared += g.to(torch::kFloat64).square().sum();
    const double norm = squared.sqrt().item<double>();
    out.norms.index_put_({i}, norm);
    const double factor = std::min(1.0, max_norm / (norm + 1e-6));
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < grads.size(); ++k)
      if (grads[k].defined()) out.sum[k].add_(grads[k], factor);
    losses.push_back(li.detach().reshape({1}));
  }
  out.losses = b > 0 ? torch::cat(losses) : torch::zeros({0});
  return out;
}

bool supports_batched_clipping(Network& net) {
  auto* seq = sequential_of(net);
  if (!seq) return false;
  for (const auto& m : **seq) {
    const auto ptr = m.ptr();
    if (std::dynamic_pointer_cast<nn::LinearImpl>(ptr)) continue;
    if (const auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(ptr)) {
      if (!plain_conv(*conv)) return false;
      continue;
    }
    if (!ptr->parameters().empty() || !ptr->buffers().empty()) return false;
  }
  return true;
}

ClippedGradients clipped_gradients_batched(Network& net, const std::vector<torch::Tensor>& params,
                                           const torch::Tensor& x, const torch::Tensor& y, const ExampleLossFn& loss,
                                           double max_norm) {
  if (!supports_batched_clipping(net))
    throw Error("clipped_gradients_batched: the network is not a Sequential of Linear, Conv2d and parameter-free layers");
  auto& seq = *sequential_of(net);
  // Forward layer by layer, keeping each Linear's and Conv2d's input and output.
  struct Record {
    std::shared_ptr<nn::LinearImpl> linear;
    std::shared_ptr<nn::Conv2dImpl> conv;
    torch::Tensor input, output;
  };
  std::vector<Record> records;
  torch::Tensor h = x;
  for (auto& m : *seq) {
    const auto ptr = m.ptr();
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(ptr)) {
      if (h.dim() != 2) throw Error("clipped_gradients_batched: a Linear layer on a " + std::to_string(h.dim()) + "-d input");
      auto z = linear->forward(h);
      records.push_back({linear, nullptr, h.detach(), z});
      h = z;
    } else if (auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(ptr)) {
      auto z = conv->forward(h);
      records.push_back({nullptr, conv, h.detach(), z});
      h = z;
    } else {
      h = m.forward(h);
    }
  }
  ClippedGradients out;
  const auto losses = loss(h, y);
  out.losses = losses.detach();
  std::vector<torch::Tensor> outputs;
  for (const auto& r : records) outputs.push_back(r.output);
  // Per-example output gradients: the examples do not interact, so the gradient of the
  // summed loss with respect to a layer's output holds each example's own in its row.
  const auto deltas = torch::autograd::grad({losses.sum()}, outputs);

  // Each layer's per-example weight gradient (conv) or its factors (linear), and the
  // squared norms of the trained parameters among them.
  const auto index = index_of(params);
  const int64_t b = x.size(0);
  torch::NoGradGuard no_grad;
  auto squared = torch::zeros({b}, torch::TensorOptions(x.device()).dtype(torch::kFloat64));
  std::vector<torch::Tensor> conv_weight_grads(records.size()), bias_grads(records.size());
  auto trained = [&](const torch::Tensor& p) { return p.defined() && index.count(p.unsafeGetTensorImpl()) > 0; };
  for (size_t l = 0; l < records.size(); ++l) {
    const auto& r = records[l];
    if (r.linear) {
      const auto& d = deltas[l];
      if (trained(r.linear->weight))
        squared += (r.input.square().sum(1) * d.square().sum(1)).to(torch::kFloat64);
      if (trained(r.linear->bias)) {
        bias_grads[l] = d;
        squared += d.square().sum(1).to(torch::kFloat64);
      }
    } else {
      const auto& o = r.conv->options;
      const auto pad = *compat::conv2d_explicit_padding(o);
      const auto& k = o.kernel_size();
      const auto unfolded = nn::functional::unfold(
          r.input, nn::functional::UnfoldFuncOptions(torch::ExpandingArray<2>({k->at(0), k->at(1)}))
                       .dilation(torch::ExpandingArray<2>({o.dilation()->at(0), o.dilation()->at(1)}))
                       .padding(torch::ExpandingArray<2>({pad[0], pad[1]}))
                       .stride(torch::ExpandingArray<2>({o.stride()->at(0), o.stride()->at(1)})));  // [b, in k k, L]
      const auto d = deltas[l].flatten(2);                                     // [b, out, L]
      if (trained(r.conv->weight)) {
        conv_weight_grads[l] = torch::bmm(d, unfolded.transpose(1, 2));  // [b, out, in k k]
        squared += conv_weight_grads[l].square().sum({1, 2}).to(torch::kFloat64);
      }
      if (trained(r.conv->bias)) {
        bias_grads[l] = d.sum(2);  // [b, out]
        squared += bias_grads[l].square().sum(1).to(torch::kFloat64);
      }
    }
  }
  out.norms = squared.sqrt();
  const auto c = clip_factors(squared, max_norm).to(x.scalar_type());
  out.sum.resize(params.size());
  auto put = [&](const torch::Tensor& p, torch::Tensor g) {
    if (trained(p)) out.sum[index.at(p.unsafeGetTensorImpl())] = g.view_as(p);
  };
  for (size_t l = 0; l < records.size(); ++l) {
    const auto& r = records[l];
    if (r.linear) {
      put(r.linear->weight, (deltas[l] * c.unsqueeze(1)).t().mm(r.input));
    } else if (conv_weight_grads[l].defined()) {
      put(r.conv->weight, (conv_weight_grads[l] * c.view({b, 1, 1})).sum(0));
    }
    if (bias_grads[l].defined()) put(r.linear ? r.linear->bias : r.conv->bias, (bias_grads[l] * c.unsqueeze(1)).sum(0));
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (!out.sum[i].defined())
      throw Error("clipped_gradients_batched: parameter " + std::to_string(i) +
                  " belongs to no Linear or Conv2d layer of the network");
  return out;
}

void set_noisy_gradients(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& sum,
                         double noise_multiplier, double max_norm, double expected_batch) {
  torch::NoGradGuard no_grad;
  const double std = noise_multiplier * max_norm;
  for (size_t i = 0; i < params.size(); ++i) {
    auto g = std > 0 ? sum[i] + torch::randn_like(sum[i]) * std : sum[i].clone();
    params[i].mutable_grad() = g.div_(expected_batch);
  }
}

}  // namespace lira
