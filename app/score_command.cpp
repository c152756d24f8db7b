// Implements `lira score` (attacks, metrics, score/ROC/plot files) and `lira audit`
// (epsilon lower bounds).
#include "score_command.hpp"

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "attack/audit.hpp"
#include "attack/report.hpp"
#include "attack/scorer.hpp"
#include "common/errors.hpp"
#include "lira/build_info.hpp"
#include "storage/scores_file.hpp"

namespace lira {
namespace {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text) || !out.flush())
    throw StorageError("cannot write '" + path + "'; check that its directory exists and is writable");
}

// Options shared by score and audit: which file, which targets, which flavor.
struct CommonOptions {
  std::string file;
  int64_t targets = 1;
  int64_t leave_one_out = 0;
  std::string flavor = "paper";
  ScoreOptions to_score_options() const {
    ScoreOptions o;
    if (leave_one_out > 0) {
      o.targets = leave_one_out;
      o.leave_one_out = true;
    } else {
      o.targets = targets;
    }
    o.flavor = flavor == "official-code" ? Flavor::kOfficialCode : Flavor::kPaper;
    return o;
  }
};

void add_common(CLI::App* cmd, CommonOptions& c) {
  cmd->add_option("file", c.file, "Results file (HDF5): lira's, or any file in the minimal layout")->required();
  auto* targets = cmd->add_option("--targets", c.targets,
                                  "The last K finished models are targets, the other finished models references")
                      ->capture_default_str()
                      ->check(CLI::Range(1, 1 << 30));
  auto* loo = cmd->add_option("--leave-one-out", c.leave_one_out,
                              "Each of the last K finished models is a target scored against all other finished models")
                  ->check(CLI::Range(1, 1 << 30));
  targets->excludes(loo);
  cmd->add_option("--flavor", c.flavor,
                  "paper: the LiRA paper's definitions; official-code: what tensorflow/privacy mi_lira_2021 "
                  "plot.py computes, quirks included (docs/scoring.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"paper", "official-code"}));
}

}  // namespace

Subcommand add_score_command(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto attacks = std::make_shared<std::vector<std::string>>();
  auto fpr = std::make_shared<std::vector<double>>(ScoreOptions{}.fpr);
  auto extra = std::make_shared<ScoreOptions>();
  auto paths = std::make_shared<std::array<std::string, 4>>();  // json, scores-out, roc, plot
  std::string help = "Attacks to run, comma-separated (default: all the file supports):";
  for (const auto& a : attack_catalog()) help += std::string("\n  ") + a.name + ": " + a.description;
  auto* cmd = app.add_subcommand("score", "Run membership-inference attacks on a results file; print metrics");
  add_common(cmd, *common);
  cmd->add_option("--attack", *attacks, help)->delimiter(',');
  cmd->add_option("--fpr", *fpr, "FPRs at which to report the TPR, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--json", (*paths)[0], "Also write the report as JSON to this path");
  cmd->add_option("--scores-out", (*paths)[1], "Write per-example scores as HDF5 (/scores/<attack> [T, N], /targets)");
  cmd->add_option("--roc", (*paths)[2], "Write the ROC curves (pooled over targets) as CSV");
  cmd->add_option("--plot", (*paths)[3], "Draw the ROC curves on log-log axes into this SVG file");
  cmd->add_option("--rmia-a", extra->rmia.a, "RMIA: offline P(x) = (1+a)/2 mean_OUT p(x) + (1-a)/2")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--rmia-gamma", extra->rmia.gamma, "RMIA: LR(x, z) >= gamma counts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rmia-population", extra->rmia.population,
                  "RMIA: population samples z (from the target's non-members); 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--shokri-samples", extra->shokri.samples,
                  "shokri: (reference model, candidate) pairs to train the classifier on")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-k", extra->min_k, "min-k, min-k-plus-plus: the fraction k of lowest tokens averaged")
      ->capture_default_str();
  cmd->add_option("--seed", extra->seed, "Seed of the samplings (shokri, RMIA population)")->capture_default_str();
  cmd->add_option("--block", extra->block_candidates, "Candidates per streamed block (0: from a 256 MiB budget)")
      ->check(CLI::NonNegativeNumber);

  auto run = [=]() -> int {
    ScoreOptions o = common->to_score_options();
    o.attacks = *attacks;
    o.fpr = *fpr;
    o.rmia = extra->rmia;
    o.shokri = extra->shokri;
    o.min_k = extra->min_k;
    o.seed = extra->seed;
    o.block_candidates = extra->block_candidates;
    ResultsReader reader(common->file);
    const auto result = score_results(reader, o);
    std::cout << format_table(result.report);
    const auto& [json, scores_out, roc, plot] = *paths;
    if (!json.empty()) write_text_file(json, to_json_text(result.report));
    if (!roc.empty()) write_text_file(roc, roc_csv(result));
    if (!plot.empty()) write_text_file(plot, roc_svg(result));
    if (!scores_out.empty()) {
      ScoresToWrite s;
      for (size_t a = 0; a < result.scores.size(); ++a) {
        s.attacks.push_back(result.report.attacks[a].name);
        // The rows of all targets are contiguous: [T, N] starting at target 0's row.
        s.scores.push_back({result.scores[a].row(0).data(), result.report.targets.size() * result.report.candidates});
      }
      s.targets = result.report.targets;
      const int64_t N = result.report.candidates;
      for (const auto& row : result.membership) s.target_keep.insert(s.target_keep.end(), row.begin(), row.end());
      s.candidates = N;
      s.source = common->file;
      s.flavor = result.report.flavor;
      s.lira_version = std::string(build::kVersion) + " (" + build::kGitRevision + ")";
      write_scores_file(scores_out, s);
    }
    return 0;
  };
  return {cmd, run};
}

Subcommand add_audit_command(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto attack = std::make_shared<std::string>("lira-online");
  auto delta = std::make_shared<double>(1e-5);
  auto alpha = std::make_shared<double>(0.05);
  auto seed = std::make_shared<uint64_t>(0);
  auto json = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "audit", "Empirical epsilon lower bound of (epsilon, delta)-DP from an attack (Clopper-Pearson, split halves)");
  add_common(cmd, *common);
  cmd->add_option("--attack", *attack, "The attack whose scores are thresholded")->capture_default_str();
  cmd->add_option("--delta", *delta, "delta of (epsilon, delta)-DP")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--alpha", *alpha, "Significance: the bound holds with probability >= 1 - alpha")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1.0));
  cmd->add_option("--seed", *seed, "Seed of the split into selection and evaluation halves")->capture_default_str();
  cmd->add_option("--json", *json, "Also write the bounds as JSON");
  auto run = [=]() -> int {
    ScoreOptions o = common->to_score_options();
    o.attacks = {*attack};
    ResultsReader reader(common->file);
    const auto result = score_results(reader, o);
    nlohmann::json out = nlohmann::json::array();
    std::printf("%s: attack %s, delta %g, alpha %g; threshold chosen on one half of the candidates, bound on the other\n",
                common->file.c_str(), attack->c_str(), *delta, *alpha);
    std::printf("%-10s %10s %12s %10s %10s %10s %10s\n", "target", "epsilon", "threshold", "FP", "FN", "FPR_ub", "FNR_ub");
    std::vector<double> pooled_scores;
    std::vector<uint8_t> pooled_member;
    auto report = [&](const std::string& name, const std::vector<double>& s, const std::vector<uint8_t>& m) {
      const auto r = lira::audit(s, m, *delta, *alpha, *seed);
      const auto& e = r.evaluated;
      std::printf("%-10s %10.4f %12.5g %6lld/%-5lld %6lld/%-5lld %10.3g %10.3g\n", name.c_str(), e.epsilon, e.threshold,
                  static_cast<long long>(e.false_positives), static_cast<long long>(e.nonmembers),
                  static_cast<long long>(e.false_negatives), static_cast<long long>(e.members), e.fpr_upper,
                  e.fnr_upper);
      out.push_back({{"target", name}, {"epsilon", e.epsilon}, {"threshold", e.threshold},
                     {"false_positives", e.false_positives}, {"false_negatives", e.false_negatives},
                     {"members", e.members}, {"nonmembers", e.nonmembers}, {"fpr_upper", e.fpr_upper},
                     {"fnr_upper", e.fnr_upper}, {"selection_epsilon", r.chosen.epsilon}});
    };
    for (size_t ti = 0; ti < result.report.targets.size(); ++ti) {
      const auto row = result.scores[0].row(static_cast<int64_t>(ti));
      const int64_t t = result.report.targets[ti];
      std::vector<double> s(row.begin(), row.end());
      const std::vector<uint8_t>& m = result.membership[ti];
      pooled_scores.insert(pooled_scores.end(), s.begin(), s.end());
      pooled_member.insert(pooled_member.end(), m.begin(), m.end());
      report("model " + std::to_string(t), s, m);
    }
    if (result.report.targets.size() > 1) report("pooled", pooled_scores, pooled_member);
    if (!json->empty()) write_text_file(*json, out.dump(2) + "\n");
    return 0;
  };
  return {cmd, run};
}

}  // namespace lira
