// Tests of packed training (parallel.models_per_job; the one job loop, K wide,
// trainer/job_loop.hpp): a pack of K models trains the same models as K jobs alone (a
// pack of one), up to float rounding, for every fused architecture and for early
// stopping and gradient accumulation; each result says it was trained in its pack; a
// packed run is bitwise reproducible; a model that diverges leaves its pack as a failed
// job without disturbing the others.
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

// The data: 28x28 grey synthetic images (IDX), or with cifar 32x32 RGB ones (CIFAR
// binary) for airbench94, and fewer of them.
struct PackFixture {
  fs::path dir = fs::temp_directory_path() / ("lira-packed-test-" + std::to_string(getpid()));
  Config config;
  std::shared_ptr<const Dataset> data;
  explicit PackFixture(const std::vector<std::string>& overrides, bool cifar = false) {
    fs::create_directories(dir);
    if (cifar) {
      lira::testing::write_synthetic_cifar10(dir.string(), 150, 24);
    } else {
      lira::testing::write_synthetic_dataset(dir.string(), 300, 100);
    }
    std::vector<std::string> ov{"data.path=" + dir.string(), cifar ? "data.candidates=128" : "data.candidates=200",
                                "experiment.models=8", "training.epochs=3", "training.batch_size=32",
                                "parallel.models_per_job=4"};
    // airbench94's recipe fixes the learning rate (the only test on CIFAR-like data).
    ov.push_back(cifar ? "data.dataset=cifar10" : "training.lr=0.05");
    ov.insert(ov.end(), overrides.begin(), overrides.end());
    config = parse_config("", "test", ov);
    data = load_dataset(config.data);
  }
  ~PackFixture() { fs::remove_all(dir); }
  std::vector<JobAssignment> jobs(int64_t first, int64_t count) const {
    const Plan plan(config.experiment.models, config.data.candidates, 0);
    std::vector<JobAssignment> out;
    for (int64_t m = first; m < first + count; ++m) {
      const auto row = plan.keep_row(m);
      out.push_back({m, plan.model_seed(m), 0, {row.begin(), row.end()}});
    }
    return out;
  }
};

const ModelResult& result_of(const WorkerMessage& m) {
  REQUIRE(std::holds_alternative<ModelResult>(m));
  return std::get<ModelResult>(m);
}

// The largest |a - b| over every signal of two results, and the largest |a|. NaN-aware:
// a NaN on either side (a classifier's signals never are) makes the difference infinite,
// where std::max(d, NaN) would silently keep d.
std::pair<double, double> difference(const ModelResult& a, const ModelResult& b) {
  REQUIRE(a.signals.size() == b.signals.size());
  REQUIRE(!a.signals.empty());
  double diff = 0, scale = 0;
  for (size_t s = 0; s < a.signals.size(); ++s) {
    REQUIRE(a.signals[s].name == b.signals[s].name);
    REQUIRE(a.signals[s].values.size() == b.signals[s].values.size());
    for (size_t i = 0; i < a.signals[s].values.size(); ++i) {
      const double x = a.signals[s].values[i], y = b.signals[s].values[i];
      if (std::isnan(x) || std::isnan(y)) return {std::numeric_limits<double>::infinity(), scale};
      diff = std::max(diff, std::fabs(x - y));
      scale = std::max(scale, std::fabs(x));
    }
  }
  return {diff, scale};
}

// Torch's default dtype float64 while it lives: the BatchNorm networks' training (eps
// 1e-12, airbench94's 64x bias rate) amplifies float32 rounding, so the pack-vs-alone
// comparison of the architecture's arithmetic runs in float64.
struct Float64 {
  Float64() { torch::set_default_dtype(caffe2::TypeMeta::Make<double>()); }
  ~Float64() { torch::set_default_dtype(caffe2::TypeMeta::Make<float>()); }
  Float64(const Float64&) = delete;
  Float64& operator=(const Float64&) = delete;
};

// Trains jobs 0..3 alone and as one pack; every model's signals agree to `tolerance`
// of the signals' scale (the largest |value|), and the accuracies agree.
void check_pack_matches_alone(const std::vector<std::string>& overrides, double tolerance, bool cifar = false) {
  PackFixture f(overrides, cifar);
  auto runner = make_torch_runner({f.config, f.data, 1});
  const auto jobs = f.jobs(0, 4);
  const auto packed = runner->run_pack(jobs);
  REQUIRE(packed.size() == 4);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto alone = runner->run(jobs[i]);
    const auto& p = result_of(packed[i]);
    CHECK(p.model == jobs[i].model);
    CHECK(p.pack == 4);  // trained in the pack, not quietly alone
    CHECK(alone.pack == 1);
    const auto [diff, scale] = difference(alone, p);
    MESSAGE("model " << i << ": max |signal difference| " << diff << " of scale " << scale);
    CHECK(diff <= tolerance * scale);
    CHECK(std::fabs(alone.test_accuracy - p.test_accuracy) <= 0.02);
    CHECK(std::fabs(alone.train_accuracy - p.train_accuracy) <= 0.02);
  }
}

}  // namespace

TEST_CASE("a pack of 4 mlp models matches 4 jobs alone (adamw, EMA, label smoothing, cosine)") {
  check_pack_matches_alone({"model.arch=mlp", "model.hidden=[32, 16]", "training.optimizer=adamw",
                            "training.lr=0.01", "training.weight_decay=0.01", "training.ema=0.9",
                            "training.label_smoothing=0.1", "training.schedule=cosine", "training.warmup=0.1"},
                           1e-5);
}

TEST_CASE("a pack of 4 cnn models matches 4 jobs alone (Nesterov SGD, clipping, flip and crop)") {
  check_pack_matches_alone({"model.arch=cnn", "model.channels=[4, 8]", "model.hidden=[16]", "training.momentum=0.9",
                            "training.nesterov=true", "training.weight_decay=0.0005", "training.grad_clip=0.5",
                            "training.augment_flip=true", "training.augment_crop=2", "training.epochs=2"},
                           1e-5);
}

TEST_CASE("a pack matches alone under the official schedule with plain SGD and adam") {
  check_pack_matches_alone({"model.arch=mlp", "model.hidden=[16]", "training.schedule=official",
                            "training.warmup=0.2", "training.momentum=0"},
                           1e-5);
  check_pack_matches_alone({"model.arch=mlp", "model.hidden=[16]", "training.optimizer=adam", "training.lr=0.01",
                            "training.weight_decay=0.001", "training.decay_all=true"},
                           1e-5);
}

TEST_CASE("a pack of 4 airbench94 models matches 4 jobs alone (its published recipe: lookahead, whitening bias, TTA)") {
  // 4.5 epochs of 3 or 4 full batches (the last partial one dropped): the whitening bias
  // trains for 3 epochs, the lookahead runs every 5 steps and at the end, and the models'
  // epochs end at different steps.
  Float64 f64;
  check_pack_matches_alone({"model.arch=airbench94", "training.batch_size=8", "training.epochs=4.5",
                            "data.candidates=64", "data.test_examples=12"},
                           1e-6, true);
}

TEST_CASE("a pack of 4 airbench models matches 4 jobs alone (BatchNorm over short last batches, EMA)") {
  Float64 f64;
  check_pack_matches_alone({"model.arch=airbench", "model.airbench_widths=[8, 16, 16]", "training.momentum=0.9",
                            "training.nesterov=true", "training.weight_decay=0.0005", "training.ema=0.8",
                            "training.augment_flip=true", "training.augment_crop=2", "training.epochs=2"},
                           1e-6);
}

TEST_CASE("a pack of 4 wide ResNets matches 4 jobs alone (SAME padding, shortcuts, objax BatchNorm)") {
  Float64 f64;
  check_pack_matches_alone({"model.arch=wrn", "model.depth=10", "model.width=1", "training.momentum=0.9",
                            "training.weight_decay=0.0005", "training.epochs=2", "training.grad_clip=1",
                            "data.candidates=100", "data.test_examples=20"},
                           1e-5);
}

TEST_CASE("a pack of 4 resnet18 models matches 4 jobs alone") {
  // Small: resnet18 is the widest network here (~1 GFLOP an image forward).
  check_pack_matches_alone({"model.arch=resnet18", "training.momentum=0.9", "training.epochs=1",
                            "training.batch_size=8", "data.candidates=24", "data.test_examples=8"},
                           1e-5);
}

TEST_CASE("the CUDA layout (grouped convolutions, BatchNorm over K C channels) matches alone, run on the CPU") {
  // LIRA_TEST_GROUPED_PACKS: the layout packs use on CUDA, here on the CPU, so its
  // channel-block bookkeeping is checked without a GPU (tests/gpu checks it on one).
  ::setenv("LIRA_TEST_GROUPED_PACKS", "1", 1);
  check_pack_matches_alone({"model.arch=cnn", "model.channels=[4, 8]", "model.hidden=[16]", "training.momentum=0.9",
                            "training.augment_flip=true", "training.augment_crop=2", "training.epochs=2"},
                           1e-5);
  {
    Float64 f64;
    check_pack_matches_alone({"model.arch=airbench", "model.airbench_widths=[8, 16, 16]", "training.momentum=0.9",
                              "training.ema=0.8", "training.epochs=2"},
                             1e-6);
    check_pack_matches_alone({"model.arch=wrn", "model.depth=10", "model.width=1", "training.momentum=0.9",
                              "training.epochs=1", "data.candidates=100", "data.test_examples=20"},
                             1e-6);
  }
  ::unsetenv("LIRA_TEST_GROUPED_PACKS");
}

TEST_CASE("a packed run is bitwise reproducible on the CPU") {
  PackFixture f({"model.arch=cnn", "model.channels=[4]", "model.hidden=[16]", "training.augment_flip=true",
                 "training.epochs=2"});
  const auto jobs = f.jobs(2, 3);
  auto a = make_torch_runner({f.config, f.data, 1})->run_pack(jobs);
  auto b = make_torch_runner({f.config, f.data, 1})->run_pack(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& ra = result_of(a[i]);
    const auto& rb = result_of(b[i]);
    for (size_t s = 0; s < ra.signals.size(); ++s) CHECK(ra.signals[s].values == rb.signals[s].values);
    CHECK(ra.test_accuracy == rb.test_accuracy);
  }
}

TEST_CASE("difference() sees a NaN on either side") {
  ModelResult a, b;
  a.signals.push_back({"loss", {2}, {1.0f, 2.0f}});
  b.signals.push_back({"loss", {2}, {1.0f, std::numeric_limits<float>::quiet_NaN()}});
  CHECK(std::isinf(difference(a, b).first));
  CHECK(std::isinf(difference(b, a).first));
  CHECK(difference(a, a).first == 0);
}

TEST_CASE("early stopping in a pack: each model stops at its own epoch, as alone") {
  // A large learning rate and a patience of 1 stop the models early, at different
  // epochs; each then sits out while the others train on.
  check_pack_matches_alone({"model.arch=mlp", "model.hidden=[32]", "training.lr=0.3", "training.epochs=8",
                            "defense.early_stopping=1", "defense.validation_examples=40"},
                           1e-5);
}

TEST_CASE("gradient accumulation in a pack matches alone (3 batches a step, short last steps)") {
  check_pack_matches_alone({"model.arch=cnn", "model.channels=[4]", "model.hidden=[16]", "training.momentum=0.9",
                            "training.accumulate=3", "training.grad_clip=1", "training.augment_flip=true",
                            "training.epochs=2"},
                           1e-5);
}

namespace {

void check_divergence_leaves_pack(const std::vector<std::string>& overrides, double tolerance) {
  PackFixture f(overrides);
  const auto jobs = f.jobs(0, 4);
  auto runner = make_torch_runner({f.config, f.data, 1});
  ::setenv("LIRA_TEST_DIVERGE", "2", 1);  // model 2's weights become NaN after its first step
  const auto packed = runner->run_pack(jobs);
  CHECK_THROWS_WITH_AS(runner->run(jobs[2]), doctest::Contains("training loss became"), TrainError);
  ::unsetenv("LIRA_TEST_DIVERGE");
  REQUIRE(packed.size() == 4);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (i == 2) {  // a failed job, as alone; the scheduler retries it
      REQUIRE(std::holds_alternative<JobFailure>(packed[i]));
      const auto& failure = std::get<JobFailure>(packed[i]);
      CHECK(failure.model == jobs[i].model);
      CHECK(failure.message.find("training loss became") != std::string::npos);
      CHECK(failure.message.find("in a pack of 4") != std::string::npos);
      continue;
    }
    const auto& p = result_of(packed[i]);
    CHECK(p.pack == 4);
    const auto [diff, scale] = difference(runner->run(jobs[i]), p);
    CHECK(diff <= tolerance * scale);  // the others were not disturbed
  }
}

}  // namespace

TEST_CASE("a model whose loss stops being finite leaves its pack as a failed job") {
  check_divergence_leaves_pack({"model.arch=mlp", "model.hidden=[16]"}, 1e-5);
}

TEST_CASE("a diverging BatchNorm model leaves its pack without its NaN statistics reaching the others") {
  Float64 f64;
  check_divergence_leaves_pack({"model.arch=airbench", "model.airbench_widths=[8, 16, 16]", "training.momentum=0.9",
                                "training.epochs=2"},
                               1e-6);
}
