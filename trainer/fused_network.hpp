// A pack's network (parallel.models_per_job; the classifier task, classifier_task.cpp): the K single networks of one
// architecture, as built alone with their seeds, fused into one network K times as wide.
// Every tensor of the state -- trainable parameters, frozen ones (airbench94's whitening
// and BatchNorm weights) and BatchNorm's running statistics -- is stacked along a leading
// model axis: [K, ...], named as in the single network.
//
// Activations keep the models apart in one tensor:
//  - on CUDA [B, K C, H, W], model j's channels in block j: a convolution is one
//    groups = K call and a BatchNorm over K C channels has each model's statistics;
//  - on the CPU [K B, C, H, W], model-major: each model's convolution and BatchNorm in
//    turn (oneDNN's grouped convolutions ran 2-10x slower than K separate ones there).
// Linear layers are batched matrix products over [K, B, features].
//
// BatchNorm in training mode normalizes each model over its own rows only: a model's
// short batch (padded to the pack's longest) and a model whose training is over (all
// padding) neither see the padding in their statistics nor move their running ones.
//
// Architectures: mlp, cnn, airbench, airbench94, wrn28-2, wrn16-4, wrn, resnet18 with
// BatchNorm and no dropout; pack_limits (common/config_rules.hpp) says which configs fuse.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "network.hpp"

namespace lira {

class FusedNetwork {
 public:
  struct Entry {
    std::string name;
    torch::Tensor value;     // [K, ...]
    bool trainable = false;  // a parameter the optimizer moves
    bool buffer = false;     // running statistics (floating buffers)
  };

  // Stacks the state of `nets` (same architecture, built alone) on `device`, with their
  // state_before_data_init() (airbench94's lookahead). grouped: the CUDA layout (one
  // grouped convolution, one BatchNorm over K C channels), the default on CUDA; the tests
  // also run it on the CPU (LIRA_TEST_GROUPED_PACKS in classifier_task.cpp).
  FusedNetwork(const ModelConfig& model, std::vector<std::unique_ptr<Network>>& nets, torch::Device device,
               bool grouped);

  int64_t models() const { return k_; }
  std::vector<Entry>& state() { return state_; }
  // The stacked state_before_data_init() of the single networks, in the order of state();
  // empty when they have none.
  const std::vector<torch::Tensor>& state_before_data_init() const { return before_; }
  void set_training(bool on) { training_ = on; }

  // Training or evaluation with each model's own inputs xs[j] [B, example...] of which the
  // first rows[j] are real (the rest padding; rows[j] == 0: the model sits this step out).
  // -> logits [K, B, classes].
  torch::Tensor forward_own(const std::vector<torch::Tensor>& xs, const std::vector<int64_t>& rows);
  // The same inputs x [B, example...] for every model -> [K, B, classes].
  torch::Tensor forward_shared(const torch::Tensor& x);

 private:
  using Act = torch::Tensor;
  struct NormKind {
    double eps, momentum;
    bool biased_running_var;  // objax's BatchNorm keeps the biased variance
  };
  const torch::Tensor& at(const std::string& name) const;
  bool has(const std::string& name) const { return index_.count(name) > 0; }
  torch::Tensor forward(const Act& x, int64_t batch);

  // Layout helpers (see the top of this file).
  Act join(const std::vector<torch::Tensor>& xs) const;
  torch::Tensor model_slice(const Act& x, int64_t j, int64_t batch) const;
  Act conv(const Act& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride, int64_t pad,
           int64_t batch) const;
  Act same_conv(const Act& x, const torch::Tensor& w, int64_t stride, int64_t batch) const;
  Act norm(const Act& x, const std::string& prefix, const NormKind& kind, int64_t batch);
  // [B, K F] (CUDA) or [K B, F] (CPU) -> [K, B, F]
  torch::Tensor per_model(const Act& x, int64_t batch) const;
  torch::Tensor linear(const torch::Tensor& h, const std::string& prefix) const;  // h [K, B, in]

  torch::Tensor forward_mlp_cnn(const Act& x, int64_t batch);
  torch::Tensor forward_airbench(const Act& x, int64_t batch, bool published);
  torch::Tensor forward_wrn(const Act& x, int64_t batch);
  torch::Tensor forward_resnet18(const Act& x, int64_t batch);

  ModelConfig model_;
  torch::Device device_;
  int64_t k_ = 0;
  bool grouped_ = false, training_ = true;
  std::vector<Entry> state_;
  std::vector<torch::Tensor> before_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> linears_;  // mlp/cnn: the Linear layers' prefixes, in order
  std::vector<std::string> convs_;    // cnn: the Conv2d layers' prefixes, in order
  std::vector<int64_t> rows_;         // this forward's real rows per model (training)
};

}  // namespace lira
