// Implements the fused network of a pack (fused_network.hpp). Each forward mirrors its
// single network's (models.cpp, airbench.cpp, resnets.cpp) op for op, reading the stacked
// tensors by the single network's names; tests/trainer/test_packed.cpp checks every
// architecture against its models trained alone.
#include "fused_network.hpp"

#include <unordered_set>

#include "common/errors.hpp"

namespace lira {
namespace {

bool is_wrn(const std::string& arch) { return arch == "wrn28-2" || arch == "wrn16-4" || arch == "wrn"; }

}  // namespace

FusedNetwork::FusedNetwork(const ModelConfig& model, std::vector<std::unique_ptr<Network>>& nets,
                           torch::Device device, bool grouped)
    : model_(model), device_(device), k_(static_cast<int64_t>(nets.size())), grouped_(grouped) {
  if (nets.empty()) throw Error("FusedNetwork: no networks to fuse");
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> states;
  for (auto& n : nets) states.push_back(n->state());
  std::unordered_set<std::string> trainable;
  for (auto& [name, p] : nets[0]->named_parameters()) trainable.insert(name);
  std::unordered_set<const void*> buffers;
  for (auto& b : nets[0]->buffers()) buffers.insert(b.unsafeGetTensorImpl());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < states[0].size(); ++i) {
    Entry e;
    e.name = states[0][i].first;
    std::vector<torch::Tensor> parts;
    for (auto& s : states) {
      if (s.size() != states[0].size() || s[i].first != e.name)
        throw Error("FusedNetwork: the networks of a pack differ in their state (" + e.name + ")");
      parts.push_back(s[i].second.detach().to(device_));
    }
    e.value = torch::stack(parts).contiguous();
    e.trainable = trainable.count(e.name) > 0;
    e.buffer = buffers.count(states[0][i].second.unsafeGetTensorImpl()) > 0;
    if (e.trainable) e.value.set_requires_grad(true);
    index_[e.name] = state_.size();
    state_.push_back(std::move(e));
  }
  if (auto first = nets[0]->state_before_data_init(); !first.empty()) {
    std::vector<std::vector<torch::Tensor>> all;
    for (auto& n : nets) all.push_back(n->state_before_data_init());
    for (size_t i = 0; i < first.size(); ++i) {
      std::vector<torch::Tensor> parts;
      for (auto& s : all) parts.push_back(s.at(i).detach().to(device_));
      before_.push_back(torch::stack(parts).contiguous());
    }
  }
  if (model.arch == "mlp" || model.arch == "cnn")
    for (const auto& e : state_) {
      const auto dot = e.name.rfind(".weight");
      if (dot == std::string::npos || dot + 7 != e.name.size()) continue;
      (e.value.dim() == 5 ? convs_ : linears_).push_back(e.name.substr(0, dot));
    }
}

const torch::Tensor& FusedNetwork::at(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) throw Error("FusedNetwork: no tensor named " + name + " in the " + model_.arch + " state");
  return state_[it->second].value;
}

FusedNetwork::Act FusedNetwork::join(const std::vector<torch::Tensor>& xs) const {
  if (model_.arch == "mlp") return torch::stack(xs).reshape({k_, xs[0].size(0), -1});  // [K, B, F]
  return torch::cat(xs, grouped_ ? 1 : 0);
}

torch::Tensor FusedNetwork::model_slice(const Act& x, int64_t j, int64_t batch) const {
  if (grouped_) {
    const int64_t c = x.size(1) / k_;
    return x.narrow(1, j * c, c);
  }
  return x.narrow(0, j * batch, batch);
}

FusedNetwork::Act FusedNetwork::conv(const Act& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride,
                                     int64_t pad, int64_t batch) const {
  if (grouped_) {
    const int64_t out = w.size(1);
    return torch::conv2d(x, w.reshape({k_ * out, w.size(2), w.size(3), w.size(4)}),
                         b.defined() ? b.reshape({k_ * out}) : torch::Tensor(), stride, pad, 1, k_);
  }
  // split and unbind, not narrow and [j]: their backward joins the K gradients once,
  // where K slices would each scatter into a zeroed tensor of the whole pack's size.
  const auto xs = x.split(batch), ws = w.unbind(0);
  const auto bs = b.defined() ? b.unbind(0) : std::vector<torch::Tensor>(static_cast<size_t>(k_));
  std::vector<torch::Tensor> parts;
  for (int64_t j = 0; j < k_; ++j)
    parts.push_back(torch::conv2d(xs[static_cast<size_t>(j)], ws[static_cast<size_t>(j)], bs[static_cast<size_t>(j)],
                                  stride, pad));
  return torch::cat(parts);
}

FusedNetwork::Act FusedNetwork::same_conv(const Act& x, const torch::Tensor& w, int64_t stride, int64_t batch) const {
  // As same_conv2d (resnets.cpp): symmetric padding in the convolution, else padded first.
  const int64_t k = w.size(3);
  const auto [top, bottom] = same_padding(x.size(2), k, stride);
  const auto [left, right] = same_padding(x.size(3), k, stride);
  if (top == bottom && left == right && top == left) return conv(x, w, {}, stride, top, batch);
  return conv(torch::constant_pad_nd(x, {left, right, top, bottom}, 0.0), w, {}, stride, 0, batch);
}

namespace {

// BatchNorm of one block of channels in training mode, its running statistics updated
// as the single network's BatchNorm updates them. The running tensors are views of the
// stacked [K, C] statistics, which share one version counter: an update of one model's
// would invalidate another's saved for the backward pass, so they stay out of the graph
// (torch's BatchNorm updates a copy, copied back).
torch::Tensor train_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, torch::Tensor rm,
                         torch::Tensor rv, double eps, double momentum, bool biased) {
  if (!biased) {
    auto m = rm.clone(), v = rv.clone();
    auto y = torch::batch_norm(x, w, b, m, v, true, momentum, eps, true);
    torch::NoGradGuard no_grad;
    rm.copy_(m), rv.copy_(v);
    return y;
  }
  // As ObjaxBatchNorm (resnets.cpp): running averages of the biased variance.
  auto [y, mean, invstd] = torch::native_batch_norm(x, w, b, {}, {}, true, 0.0, eps);
  torch::NoGradGuard no_grad;
  rm.add_(mean.to(rm.dtype()) - rm, momentum);
  rv.add_((invstd.to(rv.dtype()).pow(-2) - eps) - rv, momentum);
  return y;
}

}  // namespace

FusedNetwork::Act FusedNetwork::norm(const Act& x, const std::string& prefix, const NormKind& kind, int64_t batch) {
  const auto &w = at(prefix + ".weight"), &b = at(prefix + ".bias");
  auto rm = at(prefix + ".running_mean"), rv = at(prefix + ".running_var");
  if (!training_) {
    if (grouped_) return torch::batch_norm(x, w.view(-1), b.view(-1), rm.view(-1), rv.view(-1), false, 0.0, kind.eps, true);
    std::vector<torch::Tensor> parts;
    for (int64_t j = 0; j < k_; ++j)
      parts.push_back(torch::batch_norm(model_slice(x, j, batch), w[j], b[j], rm[j], rv[j], false, 0.0, kind.eps, true));
    return torch::cat(parts);
  }
  bool full = true;
  for (const auto r : rows_) full = full && r == batch;
  if (full && grouped_)
    return train_norm(x, w.view(-1), b.view(-1), rm.view(-1), rv.view(-1), kind.eps, kind.momentum,
                      kind.biased_running_var);
  std::vector<torch::Tensor> parts;
  const auto xs = grouped_ ? x.split(x.size(1) / k_, 1) : x.split(batch), ws = w.unbind(0), bs = b.unbind(0);
  for (int64_t j = 0; j < k_; ++j) {
    const auto& xj = xs[static_cast<size_t>(j)];
    const int64_t r = rows_[static_cast<size_t>(j)];
    const auto& wj = ws[static_cast<size_t>(j)];
    const auto& bj = bs[static_cast<size_t>(j)];
    if (r == batch) {
      parts.push_back(train_norm(xj, wj, bj, rm[j], rv[j], kind.eps, kind.momentum, kind.biased_running_var));
    } else if (r == 0) {  // the model sits this step out: its statistics stay, its outputs do not matter
      parts.push_back(torch::zeros_like(xj));
    } else {
      // The first r rows (the real ones) as the model's batch alone; the padding's
      // outputs are zeros, which its masked loss ignores.
      parts.push_back(torch::cat({train_norm(xj.narrow(0, 0, r), wj, bj, rm[j], rv[j], kind.eps, kind.momentum,
                                             kind.biased_running_var),
                                  torch::zeros_like(xj.narrow(0, r, batch - r))}));
    }
  }
  return torch::cat(parts, grouped_ ? 1 : 0);
}

torch::Tensor FusedNetwork::per_model(const Act& x, int64_t batch) const {
  if (grouped_) return x.reshape({batch, k_, -1}).transpose(0, 1);
  return x.reshape({k_, batch, -1});
}

torch::Tensor FusedNetwork::linear(const torch::Tensor& h, const std::string& prefix) const {
  const auto& w = at(prefix + ".weight");
  const bool bias = has(prefix + ".bias");
  if (grouped_) {
    if (bias) return torch::baddbmm(at(prefix + ".bias").unsqueeze(1), h, w.transpose(1, 2));
    return torch::bmm(h, w.transpose(1, 2));
  }
  // The CPU layout: each model's own matrix product, as alone. libtorch's CPU baddbmm runs
  // its batch one product after another, each slower than the same addmm alone (a pack of
  // 4 quickstart MLPs trained at 0.73x of 4 models alone with it).
  // unbind, not [j]: its backward stacks the K gradients once, where K selects would
  // each scatter into a zeroed [K, ...] tensor.
  const auto hs = h.unbind(0), ws = w.unbind(0);
  const auto bs = bias ? at(prefix + ".bias").unbind(0) : std::vector<torch::Tensor>(static_cast<size_t>(k_));
  std::vector<torch::Tensor> parts;
  for (size_t j = 0; j < hs.size(); ++j) parts.push_back(torch::linear(hs[j], ws[j], bs[j]));
  return torch::stack(parts);
}

torch::Tensor FusedNetwork::forward_mlp_cnn(const Act& x, int64_t batch) {
  torch::Tensor h = x;
  if (!convs_.empty()) {
    for (const auto& c : convs_) h = torch::max_pool2d(torch::relu(conv(h, at(c + ".weight"), at(c + ".bias"), 1, 1, batch)), 2);
    h = per_model(h, batch);  // [K, B, C h w], as Flatten orders it
  } else {
    h = h.reshape({k_, batch, -1});
  }
  for (size_t i = 0; i < linears_.size(); ++i) {
    h = linear(h, linears_[i]);
    if (i + 1 < linears_.size()) h = torch::relu(h);
  }
  return h;
}

torch::Tensor FusedNetwork::forward_airbench(const Act& x, int64_t batch, bool published) {
  // airbench.cpp: Airbench94Impl (published) and AirbenchImpl.
  const NormKind kind = published ? NormKind{1e-12, 0.4, false} : NormKind{1e-5, 0.1, false};
  auto y = torch::gelu(conv(x, at("whiten.weight"), published ? at("whiten.bias") : torch::Tensor(), 1, 0, batch));
  const std::string n1 = published ? "norm1" : "bn1", n2 = published ? "norm2" : "bn2";
  for (int g = 0; has("groups." + std::to_string(g) + ".conv1.weight"); ++g) {
    const auto p = "groups." + std::to_string(g) + ".";
    y = torch::max_pool2d(conv(y, at(p + "conv1.weight"), {}, 1, 1, batch), 2);
    y = torch::gelu(norm(y, p + n1, kind, batch));
    y = torch::gelu(norm(conv(y, at(p + "conv2.weight"), {}, 1, 1, batch), p + n2, kind, batch));
  }
  if (published) return linear(per_model(torch::max_pool2d(y, 3).flatten(1), batch), "head") * (1.0 / 9.0);
  return linear(per_model(std::get<0>(y.flatten(2).max(2)), batch), "head") / 9.0;
}

torch::Tensor FusedNetwork::forward_wrn(const Act& x, int64_t batch) {
  // resnets.cpp: WideResNetImpl and WideBlockImpl, objax's BatchNorm.
  const NormKind kind{1e-5, 0.1, true};
  const int64_t depth = model_.arch == "wrn28-2" ? 28 : model_.arch == "wrn16-4" ? 16 : model_.depth;
  const int64_t n = (depth - 4) / 6;
  auto y = same_conv(x, at("stem.weight"), 1, batch);
  for (int64_t i = 0; i < 3 * n; ++i) {
    const auto p = "blocks." + std::to_string(i) + ".";
    const int64_t stride = (i == n || i == 2 * n) ? 2 : 1;
    const auto o = torch::relu(norm(y, p + "bn1", kind, batch));
    auto z = torch::relu(norm(same_conv(o, at(p + "conv1.weight"), stride, batch), p + "bn2", kind, batch));
    z = same_conv(z, at(p + "conv2.weight"), 1, batch);
    y = z + (has(p + "shortcut.weight") ? same_conv(o, at(p + "shortcut.weight"), stride, batch) : y);
  }
  y = torch::relu(norm(y, "bn", kind, batch));
  return linear(per_model(y.mean({2, 3}), batch), "fc");
}

torch::Tensor FusedNetwork::forward_resnet18(const Act& x, int64_t batch) {
  // resnets.cpp: ResNet18Impl and BasicBlockImpl, PyTorch's BatchNorm.
  const NormKind kind{1e-5, 0.1, false};
  auto y = torch::relu(norm(conv(x, at("stem.0.weight"), {}, 1, 1, batch), "stem.1", kind, batch));
  for (int i = 0; i < 8; ++i) {
    const auto p = "blocks." + std::to_string(i) + ".";
    const int64_t stride = (i == 2 || i == 4 || i == 6) ? 2 : 1;
    auto z = torch::relu(norm(conv(y, at(p + "conv1.weight"), {}, stride, 1, batch), p + "bn1", kind, batch));
    z = norm(conv(z, at(p + "conv2.weight"), {}, 1, 1, batch), p + "bn2", kind, batch);
    const auto shortcut =
        has(p + "shortcut.0.weight")
            ? norm(conv(y, at(p + "shortcut.0.weight"), {}, stride, 0, batch), p + "shortcut.1", kind, batch)
            : y;
    y = torch::relu(z + shortcut);
  }
  return linear(per_model(y.mean({2, 3}), batch), "fc");
}

torch::Tensor FusedNetwork::forward(const Act& x, int64_t batch) {
  const auto& a = model_.arch;
  if (a == "mlp" || a == "cnn") return forward_mlp_cnn(x, batch);
  if (a == "airbench" || a == "airbench94") return forward_airbench(x, batch, a == "airbench94");
  if (a == "resnet18") return forward_resnet18(x, batch);
  if (is_wrn(a)) return forward_wrn(x, batch);
  throw Error("FusedNetwork: no K-wide forward pass for model.arch " + a + " (pack_limits in common/config_rules.cpp "
              "should have refused it)");
}

torch::Tensor FusedNetwork::forward_own(const std::vector<torch::Tensor>& xs, const std::vector<int64_t>& rows) {
  if (static_cast<int64_t>(xs.size()) != k_ || rows.size() != xs.size())
    throw Error("FusedNetwork::forward_own: " + std::to_string(xs.size()) + " inputs for a pack of " +
                std::to_string(k_));
  rows_ = rows;
  return forward(join(xs), xs[0].size(0));
}

torch::Tensor FusedNetwork::forward_shared(const torch::Tensor& x) {
  const int64_t batch = x.size(0);
  rows_.assign(static_cast<size_t>(k_), batch);
  if (model_.arch == "mlp") return forward(x.reshape({1, batch, -1}).expand({k_, batch, -1}), batch);
  return forward(grouped_ ? x.repeat({1, k_, 1, 1}) : x.repeat({k_, 1, 1, 1}), batch);
}

}  // namespace lira
