// Writes a results file of synthetic signals, for the scoring benchmarks: M models x N
// candidates x A queries, a balanced keep matrix, and per (model, candidate, query)
//   logit_confidence = difficulty(n) + 1.5 * keep(m, n) * memorability(n) + noise
//   loss             = log1p(exp(-logit_confidence))
// so the attacks have something to find. Written model by model through ResultsWriter,
// as a real run would.
//   make_synthetic_results OUT.h5 --models 256 --candidates 200000 --queries 2 [--no-loss]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/config.hpp"
#include "common/rng.hpp"
#include "orchestrator/plan.hpp"
#include "storage/results_file.hpp"

int main(int argc, char** argv) {
  CLI::App app{"write a synthetic lira results file"};
  std::string out;
  int64_t models = 256, candidates = 200000, queries = 2;
  uint64_t seed = 0;
  bool no_loss = false;
  app.add_option("out", out)->required();
  app.add_option("--models", models);
  app.add_option("--candidates", candidates);
  app.add_option("--queries", queries);
  app.add_option("--seed", seed);
  app.add_flag("--no-loss", no_loss, "store only /signals/logit_confidence");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const lira::Plan plan(models, candidates, seed);
    lira::ResultsLayout layout;
    layout.models = models;
    layout.candidates = candidates;
    for (int64_t a = 0; a < queries; ++a) layout.queries.push_back("q" + std::to_string(a));
    layout.signals = {{"logit_confidence", {candidates, queries}}};
    if (!no_loss) layout.signals.push_back({"loss", {candidates, queries}});
    std::vector<int64_t> labels(candidates, 0), index(candidates);
    for (int64_t n = 0; n < candidates; ++n) index[n] = n;
    std::vector<uint64_t> seeds(models);
    for (int64_t m = 0; m < models; ++m) seeds[m] = plan.model_seed(m);
    auto writer = lira::ResultsWriter::create(out, layout, {"# synthetic benchmark file\n", "bench", "", ""}, plan.keep(),
                                              labels, index, seeds, lira::ResultsWriter::Mode::kOverwrite);
    std::vector<float> difficulty(candidates), memorable(candidates);
    lira::Xoshiro256 rng(seed + 1);
    for (int64_t n = 0; n < candidates; ++n) {
      difficulty[n] = static_cast<float>(6 * rng.uniform() - 1);
      memorable[n] = static_cast<float>(rng.uniform() * rng.uniform() * 3);
    }
    for (int64_t m = 0; m < models; ++m) {
      lira::ModelResult r;
      r.model = m;
      r.train_accuracy = r.test_accuracy = std::nan("");  // synthetic: no model was trained
      r.train_seconds = 0;
      lira::SignalArray conf{"logit_confidence", {candidates, queries}, std::vector<float>(candidates * queries)};
      lira::SignalArray loss{"loss", {candidates, queries}, {}};
      lira::Xoshiro256 noise(lira::derive_seed(seed, 9, m));
      const auto keep = plan.keep_row(m);
      for (int64_t n = 0; n < candidates; ++n)
        for (int64_t a = 0; a < queries; ++a) {
          // Box-Muller normal noise
          const double u = std::max(noise.uniform(), 1e-300), v = noise.uniform();
          const double z = std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.141592653589793 * v);
          conf.values[n * queries + a] = static_cast<float>(difficulty[n] + 1.5 * keep[n] * memorable[n] + 0.8 * z);
        }
      r.signals.push_back(conf);
      if (!no_loss) {
        loss.values.resize(conf.values.size());
        for (size_t i = 0; i < loss.values.size(); ++i) loss.values[i] = static_cast<float>(std::log1p(std::exp(-conf.values[i])));
        r.signals.push_back(std::move(loss));
      }
      writer->write_model(r, 0);
    }
    writer->close();
    std::printf("wrote %s: %lld models x %lld candidates x %lld queries in %.1f s\n", out.c_str(),
                static_cast<long long>(models), static_cast<long long>(candidates), static_cast<long long>(queries),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic_results: %s\n", e.what());
    return 1;
  }
  return 0;
}
