// Implements write_synthetic_results.
#include "synthetic_results.hpp"

#include <algorithm>
#include <cmath>

#include "common/rng.hpp"
#include "orchestrator/plan.hpp"
#include "storage/results_file.hpp"

namespace lira {
namespace {

double normal(Xoshiro256& rng) {  // Box-Muller
  const double u = std::max(rng.uniform(), 1e-300), v = rng.uniform();
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.141592653589793 * v);
}

}  // namespace

void write_synthetic_results(const std::string& path, const SyntheticResults& s) {
  const int64_t M = s.models, N = s.candidates, A = s.queries;
  const Plan plan(M, N, s.seed, s.population);
  ResultsLayout layout;
  layout.models = M;
  layout.candidates = N;
  for (int64_t a = 0; a < A; ++a) {
    std::string name = "q";  // (not "q" + ...: GCC 12's -Wrestrict false positive)
    name += std::to_string(a);
    layout.queries.push_back(name);
  }
  layout.signals = {{"logit_confidence", {N, A}}};
  if (s.loss) layout.signals.push_back({"loss", {N, A}});
  std::vector<int64_t> labels(N, 0), index(N);
  for (int64_t n = 0; n < N; ++n) index[n] = n;
  std::vector<uint64_t> seeds(M);
  for (int64_t m = 0; m < M; ++m) seeds[m] = plan.model_seed(m);
  // Text records: lengths in [L/2, 3L/2].
  std::vector<int64_t> offsets{0}, zlib(N);
  std::vector<int32_t> tokens;
  const bool text = s.tokens_per_record > 0;
  Xoshiro256 shape(s.seed + 7);
  if (text) {
    const int64_t L = s.tokens_per_record;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t len = std::max<int64_t>(1, L / 2 + static_cast<int64_t>(shape.below(static_cast<uint64_t>(L) + 1)));
      offsets.push_back(offsets.back() + len);
      zlib[n] = len / 2 + 1;
    }
    tokens.resize(static_cast<size_t>(offsets.back()));
    for (auto& t : tokens) t = static_cast<int32_t>(shape.below(256));
    for (const char* name : {"token_logprob", "token_mu", "token_sigma"}) layout.signals.push_back({name, {offsets.back()}});
  }
  const TextRecordsView view{tokens, offsets, zlib};
  auto writer = ResultsWriter::create(path, layout, {"# synthetic results file\n", "synthetic", "", ""}, plan.blocks(),
                                      labels, index, seeds, ResultsWriter::Mode::kOverwrite, text ? &view : nullptr);
  const auto keep_matrix = plan.keep();  // [M, N]: fine for a benchmark's sizes
  std::vector<float> difficulty(N), memorable(N);
  Xoshiro256 rng(s.seed + 1);
  for (int64_t n = 0; n < N; ++n) {
    difficulty[n] = static_cast<float>(6 * rng.uniform() - 1);
    memorable[n] = static_cast<float>(rng.uniform() * rng.uniform() * 3);
  }
  const int64_t done = s.done < 0 ? M : std::min(M, s.done);
  for (int64_t m = 0; m < done; ++m) {
    ModelResult r;
    r.model = m;
    r.train_accuracy = r.test_accuracy = std::nan("");  // synthetic: no model was trained
    SignalArray conf{"logit_confidence", {N, A}, std::vector<float>(static_cast<size_t>(N * A))};
    Xoshiro256 noise(derive_seed(s.seed, 9, static_cast<uint64_t>(m)));
    const uint8_t* keep = keep_matrix.data() + m * N;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t a = 0; a < A; ++a)
        conf.values[n * A + a] = static_cast<float>(difficulty[n] + s.effect * keep[n] * memorable[n] + 0.8 * normal(noise));
    if (s.loss) {
      SignalArray loss{"loss", {N, A}, std::vector<float>(conf.values.size())};
      for (size_t i = 0; i < loss.values.size(); ++i) loss.values[i] = static_cast<float>(std::log1p(std::exp(-conf.values[i])));
      r.signals.push_back(std::move(loss));
    }
    r.signals.insert(r.signals.begin(), std::move(conf));
    if (text) {
      const int64_t S = offsets.back();
      SignalArray lp{"token_logprob", {S}, std::vector<float>(static_cast<size_t>(S))};
      SignalArray mu{"token_mu", {S}, std::vector<float>(static_cast<size_t>(S))};
      SignalArray sd{"token_sigma", {S}, std::vector<float>(static_cast<size_t>(S), 1.0f)};
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = offsets[n]; t < offsets[n + 1]; ++t) {
          mu.values[t] = -2.0f;
          lp.values[t] = static_cast<float>(-2.0 + s.effect / 3 * keep[n] * memorable[n] + normal(noise));
        }
      r.signals.push_back(std::move(lp));
      r.signals.push_back(std::move(mu));
      r.signals.push_back(std::move(sd));
    }
    writer->write_model(r, 0);
  }
  writer->close();
}

}  // namespace lira
