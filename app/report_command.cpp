// Implements `lira report`: scores the file (as `lira score`), ranks the candidates by the
// chosen attack (attack/exposure.hpp), decodes the ones shown from the dataset the file's
// config names (or the file's own tokens, for text), and writes the page.
#include "report_command.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include "attack/html_report.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "data/dataset.hpp"
#include "data/png.hpp"
#include "data/text.hpp"
#include "lira/build_info.hpp"
#include "output_files.hpp"

namespace lira {
namespace {

struct ReportArgs {
  std::string out;
  std::string attack = "lira-online";
  int64_t examples = 12;
  std::string data;  // overrides data.path of the stored config
  int64_t bootstrap = 1000;
};

// The targets option that gives a report's targets: "--leave-one-out 16", "--targets 1".
std::string targets_flag(const ScoreReport& r) {
  return std::string(r.leave_one_out ? "--leave-one-out " : "--targets ") + std::to_string(r.targets.size());
}

// The candidates the page shows.
std::set<int64_t> shown(const Exposure& e, int64_t examples) {
  std::set<int64_t> s;
  const auto [most, least] = extremes(e, examples);
  for (const auto* c : most) s.insert(c->candidate);
  for (const auto* c : least) s.insert(c->candidate);
  return s;
}

// Each shown candidate as it is: pixels and table rows from the dataset the config names
// (loaded as `lira run` loads it), text from the file's own tokens (byte tokenizer). What
// cannot be shown says why in in.views_note.
void add_views(const ResultsReader& file, const std::optional<Config>& config, const std::string& data_dir,
               const std::set<int64_t>& candidates, HtmlReportInput& in) {
  const auto index = file.candidate_index();
  auto base_view = [&](int64_t n) {
    ExampleView v;
    if (!index.empty()) {
      v.dataset_index = index[static_cast<size_t>(n)];
      v.canary = v.dataset_index < 0;
    }
    return v;
  };
  if (!config) {
    in.views_note = "This file stores no lira config (a file of another tool), so its candidates are shown by index "
                    "only.";
    for (int64_t n : candidates) in.views[n] = base_view(n);
    return;
  }
  if (config->data.is_text()) {
    const auto offsets = file.offsets();
    const bool bytes = config->data.tokenizer == "byte" || config->data.tokenizer.empty();
    if (!bytes)
      in.views_note = "Text records are shown for the byte tokenizer only; this run used '" + config->data.tokenizer +
                      "', so its candidates are shown by index.";
    else if (offsets.empty())
      in.views_note = "This file has no /offsets (the records' token layout), so its candidates are shown by index.";
    for (int64_t n : candidates) {
      ExampleView v = base_view(n);
      if (!offsets.empty() && bytes) v.text = byte_text(file.tokens(offsets[static_cast<size_t>(n)], offsets[static_cast<size_t>(n) + 1]));
      in.views[n] = v;
    }
    return;
  }
  DataConfig data = config->data;
  if (!data_dir.empty()) data.path = data_dir;
  std::shared_ptr<const Dataset> d;
  try {
    if (config->model.arch == "synthetic") throw DataError("the run used model.arch: synthetic, which reads no data");
    d = load_dataset(data);
    const auto& loaded = d->candidate_index;
    if (d->candidates.count != file.candidates() || (!index.empty() && loaded != index))
      throw DataError("the dataset at '" + data.path + "' gives other candidates than the file's /candidate_index "
                      "(another version of the data, or other data.* settings)");
  } catch (const Error& e) {
    in.views_note = std::string("The examples are not at hand, so they are shown by index only: ") + e.what() +
                    ". Pass --data DIR to name the directory holding the " + data.dataset + " files.";
    for (int64_t n : candidates) in.views[n] = base_view(n);
    return;
  }
  const Split& s = d->candidates;
  for (int64_t n : candidates) {
    ExampleView v = base_view(n);
    if (s.is_image()) {
      const int64_t C = s.example_shape[0], H = s.example_shape[1], W = s.example_shape[2];
      const int scale = static_cast<int>(std::clamp<int64_t>(112 / std::max<int64_t>(H, W), 1, 8));
      if (C == 1 || C == 3) v.png = encode_png(s.pixels.data() + n * s.example_size(), C, H, W, scale);
    } else if (!s.features.empty()) {
      const float* row = s.features.data() + n * s.example_size();
      v.features.assign(row, row + s.example_size());
    }
    in.views[n] = v;
  }
}

}  // namespace

Subcommand add_report_command(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "Write the findings of a results file as one self-contained HTML page: the run, the attacks, ROC "
                "curves, score distributions, audit bounds, and the most and least exposed candidates as they are");
  add_common(cmd, *common);
  // Unlike lira score, the page defaults to several targets, so that every candidate is a
  // member of some of them.
  cmd->get_option("--targets")->default_str("")->description(
      "The last K finished models are targets, the other finished models references (default: --leave-one-out 16)");
  cmd->get_option("--leave-one-out")->description(
      "Each of the last K finished models is a target scored against all other finished models (default: the last "
      "16, or all when fewer)");
  cmd->add_option("-o,--out", args->out, "The page to write (.html)")->required();
  cmd->add_option("--attack", args->attack,
                  "The attack whose per-example scores rank the candidates (and whose distributions and audit "
                  "bounds are shown)")
      ->capture_default_str();
  cmd->add_option("--examples", args->examples, "Candidates shown in each of the most and least exposed lists")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  cmd->add_option("--data", args->data,
                  "Directory holding the dataset files, when not where the run read them (data.path of the stored "
                  "config)");
  cmd->add_option("--bootstrap", args->bootstrap, "Bootstrap resamples for the table's intervals; 0: none")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  auto run = [=]() -> int {
    find_attack(args->attack);  // an unknown name fails before any work
    check_outputs(inputs_of(*common), {{"--out", args->out, Role::kHtmlReport}}, common->overwrite);
    ResultsReader reader(common->file, common->external);
    ScoreOptions o = common->to_score_options();
    // By default every candidate is a member of several targets: leave-one-out over the
    // last 16 finished models (or all, when fewer).
    if (cmd->count("--targets") == 0 && cmd->count("--leave-one-out") == 0 && common->external.empty()) {
      const auto done = reader.done();
      const int64_t finished = std::count(done.begin(), done.end(), uint8_t{1});
      o.leave_one_out = true;
      o.targets = std::clamp<int64_t>(finished, 1, 16);
    }
    o.bootstrap = args->bootstrap;
    auto result = score_results(reader, o);
    const auto& attacks = result.report.attacks;
    const auto it = std::find_if(attacks.begin(), attacks.end(), [&](const AttackReport& a) { return a.name == args->attack; });
    if (it == attacks.end()) {
      std::string why = "--attack " + args->attack + ": this file cannot be scored with it";
      for (const auto& sk : result.report.skipped)
        if (sk.name == args->attack) why += " (" + sk.reason + ")";
      throw ScoreError(why + "; choose another with --attack (lira score lists what the file supports)");
    }
    const size_t attack = static_cast<size_t>(it - attacks.begin());

    HtmlReportInput in;
    in.result = &result;
    in.examples = args->examples;
    in.generated_by = std::string("lira ") + build::kVersion + " (git " + build::kGitRevision + ")";
    in.config_yaml = reader.config_yaml();
    std::optional<Config> config;
    if (!in.config_yaml.empty()) {
      try {
        config = parse_config(in.config_yaml, common->file, {});
      } catch (const ConfigError&) {
        // Another version's keys: the page still shows the YAML as stored.
      }
    }
    in.title = config ? config->experiment.name : std::filesystem::path(common->file).stem().string();
    if (config) {
      in.facts.emplace_back("dataset", config->data.dataset + " (" + (args->data.empty() ? config->data.path : args->data) + ")");
      in.facts.emplace_back("model", config->model.arch);
      in.class_names = class_names(config->data.dataset);
    }
    const auto labels = reader.labels();
    const auto canary = reader.canaries();
    in.exposure = compute_exposure(result, attack, labels, canary);
    add_views(reader, config, args->data, shown(in.exposure, args->examples), in);

    // The audit, where the run was made for one: canaries or DP-SGD; at the run's delta.
    if (!canary.empty() || !result.report.dp_epsilon.empty()) {
      AuditOptions ao;
      if (!std::isnan(result.report.dp_delta)) ao.delta = result.report.dp_delta;
      const auto targets = audit_targets(result, reader, attack);
      in.audit = audit_rows(targets.scores, result.membership, canary, targets.names, targets.accounted, ao);
      char buf[320];
      std::snprintf(buf, sizeof buf,
                    "delta %g, each bound at 95%% confidence, on %s; the same as `lira audit %s --attack %s %s "
                    "--delta %g`, which has more options.",
                    ao.delta, canary.empty() ? "every candidate" : "the canaries only", common->file.c_str(),
                    args->attack.c_str(), targets_flag(result.report).c_str(), ao.delta);
      in.audit_note = buf;
    }
    write_text_atomically(args->out, html_report(in));
    int64_t pictured = 0;
    for (const auto& [n, v] : in.views) pictured += !v.png.empty() || !v.text.empty() || !v.features.empty();
    std::printf("%s: %s ranked by %s over %zu targets; %lld shown as they are%s\n", args->out.c_str(),
                std::to_string(in.exposure.ranked.size()).c_str(), args->attack.c_str(), result.report.targets.size(),
                static_cast<long long>(pictured), in.views_note.empty() ? "" : " (the page says why not all)");
    return 0;
  };
  return {cmd, run};
}

}  // namespace lira
