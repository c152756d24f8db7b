// Many models per pass (parallel.models_per_job, docs/training.md): K classifier models of
// one architecture trained at once as one network K times as wide -- horizontal fusion
// (HFTA, Wang et al., MLSys 2021). The network (fused_network.hpp) keeps the K models
// apart in every layer, BatchNorm's statistics included. Every tensor carries the model
// on its leading axis, so the optimizer, per-model gradient clipping, the EMA and
// airbench94's lookahead act on each model as if it trained alone, each with its own
// learning-rate schedule.
//
// Each model keeps its own draws: torch's default generators are swapped to the model's
// state around every draw it makes (initial weights, batch orders, augmentations), so a
// model draws exactly what it would draw alone with its seed. Its batches are its own;
// the pack pads shorter batches (a model's last one) and masks the padding out of its
// loss, and a model whose steps are done stops moving while the others finish.
//
// Supported: the architectures FusedNetwork::unsupported accepts, with the generic
// recipe (sgd, Nesterov, adam, adamw; every schedule; label smoothing; flip/crop
// augmentation; grad_clip; EMA) or airbench94's published one. The rest is refused by
// the config rules (common/config_rules.cpp).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "orchestrator/messages.hpp"
#include "trainer.hpp"

namespace lira {

struct PackedModel {
  ModelResult result;    // when the model trained to the end
  std::string diverged;  // else why it left the pack: its training loss was not finite
};

class PackedTrainer {
 public:
  PackedTrainer(const TrainerContext& context, torch::Device device);
  ~PackedTrainer();
  PackedTrainer(const PackedTrainer&) = delete;
  PackedTrainer& operator=(const PackedTrainer&) = delete;

  // Trains and evaluates the models of `jobs` as one pack; one entry per job, in order.
  // A model whose loss stops being finite is masked out (its entry says why) and the
  // others go on. Throws TrainError for a keep row of the wrong length.
  std::vector<PackedModel> run(const std::vector<JobAssignment>& jobs);

 private:
  struct Data;
  std::unique_ptr<Data> data_;
};

}  // namespace lira
