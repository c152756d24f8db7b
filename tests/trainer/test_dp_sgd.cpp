// DP-SGD: the batched per-example clipping equals the one-example-at-a-time reference; a
// clipped gradient never exceeds the bound; with a bound no gradient reaches, the clipped
// sum is the plain gradient of the summed loss; the noise has the stated scale; Poisson
// batches have the expected size; a DP job stores the accountant's epsilon, reproduces
// bitwise, and refuses what DP-SGD cannot train.
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/dp_accountant.hpp"
#include "common/errors.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/dp_sgd.hpp"
#include "trainer/job_loop.hpp"
#include "trainer/network.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct DpData {
  fs::path dir = fs::temp_directory_path() / ("lira-dp-test-" + std::to_string(getpid()));
  DpData() {
    fs::create_directories(dir);
    lira::testing::write_synthetic_dataset(dir.string(), 300, 100);
  }
  ~DpData() { fs::remove_all(dir); }
};
const DpData& dp_data() {
  static const DpData d;
  return d;
}

std::unique_ptr<Network> small_network(const std::string& arch) {
  ModelConfig m = default_config().model;
  m.arch = arch;
  m.hidden = {16};
  m.channels = {3, 4};
  NetworkInputs in{{1, 12, 12}, 5, {}};
  return build_network(m, in);
}

torch::Tensor example_losses(const torch::Tensor& z, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(z, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
}

std::vector<torch::Tensor> params_of(Network& net) {
  std::vector<torch::Tensor> out;
  for (auto& [name, p] : net.named_parameters()) out.push_back(p);
  return out;
}

double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item<double>();
}

JobAssignment job_for(int64_t model, int64_t candidates) {
  const Plan plan(2, candidates, 0);
  const auto row = plan.keep_row(model);
  return JobAssignment{model, plan.model_seed(model), 0, {row.begin(), row.end()}};
}

struct DpRun {
  TrainerContext context;
  std::unique_ptr<Task> task;
  ModelResult result;
};

// Records every step's batch size.
struct BatchSizes final : LoopObserver {
  std::vector<double> sizes;
  void built(Task&) override {}
  void stepped(Task&, int64_t, double, double items) override { sizes.push_back(items); }
  void finished(Task&) override {}
};

DpRun dp_run(std::vector<std::string> extra, LoopObserver* observer = nullptr,
             std::vector<std::string> arch = {"model.arch=mlp", "model.hidden=[16]"}) {
  DpRun r;
  std::vector<std::string> keys = {"data.path=" + dp_data().dir.string(), "data.candidates=200", "experiment.models=2",
                                   "training.epochs=2", "training.batch_size=20", "training.lr=0.1",
                                   "training.threads=1"};
  keys.insert(keys.end(), arch.begin(), arch.end());
  keys.insert(keys.end(), extra.begin(), extra.end());
  r.context.config = parse_config("", "test", keys);
  r.context.dataset = load_dataset(r.context.config.data);
  r.task = make_classifier_task(r.context, torch::kCPU);
  LoopOptions options{&r.context.config.training, &r.context.config.model, torch::kCPU, 1, nullptr};
  options.dp = &r.context.config.dp;
  options.observer = observer;
  r.result = run_job(options, *r.task, job_for(0, 200));
  return r;
}

}  // namespace

TEST_CASE("batched per-example clipping equals the one-backward-per-example reference (mlp, cnn)") {
  for (const std::string arch : {"mlp", "cnn"}) {
    CAPTURE(arch);
    torch::manual_seed(3);
    auto net = small_network(arch);
    REQUIRE(supports_batched_clipping(*net));
    const auto params = params_of(*net);
    const auto x = torch::randn({9, 1, 12, 12}), y = torch::randint(0, 5, {9}, torch::kInt64);
    for (const double bound : {0.05, 1.0, 1e6}) {
      CAPTURE(bound);
      const auto loop = clipped_gradients_loop(*net, params, x, y, example_losses, bound);
      const auto batched = clipped_gradients_batched(*net, params, x, y, example_losses, bound);
      CHECK(max_rel_diff(batched.norms, loop.norms) < 1e-5);
      CHECK(max_rel_diff(batched.losses, loop.losses) < 1e-6);
      REQUIRE(batched.sum.size() == params.size());
      for (size_t i = 0; i < params.size(); ++i) {
        CAPTURE(i);
        CHECK(max_rel_diff(batched.sum[i], loop.sum[i]) < 1e-4);
      }
    }
  }
}

TEST_CASE("each clipped per-example gradient is within the bound, and a bound no gradient reaches clips nothing") {
  torch::manual_seed(4);
  auto net = small_network("cnn");
  const auto params = params_of(*net);
  const auto x = torch::randn({6, 1, 12, 12}), y = torch::randint(0, 5, {6}, torch::kInt64);
  // One example at a time: the clipped gradient's norm is min(|g|, C).
  const double bound = 0.1;
  for (int64_t i = 0; i < 6; ++i) {
    const auto one = clipped_gradients_batched(*net, params, x.slice(0, i, i + 1), y.slice(0, i, i + 1), example_losses, bound);
    double squared = 0;
    for (const auto& g : one.sum) squared += g.to(torch::kFloat64).square().sum().item<double>();
    const double norm = one.norms[0].item<double>();
    REQUIRE(norm > bound);  // random inits give gradients above 0.1: the clip is exercised
    CHECK(std::sqrt(squared) == doctest::Approx(bound).epsilon(1e-4));
  }
  // Unclipped: the sum of per-example gradients is the gradient of the summed loss.
  const auto all = clipped_gradients_batched(*net, params, x, y, example_losses, 1e9);
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  example_losses(net->forward(x), y).sum().backward();
  for (size_t i = 0; i < params.size(); ++i) CHECK(max_rel_diff(all.sum[i], params[i].grad()) < 1e-5);
}

TEST_CASE("the noise added to the clipped sum has standard deviation sigma C / expected batch") {
  torch::manual_seed(5);
  std::vector<torch::Tensor> params = {torch::zeros({200, 500}, torch::requires_grad())};
  const std::vector<torch::Tensor> sum = {torch::full({200, 500}, 3.0)};
  set_noisy_gradients(params, sum, 1.5, 2.0, 10.0);
  const auto g = params[0].grad();
  CHECK(g.mean().item<double>() == doctest::Approx(0.3).epsilon(0.01));
  CHECK(g.std().item<double>() == doctest::Approx(1.5 * 2.0 / 10.0).epsilon(0.01));
  set_noisy_gradients(params, sum, 0.0, 2.0, 10.0);
  CHECK(torch::allclose(params[0].grad(), torch::full({200, 500}, 0.3)));
}

TEST_CASE("a DP-SGD job: Poisson batches, the accountant's epsilon stored, bitwise reproducible on CPU") {
  const auto a = dp_run({"dp.noise_multiplier=1.1", "dp.max_grad_norm=1.0"});
  // About 100 IN examples, batch 20: q = 20 / n, 2 epochs = ceil(2 n / 20) steps.
  const double n = static_cast<double>(a.task->examples(0));
  const double q = 20.0 / n;
  const auto steps = static_cast<int64_t>(std::ceil(2 * n / 20 - 1e-9));
  CHECK(a.result.dp_noise_multiplier == 1.1);
  CHECK(a.result.dp_epsilon == doctest::Approx(dp::dp_sgd_epsilon(q, 1.1, steps, 1e-5).epsilon));
  CHECK(a.result.dp_epsilon > 0);
  const auto b = dp_run({"dp.noise_multiplier=1.1", "dp.max_grad_norm=1.0"});
  CHECK(b.result.signals[0].values == a.result.signals[0].values);
  // The loop reference trains the same model up to float rounding (same draws).
  const auto loop = dp_run({"dp.noise_multiplier=1.1", "dp.max_grad_norm=1.0", "dp.clipping=loop"});
  const auto& sa = a.result.signals[0].values;
  const auto& sl = loop.result.signals[0].values;
  double worst = 0;
  for (size_t i = 0; i < sa.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(sa[i] - sl[i])));
  CHECK(worst < 1e-3);
  // A target epsilon: the solved sigma spends at most it.
  const auto t = dp_run({"dp.target_epsilon=4"});
  CHECK(t.result.dp_epsilon <= 4.0);
  CHECK(t.result.dp_epsilon > 3.99);
  // Without DP: no epsilon.
  const auto plain = dp_run({});
  CHECK(std::isnan(plain.result.dp_epsilon));
}

TEST_CASE("Poisson sampling: batch sizes vary around the expected q n") {
  BatchSizes observed;
  const auto r = dp_run({"dp.noise_multiplier=1", "training.epochs=40"}, &observed);
  const double n = static_cast<double>(r.task->examples(0)), q = 20.0 / n;
  REQUIRE(observed.sizes.size() == static_cast<size_t>(std::ceil(40 * n / 20 - 1e-9)));
  double mean = 0, var = 0;
  for (double s : observed.sizes) mean += s;
  mean /= static_cast<double>(observed.sizes.size());
  for (double s : observed.sizes) var += (s - mean) * (s - mean);
  var /= static_cast<double>(observed.sizes.size() - 1);
  // Binomial(n, q): mean 20, variance n q (1 - q) = 16 at n = 100; 200 steps.
  CHECK(mean == doctest::Approx(q * n).epsilon(0.05));
  CHECK(var == doctest::Approx(n * q * (1 - q)).epsilon(0.35));
}

TEST_CASE("DP-SGD refuses BatchNorm models, global clipping, accumulation and text before training") {
  auto refused = [](std::vector<std::string> keys, const std::string& needle) {
    keys.push_back("dp.noise_multiplier=1");
    try {
      parse_config("", "test", keys);
      FAIL("accepted: " << needle);
    } catch (const ConfigError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
    }
  };
  refused({"model.arch=wrn28-2", "data.dataset=cifar10"}, "BatchNorm");
  refused({"model.arch=airbench94", "data.dataset=cifar10"}, "BatchNorm");
  refused({"training.grad_clip=1"}, "training.grad_clip");
  refused({"training.accumulate=2"}, "training.accumulate");
  refused({"dp.target_epsilon=2"}, "dp.target_epsilon");
  refused({"data.dataset=text", "data.path=/dev/null", "model.arch=gpt", "queries.mirror=false"}, "language-model");
  // dp.* keys without DP are refused as unused.
  try {
    parse_config("", "test", {"dp.max_grad_norm=2"});
    FAIL("dp.max_grad_norm accepted without DP");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("dp.max_grad_norm") != std::string::npos);
  }
  // A TorchScript model with BatchNorm is refused when the job starts.
  try {
    dp_run({"dp.noise_multiplier=1"}, nullptr,
           {"model.arch=torchscript", "model.torchscript_path=" + std::string(LIRA_TEST_MODELS_DIR) + "/tiny_cnn.pt"});
    FAIL("a TorchScript model with BatchNorm trained under DP-SGD");
  } catch (const ConfigError& e) {
    CHECK_MESSAGE(std::string(e.what()).find("BatchNorm") != std::string::npos, e.what());
  }
}

TEST_CASE("GroupNorm ResNets (model.norm: group) keep no running statistics and train under DP-SGD") {
  ModelConfig m = default_config().model;
  m.norm = "group";
  NetworkInputs in{{1, 12, 12}, 5, {}};
  for (const std::string arch : {"wrn", "resnet18"}) {
    CAPTURE(arch);
    m.arch = arch, m.depth = 10, m.width = 1;
    auto net = build_network(m, in);
    CHECK(net->buffers().empty());
    CHECK_FALSE(supports_batched_clipping(*net));  // residual blocks: the one-example loop
    // Each example's output depends on that example alone: GroupNorm does not mix them.
    net->set_training(true);
    const auto x = torch::randn({4, 1, 12, 12});
    const auto alone = net->forward(x.slice(0, 1, 2));
    CHECK(max_rel_diff(net->forward(x).slice(0, 1, 2), alone) < 1e-5);
    m.norm = "batch";
    CHECK_FALSE(build_network(m, in)->buffers().empty());
    m.norm = "group";
  }
  const auto r = dp_run({"dp.noise_multiplier=1", "training.epochs=1"}, nullptr,
                        {"model.arch=wrn", "model.depth=10", "model.width=1", "model.norm=group"});
  CHECK(r.result.dp_epsilon > 0);
  CHECK(std::isfinite(r.result.dp_epsilon));
  CHECK(r.result.test_accuracy >= 0);
  // The BatchNorm variant stays refused, and says what to use.
  try {
    parse_config("", "test", {"model.arch=wrn28-2", "data.dataset=cifar10", "dp.noise_multiplier=1"});
    FAIL("wrn28-2 with BatchNorm accepted under DP");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("model.norm: group") != std::string::npos);
  }
}
