// The device a worker trains on, the CPU BLAS check, and the facts of the libtorch this
// build runs on: everything about "where and with what" in one file.
#pragma once

#include <torch/torch.h>

#include "common/config.hpp"

namespace lira {

// training.device resolved for this worker (see choose_device in trainer.hpp).
torch::Device resolve_device(const Config& config, int device_index, int workers_on_node);

// Warns once per process when libtorch's CPU matrix products go to the reference BLAS.
void warn_if_reference_blas();

}  // namespace lira
