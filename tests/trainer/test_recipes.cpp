// Tests of the published recipes' ingredients (docs/training.md): airbench94's whitening,
// schedule, lookahead decay, hyperparameter conversions, alternating flip, test-time
// augmentation, network and whitening-bias freeze; objax's WRN "SAME" padding, init and
// BatchNorm. Expected values are computed by hand from the published formulas; the
// step-by-step comparison with PyTorch is tests/trainer/recipe_equivalence.sh.
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/schedule.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/augment.hpp"
#include "trainer/job_loop.hpp"
#include "trainer/network.hpp"
#include "trainer/recipe.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {
ModelConfig model(const std::string& arch) { return parse_config("", "test", {"model.arch=" + arch}).model; }
torch::Tensor named(Network& net, const std::string& name) {
  for (auto& [n, t] : net.state())
    if (n == name) return t;
  FAIL("no state entry " << name);
  return {};
}
}  // namespace

TEST_CASE("airbench94's whitening: +- eigenvector pairs of the uncentered patch moments, descending, eps 5e-4") {
  torch::manual_seed(1);
  const auto images = torch::rand({6, 3, 8, 8}) * 2 - 0.5;  // not centered: the mean matters
  const auto f = airbench94_whitening_filters(images);
  REQUIRE(f.sizes() == torch::IntArrayRef({24, 3, 2, 2}));
  CHECK(torch::equal(f.slice(0, 12), -f.slice(0, 0, 12)));
  // Uncentered second moments of all 2x2 patches, flattened (channel, row, column), in double.
  auto p = images.to(torch::kFloat64).unfold(2, 2, 1).unfold(3, 2, 1).permute({0, 2, 3, 1, 4, 5}).reshape({-1, 12});
  const auto m = p.t().mm(p) / static_cast<double>(p.size(0));
  const auto w = f.slice(0, 0, 12).reshape({12, 12}).to(torch::kFloat64);
  // W M W^T = diag(lambda / (lambda + eps)) with lambda descending.
  const auto [values, vectors] = torch::linalg_eigh(m);
  const auto lambda = values.flip(0);
  const auto expected = torch::diag(lambda / (lambda + 5e-4));
  CHECK(torch::allclose(w.mm(m).mm(w.t()), expected, 1e-3, 1e-4));
  // Each filter has norm 1 / sqrt(lambda + eps): the descending order.
  CHECK(torch::allclose(w.norm(2, 1), 1.0 / (lambda + 5e-4).sqrt(), 1e-3));
}

TEST_CASE("airbench94's schedule: 0.2 -> 1 over floor(0.23 T) steps, then to 0.07, lookahead decay 0.95^5 (t/T)^3") {
  CHECK(airbench94_lr_factor(0, 476) == doctest::Approx(0.2));
  CHECK(airbench94_lr_factor(54, 476) == doctest::Approx(0.2 + 0.8 * 54.0 / 109.0));
  CHECK(airbench94_lr_factor(109, 476) == doctest::Approx(1.0));
  CHECK(airbench94_lr_factor(475, 476) == doctest::Approx(1.0 - 0.93 * 366.0 / 367.0));
  CHECK(airbench94_lookahead_decay(5, 476) == doctest::Approx(std::pow(0.95, 5) * std::pow(5.0 / 476, 3)).epsilon(1e-6));
  CHECK(airbench94_lookahead_decay(240, 476) == doctest::Approx(0.7737809375 * std::pow(240.0 / 476, 3)).epsilon(1e-6));
  CHECK(airbench94_lookahead_decay(476, 476) == doctest::Approx(0.7737809375).epsilon(1e-7));
  // Published conversions: lr 11.5 / 7850.67, BN biases x64, wd / lr per group.
  CHECK(Airbench94Hyp::lr() == doctest::Approx(0.00146484375).epsilon(1e-9));
  CHECK(Airbench94Hyp::bias_lr() == doctest::Approx(0.09375).epsilon(1e-9));
  CHECK(Airbench94Hyp::decay(1024) / Airbench94Hyp::lr() == doctest::Approx(15.6672 / 11.5).epsilon(1e-9));
  CHECK(Airbench94Hyp::decay(1024) / Airbench94Hyp::bias_lr() == doctest::Approx(0.021287).epsilon(1e-4));
}

TEST_CASE("the official schedule counts progress in examples, step 0 has lr 0") {
  TrainingConfig t;
  t.lr = 0.1, t.schedule = "official", t.warmup = 0.01;
  CHECK(learning_rate_at(t, 0.0) == 0.0);
  CHECK(learning_rate_at(t, 0.005) == doctest::Approx(0.1 * std::cos(7 * M_PI * 0.005 / 16) * 0.5));
  CHECK(learning_rate_at(t, 0.5) == doctest::Approx(0.1 * std::cos(7 * M_PI / 32)));
  CHECK(learning_rate_at(t, 1.0) == doctest::Approx(0.0195090322));  // 0.1 cos(7 pi / 16)
}

TEST_CASE("alternating flip: one mask for the run, the whole set mirrored every odd epoch, translate with reflect padding") {
  torch::manual_seed(3);
  const int64_t n = 64;
  const auto x = torch::rand({n, 3, 6, 6});
  const auto all = torch::arange(n, torch::kInt64);
  SUBCASE("without translation") {
    AlternatingFlipTranslate aug(n, 0, torch::kCPU);
    aug.begin_epoch(0);
    const auto mask = aug.flip_mask().clone();
    CHECK(mask.sum().item<int64_t>() > 16);
    CHECK(mask.sum().item<int64_t>() < 48);
    const auto e0 = aug.apply(x, all);
    CHECK(torch::equal(e0, torch::where(mask.view({n, 1, 1, 1}), x.flip({3}), x)));
    for (int64_t epoch = 1; epoch < 5; ++epoch) {
      aug.begin_epoch(epoch);
      CHECK(torch::equal(aug.flip_mask(), mask));
      CHECK(torch::equal(aug.apply(x, all), epoch % 2 ? e0.flip({3}) : e0));
    }
    // A subset of positions sees the same per-image augmentation.
    const auto some = torch::tensor({5, 0, 17}, torch::kInt64);
    CHECK(torch::equal(aug.apply(x.index_select(0, some), some), e0.index_select(0, some)));
  }
  SUBCASE("translate by up to 2 with reflect padding") {
    AlternatingFlipTranslate aug(n, 2, torch::kCPU);
    aug.begin_epoch(0);
    const auto y = aug.apply(x, all);
    const auto s = aug.shifts();
    CHECK(s.min().item<int64_t>() == -2);
    CHECK(s.max().item<int64_t>() == 2);
    for (int64_t i = 0; i < n; ++i) {
      auto xi = x[i];
      if (aug.flip_mask()[i].item<bool>()) xi = xi.flip({2});
      const auto padded = torch::reflection_pad2d(xi.unsqueeze(0), {2, 2, 2, 2})[0];
      const int64_t dy = s[i][0].item<int64_t>(), dx = s[i][1].item<int64_t>();
      CHECK(torch::equal(y[i], padded.slice(1, 2 + dy, 8 + dy).slice(2, 2 + dx, 8 + dx)));
    }
  }
}

TEST_CASE("airbench94's test-time augmentation: 6 views, weights 1/4, 1/4 and 4 x 1/8") {
  const auto x = torch::arange(2 * 3 * 5 * 5, torch::kFloat32).view({2, 3, 5, 5});
  const auto views = airbench94_tta_views(x);
  REQUIRE(views.size() == 6);
  double total = 0;
  for (const auto& [v, w] : views) {
    CHECK(v.sizes() == x.sizes());
    total += w;
  }
  CHECK(total == doctest::Approx(1.0));
  CHECK(views[0].second == 0.25);
  CHECK(views[2].second == 0.125);
  CHECK(torch::equal(views[0].first, x));
  CHECK(torch::equal(views[1].first, x.flip({3})));
  // Reflect-pad 1, crop [0:5, 0:5]: pixel (0, 0) is x[1][1] (reflected), (2, 3) is x[1][2].
  CHECK(views[2].first[0][0][0][0].item<float>() == x[0][0][1][1].item<float>());
  CHECK(views[2].first[0][0][2][3].item<float>() == x[0][0][1][2].item<float>());
  // Crop [2:7, 2:7]: pixel (4, 4) is x[3][3] (reflected), (0, 0) is x[1][1].
  CHECK(views[4].first[1][2][4][4].item<float>() == x[1][2][3][3].item<float>());
  CHECK(views[4].first[1][2][0][0].item<float>() == x[1][2][1][1].item<float>());
  CHECK(torch::equal(views[5].first, views[4].first.flip({3})));
}

TEST_CASE("airbench94's network: 1,972,792 parameters, frozen whitening and BN scales, dirac convs, BN eps and momentum") {
  torch::manual_seed(0);
  NetworkInputs in{{3, 32, 32}, 10, torch::randn({32, 3, 32, 32})};
  auto net = build_network(model("airbench94"), in);
  int64_t all = 0, trainable = 0;
  for (auto& [name, t] : net->state())
    if (name.find("running_") == std::string::npos) all += t.numel();
  for (auto& [name, t] : net->named_parameters()) {
    trainable += t.numel();
    const bool norm_scale = name.find("norm") != std::string::npos && name.find("bias") == std::string::npos;
    CHECK_MESSAGE(!norm_scale, name);
  }
  CHECK(all == 1972792);
  CHECK(trainable == 1972792 - 24 * 12 - 2 * (64 + 256 + 256));
  CHECK(torch::allclose(named(*net, "whiten.weight"), airbench94_whitening_filters(in.init_sample)));
  CHECK(named(*net, "whiten.bias").abs().max().item<float>() == 0);
  CHECK(net->state_before_data_init().size() == net->state().size());
  // Dirac: conv2 of a group starts as the identity; conv1's first in_channels filters too.
  const auto c2 = named(*net, "groups.0.conv2.weight");
  CHECK(torch::equal(c2, torch::nn::init::dirac_(torch::empty_like(c2))));
  const auto c1 = named(*net, "groups.1.conv1.weight");
  CHECK(torch::equal(c1.slice(0, 0, 64), torch::nn::init::dirac_(torch::empty({64, 64, 3, 3}))));
  CHECK(c1.slice(0, 64).abs().sum().item<float>() > 0);
  // BatchNorm: running = 0.6 running + 0.4 batch, eps 1e-12 (a batch of constant channels
  // normalizes to exactly the bias: no eps of 1e-5 in the way).
  net->set_training(true);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({4, 3, 32, 32});
  net->forward(x);
  const auto pooled = torch::max_pool2d(torch::conv2d(torch::gelu(torch::conv2d(x, named(*net, "whiten.weight"),
                                                                                named(*net, "whiten.bias"))),
                                                      named(*net, "groups.0.conv1.weight"), {}, 1, 1),
                                        2);
  CHECK(torch::allclose(named(*net, "groups.0.norm1.running_mean"), 0.4 * pooled.mean({0, 2, 3}), 1e-4, 1e-5));
  // A backstop: check_config_with_data refuses such data before any model (bad_corpus.sh).
  CHECK_THROWS_AS(build_network(model("airbench94"), NetworkInputs{{1, 28, 28}, 10, torch::randn({4, 1, 28, 28})}),
                  Error);
}

TEST_CASE("TF SAME padding: a stride-2 3x3 conv on an even size pads (0, 1), stride 1 pads (1, 1)") {
  CHECK(same_padding(32, 3, 2) == std::pair<int64_t, int64_t>{0, 1});
  CHECK(same_padding(32, 3, 1) == std::pair<int64_t, int64_t>{1, 1});
  CHECK(same_padding(16, 1, 2) == std::pair<int64_t, int64_t>{0, 0});
  CHECK(same_padding(31, 3, 2) == std::pair<int64_t, int64_t>{1, 1});
  const auto x = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
  const auto y = same_conv2d(x, torch::ones({1, 1, 3, 3}), 2);
  REQUIRE(y.sizes() == torch::IntArrayRef({1, 1, 2, 2}));
  // Windows start at rows/columns 0 and 2; the second reaches into one row of zeros.
  CHECK(y[0][0][0][0].item<float>() == 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10);
  CHECK(y[0][0][1][1].item<float>() == 10 + 11 + 14 + 15);
  CHECK(y[0][0][0][1].item<float>() == 2 + 3 + 6 + 7 + 10 + 11);
}

TEST_CASE("objax's WRN init: He fan-out normal convs, truncated Xavier head, zero bias, biased BN running variance") {
  torch::manual_seed(0);
  NetworkInputs in{{3, 32, 32}, 10, {}};
  auto net = build_network(model("wrn28-2"), in);
  auto std_of = [&](const std::string& name) { return named(*net, name).std().item<double>(); };
  CHECK(std_of("stem.weight") == doctest::Approx(1 / std::sqrt(0.5 * 9 * 16)).epsilon(0.1));
  CHECK(std_of("blocks.4.conv1.weight") == doctest::Approx(1 / std::sqrt(0.5 * 9 * 64)).epsilon(0.02));
  CHECK(std_of("blocks.8.shortcut.weight") == doctest::Approx(1 / std::sqrt(0.5 * 128)).epsilon(0.05));
  const auto fc = named(*net, "fc.weight");
  CHECK(fc.std().item<double>() == doctest::Approx(std::sqrt(2.0 / 138)).epsilon(0.08));
  CHECK(fc.abs().max().item<double>() <= 2 * std::sqrt(2.0 / 138) / 0.87962566 + 1e-6);
  CHECK(named(*net, "fc.bias").abs().max().item<float>() == 0);
  CHECK(named(*net, "blocks.0.bn1.running_var").min().item<float>() == 1);
  // One training-mode pass: blocks.0.bn1 saw the stem's output; objax keeps the biased variance.
  net->set_training(true);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({8, 3, 32, 32});
  net->forward(x);
  const auto s = same_conv2d(x, named(*net, "stem.weight"), 1);
  const auto var = s.var({0, 2, 3}, /*unbiased=*/false);
  CHECK(torch::allclose(named(*net, "blocks.0.bn1.running_var"), 0.9 + 0.1 * var, 1e-4, 1e-6));
  CHECK(torch::allclose(named(*net, "blocks.0.bn1.running_mean"), 0.1 * s.mean({0, 2, 3}), 1e-4, 1e-6));
}

TEST_CASE("airbench94's config: the published recipe's keys are refused, fractional epochs accepted") {
  CHECK_THROWS_WITH_AS(parse_config("", "t", {"model.arch=airbench94", "training.lr=0.5"}),
                       doctest::Contains("training.lr"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_config("", "t", {"model.arch=airbench94", "training.ema=0.99"}),
                       doctest::Contains("training.ema"), ConfigError);
  CHECK(parse_config("", "t", {"model.arch=airbench94", "training.epochs=9.9"}).training.epochs == 9.9);
}

namespace {
// Records the whitening bias before and after every step.
struct BiasWatch final : LoopObserver {
  std::vector<torch::Tensor> before;
  torch::Tensor bias;
  void built(Task& task) override {
    for (auto& [n, t] : task.state())
      if (n == "whiten.bias") bias = t;
    before.push_back(bias.clone());
  }
  void stepped(Task&, int64_t, double, double) override { before.push_back(bias.clone()); }
  void finished(Task&) override {}
};
}  // namespace

TEST_CASE("airbench94 trains its whitening bias in epochs 0-2 only (lookahead aside), and 9.9 epochs make ceil(9.9 E) steps") {
  const fs::path dir = fs::temp_directory_path() / ("lira-recipes-" + std::to_string(getpid()));
  fs::create_directories(dir);
  lira::testing::write_synthetic_cifar10(dir.string(), 120, 20);
  const auto config = parse_config("", "t", {"data.dataset=cifar10", "data.path=" + dir.string(),
                                              "data.candidates=120", "experiment.models=2", "model.arch=airbench94",
                                              "training.batch_size=16", "training.epochs=4.5"});
  auto dataset = load_dataset(config.data);
  auto task = make_classifier_task({config, dataset, 1}, torch::kCPU);
  const Plan plan(2, 120, 0);
  const auto row = plan.keep_row(0);
  BiasWatch watch;
  LoopOptions options{&config.training, &config.model, torch::kCPU, 1, nullptr};
  options.observer = &watch;
  const auto r = run_job(options, *task, {0, plan.model_seed(0), 0, {row.begin(), row.end()}});
  fs::remove_all(dir);
  const int64_t per_epoch = 60 / 16;  // drop_last: 3
  REQUIRE(watch.before.size() == static_cast<size_t>(1 + std::ceil(4.5 * per_epoch)));  // 14 steps
  for (size_t s = 1; s < watch.before.size(); ++s) {
    const bool moved = !torch::equal(watch.before[s], watch.before[s - 1]);
    const auto epoch = static_cast<int64_t>(s - 1) / per_epoch;
    CAPTURE(s);
    if (epoch < 3) CHECK(moved);
    else if (s % 5 != 0 && s != watch.before.size() - 1) CHECK_FALSE(moved);  // only the lookahead moves it
  }
  CHECK(r.test_accuracy >= 0.0);
}
