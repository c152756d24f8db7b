// The `lira` executable: command-line parsing and the top-level error handler.
// Each subcommand lives in its own file; main() only dispatches and maps exceptions to
// exit codes (common/errors.hpp) with one clear message.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "attack/attacks.hpp"
#include "attack/report.hpp"
#include "attack/scorer.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "lira/build_info.hpp"
#include "mpi/mpi_session.hpp"
#include "run_command.hpp"
#include "storage/h5.hpp"
#include "storage/results_file.hpp"
#include "trainer/dataset.hpp"
#include "trainer/trainer.hpp"

namespace {

std::string version_text() {
  const auto torch = lira::torch_info();
  std::string s = std::string("lira ") + lira::build::kVersion + " (git " + lira::build::kGitRevision + ", " +
                  lira::build::kBuildType + ", " + lira::build::kCompiler + ")\n";
  s += "libtorch " + torch.version + ", CUDA " + (torch.cuda_compiled ? "yes" : "no") +
       (torch.cuda_compiled ? (torch.cuda_available ? " (" + std::to_string(torch.gpus) + " GPU(s) visible)" : " (no GPU visible)") : "") + "\n";
  s += "NCCL no (this build has no NCCL backend; data-parallel gangs use MPI)\n";
  s += "MPI " + lira::mpi::library_version() + "\n";
  s += "HDF5 " + lira::h5::library_version() + "\n";
  return s;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text) || !out.flush())
    throw lira::StorageError("cannot write '" + path + "'; check that its directory exists and is writable");
}

int validate_command(const std::string& config_path, const std::vector<std::string>& overrides,
                     const std::string& out) {
  auto ov = overrides;
  if (!out.empty()) ov.push_back("experiment.output=" + out);
  const auto config = lira::load_config(config_path, ov);
  std::cout << lira::to_yaml(config);
  const auto data = lira::load_dataset(config.data);
  std::string shape;
  for (auto d : data->candidates.example_shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
  std::cout << "# data: " << data->candidates.count << " candidates and " << data->test.count << " test examples of "
            << data->name << " (" << shape << ", " << data->classes << " classes) read from " << config.data.path
            << "\n";
  std::error_code ec;
  if (std::filesystem::exists(config.experiment.output, ec))
    std::cout << "# note: " << config.experiment.output
              << " exists; `lira run` will refuse it unless given --overwrite or another --out\n";
  std::cout << "# " << config_path << " is valid\n";
  return 0;
}

int score_command(const std::string& file, const lira::ScoreOptions& options, const std::string& json_path) {
  lira::ResultsReader reader(file);
  const auto report = lira::score_results(reader, options);
  std::cout << lira::format_table(report);
  if (!json_path.empty()) write_text_file(json_path, lira::to_json_text(report));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lira: reference-model training and membership-inference scoring (LiRA and friends)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return version_text(); });
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")->capture_default_str();
  app.fallthrough();  // subcommands inherit it: `lira run CONFIG --log-level debug` works too

  lira::RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Train the reference models of an experiment into one HDF5 results file");
  run_cmd->add_option("config", run.config_path, "Experiment config (YAML), e.g. configs/quickstart.yaml")->required();
  run_cmd->add_option("--set", run.overrides, "Override a config key: --set training.epochs=5 (repeatable)");
  run_cmd->add_option("--out", run.out, "Results file (overrides experiment.output)");
  run_cmd->add_flag("--overwrite", run.overwrite, "Replace an existing results file");

  std::string validate_path, validate_out;
  std::vector<std::string> validate_overrides;
  auto* validate_cmd = app.add_subcommand("validate", "Check a config and its data without running; print it resolved");
  validate_cmd->add_option("config", validate_path, "Experiment config (YAML)")->required();
  validate_cmd->add_option("--set", validate_overrides, "Override a config key (repeatable)");
  validate_cmd->add_option("--out", validate_out, "Results file (overrides experiment.output)");

  std::string score_file, json_path;
  std::vector<std::string> attacks;
  lira::ScoreOptions score_options;
  std::string attack_help = "Attacks to run, comma-separated (default: all the file supports):";
  for (const auto& a : lira::attack_catalog()) attack_help += std::string("\n  ") + a.name + ": " + a.description;
  auto* score_cmd = app.add_subcommand("score", "Run membership-inference attacks on a results file; print metrics");
  score_cmd->add_option("file", score_file, "Results file (HDF5)")->required();
  score_cmd->add_option("--attack", attacks, attack_help)->delimiter(',');
  score_cmd->add_option("--targets", score_options.targets,
                        "The last K finished models are targets, the others references")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  score_cmd->add_option("--fpr", score_options.fpr, "FPRs at which to report the TPR, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  score_cmd->add_option("--json", json_path, "Also write the report as JSON to this path");

  app.add_subcommand("keys", "Print every config key with its default, range and meaning (Markdown)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(lira::ExitCode::kUsage);
  }

  try {
    if (run_cmd->parsed()) {
      run.log_level = log_level;
      return lira::run_command(run);
    }
    lira::init_logging(-1, log_level);
    if (validate_cmd->parsed()) return validate_command(validate_path, validate_overrides, validate_out);
    if (score_cmd->parsed()) {
      score_options.attacks = attacks;
      return score_command(score_file, score_options, json_path);
    }
    if (app.got_subcommand("keys")) {
      std::cout << lira::keys_markdown();
      return 0;
    }
  } catch (const lira::Error& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(e.exit_code());
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}", e.what());
    return static_cast<int>(lira::ExitCode::kInternal);
  }
  return 0;
}
