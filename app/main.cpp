// The `lira` executable: command-line parsing and the top-level error handler.
// Each subcommand lives in its own file; main() only dispatches and maps exceptions to
// exit codes (common/errors.hpp) with one clear message.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "check_command.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/shell.hpp"
#include "common/suggest.hpp"
#include "coordinator/coordinator.hpp"
#include "lira/build_info.hpp"
#include "mpi/mpi_session.hpp"
#include "nccl/nccl_gang.hpp"
#include "run_command.hpp"
#include "score_command.hpp"
#include "signals_command.hpp"
#include "slurm_command.hpp"
#include "status_command.hpp"
#include "storage/h5.hpp"
#include "storage/results_file.hpp"
#include "data/dataset.hpp"
#include "preflight.hpp"
#include "report_command.hpp"
#include "trainer_loader.hpp"

namespace {

std::string version_text() {
  std::string s = std::string("lira ") + lira::build::kVersion + " (git " + lira::build::kGitRevision + ", " +
                  lira::build::kBuildType + ", " + lira::build::kCompiler + ")\n";
  lira::TorchInfo torch;
  try {
    torch = lira::trainer().torch_info();
  } catch (const std::exception& e) {
    return s + "libtorch: not loadable -- " + e.what() + "\n";
  }
  s += "libtorch " + torch.version + ", CUDA " + (torch.cuda_compiled ? "yes" : "no") +
       (torch.cuda_compiled ? (torch.cuda_available ? " (" + std::to_string(torch.gpus) + " GPU(s) visible)" : " (no GPU visible)") : "") + "\n";
  const std::string nccl = lira::nccl_version();
  s += nccl.empty() ? "NCCL no (no CUDA toolkit or nccl.h at build time; data-parallel gangs use MPI)\n"
                    : "NCCL " + nccl + " (data-parallel gangs on CUDA use it)\n";
  s += "MPI " + lira::mpi::library_version() + "\n";
  s += "HDF5 " + lira::h5::library_version() + "\n";
  return s;
}

int validate_command(const std::string& config_path, const std::vector<std::string>& overrides,
                     const std::string& out) {
  auto ov = overrides;
  if (!out.empty()) ov.push_back("experiment.output=" + out);
  const auto config = lira::load_config(config_path, ov);
  std::cout << lira::to_yaml(config) << std::flush;  // before any refusal, which goes to stderr
  // Every check `lira run` makes before it starts (app/preflight.hpp), --overwrite aside.
  const auto checked = lira::preflight(config, config_path, false);
  const auto& data = checked.data;
  std::string shape;
  for (auto d : data->candidates.example_shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
  std::cout << "# data: " << data->candidates.count << " candidates and " << data->test.count << " test examples of "
            << data->name << " (" << shape << ", " << data->classes << " classes) read from " << config.data.path
            << "\n";
  if (!checked.dp_budget.empty()) std::cout << "# " << checked.dp_budget << "\n";
  std::cout << "# results file: about " << (checked.results_bytes + 500000) / 1000000 << " MB\n";
  std::error_code ec;
  if (std::filesystem::exists(config.experiment.output, ec)) {
    // The same checks as `lira run`, read-only; every line of the verdict as a comment.
    std::istringstream verdict(lira::existing_results_verdict(config, *data));
    std::string line;
    std::getline(verdict, line);
    std::cout << "# note: " << lira::shell_word(config.experiment.output) << " exists: " << line << "\n";
    while (std::getline(verdict, line)) std::cout << "#   " << line << "\n";
  }
  std::cout << "# " << config_path << " is valid\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A worker rank's job process (parallel.isolation: process): not a user command.
  if (argc >= 2 && std::string(argv[1]) == "__job-process") {
    try {
      return lira::job_process_command();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "job process: %s\n", e.what());
      return static_cast<int>(lira::ExitCode::kInternal);
    }
  }
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

  const auto score = lira::add_score_command(app);
  const auto audit = lira::add_audit_command(app);
  const auto status = lira::add_status_command(app);
  const auto slurm = lira::add_slurm_command(app);
  const auto signals = lira::add_signals_command(app);
  const auto check = lira::add_check_command(app);
  const auto report = lira::add_report_command(app);

  app.add_subcommand("keys", "Print every config key with its default, range and meaning (Markdown)");

  // An unknown command: name the known ones (CLI11 would only say the word was unexpected).
  if (argc >= 2 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::fprintf(stderr, "lira: unknown command '%s'%s; the commands are: %s (lira --help says more)\n", argv[1],
                   lira::did_you_mean(argv[1], names).c_str(), list.c_str());
      return static_cast<int>(lira::ExitCode::kUsage);
    }
  }

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
    if (score.command->parsed()) return score.run();
    if (audit.command->parsed()) return audit.run();
    if (status.command->parsed()) return status.run();
    if (slurm.command->parsed()) return slurm.run();
    if (signals.command->parsed()) return signals.run();
    if (check.command->parsed()) return check.run();
    if (report.command->parsed()) return report.run();
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
