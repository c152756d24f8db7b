// Implements preflight.hpp.
#include "preflight.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "common/config.hpp"
#include "common/config_rules.hpp"
#include "common/errors.hpp"
#include "common/results_layout.hpp"
#include "data/dataset.hpp"
#include "orchestrator/plan.hpp"
#include "storage/results_file.hpp"
#include "output_files.hpp"
#include "run_command.hpp"
#include "trainer_loader.hpp"

namespace lira {
namespace {

std::string gigabytes(double bytes) {
  char buf[32];
  if (bytes >= 1e12) {
    std::snprintf(buf, sizeof buf, "%.1f TB", bytes / 1e12);
  } else if (bytes >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  }
  return buf;
}

void check_device(const Config& config) {
  if (config.training.device != "cuda" || config.model.arch == "synthetic") return;
  if (!trainer().torch_info().cuda_compiled)
    throw ConfigError("training.device is cuda, but this lira's libtorch was built without CUDA (lira --version says "
                      "which); build lira against a CUDA libtorch (docs/gpu.md), or set training.device: cpu");
}

void check_batches(const Config& config, const Dataset& data) {
  if (data.text || config.model.arch == "synthetic" || config.model.arch == "torchscript") return;
  const auto counts = make_plan(config).in_counts();
  if (counts.empty()) return;
  const int64_t fewest = *std::min_element(counts.begin(), counts.end());
  if (batches_per_epoch(config, fewest) < 1)
    throw ConfigError("training.batch_size: " + std::to_string(config.training.batch_size) +
                      " leaves no full batch for a model that trains on " + std::to_string(fewest) +
                      " candidates (the fewest of any model; " + config.model.arch +
                      " drops the last partial batch), so every such model would fail: lower training.batch_size "
                      "below " + std::to_string(fewest + 1) + " or raise data.candidates");
}

void check_free_space(const Config& config, int64_t bytes) {
  const std::string dir = nearest_existing_directory(config.experiment.output);
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return;  // unknown: the write itself will say
  const double free_bytes = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
  if (static_cast<double>(bytes) > free_bytes)
    throw StorageError("the results file '" + config.experiment.output + "' needs about " +
                       gigabytes(static_cast<double>(bytes)) + " (" + std::to_string(config.experiment.models) +
                       " models x " + std::to_string(config.data.candidates) + " candidates), but '" + dir +
                       "' has " + gigabytes(free_bytes) + " free; free some space, choose another --out, or "
                       "lower experiment.models, data.candidates or the signals stored (signals.*)");
}

}  // namespace

int64_t results_file_bytes(const Config& config, const Dataset& data) {
  const auto layout = results_layout(config, data.classes, data.text ? data.text->offsets.back() : 0);
  int64_t row = config.data.candidates;  // the keep row (uint8)
  for (const auto& s : layout.signals) row += s.elements() * static_cast<int64_t>(sizeof(float));
  return config.experiment.models * row + (int64_t{1} << 20);  // plus attributes, per-model scalars, indices
}

Preflight preflight(const Config& config, const std::string& config_path, bool overwrite, bool check_device_) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string& out = config.experiment.output;
  if (fs::is_directory(out, ec))
    throw ConfigError("the results path '" + out + "' is a directory; give a file in it, e.g. --out " +
                      (fs::path(out) / (config.experiment.name + ".h5")).string());
  check_outputs({{"the config file", config_path},
                 {"the data", config.data.path},
                 {"data.bpe_vocab", config.data.bpe_vocab},
                 {"data.bpe_merges", config.data.bpe_merges},
                 {"model.torchscript_path", config.model.torchscript_path}},
                {{"the results path (experiment.output, --out)", config.experiment.output, Role::kResults}}, overwrite);
  if (check_device_) check_device(config);
  Preflight p;
  p.dp_budget = dp_budget_summary(config, config_path);  // refuses an unreachable dp.target_epsilon
  p.data = dataset_for(config);
  check_batches(config, *p.data);
  p.results_bytes = results_file_bytes(config, *p.data);
  // A new file, or a grown one (copied into a new file beside the old): room for all of it.
  bool new_file = overwrite || !fs::exists(out, ec);
  if (!new_file) {
    try {
      new_file = ResultsWriter::models_in(out) != config.experiment.models;
    } catch (const Error&) {
      // not a results file: `lira run` refuses it with its own message
    }
  }
  if (new_file) check_free_space(config, p.results_bytes);
  return p;
}

}  // namespace lira
