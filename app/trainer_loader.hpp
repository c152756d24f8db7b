// Finds and loads liblira_trainer.so (trainer/trainer_module.hpp) on first use.
#pragma once

#include "trainer/trainer_module.hpp"

namespace lira {

// The trainer's entry points. Throws Error saying where it looked and what dlopen said
// when the module or libtorch cannot be loaded.
const TrainerApi& trainer();

}  // namespace lira
