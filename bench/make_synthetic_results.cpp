// Writes a synthetic results file (bench/synthetic_results.hpp), for the scoring benchmarks.
//   make_synthetic_results OUT.h5 --models 256 --candidates 200000 --queries 2 [--no-loss]
//                          [--population P] [--done K] [--tokens-per-record L]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "synthetic_results.hpp"

int main(int argc, char** argv) {
  CLI::App app{"write a synthetic lira results file"};
  std::string out;
  lira::SyntheticResults spec;
  spec.models = 256, spec.candidates = 200000, spec.queries = 2;
  bool no_loss = false;
  app.add_option("out", out)->required();
  app.add_option("--models", spec.models);
  app.add_option("--candidates", spec.candidates);
  app.add_option("--queries", spec.queries);
  app.add_option("--seed", spec.seed);
  app.add_option("--population", spec.population, "the last P candidates are IN for no model");
  app.add_option("--done", spec.done, "write only the first K models (the others stay unfinished)");
  app.add_option("--tokens-per-record", spec.tokens_per_record, "text results: mean tokens per record");
  app.add_flag("--no-loss", no_loss, "store only /signals/logit_confidence");
  CLI11_PARSE(app, argc, argv);
  spec.loss = !no_loss;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    lira::write_synthetic_results(out, spec);
    std::printf("wrote %s: %lld models x %lld candidates x %lld queries in %.1f s\n", out.c_str(),
                static_cast<long long>(spec.models), static_cast<long long>(spec.candidates),
                static_cast<long long>(spec.queries),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic_results: %s\n", e.what());
    return 1;
  }
  return 0;
}
