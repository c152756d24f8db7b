// Benchmark: training tokens per second of lira's GPT in C++ (libtorch): forward with the
// record mask, next-token loss, backward, gradient clipping, AdamW step, on windows of
// random byte tokens holding two records each. bench/lm_step.py does the same in PyTorch
// from Python with the same architecture; bench/run compares the two.
//
//   lm_step --layers 2 --heads 4 --embed 64 --context 128 --batch 16 --threads 1 --steps 50
// Prints one line: "cpp gpt ... ms_per_step=... tokens_per_s=...".
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "common/config.hpp"
#include "trainer/lm.hpp"

int main(int argc, char** argv) {
  CLI::App app{"GPT training step in C++: tokens per second"};
  int64_t layers = 2, heads = 4, embed = 64, context = 128, batch = 16, steps = 50, warmup = 5;
  int threads = 1;
  app.add_option("--layers", layers);
  app.add_option("--heads", heads);
  app.add_option("--embed", embed);
  app.add_option("--context", context);
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  lira::ModelConfig m;
  m.layers = layers, m.heads = heads, m.embed = embed, m.context = context;
  lira::Gpt net(m, 257);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  const auto x = torch::randint(0, 256, {batch, context}, torch::kInt64);
  // Two records per window: ids 0 and 1, split in the middle.
  auto rec = torch::zeros({batch, context}, torch::kInt64);
  rec.slice(1, context / 2).fill_(1);
  const auto valid = rec.slice(1, 0, -1).eq(rec.slice(1, 1)).reshape({-1}).to(torch::kFloat32);
  auto step = [&] {
    opt.zero_grad();
    const auto logits = net->forward(x, rec).slice(1, 0, -1);
    const auto nll = torch::nn::functional::cross_entropy(
        logits.reshape({-1, 257}), x.slice(1, 1).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const auto loss = (nll * valid).sum() / valid.sum();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
    opt.step();
  };
  for (int64_t i = 0; i < warmup; ++i) step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("cpp gpt layers=%ld embed=%ld context=%ld batch=%ld threads=%d ms_per_step=%.3f tokens_per_s=%.0f\n",
              layers, embed, context, batch, threads, 1000.0 * s / static_cast<double>(steps),
              static_cast<double>(batch * context * steps) / s);
  return 0;
}
