// Implements `lira score` (attacks, metrics, score/ROC/plot files) and `lira audit`
// (epsilon lower bounds).
#include "score_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "attack/audit.hpp"
#include "attack/report.hpp"
#include "attack/scorer.hpp"
#include "common/errors.hpp"
#include "lira/build_info.hpp"
#include "output_files.hpp"
#include "storage/scores_file.hpp"

namespace lira {

ScoreOptions CommonOptions::to_score_options() const {
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

void add_common(CLI::App* cmd, CommonOptions& c) {
  cmd->add_option("file", c.file, "Results file (HDF5): lira's, or any file in the minimal layout")->required();
  auto* targets = cmd->add_option("--targets", c.targets,
                                  "The last K finished models are targets, the other finished models references")
                      ->capture_default_str()
                      ->check(CLI::Range(1, 1 << 30));
  auto* loo = cmd->add_option("--leave-one-out", c.leave_one_out,
                              "Each of the last K finished models is a target scored against all other finished "
                              "models (K may be all of them)")
                  ->check(CLI::Range(1, 1 << 30));
  targets->excludes(loo);
  auto* external = cmd->add_option("--external", c.external,
                                   "An external target (lira signals' file: a model trained elsewhere), scored against "
                                   "every finished model of the results file");
  external->excludes(targets)->excludes(loo);
  cmd->add_option("--flavor", c.flavor,
                  "paper: the LiRA paper's definitions; official-code: what tensorflow/privacy mi_lira_2021 "
                  "plot.py computes, quirks included (docs/scoring.md)")
      ->capture_default_str()
      ->check(CLI::IsMember({"paper", "official-code"}));
  cmd->add_flag("--overwrite", c.overwrite,
                "Replace existing output files; only lira's own file of the same kind is ever replaced, never an "
                "input");
}

std::vector<InputPath> inputs_of(const CommonOptions& c) {
  return {{"the results file", c.file}, {"the external target file (--external)", c.external}};
}

AuditTargets audit_targets(const ScoreResult& result, const ResultsReader& reader, size_t attack) {
  AuditTargets a;
  const bool dp = !result.report.dp_epsilon.empty();
  for (size_t ti = 0; ti < result.report.targets.size(); ++ti) {
    const int64_t t = result.report.targets[ti];
    a.scores.push_back(result.scores.at(attack).row(static_cast<int64_t>(ti)));
    const bool external = reader.external_models() > 0 && t == reader.models() - 1;
    a.names.push_back(external ? std::string("external") : "model " + std::to_string(t));
    a.accounted.push_back(dp ? result.report.dp_epsilon[static_cast<size_t>(t)] : std::numeric_limits<double>::quiet_NaN());
  }
  return a;
}

void write_report(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text << std::flush;
  } else {
    write_text_atomically(path, text);
  }
}

Subcommand add_score_command(CLI::App& app) {
  auto common = std::make_shared<CommonOptions>();
  auto attacks = std::make_shared<std::vector<std::string>>();
  auto plot_attacks = std::make_shared<std::vector<std::string>>();
  auto fpr = std::make_shared<std::vector<double>>(ScoreOptions{}.fpr);
  auto extra = std::make_shared<ScoreOptions>();
  auto rmia_a = std::make_shared<std::string>("tune");
  auto paths = std::make_shared<std::array<std::string, 5>>();  // json, scores-out, roc, plot, plot-scores
  auto wide = std::make_shared<bool>(false);
  std::string help = "Attacks to run, comma-separated (default: all the file supports):";
  for (const auto& a : attack_catalog()) help += std::string("\n  ") + a.name + ": " + a.description;
  auto* cmd = app.add_subcommand("score", "Run membership-inference attacks on a results file; print metrics");
  add_common(cmd, *common);
  cmd->add_option("--attack", *attacks, help)->delimiter(',');
  cmd->add_option("--fpr", *fpr, "FPRs at which to report the TPR, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--wide", *wide,
                "Every column of the table: balanced accuracy, advantage, the TPRs' intervals, each target's AUC "
                "(the default fits 100 columns)");
  cmd->add_option("--json", (*paths)[0], "Also write the report as JSON to this .json path ('-': standard output, "
                  "the table then goes to standard error)");
  cmd->add_option("--scores-out", (*paths)[1],
                  "Write per-example scores; the format follows the extension: .h5 (or .hdf5), .csv or .npy"
                      " (docs/scoring.md)");
  cmd->add_option("--roc", (*paths)[2], "Write the ROC curves (pooled over targets) as CSV");
  cmd->add_option("--plot", (*paths)[3], "Draw the ROC curves on log-log axes into this .svg file");
  cmd->add_option("--plot-scores", (*paths)[4],
                  "Draw the score distributions of members and non-members (log density) into this .svg file");
  cmd->add_option("--plot-attacks", *plot_attacks, "The attacks --plot-scores draws, comma-separated (default: all)")
      ->delimiter(',');
  cmd->add_option("--bootstrap", extra->bootstrap,
                  "Bootstrap resamples for the intervals of the pooled AUC and TPRs (members and non-members "
                  "resampled separately); 0: none")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  cmd->add_option("--confidence", extra->confidence, "Confidence of the bootstrap intervals")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 0.9999));
  cmd->add_option("--decision-fpr", extra->decision_fpr,
                  "FPR of the per-example decisions whose flip rate across targets is reported")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--rmia-a", *rmia_a,
                  "RMIA offline: P(x) = (1+a)/2 mean_OUT p(x) + (1-a)/2; 'tune' (a reference model plays the "
                  "target, grid 0..1) or a number in [0, 1]")
      ->capture_default_str();
  cmd->add_option("--rmia-gamma", extra->rmia.gamma, "RMIA: LR(x, z) > gamma counts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rmia-temperature", extra->rmia.temperature,
                  "RMIA: p(x) = softmax(logits / T) of the true class; T != 1 needs /signals/logits "
                  "(signals.logits: true)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rmia-population", extra->rmia.population,
                  "RMIA: population samples z (from the candidates no model trained on); 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--shokri-samples", extra->shokri.samples,
                  "shokri: (reference model, candidate) pairs to train the classifier on")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-k", extra->min_k, "min-k, min-k-plus-plus: the fraction k of lowest tokens averaged")
      ->capture_default_str();
  cmd->add_option("--seed", extra->seed, "Seed of the samplings (bootstrap, shokri, RMIA population)")
      ->capture_default_str();
  cmd->add_option("--references", extra->references,
                  "Use only the first R finished non-target models as references (0: all): how an attack grows "
                  "with the number of reference models; with --targets")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--queries", extra->queries,
                  "Use only these queries, comma-separated by name (e.g. identity,mirror or "
                  "'identity(0,0),mirror(0,0)': commas inside parentheses belong to the name; --json lists a "
                  "file's names under queries, and a wrong name's error lists them all); default: all");
  cmd->add_option("--block", extra->block_candidates, "Candidates per streamed block (0: from --block-bytes)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--block-bytes", extra->block_bytes,
                  "Bytes of signals per streamed block (two are held: one scored while the next is read; text "
                  "results give half of it to the targets' per-token rows)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1} << 16, int64_t{1} << 40));

  auto run = [=]() -> int {
    ScoreOptions o = common->to_score_options();
    o.attacks = *attacks;
    for (const auto& name : o.attacks) find_attack(name);  // unknown names fail before any work
    o.fpr = *fpr;
    o.rmia = extra->rmia;
    if (*rmia_a == "tune") {
      o.rmia.a = std::numeric_limits<double>::quiet_NaN();
    } else {
      char* end = nullptr;
      o.rmia.a = std::strtod(rmia_a->c_str(), &end);
      if (end == rmia_a->c_str() || *end != '\0' || !(o.rmia.a >= 0 && o.rmia.a <= 1))
        throw ScoreError("--rmia-a: '" + *rmia_a + "' is neither 'tune' nor a number in [0, 1]");
    }
    o.shokri = extra->shokri;
    o.min_k = extra->min_k;
    o.seed = extra->seed;
    o.references = extra->references;
    o.queries.clear();
    for (const auto& list : extra->queries)
      for (auto& name : parse_query_names(list)) o.queries.push_back(std::move(name));
    o.block_candidates = extra->block_candidates;
    o.block_bytes = extra->block_bytes;
    o.bootstrap = extra->bootstrap;
    o.confidence = extra->confidence;
    o.decision_fpr = extra->decision_fpr;
    const auto& [json, scores_out, roc, plot, plot_scores] = *paths;
    check_outputs(inputs_of(*common),
                  {{"--json", json, Role::kReport},
                   {"--scores-out", scores_out, Role::kScores},
                   {"--roc", roc, Role::kRoc},
                   {"--plot", plot, Role::kRocPlot},
                   {"--plot-scores", plot_scores, Role::kScoresPlot}},
                  common->overwrite);
    ResultsReader reader(common->file, common->external);
    auto result = score_results(reader, o);
    if (!common->external.empty())
      result.report.notes.push_back("target: the external model of '" + common->external + "' (model " +
                                    std::to_string(reader.models() - 1) + " here), scored against the file's " +
                                    std::to_string(result.report.references.size()) + " finished reference models");
    // With --json -, standard output carries the JSON alone and the table goes to stderr.
    (json == "-" ? std::cerr : std::cout) << format_table(result.report, *wide);
    if (!json.empty()) write_report(json, to_json_text(result.report));
    if (!roc.empty()) write_text_atomically(roc, roc_csv(result));
    if (!plot.empty()) write_text_atomically(plot, roc_svg(result));
    if (!plot_scores.empty()) write_text_atomically(plot_scores, scores_svg(result, *plot_attacks));
    if (!scores_out.empty()) write_scores(scores_out, result, common->file);
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
  auto methods = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"clopper-pearson", "gdp", "one-run"});
  auto threshold = std::make_shared<std::string>("bonferroni");
  auto k_plus = std::make_shared<std::vector<int64_t>>();
  auto k_minus = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{0});
  auto on = std::make_shared<std::string>("auto");
  auto* cmd = app.add_subcommand(
      "audit", "Empirical epsilon lower bounds of (epsilon, delta)-DP from an attack's scores (Clopper-Pearson, "
               "GDP, one run)");
  add_common(cmd, *common);
  cmd->add_option("--attack", *attack, "The attack whose scores are thresholded")->capture_default_str();
  cmd->add_option("--method", *methods, "Bounds to compute, comma-separated: clopper-pearson, gdp, one-run")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"clopper-pearson", "gdp", "one-run"}));
  cmd->add_option("--threshold", *threshold,
                  "Clopper-Pearson: bonferroni (every threshold at alpha / thresholds, all candidates) or split "
                  "(chosen on a random half, bounded on the other)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bonferroni", "split"}));
  cmd->add_option("--k-plus", *k_plus,
                  "One run: numbers of top-scored candidates guessed IN, comma-separated (default: 10, 20, 50, "
                  "... up to half the candidates); Bonferroni over all (k+, k-) pairs")
      ->delimiter(',');
  cmd->add_option("--k-minus", *k_minus, "One run: numbers of bottom-scored candidates guessed OUT")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--candidates", *on,
                  "The candidates the bounds are computed on: canaries (the file's data.canaries), all, or auto "
                  "(canaries when the file has them, else all)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "all", "canaries"}));
  cmd->add_option("--delta", *delta, "delta of (epsilon, delta)-DP")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--alpha", *alpha, "Significance: each bound holds with probability >= 1 - alpha")
      ->capture_default_str()
      ->check(CLI::Range(1e-12, 1.0));
  cmd->add_option("--seed", *seed, "Seed of the split into selection and evaluation halves")->capture_default_str();
  cmd->add_option("--json", *json, "Also write the bounds as JSON to this .json path ('-': standard output)");
  auto run = [=]() -> int {
    find_attack(*attack);
    FILE* text = *json == "-" ? stderr : stdout;  // --json -: standard output carries the JSON alone
    check_outputs(inputs_of(*common), {{"--json", *json, Role::kAudit}}, common->overwrite);
    ScoreOptions o = common->to_score_options();
    o.attacks = {*attack};
    o.bootstrap = 0;
    ResultsReader reader(common->file, common->external);
    // The canaries, when the bounds are on them: every other candidate is left out.
    std::vector<uint8_t> canary = reader.canaries();
    if (*on == "canaries" && canary.empty())
      throw ScoreError("--candidates canaries: '" + common->file + "' has no canaries (data.canaries in the config "
                       "of the run); use --candidates all");
    if (*on == "all") canary.clear();
    const auto result = score_results(reader, o);
    auto has = [&](const char* m) { return std::find(methods->begin(), methods->end(), m) != methods->end(); };
    nlohmann::json out = {{"generator", "lira audit"}, {"file", common->file}, {"attack", *attack},
                          {"delta", *delta}, {"alpha", *alpha}, {"threshold", *threshold},
                          {"state", result.report.state}, {"targets", nlohmann::json::array()}};
    std::fprintf(text, "%s: attack %s, delta %g, alpha %g (each bound holds with probability >= %g)\n", common->file.c_str(),
                attack->c_str(), *delta, *alpha, 1 - *alpha);
    int64_t canaries = 0;
    for (auto c : canary) canaries += c;
    if (!canary.empty()) std::fprintf(text, "on the %lld canaries only (--candidates all: every candidate)\n", static_cast<long long>(canaries));
    out["candidates"] = canary.empty() ? "all" : "canaries";
    if (result.report.state != "complete") std::fprintf(text, "state: %s -- %s\n", result.report.state.c_str(), result.report.state_detail.c_str());
    if (result.report.attacks.empty() || result.scores.empty()) {
      for (const auto& sk : result.report.skipped) std::fprintf(text, "skipped: %s: %s\n", sk.name.c_str(), sk.reason.c_str());
      return 1;
    }
    // DP-SGD runs: each target's accounted epsilon (an upper bound) beside the lower bounds.
    const bool dp = !result.report.dp_epsilon.empty();
    if (dp && !(std::abs(result.report.dp_delta - *delta) <= 1e-12 * *delta))
      std::fprintf(text, "note: the models were trained with DP-SGD at delta %g; these bounds are at delta %g (--delta)\n",
                  result.report.dp_delta, *delta);
    // Fits 100 columns (the Clopper-Pearson threshold selection is named in the footnote).
    std::fprintf(text, "%-9s %8s %10s %11s %11s %8s %6s %8s %12s%s\n", "target", "CP eps", "threshold", "FP", "FN",
                 "GDP eps", "mu", "1run eps", "guesses", dp ? "   DP eps" : "");
    AuditOptions ao;
    ao.delta = *delta, ao.alpha = *alpha, ao.split = *threshold == "split", ao.seed = *seed;
    ao.clopper_pearson = has("clopper-pearson"), ao.gdp = has("gdp"), ao.one_run = has("one-run");
    ao.k_plus = *k_plus, ao.k_minus = *k_minus;
    const auto targets = audit_targets(result, reader, 0);
    for (const auto& row : audit_rows(targets.scores, result.membership, canary, targets.names, targets.accounted, ao)) {
      nlohmann::json j = {{"target", row.target}};
      std::string cp_eps = "-", cp_thr = "-", fp = "-", fn = "-", gdp_eps = "-", mu = "-", or_eps = "-", guesses = "-";
      char buf[64];
      if (const auto& e = row.clopper_pearson) {
        std::snprintf(buf, sizeof buf, "%.4f", e->epsilon), cp_eps = buf;
        std::snprintf(buf, sizeof buf, "%.4g", e->threshold), cp_thr = buf;
        fp = std::to_string(e->false_positives) + "/" + std::to_string(e->nonmembers);
        fn = std::to_string(e->false_negatives) + "/" + std::to_string(e->members);
        j["clopper_pearson"] = {{"epsilon", e->epsilon}, {"threshold", e->threshold},
                                {"false_positives", e->false_positives}, {"false_negatives", e->false_negatives},
                                {"members", e->members}, {"nonmembers", e->nonmembers},
                                {"fpr_upper", e->fpr_upper}, {"fnr_upper", e->fnr_upper}, {"selection", *threshold}};
      }
      if (const auto& g = row.gdp) {
        std::snprintf(buf, sizeof buf, "%.4f", g->epsilon), gdp_eps = buf;
        std::snprintf(buf, sizeof buf, "%.3f", g->mu), mu = buf;
        j["gdp"] = {{"epsilon", g->epsilon}, {"mu", g->mu}, {"threshold", g->threshold}, {"fpr_upper", g->fpr_upper},
                    {"fnr_upper", g->fnr_upper}, {"thresholds", g->thresholds}};
      }
      if (const auto& b = row.one_run) {
        std::snprintf(buf, sizeof buf, "%.4f", b->epsilon), or_eps = buf;
        guesses = std::to_string(b->correct) + "/" + std::to_string(b->guesses) + " (" + std::to_string(b->k_plus) +
                  "+" + std::to_string(b->k_minus) + ")";
        j["one_run"] = {{"epsilon", b->epsilon}, {"k_plus", b->k_plus}, {"k_minus", b->k_minus},
                        {"guesses", b->guesses}, {"correct", b->correct}, {"canaries", b->canaries},
                        {"pairs_tried", b->tried}};
      }
      std::string dp_eps;
      if (dp) {
        std::snprintf(buf, sizeof buf, " %8.4f", row.dp_epsilon);
        dp_eps = std::isnan(row.dp_epsilon) ? "        -" : buf;
        j["dp_epsilon"] = std::isnan(row.dp_epsilon) ? nlohmann::json(nullptr) : nlohmann::json(row.dp_epsilon);
      }
      std::fprintf(text, "%-9s %8s %10s %11s %11s %8s %6s %8s %12s%s\n", row.target.c_str(), cp_eps.c_str(),
                   cp_thr.c_str(), fp.c_str(), fn.c_str(), gdp_eps.c_str(), mu.c_str(), or_eps.c_str(), guesses.c_str(),
                   dp_eps.c_str());
      out["targets"].push_back(j);
    }
    std::fprintf(text,
        "CP: Clopper-Pearson bound on FPR and FNR at one threshold (chosen by %s), FP and FN there;\n"
        "GDP: mu-GDP ruled out at every threshold (Bonferroni), as epsilon at delta;\n"
        "1run: one-run audit (Steinke et al. 2023), correct/guesses (k+ + k-), valid because each\n"
        "  candidate is IN for a target with probability 1/2 independently%s\n",
        threshold->c_str(),
        dp ? ";\nDP eps: the epsilon the target spent under DP-SGD (RDP accountant), an upper bound that\n"
             "  every lower bound must stay below"
           : "");
    if (!json->empty()) write_report(*json, out.dump(2) + "\n");
    return 0;
  };
  return {cmd, run};
}

}  // namespace lira
