// Checks a results file written by `lira run` for the end-to-end tests.
//   check_results FILE MODELS CANDIDATES QUERIES   shapes, balance, every model done
//   check_results --same A B                       identical keep, labels, seeds, done flags, signals
//   check_results --close A B TOL                  the same, but signals within TOL x their largest |value|
//                                                  (runs with parallel.models_per_job > 1, docs/training.md)
//   check_results --done FILE                      prints the indices of the done models
// Prints what it checked; exits 1 with a message on the first violation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "storage/results_file.hpp"

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "check_results: FAILED: %s\n", what.c_str());
  std::exit(1);
}

void expect(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

int check_one(const std::string& path, int64_t M, int64_t N, int64_t A) {
  lira::ResultsReader r(path);
  expect(r.models() == M && r.candidates() == N, "shape of /keep");
  const auto keep = r.keep();
  const int64_t population = lira::parse_config(r.config_yaml(), path + " config attribute").data.population;
  for (int64_t n = 0; n < N; ++n) {
    int64_t in = 0;
    for (int64_t m = 0; m < M; ++m) in += keep[m * N + n];
    const int64_t want = n < N - population ? M / 2 : 0;  // the population: IN for no model
    expect(in == want, "candidate " + std::to_string(n) + " is IN for " + std::to_string(in) + " models, not " +
                           std::to_string(want));
  }
  const auto done = r.done();
  for (int64_t m = 0; m < M; ++m) expect(done[m] == 1, "model " + std::to_string(m) + " is not done");
  for (const char* name : {"logit_confidence", "loss"}) {
    expect(r.signal_dims(name) == std::vector<int64_t>{M, N, A}, std::string("shape of /signals/") + name);
    std::vector<float> all;
    r.read_signal(name, 0, N, all);
    for (float v : all) expect(std::isfinite(v), std::string("non-finite value in /signals/") + name);
  }
  expect(static_cast<int64_t>(r.queries().size()) == A, "queries attribute");
  expect(static_cast<int64_t>(r.labels().size()) == N, "labels");
  const auto acc = r.model_values("test_accuracy");
  for (double a : acc) expect(a > 0.0 && a <= 1.0, "test accuracy in (0, 1]");
  const auto workers = r.model_values("worker");
  std::set<double> used(workers.begin(), workers.end());
  expect(!used.count(-1.0), "a done model has no worker recorded");
  const auto config = lira::parse_config(r.config_yaml(), path + " config attribute");
  expect(config.experiment.models == M, "stored config matches the file");
  std::printf("check_results: %s OK: %lld models x %lld candidates x %lld queries, balanced, all done, %zu worker(s)\n",
              path.c_str(), static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(A),
              used.size());
  return 0;
}

// tolerance < 0: bitwise.
int check_same(const std::string& a_path, const std::string& b_path, double tolerance = -1) {
  lira::ResultsReader a(a_path), b(b_path);
  expect(a.keep() == b.keep(), "keep matrices differ");
  double worst = 0;
  for (const char* name : {"logit_confidence", "loss"}) {
    std::vector<float> x, y;
    a.read_signal(name, 0, a.candidates(), x);
    b.read_signal(name, 0, b.candidates(), y);
    expect(x.size() == y.size(), "signal sizes differ");
    if (tolerance < 0) {
      for (size_t i = 0; i < x.size(); ++i)
        expect(std::memcmp(&x[i], &y[i], sizeof(float)) == 0,
               std::string("/signals/") + name + " differs at flat index " + std::to_string(i));
      continue;
    }
    double scale = 0, diff = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      scale = std::max(scale, static_cast<double>(std::fabs(x[i])));
      diff = std::max(diff, static_cast<double>(std::fabs(x[i] - y[i])));
    }
    expect(diff <= tolerance * scale, std::string("/signals/") + name + " differs by up to " + std::to_string(diff) +
                                          ", more than " + std::to_string(tolerance) + " x " + std::to_string(scale));
    worst = std::max(worst, scale > 0 ? diff / scale : 0.0);
  }
  if (tolerance >= 0) {
    expect(a.labels() == b.labels(), "labels differ");
    expect(a.model_values("seed") == b.model_values("seed"), "model seeds differ");
    expect(a.done() == b.done(), "done flags differ");
    std::printf("check_results: %s and %s have identical keep, labels, seeds and done flags, and signals within "
                "%.3g of their scale (tolerance %.3g)\n",
                a_path.c_str(), b_path.c_str(), worst, tolerance);
    return 0;
  }
  expect(a.labels() == b.labels(), "labels differ");
  expect(a.model_values("seed") == b.model_values("seed"), "model seeds differ");
  expect(a.done() == b.done(), "done flags differ");
  std::printf("check_results: %s and %s have bitwise identical keep, labels, seeds, done flags and signals\n",
              a_path.c_str(), b_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "--same") return check_same(argv[2], argv[3]);
    if (argc == 5 && std::string(argv[1]) == "--close") return check_same(argv[2], argv[3], std::atof(argv[4]));
    if (argc == 3 && std::string(argv[1]) == "--done") {
      const auto done = lira::ResultsReader(argv[2]).done();
      for (size_t m = 0; m < done.size(); ++m)
        if (done[m]) std::printf("%zu\n", m);
      return 0;
    }
    if (argc == 5) return check_one(argv[1], std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4]));
  } catch (const std::exception& e) {
    fail(e.what());
  }
  std::fprintf(stderr, "usage: check_results FILE MODELS CANDIDATES QUERIES | --same A B | --close A B TOL | --done FILE\n");
  return 2;
}
