// Implements the ROC outputs of report.hpp: CSV rows and a self-contained SVG figure
// (no plotting library: the figure is a few hundred lines of SVG text).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/errors.hpp"
#include "report.hpp"

namespace lira {
namespace {

constexpr size_t kMaxPoints = 10000;
constexpr double kAxisMin = 1e-5;

// The ROC of one attack, all targets pooled, NaN scores left out.
Roc pooled_roc(const ScoreResult& r, size_t attack) {
  const int64_t N = r.report.candidates;
  std::vector<double> scores;
  std::vector<uint8_t> member;
  for (size_t ti = 0; ti < r.report.targets.size(); ++ti) {
    const auto row = r.scores[attack].row(static_cast<int64_t>(ti));
    for (int64_t n = 0; n < N; ++n) {
      if (std::isnan(row[n])) continue;
      scores.push_back(row[n]);
      member.push_back(r.membership[ti][n]);
    }
  }
  return roc_curve(scores, member);
}

// Indices of the points to keep: all of them when few; else, on a grid of 100 steps per
// decade of FPR, the last (highest-TPR) point of each step, plus the end points.
std::vector<size_t> thin(const Roc& roc) {
  std::vector<size_t> keep;
  const size_t n = roc.fpr.size();
  if (n <= kMaxPoints) {
    for (size_t i = 0; i < n; ++i) keep.push_back(i);
    return keep;
  }
  auto bucket = [](double f) { return f <= 0 ? -1000 : static_cast<int>(std::floor(std::log10(f) * 100)); };
  keep.push_back(0);
  for (size_t i = 1; i < n; ++i)
    if (i + 1 == n || bucket(roc.fpr[i + 1]) != bucket(roc.fpr[i])) keep.push_back(i);
  return keep;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string roc_csv(const ScoreResult& r) {
  std::ostringstream out;
  out << "attack,fpr,tpr,threshold\n";
  for (size_t a = 0; a < r.scores.size(); ++a) {
    const Roc roc = pooled_roc(r, a);
    for (size_t i : thin(roc))
      out << r.report.attacks[a].name << "," << num(roc.fpr[i]) << "," << num(roc.tpr[i]) << ","
          << num(roc.threshold[i]) << "\n";
  }
  return out.str();
}

namespace {

// Curve a's stroke: 10 colors x 3 dash patterns, so every one of up to 30 curves has its
// own pair (the 17 attacks included) and curves stay apart in print without color.
std::string curve_style(size_t a) {
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  static const char* dashes[] = {"", "7,3", "2,2"};
  std::string style = std::string("stroke=\"") + colors[a % 10] + "\"";
  if (*dashes[a % 3]) style += std::string(" stroke-dasharray=\"") + dashes[a % 3] + "\"";
  return style;
}

}  // namespace

std::string roc_svg(const ScoreResult& r) {
  // The legend goes below the axes, one line per attack, so it never covers the low-FPR
  // corner where the curves that matter are.
  const double row_h = 17, legend_h = 12 + row_h * static_cast<double>(r.report.attacks.size());
  const double W = 640, left = 70, right = 20, top = 20, bottom = 60, H = 520 + legend_h;
  const double pw = W - left - right, ph = 520 - top - bottom;
  auto sx = [&](double f) { return left + pw * (std::log10(std::max(f, kAxisMin)) - std::log10(kAxisMin)) / 5.0; };
  auto sy = [&](double t) { return top + ph - ph * (std::log10(std::max(t, kAxisMin)) - std::log10(kAxisMin)) / 5.0; };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n";
  o << kRocSvgMarker << "\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (r.report.bootstrap > 0)
    o << "<text x=\"" << left + 6 << "\" y=\"" << top + 16 << "\" fill=\"#555555\">AUC intervals: "
      << num(r.report.confidence * 100) << "% bootstrap, " << r.report.bootstrap << " resamples</text>\n";
  // Grid and ticks: decades from 1e-5 to 1.
  for (int e = -5; e <= 0; ++e) {
    const double v = std::pow(10.0, e);
    const std::string label = e == 0 ? "1" : "10<tspan dy=\"-5\" font-size=\"9\">" + std::to_string(e) + "</tspan>";
    o << "<line x1=\"" << sx(v) << "\" y1=\"" << top << "\" x2=\"" << sx(v) << "\" y2=\"" << top + ph
      << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<line x1=\"" << left << "\" y1=\"" << sy(v) << "\" x2=\"" << left + pw << "\" y2=\"" << sy(v)
      << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text x=\"" << sx(v) << "\" y=\"" << top + ph + 18 << "\" text-anchor=\"middle\">" << label << "</text>\n";
    o << "<text x=\"" << left - 8 << "\" y=\"" << sy(v) + 4 << "\" text-anchor=\"end\">" << label << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << sx(kAxisMin) << "\" y1=\"" << sy(kAxisMin) << "\" x2=\"" << sx(1) << "\" y2=\"" << sy(1)
    << "\" stroke=\"gray\" stroke-dasharray=\"5,4\"/>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << top + ph + 42 << "\" text-anchor=\"middle\" font-size=\"14\">False "
       "Positive Rate</text>\n";
  o << "<text transform=\"translate(18," << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">True Positive Rate</text>\n";
  // Curves: a step function, clipped to the axes.
  o << "<defs><clipPath id=\"plot\"><rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\""
    << ph << "\"/></clipPath></defs>\n";
  std::vector<Roc> rocs;
  for (size_t a = 0; a < r.scores.size(); ++a) rocs.push_back(pooled_roc(r, a));
  for (size_t a = 0; a < rocs.size(); ++a) {
    const Roc& roc = rocs[a];
    o << "<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke-width=\"1.6\" " << curve_style(a) << " points=\"";
    double prev_tpr = 0;
    for (size_t i : thin(roc)) {
      o << num(sx(roc.fpr[i])) << "," << num(sy(prev_tpr)) << " " << num(sx(roc.fpr[i])) << "," << num(sy(roc.tpr[i]))
        << " ";
      prev_tpr = roc.tpr[i];
    }
    o << "\"/>\n";
  }
  // Legend below the axes: each attack's line style, AUC (interval) and TPR at 0.1% FPR.
  const auto& attacks = r.report.attacks;
  const double ly = top + ph + 60;
  for (size_t a = 0; a < attacks.size(); ++a) {
    char text[200];
    const auto& ci = attacks[a].ci;
    char interval[48] = "";
    if (ci.resamples > 0) std::snprintf(interval, sizeof interval, " [%.3f, %.3f]", ci.auc.low, ci.auc.high);
    char tpr[64];
    if (tpr_estimable(1e-3, rocs[a].nonmembers)) {
      std::snprintf(tpr, sizeof tpr, "TPR@0.1%%FPR %.1f%%", 100 * tpr_at_fpr(rocs[a], 1e-3));
    } else {
      std::snprintf(tpr, sizeof tpr, "TPR@0.1%%FPR n/a (< %lld non-members)",
                    static_cast<long long>(nonmembers_needed(1e-3)));
    }
    std::snprintf(text, sizeof text, "%s, AUC %.3f%s, %s", attacks[a].name.c_str(), attacks[a].pooled.auc, interval,
                  tpr);
    const double y = ly + row_h * static_cast<double>(a);
    o << "<line x1=\"" << left << "\" y1=\"" << y - 4 << "\" x2=\"" << left + 30 << "\" y2=\"" << y - 4
      << "\" stroke-width=\"2\" " << curve_style(a) << "/>\n";
    o << "<text x=\"" << left + 38 << "\" y=\"" << y << "\">" << html_escape(text) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// The share of scores in each tail that a histogram's axis leaves out.
constexpr double kHistogramTail = 0.01;

std::string scores_svg(const ScoreResult& r, const std::vector<std::string>& names) {
  std::vector<size_t> chosen;
  for (const auto& name : names) {
    size_t a = 0;
    while (a < r.report.attacks.size() && r.report.attacks[a].name != name) ++a;
    if (a == r.report.attacks.size()) throw ScoreError("--plot-scores: attack '" + name + "' was not scored");
    chosen.push_back(a);
  }
  if (chosen.empty())
    for (size_t a = 0; a < r.report.attacks.size(); ++a) chosen.push_back(a);
  const double W = 640, panel = 200, left = 70, right = 20, top = 30, gap = 50;
  const double pw = W - left - right, H = top + static_cast<double>(chosen.size()) * (panel + gap);
  const int kBins = 60;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
    << kScoresSvgMarker << "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\">Score distributions, all targets pooled: members "
       "(blue) and non-members (red), log density</text>\n";
  for (size_t p = 0; p < chosen.size(); ++p) {
    const size_t a = chosen[p];
    std::vector<double> in, out;
    for (size_t ti = 0; ti < r.report.targets.size(); ++ti) {
      const auto row = r.scores[a].row(static_cast<int64_t>(ti));
      for (size_t n = 0; n < row.size(); ++n)
        if (std::isfinite(row[n])) (r.membership[ti][n] ? in : out).push_back(row[n]);
    }
    std::vector<double> all(in);
    all.insert(all.end(), out.begin(), out.end());
    if (all.empty()) continue;
    std::sort(all.begin(), all.end());
    // The axis spans the central 98% of the scores (plus a 5% margin): LiRA's tails reach
    // hundreds of units, and would squeeze every other bin into one or two. The scores
    // beyond it are counted in the edge bins, and the panel says how many.
    const auto quantile = [&](double q) { return all[static_cast<size_t>(q * static_cast<double>(all.size() - 1))]; };
    double lo = quantile(kHistogramTail), hi = quantile(1 - kHistogramTail);
    if (!(hi > lo)) hi = lo + 1;
    const double margin = 0.05 * (hi - lo);
    lo -= margin, hi += margin;
    const auto below = std::lower_bound(all.begin(), all.end(), lo) - all.begin();
    const auto above = all.end() - std::upper_bound(all.begin(), all.end(), hi);
    const double width = (hi - lo) / kBins;
    auto density = [&](const std::vector<double>& v) {
      std::vector<double> d(kBins, 0.0);
      for (double x : v) {
        const int b = std::clamp(static_cast<int>((x - lo) / width), 0, kBins - 1);
        d[static_cast<size_t>(b)] += 1;
      }
      for (auto& x : d) x /= std::max<double>(1, static_cast<double>(v.size())) * width;
      return d;
    };
    const auto din = density(in), dout = density(out);
    double dmax = 0, dmin = INFINITY;
    for (double x : din) dmax = std::max(dmax, x), dmin = x > 0 ? std::min(dmin, x) : dmin;
    for (double x : dout) dmax = std::max(dmax, x), dmin = x > 0 ? std::min(dmin, x) : dmin;
    if (!(dmax > 0)) continue;
    const double ytop = std::ceil(std::log10(dmax)), ybot = std::min(ytop - 1, std::floor(std::log10(dmin)));
    const double y0 = top + static_cast<double>(p) * (panel + gap);
    auto sx = [&](double x) { return left + pw * (x - lo) / (hi - lo); };
    auto sy = [&](double d) {
      const double l = d > 0 ? std::log10(d) : ybot;
      return y0 + panel - panel * (std::max(l, ybot) - ybot) / (ytop - ybot);
    };
    o << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << pw << "\" height=\"" << panel
      << "\" fill=\"none\" stroke=\"black\"/>\n";
    for (double e = ybot; e <= ytop; e += 1)
      o << "<text x=\"" << left - 6 << "\" y=\"" << sy(std::pow(10.0, e)) + 4 << "\" text-anchor=\"end\">10<tspan "
        << "dy=\"-5\" font-size=\"9\">" << num(e) << "</tspan></text>\n";
    for (int t = 0; t <= 4; ++t) {
      const double x = lo + (hi - lo) * t / 4;
      o << "<text x=\"" << sx(x) << "\" y=\"" << y0 + panel + 16 << "\" text-anchor=\"middle\">" << num(x)
        << "</text>\n";
    }
    o << "<text x=\"" << left + 6 << "\" y=\"" << y0 + 16 << "\">" << html_escape(r.report.attacks[a].name) << " ("
      << in.size() << " members, " << out.size() << " non-members)</text>\n";
    if (below + above > 0)
      o << "<text x=\"" << left + 6 << "\" y=\"" << y0 + 32 << "\" fill=\"#555555\">axis: the central "
        << num(100 * (1 - 2 * kHistogramTail)) << "% of scores; " << below << " below and " << above
        << " above it are counted in the edge bins</text>\n";
    for (int side = 0; side < 2; ++side) {
      const auto& d = side ? dout : din;
      o << "<polyline fill=\"none\" stroke-width=\"1.6\" stroke=\"" << (side ? "#d62728" : "#1f77b4")
        << "\" points=\"";
      for (int b = 0; b < kBins; ++b)
        o << num(sx(lo + width * b)) << "," << num(sy(d[static_cast<size_t>(b)])) << " " << num(sx(lo + width * (b + 1)))
          << "," << num(sy(d[static_cast<size_t>(b)])) << " ";
      o << "\"/>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace lira
