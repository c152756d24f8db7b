// Tests of the libtorch JobRunner on a small synthetic dataset: shapes, learning,
// determinism across runner instances and job order, and failures.
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/errors.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("lira-trainer-test-" + std::to_string(getpid()));
  Config config;
  std::shared_ptr<const Dataset> data;
  Fixture(const std::vector<std::string>& overrides = {}) {
    fs::create_directories(dir);
    lira::testing::write_synthetic_dataset(dir.string(), 300, 100);
    std::vector<std::string> ov{"data.path=" + dir.string(), "data.candidates=200", "experiment.models=4",
                                "training.epochs=8", "training.lr=0.05"};
    // model.hidden only for the architectures that read it (others refuse it).
    bool reads_hidden = true;
    for (const auto& o : overrides)
      if (o.rfind("model.arch=", 0) == 0) reads_hidden = o == "model.arch=mlp" || o == "model.arch=cnn";
    if (reads_hidden) ov.push_back("model.hidden=[32]");
    ov.insert(ov.end(), overrides.begin(), overrides.end());
    config = parse_config("", "test", ov);
    data = load_dataset(config.data);
  }
  ~Fixture() { fs::remove_all(dir); }
  JobAssignment job(int64_t model) const {
    const Plan plan(config.experiment.models, config.data.candidates, 0);
    const auto row = plan.keep_row(model);
    return {model, plan.model_seed(model), 0, {row.begin(), row.end()}};
  }
};

// A C string, not a std::string: GCC 14's -Wdangling-reference flags a returned reference
// when any argument is a temporary, as a std::string made from a literal is.
const SignalArray& signal(const ModelResult& r, const char* name) {
  for (const auto& s : r.signals)
    if (s.name == name) return s;
  FAIL("no signal " << name);
  throw;
}

}  // namespace

TEST_CASE("a job returns finite signals of shape [N, A] and the model learns") {
  Fixture f;
  auto runner = make_torch_runner({f.config, f.data, 1});
  const auto r = runner->run(f.job(0));
  const auto& conf = signal(r, "logit_confidence");
  const auto& loss = signal(r, "loss");
  CHECK(conf.shape == std::vector<int64_t>{200, 2});
  CHECK(loss.values.size() == 400);
  for (size_t i = 0; i < conf.values.size(); ++i) {
    REQUIRE(std::isfinite(conf.values[i]));
    REQUIRE(loss.values[i] >= 0.0f);
  }
  CHECK(r.train_accuracy > 0.9);
  CHECK(r.test_accuracy > 0.5);
  CHECK(r.train_seconds > 0);
  // Members (trained on) have higher confidence on average than non-members.
  const auto job = f.job(0);
  double in = 0, out = 0;
  for (int64_t n = 0; n < 200; ++n) (job.keep_row[n] ? in : out) += conf.values[n * 2];
  CHECK(in > out);
}

TEST_CASE("bitwise identical signals whichever runner runs the job, in whatever order") {
  Fixture f;
  auto a = make_torch_runner({f.config, f.data, 1});
  auto b = make_torch_runner({f.config, f.data, 1});
  const auto a1 = a->run(f.job(1));
  const auto a2 = a->run(f.job(2));
  const auto b2 = b->run(f.job(2));  // b runs model 2 first
  const auto b1 = b->run(f.job(1));
  CHECK(signal(a1, "logit_confidence").values == signal(b1, "logit_confidence").values);
  CHECK(signal(a2, "loss").values == signal(b2, "loss").values);
  CHECK(signal(a1, "logit_confidence").values != signal(a2, "logit_confidence").values);
}

TEST_CASE("the cnn trains too") {
  Fixture f({"model.arch=cnn", "model.channels=[4, 8]", "training.epochs=2"});
  auto runner = make_torch_runner({f.config, f.data, 1});
  const auto r = runner->run(f.job(3));
  CHECK(signal(r, "logit_confidence").values.size() == 400);
}

TEST_CASE("a keep row of the wrong length is a TrainError") {
  Fixture f;
  auto runner = make_torch_runner({f.config, f.data, 1});
  auto job = f.job(0);
  job.keep_row.pop_back();
  CHECK_THROWS_WITH_AS(runner->run(job), doctest::Contains("keep row of 199"), TrainError);
}

TEST_CASE("recipes: adamw, cosine with warmup, label smoothing, EMA, augmentation, all deterministic") {
  Fixture f({"model.arch=cnn", "model.channels=[4]", "model.hidden=[16]", "training.optimizer=adamw",
             "training.lr=0.01", "training.weight_decay=0.05", "training.schedule=cosine", "training.warmup=0.1",
             "training.label_smoothing=0.1", "training.ema=0.9", "training.augment_flip=true",
             "training.augment_crop=1", "training.epochs=15", "training.batch_size=32", "queries.shift=1"});
  auto a = make_torch_runner({f.config, f.data, 1});
  auto b = make_torch_runner({f.config, f.data, 1});
  const auto ra = a->run(f.job(1));
  const auto rb = b->run(f.job(1));
  CHECK(signal(ra, "logit_confidence").shape == std::vector<int64_t>{200, 18});
  CHECK(signal(ra, "logit_confidence").values == signal(rb, "logit_confidence").values);
  for (float v : signal(ra, "loss").values) REQUIRE(std::isfinite(v));
  CHECK(ra.test_accuracy > 0.3);
}

TEST_CASE("training.device: cuda without CUDA is a clear ConfigError") {
  if (torch_info().cuda_available) return;  // only meaningful without a GPU
  Fixture f({"training.device=cuda"});
  CHECK_THROWS_WITH_AS(make_torch_runner({f.config, f.data, 1}), doctest::Contains("training.device is cuda"),
                       ConfigError);
}

#ifdef LIRA_TEST_MODELS_DIR
TEST_CASE("torchscript models train from C++: scripted with BatchNorm, and traced") {
  const std::string dir = LIRA_TEST_MODELS_DIR;
  Fixture f({"model.arch=torchscript", "model.torchscript_path=" + dir + "/tiny_cnn.pt", "training.epochs=3"});
  auto runner = make_torch_runner({f.config, f.data, 1});
  const auto r = runner->run(f.job(0));
  CHECK(r.train_accuracy > 0.5);
  // Same job again: same signals (the saved weights are reloaded for every job).
  CHECK(signal(runner->run(f.job(0)), "loss").values == signal(r, "loss").values);
  // BatchNorm with batch statistics at inference (the reference code's mode) differs.
  Fixture g({"model.arch=torchscript", "model.torchscript_path=" + dir + "/tiny_cnn.pt", "training.epochs=3",
             "queries.batchnorm=train"});
  CHECK(signal(make_torch_runner({g.config, g.data, 1})->run(g.job(0)), "loss").values != signal(r, "loss").values);
  // Re-initialized per model seed: different models start differently.
  Fixture h({"model.arch=torchscript", "model.torchscript_path=" + dir + "/tiny_mlp_traced.pt", "training.epochs=2",
             "model.torchscript_reinit=true"});
  auto traced = make_torch_runner({h.config, h.data, 1});
  CHECK(traced->run(h.job(0)).signals.size() == 2);
}

TEST_CASE("a TorchScript file that is missing or has the wrong output is refused before training") {
  const std::string dir = LIRA_TEST_MODELS_DIR;
  Fixture f({"model.arch=torchscript", "model.torchscript_path=" + dir + "/wrong_classes.pt"});
  CHECK_THROWS_WITH_AS(make_torch_runner({f.config, f.data, 1})->run(f.job(0)), doctest::Contains("expected [2, 10]"),
                       DataError);
  Fixture g({"model.arch=torchscript", "model.torchscript_path=" + dir + "/none.pt"});
  CHECK_THROWS_WITH_AS(make_torch_runner({g.config, g.data, 1})->run(g.job(0)),
                       doctest::Contains("cannot load the TorchScript model"), DataError);
}
#endif
