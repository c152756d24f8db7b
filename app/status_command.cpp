// Implements `lira status`.
#include "status_command.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/logging.hpp"
#include "common/run_lock.hpp"
#include "orchestrator/run_status.hpp"
#include "storage/results_file.hpp"

namespace lira {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string ago(double t) {
  if (!std::isfinite(t) || t <= 0) return "never";
  return format_duration(now_seconds() - t) + " ago";
}

}  // namespace

Subcommand add_status_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("status", "How far a run is: models done/failed/pending, rate, ETA, workers");
  cmd->add_option("file", *file, "Results file (HDF5)")->required();
  cmd->add_flag("--json", *json, "Print the run's status file (JSON) as it is");
  auto run = [=]() -> int {
    nlohmann::json status;
    const std::string status_path = RunStatus::path_for(*file);
    if (std::ifstream in(status_path); in) {
      try {
        in >> status;
      } catch (const std::exception&) {
        status = nlohmann::json();  // being replaced right now, or damaged: use the HDF5 alone
      }
    }
    if (*json) {
      std::printf("%s\n", status.is_null() ? "{}" : status.dump(2).c_str());
      return 0;
    }
    ResultsReader r(*file);
    const auto done = r.done();
    const auto failed = r.model_values("failed");
    const auto finished_at = r.model_values("finished_at");
    const auto errors = r.model_errors();
    int64_t n_done = 0, n_failed = 0;
    double first = INFINITY, last = 0;
    for (int64_t m = 0; m < r.models(); ++m) {
      if (done[m]) {
        ++n_done;
        if (!finished_at.empty() && std::isfinite(finished_at[m])) first = std::min(first, finished_at[m]), last = std::max(last, finished_at[m]);
      } else if (!failed.empty() && failed[m] > 0) {
        ++n_failed;
      }
    }
    const int64_t pending = r.models() - n_done - n_failed;
    std::string holder;
    const bool running = RunLock::held(*file, &holder);
    std::printf("%s: %lld/%lld models done, %lld failed, %lld pending\n", file->c_str(),
                static_cast<long long>(n_done), static_cast<long long>(r.models()), static_cast<long long>(n_failed),
                static_cast<long long>(pending));
    if (running) {
      std::printf("run: active (%s)\n", holder.c_str());
    } else if (!status.is_null() && status.value("state", "") != "finished") {
      std::printf("run: not running; its last state was '%s', %s%s\n", status.value("state", "?").c_str(),
                  ago(status.value("updated", 0.0)).c_str(),
                  pending > 0 ? " -- run the same `lira run` command again to resume" : "");
    } else {
      std::printf("run: not running%s\n", pending > 0 ? " -- run the same `lira run` command again to resume" : "");
    }
    // Row checksums: how many done models carry them (reading every row to verify them is
    // `lira check`'s job, not a progress report's).
    if (const auto signals = r.checksummed_signals(); !signals.empty()) {
      const auto sums = r.checksums(signals.front());
      int64_t with = 0;
      for (int64_t m = 0; m < r.models() && m < static_cast<int64_t>(sums.size()); ++m) with += done[m] && sums[m] != 0;
      std::printf("rows: %lld of %lld done models carry checksums; `lira check %s` verifies them\n",
                  static_cast<long long>(with), static_cast<long long>(n_done), file->c_str());
    } else {
      std::printf("rows: no checksums in this file (written before lira kept them)\n");
    }
    if (!status.is_null() && running) {
      const double rate = status.value("models_per_minute", 0.0), eta = status.value("eta_seconds", -1.0);
      std::printf("rate: %.2f models/min, ETA %s\n", rate, eta >= 0 ? format_duration(eta).c_str() : "?");
    } else if (n_done >= 2 && last > first) {
      std::printf("rate while it ran: %.2f models/min (from the models' finish times)\n",
                  60.0 * static_cast<double>(n_done - 1) / (last - first));
    }
    if (!status.is_null() && status.contains("workers")) {
      std::printf("\n%-16s %-8s %-8s %-6s %-14s %s\n", "worker", "state", "model", "jobs", "last heard", "last word");
      for (const auto& w : status["workers"]) {
        const int64_t model = w.value("model", int64_t{-1});
        // A pack (parallel.models_per_job): its first model in flight, "+" the others.
        const size_t pack = w.contains("models") && w["models"].is_array() ? w["models"].size() : 0;
        std::string shown = model >= 0 ? std::to_string(model) : "-";
        if (model >= 0 && pack > 1) shown += " +" + std::to_string(pack - 1);
        std::printf("%-16s %-8s %-8s %-6lld %-14s %s\n", w.value("name", "?").c_str(), w.value("state", "?").c_str(),
                    shown.c_str(), static_cast<long long>(w.value("jobs", int64_t{0})),
                    ago(w.value("last_heard", 0.0)).c_str(), w.value("last_word", "").c_str());
      }
    }
    bool header = false;
    for (int64_t m = 0; m < r.models(); ++m)
      if (!failed.empty() && failed[m] > 0 && !done[m]) {
        if (!header) std::printf("\nfailed models:\n"), header = true;
        std::printf("  model %lld: %s\n", static_cast<long long>(m), errors.empty() ? "?" : errors[m].c_str());
      }
    return 0;
  };
  return {cmd, run};
}

}  // namespace lira
