// The entry point of liblira_trainer.so (see trainer_module.hpp).
#include "trainer_module.hpp"

namespace {

std::unique_ptr<lira::JobRunner> make_runner(const lira::Config& config, std::shared_ptr<const lira::Dataset> data,
                                             int threads, int device_index, lira::GangComm* gang,
                                             int workers_on_node) {
  return lira::make_torch_runner(config, std::move(data), threads, device_index, gang, workers_on_node);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const lira::TrainerApi* lira_trainer_api() {
  static const lira::TrainerApi api = [] {
    lira::TrainerApi a;
    a.make_runner = &make_runner;
    a.torch_info = &lira::torch_info;
    return a;
  }();
  return &api;
}
