// Benchmark: one training step of a lira reference model in C++ (libtorch), split into
// the data part (gather the batch from the candidate tensor, normalize, augment) and the
// compute part (forward, loss, backward, optimizer step). bench/train_step.py does the
// same in PyTorch from Python; bench/run compares the two.
//
//   train_step --arch cnn --batch 128 --threads 1 --steps 200 [--device cuda] [--augment]
//              [--image 1x28x28] [--bf16]
// Prints one line: "cpp arch=... ms_per_step=... data_ms=... compute_ms=... data_share=...".
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "common/config.hpp"
#include "trainer/augment.hpp"
#include "trainer/network.hpp"
#include "trainer/torch_compat.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"one training step in C++: data share and total time"};
  std::string arch = "cnn", image = "1x28x28", device_name = "cpu";
  int64_t batch = 128, steps = 200, warmup = 20, pool = 4096;
  int threads = 1;
  bool augment = false, bf16 = false;
  app.add_option("--arch", arch);
  app.add_option("--image", image, "CxHxW");
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--threads", threads);
  app.add_option("--device", device_name);
  app.add_flag("--augment", augment, "random flip + 2-pixel reflect crop");
  app.add_flag("--bf16", bf16, "bf16 autocast (CUDA)");
  CLI11_PARSE(app, argc, argv);

  int64_t c = 1, h = 28, w = 28;
  if (std::sscanf(image.c_str(), "%ldx%ldx%ld", &c, &h, &w) != 3) return 2;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device device(device_name);
  const auto cfg = lira::parse_config("", "bench", {"model.arch=" + arch, "model.channels=[16, 32]", "model.hidden=[256]"});
  const auto images = torch::randint(0, 256, {pool, c, h, w}, torch::kUInt8).to(device);
  const auto labels = torch::randint(0, 10, {pool}, torch::kInt64).to(device);
  lira::NetworkInputs in{{c, h, w}, 10, images.slice(0, 0, 512).to(torch::kFloat32) / 255.0};
  auto net = lira::build_network(cfg.model, in);
  net->to(device, false);
  net->set_training(true);
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : net->named_parameters()) params.push_back(p);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  const bool cuda = device.is_cuda();
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };

  Clock::duration data{}, compute{};
  for (int64_t s = 0; s < warmup + steps; ++s) {
    sync();
    const auto t0 = Clock::now();
    const auto idx = torch::randint(0, pool, {batch}, torch::TensorOptions(device).dtype(torch::kInt64));
    auto x = images.index_select(0, idx).to(torch::kFloat32).mul_(1.0 / 255).sub_(0.5);
    if (augment) x = lira::augment_batch(x, true, 2);
    const auto y = labels.index_select(0, idx);
    sync();
    const auto t1 = Clock::now();
    opt.zero_grad();
    torch::Tensor loss;
    {
      lira::compat::CudaAutocast autocast(cuda && bf16);
      loss = torch::nn::functional::cross_entropy(net->forward(x).to(torch::kFloat32), y);
    }
    loss.backward();
    opt.step();
    sync();
    const auto t2 = Clock::now();
    if (s >= warmup) data += t1 - t0, compute += t2 - t1;
  }
  const double d = ms(data) / steps, k = ms(compute) / steps;
  std::printf("cpp arch=%s batch=%ld threads=%d device=%s augment=%d ms_per_step=%.3f data_ms=%.3f compute_ms=%.3f "
              "data_share=%.3f\n",
              arch.c_str(), batch, threads, device_name.c_str(), augment ? 1 : 0, d + k, d, k, d / (d + k));
  return 0;
}
