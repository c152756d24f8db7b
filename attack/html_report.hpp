// `lira report`: one self-contained HTML page of a results file's findings -- the run's
// facts, the attack table, log-log ROC curves, score distributions, the audit's bounds,
// and the most and least exposed candidates shown as they are (image, text or feature
// row), with exposure per class. No script, no network: a Content-Security-Policy that
// allows inline styles and data: images only, so the page cannot fetch anything even if
// a string in it tried (docs/scoring.md "The HTML report").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "audit.hpp"
#include "exposure.hpp"
#include "scorer.hpp"

namespace lira {

// How one candidate is shown: a PNG thumbnail (images), an excerpt (text) or its first
// features (tables); all empty when the data is not at hand.
struct ExampleView {
  std::string png;               // PNG bytes
  std::string text;              // UTF-8 (invalid bytes are replaced when rendered)
  std::vector<double> features;  // tables
  int64_t dataset_index = -1;    // index in the dataset's training split; -1: unknown
  bool canary = false;           // an audit canary (data.canaries), not a dataset example
};

struct HtmlReportInput {
  const ScoreResult* result = nullptr;
  Exposure exposure;                    // of the chosen attack
  std::string title;                    // the experiment's name
  std::string config_yaml;              // the resolved config stored in the file ("" if none)
  std::vector<std::pair<std::string, std::string>> facts;  // extra (name, value) rows: dataset, arch, ...
  std::vector<std::string> class_names;  // by label; empty: numbers
  std::map<int64_t, ExampleView> views;  // by candidate, for the candidates shown
  std::string views_note;                // why examples are not shown as they are, when not
  int64_t examples = 12;                 // shown in each of the most and least exposed lists
  std::vector<AuditRow> audit;           // empty: no audit section
  std::string audit_note;                // what the audit rows are on (canaries, delta, ...)
  std::string generated_by;              // "lira 0.9.0 (abc123)"
};

// The page. Every string from the file is escaped.
std::string html_report(const HtmlReportInput& in);

// The comment that marks lira's report (app/output_files.hpp recognizes it).
inline constexpr const char* kHtmlReportMarker = "<!-- written by lira report -->";

// RFC 4648 base64 (for data: URIs).
std::string base64(const std::string& bytes);

}  // namespace lira
