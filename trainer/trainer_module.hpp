// The trainer as a run-time module: libtorch is loaded only by the commands that train
// (`lira run`, `lira --version`), so `lira score` starts in milliseconds instead of the
// ~0.3 s that loading libtorch costs, and scores on machines without libtorch at all.
//
// liblira_trainer.so (trainer/trainer_module.cpp) exports lira_trainer_api(); the
// executable finds it next to itself (../lib/) or at $LIRA_TRAINER_MODULE and dlopens it.
// Both sides are built together, so C++ types cross the boundary; kAbiVersion guards
// against a stale module.
#pragma once

#include <memory>

#include "trainer.hpp"

namespace lira {

struct TrainerApi {
  static constexpr int kAbiVersion = 5;  // 2: gangs; 3: TrainerContext, device choice; 4: progress; 5: external

  int abi_version = kAbiVersion;
  std::unique_ptr<JobRunner> (*make_runner)(const TrainerContext&) = nullptr;
  DeviceChoice (*choose_device)(const Config&, int device_index, int workers_on_node) = nullptr;
  TorchInfo (*torch_info)() = nullptr;
  ModelResult (*external_signals)(const TrainerContext&, const std::string&, const std::vector<uint8_t>&) = nullptr;
};

}  // namespace lira

extern "C" const lira::TrainerApi* lira_trainer_api();
