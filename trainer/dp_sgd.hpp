// DP-SGD (Abadi et al. 2016) for the classifier task: per-example gradients clipped to an
// L2 norm C, summed, Gaussian noise of std sigma C added, divided by the expected batch.
// docs/privacy.md has the whole method and what each piece is tested against.
//
// Two ways to the clipped sum, which must agree (unit test):
//  - the loop, the reference: one forward and backward pass per example; works for any
//    network without BatchNorm (TorchScript models too);
//  - the batched path for torch::nn::Sequential networks of Linear and Conv2d layers and
//    parameter-free layers (lira's mlp and cnn): one backward pass gives every layer's
//    output gradients per example, and each example's weight gradient is formed from
//    them and the layer's input -- for Linear the outer product (its squared norm is
//    |a|^2 |delta|^2), for Conv2d delta times the unfolded input. The clipped sum is then
//    one weighted product per layer.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace lira {

class Network;

// Per-example losses [b] for logits [b, classes] and labels [b].
using ExampleLossFn = std::function<torch::Tensor(const torch::Tensor& logits, const torch::Tensor& labels)>;

struct ClippedGradients {
  std::vector<torch::Tensor> sum;  // per parameter: the sum over examples of min(1, C / |g_i|) g_i
  torch::Tensor norms;             // [b] float64: |g_i| over all parameters, before clipping
  torch::Tensor losses;            // [b]: the examples' losses, detached
};

// The reference: one backward pass per example. `params` are the network's trainable
// parameters (those the optimizer steps).
ClippedGradients clipped_gradients_loop(Network& net, const std::vector<torch::Tensor>& params,
                                        const torch::Tensor& x, const torch::Tensor& y, const ExampleLossFn& loss,
                                        double max_norm);

// Whether clipped_gradients_batched can handle this network.
bool supports_batched_clipping(Network& net);

// The batched path; requires supports_batched_clipping(net). `params` as above: every one
// of them must belong to one of the network's Linear or Conv2d layers.
ClippedGradients clipped_gradients_batched(Network& net, const std::vector<torch::Tensor>& params,
                                           const torch::Tensor& x, const torch::Tensor& y, const ExampleLossFn& loss,
                                           double max_norm);

// Sets each parameter's gradient to (sum + N(0, (sigma C)^2)) / expected_batch, drawing
// the noise from torch's generator of the parameter's device.
void set_noisy_gradients(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& sum,
                         double noise_multiplier, double max_norm, double expected_batch);

}  // namespace lira
