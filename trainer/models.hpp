// The reference-model architectures (model.arch), built as torch::nn::Sequential.
#pragma once

#include <torch/torch.h>

#include "common/config.hpp"

namespace lira {

// Input images [batch, channels, height, width] -> logits [batch, classes]. Parameters
// are initialized from torch's default generator: seed it first for reproducibility.
torch::nn::Sequential build_model(const ModelConfig& config, int64_t channels, int64_t height, int64_t width,
                                  int64_t classes);

}  // namespace lira
