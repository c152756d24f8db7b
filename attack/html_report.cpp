// Implements attack/html_report.hpp. The page is built as text: a stylesheet, tables and
// the two SVG figures of report.hpp inline, and thumbnails as data: URIs.
#include "html_report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "report.hpp"

namespace lira {
namespace {

// UTF-8 sequences of a valid shape kept (overlong forms are not singled out: the page's
// charset decoder replaces them), each byte that starts no such sequence replaced by
// U+FFFD, control characters but newline and tab by spaces; then escaped; "..." when cut.
std::string text_excerpt(const std::string& s, size_t max_chars) {
  std::string o;
  size_t chars = 0;
  size_t i = 0;
  for (; i < s.size() && chars < max_chars; ++chars) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (!ok) {
      o += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    if (len == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t') {
      o += ' ';
    } else {
      o += html_escape(s.substr(i, len));
    }
    i += len;
  }
  if (i < s.size()) o += "&hellip;";
  return o;
}

std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string strip_xml_comment_lines(const std::string& svg) {
  // The SVG's own mark (a comment naming lira score's option) does not belong in the page.
  std::istringstream in(svg);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("<!--", 0) != 0) out += line + "\n";
  return out;
}

std::string label_name(const HtmlReportInput& in, int64_t label) {
  if (label < 0) return "";
  if (label < static_cast<int64_t>(in.class_names.size())) return in.class_names[static_cast<size_t>(label)];
  return "class " + std::to_string(label);
}

constexpr const char* kStyle = R"(
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1080px;color:#1a1a1a;line-height:1.45;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:30px}
.sub{color:#555;margin-top:0}.banner{background:#fff4d6;border:1px solid #e0b84c;padding:8px 12px;border-radius:4px}
table{border-collapse:collapse;font-size:14px}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #e4e4e4}
th{background:#f4f4f4}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f8f8f8;border:1px solid #e4e4e4;padding:10px;overflow-x:auto;font-size:12.5px;line-height:1.3}
svg{max-width:100%;height:auto}.note{color:#555;font-size:14px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
figure.ex{margin:0;border:1px solid #ddd;border-radius:4px;padding:8px;background:#fff;break-inside:avoid}
figure.ex img{display:block;margin:0 auto 6px;image-rendering:pixelated;border:1px solid #eee}
figure.ex blockquote{margin:0 0 6px;font-size:12px;white-space:pre-wrap;max-height:11em;overflow:hidden;font-family:"DejaVu Sans Mono",monospace}
figure.ex code{font-size:11px;word-break:break-all}figcaption{font-size:12.5px}
.bar{display:inline-block;height:10px;background:#3465a4;vertical-align:middle}
details summary{cursor:pointer;color:#3465a4}
@media print{body{margin:0;max-width:none}details{display:none}h2{break-after:avoid}section{break-inside:avoid-page}}
)";

void example_card(std::ostringstream& o, const HtmlReportInput& in, const CandidateExposure& c) {
  o << "<figure class=\"ex\">";
  const auto it = in.views.find(c.candidate);
  const std::string name = label_name(in, c.label);
  if (it != in.views.end()) {
    const ExampleView& v = it->second;
    if (!v.png.empty()) {
      o << "<img alt=\"candidate " << c.candidate << (name.empty() ? "" : " (" + html_escape(name) + ")")
        << "\" src=\"data:image/png;base64," << base64(v.png) << "\">";
    } else if (!v.text.empty()) {
      o << "<blockquote>" << text_excerpt(v.text, 320) << "</blockquote>";
    } else if (!v.features.empty()) {
      o << "<code>";
      const size_t k = std::min<size_t>(v.features.size(), 8);
      for (size_t i = 0; i < k; ++i) o << (i ? ", " : "") << fmt("%.4g", v.features[i]);
      if (k < v.features.size()) o << ", &hellip; (" << v.features.size() << " features)";
      o << "</code>";
    }
  }
  o << "<figcaption><b>candidate " << c.candidate << "</b>";
  if (it != in.views.end() && it->second.dataset_index >= 0) o << " (train #" << it->second.dataset_index << ")";
  if (it != in.views.end() && it->second.canary) o << " (audit canary)";
  if (!name.empty()) o << "<br>" << html_escape(name);
  o << "<br>flagged by " << c.flagged << " of " << c.member_targets << " target" << (c.member_targets == 1 ? "" : "s")
    << " that trained on it<br>mean score " << fmt("%.3g", c.member_score) << " as member, "
    << fmt("%.3g", c.nonmember_score) << " as non-member</figcaption></figure>\n";
}

}  // namespace

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (two ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_report(const HtmlReportInput& in) {
  const ScoreResult& r = *in.result;
  const ScoreReport& rep = r.report;
  const AttackReport& attack = rep.attacks.at(in.exposure.attack);
  const Exposure& ex = in.exposure;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n" << kHtmlReportMarker << "\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src "
       "'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>lira report: " << html_escape(in.title) << "</title>\n<style>" << kStyle << "</style></head><body>\n";
  o << "<h1>Membership inference: " << html_escape(in.title) << "</h1>\n<p class=\"sub\">" << html_escape(rep.file) << " &middot; "
    << html_escape(in.generated_by) << "</p>\n";
  if (rep.state != "complete")
    o << "<p class=\"banner\"><b>This file is " << html_escape(rep.state) << ":</b> " << html_escape(rep.state_detail) << "</p>\n";

  // The run.
  o << "<section id=\"run\"><h2>The run</h2><table>\n";
  auto fact = [&](const std::string& k, const std::string& v) {
    o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  };
  fact("models", std::to_string(rep.models_done) + " of " + std::to_string(rep.models) + " done" +
                     (rep.models_failed > 0 ? ", " + std::to_string(rep.models_failed) + " failed" : ""));
  fact("candidates", std::to_string(rep.candidates) +
                         (rep.population > 0 ? " (" + std::to_string(rep.population) +
                                                   " of them the population no model trained on, left out)"
                                             : ""));
  std::string queries;
  for (const auto& q : rep.queries) queries += (queries.empty() ? "" : ", ") + q;
  fact("queries", queries);
  for (const auto& [k, v] : in.facts) fact(k, v);
  fact("mean train accuracy", fmt("%.4f", rep.mean_train_accuracy));
  fact("mean test accuracy", fmt("%.4f", rep.mean_test_accuracy));
  std::string targets = std::to_string(rep.targets.size()) + (rep.leave_one_out ? " (leave-one-out)" : "");
  if (!rep.targets.empty()) targets += ": model" + std::string(rep.targets.size() > 1 ? "s " : " ") + list_models(rep.targets);
  fact("targets", targets);
  fact("reference models per target", std::to_string(rep.references.size()));
  o << "</table>\n";
  if (!in.config_yaml.empty())
    o << "<details><summary>The resolved configuration stored in the file</summary><pre>" << html_escape(in.config_yaml)
      << "</pre></details>\n";
  o << "</section>\n";

  // The attacks.
  o << "<section id=\"attacks\"><h2>The attacks</h2>\n<p class=\"note\">As <code>lira score</code> prints it (members and "
       "non-members of every target pooled; mean and spread over targets; n/a where the non-members are too few for "
       "the FPR).</p>\n<pre>"
    << html_escape(format_table(rep)) << "</pre></section>\n";
  o << "<section id=\"roc\"><h2>ROC curves</h2>\n" << strip_xml_comment_lines(roc_svg(r)) << "</section>\n";
  o << "<section id=\"scores\"><h2>Scores of members and non-members: " << html_escape(attack.name) << "</h2>\n"
    << strip_xml_comment_lines(scores_svg(r, {attack.name})) << "</section>\n";

  if (!in.audit.empty()) {
    o << "<section id=\"audit\"><h2>Audit: empirical lower bounds on epsilon (" << html_escape(attack.name) << ")</h2>\n"
      << "<p class=\"note\">" << html_escape(in.audit_note) << "</p>\n<table><tr><th>target</th><th class=\"num\">"
      << "Clopper-Pearson &epsilon;</th><th class=\"num\">GDP &epsilon; (&mu;)</th><th class=\"num\">one-run &epsilon; "
         "(correct/guesses)</th><th class=\"num\">accounted &epsilon; (DP-SGD)</th></tr>\n";
    for (const auto& row : in.audit) {
      o << "<tr><td>" << html_escape(row.target) << "</td><td class=\"num\">"
        << (row.clopper_pearson ? fmt("%.3f", row.clopper_pearson->epsilon) : "-") << "</td><td class=\"num\">"
        << (row.gdp ? fmt("%.3f", row.gdp->epsilon) + " (" + fmt("%.3f", row.gdp->mu) + ")" : "-")
        << "</td><td class=\"num\">"
        << (row.one_run ? fmt("%.3f", row.one_run->epsilon) + " (" + std::to_string(row.one_run->correct) + "/" +
                              std::to_string(row.one_run->guesses) + ")"
                        : "-")
        << "</td><td class=\"num\">" << (std::isnan(row.dp_epsilon) ? "-" : fmt("%.3f", row.dp_epsilon)) << "</td></tr>\n";
    }
    o << "</table></section>\n";
  }

  // The candidates.
  const int64_t T = static_cast<int64_t>(rep.targets.size());
  o << "<section id=\"exposed\"><h2>The most exposed candidates (" << html_escape(attack.name) << ")</h2>\n<p class=\"note\">"
    << "Ranked by the share of the targets that trained on a candidate and flag it as a member at "
    << html_escape(format_percent(ex.fpr)) << " FPR (each target's own threshold), then by its mean score as a member. "
    << T << " target" << (T == 1 ? "" : "s") << "; each candidate is a member of about half of them"
    << (T < 4 ? " (few: --leave-one-out K gives each candidate more)" : "") << ". " << ex.ranked.size()
    << " candidates ranked.</p>\n";
  if (!in.views_note.empty()) o << "<p class=\"banner\">" << html_escape(in.views_note) << "</p>\n";
  const auto [most, least] = extremes(ex, in.examples);
  o << "<div class=\"grid\">\n";
  for (const auto* c : most) example_card(o, in, *c);
  o << "</div></section>\n<section id=\"least\"><h2>The least exposed, for contrast</h2>\n<div class=\"grid\">\n";
  for (const auto* c : least) example_card(o, in, *c);
  o << "</div></section>\n";

  if (!ex.classes.empty()) {
    o << "<section id=\"classes\"><h2>Exposure by class</h2>\n<p class=\"note\">Within each class: the share of "
         "(target, member) pairs flagged at "
      << html_escape(format_percent(ex.fpr)) << " FPR, and the AUC of members against non-members of that class.</p>\n"
      << "<table><tr><th>class</th><th class=\"num\">candidates</th><th class=\"num\">member pairs</th>"
         "<th>flagged</th><th class=\"num\">AUC</th></tr>\n";
    double most = 0;
    for (const auto& c : ex.classes)
      if (!std::isnan(c.flagged)) most = std::max(most, c.flagged);
    for (const auto& c : ex.classes) {
      const double width = most > 0 && !std::isnan(c.flagged) ? 160 * c.flagged / most : 0;
      o << "<tr><td>" << html_escape(label_name(in, c.label)) << "</td><td class=\"num\">" << c.candidates
        << "</td><td class=\"num\">" << c.member_pairs << "</td><td><span class=\"bar\" style=\"width:"
        << fmt("%.1f", width) << "px\"></span> " << fmt("%.1f%%", c.flagged * 100) << "</td><td class=\"num\">"
        << fmt("%.3f", c.auc) << "</td></tr>\n";
    }
    o << "</table></section>\n";
  }
  o << "<p class=\"note\">Written by " << html_escape(in.generated_by) << " with <code>lira report</code>; the page loads "
       "nothing from anywhere (no script, no network).</p>\n</body></html>\n";
  return o.str();
}

}  // namespace lira
