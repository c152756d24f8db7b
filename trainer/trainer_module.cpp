// The entry point of liblira_trainer.so (see trainer_module.hpp).
#include "trainer_module.hpp"

extern "C" __attribute__((visibility("default"))) const lira::TrainerApi* lira_trainer_api() {
  static const lira::TrainerApi api = [] {
    lira::TrainerApi a;
    a.make_runner = &lira::make_torch_runner;
    a.choose_device = &lira::choose_device;
    a.torch_info = &lira::torch_info;
    a.external_signals = &lira::external_signals;
    return a;
  }();
  return &api;
}
