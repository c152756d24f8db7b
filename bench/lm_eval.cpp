// Benchmark: language-model evaluation tokens per second with a large vocabulary (GPT-2's
// 50,257 tokens by default): the per-token statistics lira stores (log p of the next
// token, mu and sigma of log p under the model's distribution, docs/language-models.md)
// for a batch of records of uneven length, from float32 logits [B, T, V].
//
//   before: what lira did up to this change, kept here as the baseline: the whole
//           [B, T, V] block copied to the host, then each record's rows in float64.
//   after:  lira's token_stats (trainer/lm.hpp) on the rows that predict a token,
//           where the logits are, copying back only [K] values.
//
//   lm_eval --vocab 50257 --records 16 --max-len 64 --threads 1 [--device cuda] --reps 3
// Prints one line per path and "ratio after/before".
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "trainer/lm.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// The old path, verbatim in effect: host copy, then float64 per record.
double before(const torch::Tensor& logits, const torch::Tensor& tokens, const std::vector<int64_t>& lengths) {
  const auto host = logits.to(torch::kFloat32).to(torch::kCPU);
  const auto xc = tokens.to(torch::kCPU);
  double checksum = 0;
  for (int64_t r = 0; r < static_cast<int64_t>(lengths.size()); ++r) {
    const int64_t len = lengths[static_cast<size_t>(r)];
    const auto z = host[r].slice(0, 0, len - 1).to(torch::kFloat64);
    const auto target = xc[r].slice(0, 1, len);
    const auto logp = torch::log_softmax(z, -1);
    const auto p = logp.exp();
    const auto lp = logp.gather(1, target.unsqueeze(1)).squeeze(1);
    const auto mu = (p * logp).sum(-1);
    const auto sigma = ((p * logp * logp).sum(-1) - mu * mu).clamp_min(0.0).sqrt();
    checksum += lp.sum().item<double>() + mu.sum().item<double>() + sigma.sum().item<double>();
  }
  return checksum;
}

double after(const torch::Tensor& logits, const torch::Tensor& tokens, const std::vector<int64_t>& lengths) {
  const int64_t B = logits.size(0), T = logits.size(1), V = logits.size(2);
  std::vector<int64_t> rows, targets;
  const auto xc = tokens.to(torch::kCPU);
  const int64_t* x = xc.data_ptr<int64_t>();
  for (int64_t r = 0; r < B; ++r)
    for (int64_t i = 0; i + 1 < lengths[static_cast<size_t>(r)]; ++i)
      rows.push_back(r * T + i), targets.push_back(x[r * T + i + 1]);
  const auto at = torch::tensor(rows, torch::kInt64).to(logits.device());
  const auto z = logits.reshape({B * T, V}).index_select(0, at);
  const auto st = lira::token_stats(z, torch::tensor(targets, torch::kInt64).to(logits.device()));
  return st.logprob.sum().item<double>() + st.mu.sum().item<double>() + st.sigma.sum().item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"language-model evaluation statistics: tokens per second, before and after"};
  int64_t vocab = 50257, records = 16, max_len = 64, reps = 3;
  int threads = 1;
  std::string device_name = "cpu";
  app.add_option("--vocab", vocab);
  app.add_option("--records", records);
  app.add_option("--max-len", max_len);
  app.add_option("--reps", reps);
  app.add_option("--threads", threads);
  app.add_option("--device", device_name);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device device(device_name);
  // Records of uneven length (max_len / 4 ... max_len), padded to max_len as in a batch.
  std::vector<int64_t> lengths;
  int64_t tokens_predicted = 0;
  for (int64_t r = 0; r < records; ++r) {
    lengths.push_back(max_len / 4 + (r * 37) % (max_len - max_len / 4 + 1));
    tokens_predicted += lengths.back() - 1;
  }
  const auto logits = (torch::randn({records, max_len, vocab}) * 3).to(device);
  const auto tokens = torch::randint(0, vocab, {records, max_len}, torch::kInt64).to(device);
  auto time = [&](auto&& f) {
    double best = 1e30, check = 0;
    for (int64_t i = 0; i < reps; ++i) {
      const auto t0 = Clock::now();
      check = f(logits, tokens, lengths);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return std::make_pair(best, check);
  };
  const auto [tb, cb] = time(before);
  const auto [ta, ca] = time(after);
  const double n = static_cast<double>(tokens_predicted);
  std::printf("before vocab=%ld tokens=%ld device=%s threads=%d ms_per_token=%.4f tokens_per_s=%.0f\n", vocab,
              tokens_predicted, device_name.c_str(), threads, 1000 * tb / n, n / tb);
  std::printf("after  vocab=%ld tokens=%ld device=%s threads=%d ms_per_token=%.4f tokens_per_s=%.0f\n", vocab,
              tokens_predicted, device_name.c_str(), threads, 1000 * ta / n, n / ta);
  std::printf("ratio after/before tokens_per_s=%.2f (checksums %.6g, %.6g: |difference| %.3g)\n", tb / ta, cb, ca,
              std::abs(cb - ca));
  return 0;
}
