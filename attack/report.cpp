// Implements the table and the JSON report.
#include "report.hpp"

#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace lira {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json j;
  j["auc"] = m.auc;
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["advantage"] = m.advantage;
  j["tpr_at_fpr"] = nlohmann::json::array();
  for (size_t i = 0; i < m.fpr_targets.size(); ++i) {
    nlohmann::json t = {{"fpr", m.fpr_targets[i]}, {"tpr", number_or_null(m.tpr_at[i])}};
    // n/a: too few non-members for this FPR (metrics.hpp, tpr_estimable) -- here, or in some
    // target of a mean over targets; say how many it needs.
    if (std::isnan(m.tpr_at[i])) t["needs_nonmembers"] = nonmembers_needed(m.fpr_targets[i]);
    j["tpr_at_fpr"].push_back(t);
  }
  j["members"] = m.members;
  j["nonmembers"] = m.nonmembers;
  return j;
}

nlohmann::json interval_json(const Interval& i) { return {number_or_null(i.low), number_or_null(i.high)}; }

// text as lines of at most kTableWidth characters (broken at spaces), the first starting
// with `first`, the others indented by `indent` spaces.
constexpr size_t kTableWidth = 100;
std::string wrap(const std::string& first, const std::string& text, size_t indent = 2) {
  std::string out = first, word;
  size_t column = first.size();
  std::istringstream words(text);
  bool line_start = true;
  while (words >> word) {
    if (!line_start && column + 1 + word.size() > kTableWidth) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
      line_start = true;
    }
    if (!line_start) out += ' ', ++column;
    out += word;
    column += word.size();
    line_start = false;
  }
  return out + "\n";
}

// A metric's cell: "0.7230", "n/a" where it is not estimable (NaN).
std::string value(double v) { return std::isnan(v) ? "n/a" : fmt("%.4f", v); }

// "0.7230 [0.700,0.740]" or "0.7230" without an interval.
std::string with_interval(double v, const Interval& i) {
  if (std::isnan(v) || std::isnan(i.low)) return value(v);
  return fmt("%.4f", v) + " [" + fmt("%.3f", i.low) + "," + fmt("%.3f", i.high) + "]";
}

}  // namespace

std::string list_models(const std::vector<int64_t>& m) {
  std::string s;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 8 && m.size() > 10) {
      s += ", ... " + std::to_string(m.back());
      break;
    }
    s += (i ? ", " : "") + std::to_string(m[i]);
  }
  return s;
}

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string format_percent(double fraction) { return fmt("%.6g", fraction * 100.0) + "%"; }

std::string format_table(const ScoreReport& r, bool wide) {
  std::ostringstream out;
  out << r.file << ": " << r.models_done << "/" << r.models << " models done, " << r.candidates << " candidates, "
      << r.queries.size() << " quer" << (r.queries.size() == 1 ? "y" : "ies");
  if (r.queries.size() <= 4) {
    out << " (";
    for (size_t i = 0; i < r.queries.size(); ++i) out << (i ? ", " : "") << r.queries[i];
    out << ")";
  }
  out << "\n";
  if (std::isfinite(r.mean_train_accuracy))
    out << "reference models: mean train accuracy " << fmt("%.4f", r.mean_train_accuracy) << ", mean test accuracy "
        << fmt("%.4f", r.mean_test_accuracy) << "\n";
  if (!r.dp_epsilon.empty()) {
    double lo = INFINITY, hi = -INFINITY;
    for (double e : r.dp_epsilon)
      if (!std::isnan(e)) lo = std::min(lo, e), hi = std::max(hi, e);
    const std::string low = fmt("%.4g", lo), high = fmt("%.4g", hi);
    if (lo <= hi)
      out << "DP-SGD: each model spent epsilon " << low << (low == high ? "" : " to " + high) << " at delta "
          << fmt("%g", r.dp_delta) << " (RDP accountant; lira audit gives the empirical lower bounds)\n";
  }
  out << "targets: " << r.targets.size() << " (model" << (r.targets.size() == 1 ? " " : "s ") << list_models(r.targets)
      << "), each scored against " << (r.leave_one_out ? "every other finished model (leave-one-out, "
                                                        : "")
      << r.references.size() << " reference models" << (r.leave_one_out ? ")" : "") << "; flavor " << r.flavor << "\n";
  out << "state: " << r.state;
  if (!r.state_detail.empty()) out << " -- " << r.state_detail;
  out << "\n";
  for (const auto& n : r.notes) out << wrap("note: ", n);
  for (const auto& sk : r.skipped) {
    std::string head = "skipped: ";
    head += sk.name;
    head += ": ";
    out << wrap(head, sk.reason);
  }
  out << "\n";

  const bool several = r.targets.size() > 1;
  const bool ci = r.bootstrap > 0;
  if (several) out << "pooled over the " << r.targets.size() << " targets";
  if (ci) out << (several ? "; " : "") << "[" << fmt("%g", r.confidence * 100) << "% bootstrap interval, " << r.bootstrap
              << " resamples of the members and non-members]";
  if (several || ci) out << ":\n";
  // The narrow table (the default) fits 100 columns: intervals on the AUC only, no balanced
  // accuracy or advantage; --wide gives every column.
  size_t name_w = 8;
  for (const auto& a : r.attacks) name_w = std::max(name_w, a.name.size() + 4);
  const size_t auc_w = ci ? 22 : 9, tpr_w = wide && ci ? 23 : 15;
  bool any_mark = false;
  out << pad("attack", name_w) << pad("AUC", auc_w);
  if (wide) out << pad("bal.acc", 9) << pad("adv.", 9);
  const auto& fprs = r.attacks.empty() ? std::vector<double>{} : r.attacks.front().pooled.fpr_targets;
  for (double f : fprs) out << pad("TPR@" + format_percent(f) + "FPR", std::max(tpr_w, 6 + format_percent(f).size() + 4));
  out << "\n";
  for (const auto& a : r.attacks) {
    const bool mark = !a.few_references.empty();
    any_mark = any_mark || mark;
    out << pad(a.name + (mark ? " *" : ""), name_w) << pad(with_interval(a.pooled.auc, a.ci.auc), auc_w);
    if (wide) out << pad(fmt("%.4f", a.pooled.balanced_accuracy), 9) << pad(fmt("%.4f", a.pooled.advantage), 9);
    for (size_t i = 0; i < a.pooled.tpr_at.size(); ++i)
      out << pad(wide ? with_interval(a.pooled.tpr_at[i], i < a.ci.tpr_at.size() ? a.ci.tpr_at[i] : Interval{})
                      : value(a.pooled.tpr_at[i]),
                 std::max(tpr_w, 6 + format_percent(fprs[i]).size() + 4));
    out << "\n";
  }
  if (any_mark) {
    out << "* fitted on too few reference models:\n";
    for (const auto& a : r.attacks)
      if (!a.few_references.empty()) {
        std::string head = "  ";
        head += a.name;
        head += ": ";
        out << wrap(head, a.few_references, 4);
      }
  }
  // The n/a rule, once, for the FPRs it hit (metrics.hpp: tpr_estimable).
  if (!r.attacks.empty()) {
    const auto& m = r.attacks.front().pooled;
    for (double f : fprs)
      if (!tpr_estimable(f, m.nonmembers))
        out << wrap("n/a: ", "TPR@" + format_percent(f) + "FPR needs at least " + std::to_string(nonmembers_needed(f)) +
                                 " non-members to allow one false positive; there are " +
                                 std::to_string(m.nonmembers) + (several ? " (pooled over the targets)" : "") +
                                 ", so it would be the TPR at zero false positives");
  }
  if (several) {
    const size_t w = 15;
    out << "\nmean +- standard error over the " << r.targets.size() << " targets:\n"
        << pad("attack", name_w) << pad("AUC", w);
    for (double f : fprs) out << pad("TPR@" + format_percent(f) + "FPR", std::max(w, 6 + format_percent(f).size() + 4));
    out << pad("flip@" + format_percent(r.decision_fpr) + "FPR", 12) << "\n";
    auto mean_se = [](double mean, double se) {
      return std::isnan(mean) ? std::string("n/a") : fmt("%.4f", mean) + "+-" + fmt("%.3f", se);
    };
    for (const auto& a : r.attacks) {
      out << pad(a.name, name_w) << pad(mean_se(a.mean.auc, a.se.auc), w);
      for (size_t i = 0; i < a.mean.tpr_at.size(); ++i)
        out << pad(mean_se(a.mean.tpr_at[i], a.se.tpr_at[i]), std::max(w, 6 + format_percent(fprs[i]).size() + 4));
      out << pad(std::isnan(a.decisions.mean_member_flip) ? "-" : fmt("%.3f", a.decisions.mean_member_flip), 12)
          << "\n";
    }
    for (size_t i = 0; i < fprs.size(); ++i) {
      bool na = false;
      for (const auto& a : r.attacks) na = na || (i < a.mean.tpr_at.size() && std::isnan(a.mean.tpr_at[i]));
      if (na)
        out << wrap("n/a: ", "the mean of TPR@" + format_percent(fprs[i]) + "FPR needs every target to have at least " +
                                 std::to_string(nonmembers_needed(fprs[i])) + " non-members; some have fewer");
    }
    out << "flip: for an example that is a member of several targets, the share of pairs of those targets that "
           "disagree\non flagging it (each target's threshold at that FPR); 0 = every target decides alike\n";
    if (wide) {
      out << "\nAUC per target (and the mean over targets):\n" << pad("target model", 14);
      for (const auto& a : r.attacks) out << pad(a.name, std::max<size_t>(a.name.size() + 2, 9));
      out << "\n";
      for (size_t t = 0; t < r.targets.size(); ++t) {
        out << pad(std::to_string(r.targets[t]), 14);
        for (const auto& a : r.attacks)
          out << pad(fmt("%.4f", a.per_target[t].auc), std::max<size_t>(a.name.size() + 2, 9));
        out << "\n";
      }
      out << pad("mean", 14);
      for (const auto& a : r.attacks) out << pad(fmt("%.4f", a.mean.auc), std::max<size_t>(a.name.size() + 2, 9));
      out << "\n";
    } else {
      // The spread of the per-target AUCs, one row per attack (--wide: every target).
      out << "\nAUC per target:\n" << pad("attack", name_w) << pad("min", 9) << pad("median", 9) << pad("max", 9)
          << "\n";
      for (const auto& a : r.attacks) {
        std::vector<double> aucs;
        for (const auto& t : a.per_target) aucs.push_back(t.auc);
        std::sort(aucs.begin(), aucs.end());
        const size_t k = aucs.size();
        const double median = k == 0 ? NAN : k % 2 ? aucs[k / 2] : (aucs[k / 2 - 1] + aucs[k / 2]) / 2;
        out << pad(a.name, name_w) << pad(k ? fmt("%.4f", aucs.front()) : "-", 9) << pad(fmt("%.4f", median), 9)
            << pad(k ? fmt("%.4f", aucs.back()) : "-", 9) << "\n";
      }
    }
  }
  out << "\nAUC 0.5 = chance. TPR@x%FPR: share of members detected while flagging only x% of non-members.";
  if (!wide) out << "\n--wide: every column (balanced accuracy, advantage, the TPRs' intervals" << (several ? ", each target's AUC" : "") << ").";
  out << "\n";
  // Cells are padded to their column; a line ends at its last character.
  std::string text = out.str(), trimmed;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    line.erase(line.find_last_not_of(' ') + 1);
    trimmed += line;
    trimmed += '\n';
  }
  return trimmed;
}

std::string to_json_text(const ScoreReport& r) {
  nlohmann::json j;
  j["file"] = r.file;
  j["models"] = r.models;
  j["models_done"] = r.models_done;
  j["candidates"] = r.candidates;
  j["queries"] = r.queries;
  j["targets"] = r.targets;
  j["references"] = r.references;
  j["leave_one_out"] = r.leave_one_out;
  j["flavor"] = r.flavor;
  j["mean_train_accuracy"] = number_or_null(r.mean_train_accuracy);
  j["mean_test_accuracy"] = number_or_null(r.mean_test_accuracy);
  if (!r.dp_epsilon.empty()) {
    auto eps = nlohmann::json::array();
    for (double e : r.dp_epsilon) eps.push_back(number_or_null(e));
    j["dp_epsilon"] = eps;
    j["dp_delta"] = number_or_null(r.dp_delta);
  }
  j["notes"] = r.notes;
  j["generator"] = "lira score";
  j["state"] = r.state;
  j["state_detail"] = r.state_detail;
  j["models_failed"] = r.models_failed;
  j["population"] = r.population;
  j["skipped"] = nlohmann::json::array();
  for (const auto& sk : r.skipped) j["skipped"].push_back({{"name", sk.name}, {"reason", sk.reason}});
  j["bootstrap"] = {{"resamples", r.bootstrap}, {"confidence", r.confidence},
                    {"method", "percentile; members and non-members resampled separately"}};
  j["attacks"] = nlohmann::json::array();
  for (const auto& a : r.attacks) {
    nlohmann::json ja;
    ja["name"] = a.name;
    ja["pooled"] = metrics_json(a.pooled);
    if (a.ci.resamples > 0) {
      ja["pooled"]["auc_interval"] = interval_json(a.ci.auc);
      for (size_t i = 0; i < a.ci.tpr_at.size() && i < ja["pooled"]["tpr_at_fpr"].size(); ++i)
        ja["pooled"]["tpr_at_fpr"][i]["interval"] = interval_json(a.ci.tpr_at[i]);
    }
    ja["mean"] = metrics_json(a.mean);
    ja["standard_error"] = {{"auc", number_or_null(a.se.auc)}, {"tpr_at_fpr", nlohmann::json::array()}};
    for (size_t i = 0; i < a.se.tpr_at.size(); ++i)
      ja["standard_error"]["tpr_at_fpr"].push_back({{"fpr", a.se.fpr_targets[i]}, {"se", number_or_null(a.se.tpr_at[i])}});
    ja["few_references"] = !a.few_references.empty();
    if (!a.few_references.empty()) ja["few_references_reason"] = a.few_references;
    ja["decisions"] = {{"fpr", a.decisions.fpr},
                       {"mean_member_flip", number_or_null(a.decisions.mean_member_flip)},
                       {"mean_nonmember_flip", number_or_null(a.decisions.mean_nonmember_flip)},
                       {"flagged_by_all", number_or_null(a.decisions.flagged_by_all)},
                       {"examples", a.decisions.examples}};
    ja["per_target"] = nlohmann::json::array();
    for (size_t t = 0; t < a.per_target.size(); ++t) {
      auto m = metrics_json(a.per_target[t]);
      m["model"] = r.targets[t];
      ja["per_target"].push_back(m);
    }
    ja["undefined_scores"] = a.undefined_scores;
    j["attacks"].push_back(ja);
  }
  return j.dump(2) + "\n";
}

}  // namespace lira
