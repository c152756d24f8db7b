// Synthetic results files, for the scoring benchmarks and the scorer's tests: M models x N
// candidates x A queries with a balanced keep matrix (the last `population` candidates IN
// for no model), and per (model, candidate, query)
//   logit_confidence = difficulty(n) + effect * keep(m, n) * memorability(n) + noise (effect 1.5)
//   loss             = log1p(exp(-logit_confidence))
// so the attacks have something to find. Text files (tokens_per_record > 0) add ragged
// records (/tokens, /offsets, /records/zlib_bytes) and the per-token signals token_logprob,
// token_mu and token_sigma, members' log-probabilities higher. Written model by model
// through ResultsWriter, as a real run would; models from `done` on are left unfinished.
#pragma once

#include <cstdint>
#include <string>

namespace lira {

struct SyntheticResults {
  int64_t models = 16, candidates = 1000, queries = 2;
  int64_t population = 0;
  int64_t done = -1;  // models written (the first ones); -1: all
  bool loss = true;
  int64_t tokens_per_record = 0;  // text: mean tokens per record (lengths vary +-50%)
  double effect = 1.5;            // membership's effect on the signals (0: signals carry none)
  uint64_t seed = 0;
};

void write_synthetic_results(const std::string& path, const SyntheticResults& spec);

}  // namespace lira
