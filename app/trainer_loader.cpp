// Implements trainer(): dlopen the module next to the executable, once.
#include "trainer_loader.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "common/errors.hpp"

namespace lira {
namespace {

std::string module_path() {
  if (const char* env = std::getenv("LIRA_TRAINER_MODULE"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto dir = ec ? std::filesystem::path(".") : exe.parent_path();
  for (const auto& candidate : {dir / "../lib/liblira_trainer.so", dir / "liblira_trainer.so"})
    if (std::filesystem::exists(candidate, ec)) return candidate.lexically_normal().string();
  return (dir / "../lib/liblira_trainer.so").lexically_normal().string();
}

}  // namespace

const TrainerApi& trainer() {
  static const TrainerApi* api = nullptr;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string path = module_path();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      failure = "cannot load the trainer module '" + path + "': " + (why ? why : "unknown error") +
                " (it is built beside bin/lira as lib/liblira_trainer.so; set LIRA_TRAINER_MODULE to use another)";
      return;
    }
    auto entry = reinterpret_cast<const TrainerApi* (*)()>(dlsym(handle, "lira_trainer_api"));
    if (!entry) {
      failure = "'" + path + "' is not a lira trainer module (no lira_trainer_api)";
      return;
    }
    const TrainerApi* a = entry();
    if (a->abi_version != TrainerApi::kAbiVersion) {
      failure = "'" + path + "' is from another lira build (ABI " + std::to_string(a->abi_version) + ", expected " +
                std::to_string(TrainerApi::kAbiVersion) + "); rebuild";
      return;
    }
    api = a;  // the handle stays open for the life of the process
  });
  if (!api) throw Error(failure);
  return *api;
}

}  // namespace lira
