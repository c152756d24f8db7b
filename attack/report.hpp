// Presentation of a score: the attack x metric table for people, JSON for tools, ROC
// curves as CSV and as an SVG figure in the style of the LiRA paper (log-log axes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scorer.hpp"

namespace lira {

// The attack x metric table. The default fits 100 columns (intervals on the AUC only, the
// spread of per-target AUCs); `wide` adds balanced accuracy, advantage, the TPRs'
// intervals and every target's AUC. A TPR that is not estimable reads "n/a", with a
// line saying how many non-members it needs (metrics.hpp, tpr_estimable).
std::string format_table(const ScoreReport& report, bool wide = false);
std::string to_json_text(const ScoreReport& report);

// ROC curves (pooled over targets) of every attack: "attack,fpr,tpr,threshold" rows,
// thinned on a log-FPR grid when an attack has more than 10,000 points.
std::string roc_csv(const ScoreResult& result);
// The same curves on log-log axes from 1e-5 to 1, one per attack, with a legend giving
// each attack's AUC and TPR at 0.1% FPR.
std::string roc_svg(const ScoreResult& result);

// Histograms of the scores of members and of non-members (log density), one panel per
// named attack (all scored attacks when names is empty), all targets pooled.
std::string scores_svg(const ScoreResult& result, const std::vector<std::string>& names);

// The comment each SVG lira writes carries, one per plot: how lira recognizes its own
// files, and which plot a file is, before replacing one (app/output_files.hpp). No "--" in
// them: XML comments may not hold it.
inline constexpr const char* kRocSvgMarker = "<!-- written by lira score: ROC curves (option plot) -->";
inline constexpr const char* kScoresSvgMarker = "<!-- written by lira score: score distributions (option plot-scores) -->";

// "0.1%" for 0.001, "0.001%" for 1e-5.
std::string format_percent(double fraction);

// Text for HTML and SVG: & < > " ' as entities.
std::string html_escape(const std::string& s);

// "0, 1, 2" or, past 10 models, "0, 1, ... 7, ... 31": the models of a report's line.
std::string list_models(const std::vector<int64_t>& models);

}  // namespace lira
