// attack/exposure.hpp and attack/html_report.hpp: the ranking of candidates by hand, the
// per-class summary against a direct computation, base64's RFC 4648 vectors, and the page
// escaping every string it did not write.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <string>

#include "attack/exposure.hpp"
#include "attack/html_report.hpp"
#include "bench/synthetic_results.hpp"

using namespace lira;

namespace {

// Two targets, five candidates; membership and scores chosen so that the decision at
// FPR 0 flags exactly the scores above every non-member's.
ScoreResult hand_made() {
  ScoreResult r;
  r.report.candidates = 5;
  r.report.targets = {6, 7};
  r.report.decision_fpr = 0;
  r.scores.emplace_back(2, 5);
  r.membership = {{1, 1, 0, 0, 1}, {1, 0, 1, 0, 1}};
  const double s0[5] = {9, 5, 1, 2, 3};  // target 6: non-members score 1, 2
  const double s1[5] = {8, 7, 4, 6, 1};  // target 7: non-members score 7, 6
  for (int n = 0; n < 5; ++n) r.scores[0].at(0, n) = s0[n], r.scores[0].at(1, n) = s1[n];
  return r;
}

}  // namespace

TEST_CASE("compute_exposure: ranks by the share flagged where a member, then by the mean member score") {
  const ScoreResult r = hand_made();
  const auto e = compute_exposure(r, 0, {0, 1, 0, 1, 1});
  // Member targets: c0 both (flagged by both: 9 > 2, 8 > 7), c1 target 6 (5 > 2: flagged),
  // c2 target 7 (4 < 7: not), c4 both (3 > 2 flagged; 1 < 7 not). c3 is never a member.
  REQUIRE(e.ranked.size() == 4);
  CHECK(e.ranked[0].candidate == 0);
  CHECK(e.ranked[0].flagged == 2);
  CHECK(e.ranked[0].member_score == doctest::Approx(8.5));
  CHECK(e.ranked[1].candidate == 1);  // 1 of 1
  CHECK(e.ranked[2].candidate == 4);  // 1 of 2
  CHECK(e.ranked[2].member_score == doctest::Approx(2.0));
  CHECK(e.ranked[3].candidate == 2);  // 0 of 1
  CHECK(std::isnan(e.ranked[1].nonmember_score) == false);
  CHECK(e.ranked[1].nonmember_score == doctest::Approx(7.0));
  // Class 0: candidates 0 and 2; member pairs (0,t6) (0,t7) (2,t7), non-member (2,t6):
  // scores 9, 8, 4 against 1: AUC 1; flagged 2 of 3.
  REQUIRE(e.classes.size() == 2);
  CHECK(e.classes[0].label == 0);
  CHECK(e.classes[0].member_pairs == 3);
  CHECK(e.classes[0].auc == doctest::Approx(1.0));
  CHECK(e.classes[0].flagged == doctest::Approx(2.0 / 3));
  // Class 1: candidates 1, 3, 4; members (1,t6)=5 (4,t6)=3 (4,t7)=1; non-members
  // (1,t7)=7 (3,t6)=2 (3,t7)=6: pairs won 1 + 1 + 0 of 9 (5 > 2 only; 3 > 2; 1 none).
  CHECK(e.classes[1].candidates == 3);
  CHECK(e.classes[1].auc == doctest::Approx(2.0 / 9));
}

TEST_CASE("compute_exposure: without labels no classes, and NaN scores count for nothing") {
  ScoreResult r = hand_made();
  r.scores[0].at(0, 0) = std::nan("");
  const auto e = compute_exposure(r, 0, {});
  CHECK(e.classes.empty());
  // Candidate 0 is now scored by target 7 only (8 > 7: flagged), 1 of 1 like candidate 1,
  // and first by its mean member score (8 against 5).
  CHECK(e.ranked.front().candidate == 0);
  CHECK(e.ranked.front().member_targets == 1);
  CHECK(e.ranked.front().nonmember_targets == 0);
  for (const auto& c : e.ranked) CHECK(c.label == -1);
}

TEST_CASE("base64: RFC 4648 test vectors") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xff\x00\x80", 3)) == "/wCA");
}

TEST_CASE("html_report: every string from the file or the data is escaped, and the page cannot fetch") {
  const std::string path = "/tmp/lira_test_report_" + std::to_string(::getpid()) + ".h5";
  write_synthetic_results(path, {.models = 8, .candidates = 300, .queries = 1, .population = 20});
  ScoreOptions o;
  o.bootstrap = 0;
  o.attacks = {"lira-online", "loss"};
  o.targets = 4;
  o.leave_one_out = true;
  const auto result = score_results(ResultsReader(path), o);
  ::unlink(path.c_str());
  HtmlReportInput in;
  in.result = &result;
  in.exposure = compute_exposure(result, 0, {});
  in.title = "<script>alert(1)</script>";
  in.config_yaml = "experiment: {name: \"a&b\"}";
  in.examples = 3;
  for (const auto& c : in.exposure.ranked) {
    ExampleView v;
    v.text = "<img src=x onerror=alert(1)> \x01\xff end";
    in.views[c.candidate] = v;
  }
  // A table row: its first 8 features, and how many there are.
  ExampleView row;
  row.features = {1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  in.views[in.exposure.ranked.front().candidate] = row;
  const std::string page = html_report(in);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("<img src=x") == std::string::npos);
  CHECK(page.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(page.find("\xef\xbf\xbd end") != std::string::npos);  // the invalid byte replaced
  CHECK(page.find("a&amp;b") != std::string::npos);
  CHECK(page.find("<code>1.5, 2, 3, 4, 5, 6, 7, 8, &hellip; (10 features)</code>") != std::string::npos);
  CHECK(page.find("default-src 'none'") != std::string::npos);
  CHECK(page.find(kHtmlReportMarker) != std::string::npos);
  // 3 most and 3 least exposed, each a figure.
  size_t figures = 0;
  for (size_t at = page.find("<figure"); at != std::string::npos; at = page.find("<figure", at + 1)) ++figures;
  CHECK(figures == 6);
}
