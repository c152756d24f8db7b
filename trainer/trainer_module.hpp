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
  static constexpr int kAbiVersion = 2;  // 2: gangs
  int abi_version = kAbiVersion;
  std::unique_ptr<JobRunner> (*make_runner)(const Config&, std::shared_ptr<const Dataset>, int threads,
                                            int device_index, GangComm* gang, int workers_on_node) = nullptr;
  TorchInfo (*torch_info)() = nullptr;
};

}  // namespace lira

extern "C" const lira::TrainerApi* lira_trainer_api();
