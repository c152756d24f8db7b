// GPU tests (CTest label `gpu`): training on CUDA with bf16 autocast and channels-last,
// against the same job on the CPU. Exits with 77 (CTest: skipped) when no GPU is visible.
#define DOCTEST_CONFIG_IMPLEMENT
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <variant>
#include <thread>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("lira-gpu-test-" + std::to_string(getpid()));
  Config config;
  std::shared_ptr<const Dataset> data;
  // cifar: 32x32 RGB images (CIFAR binary) for airbench94, whose recipe fixes the rate.
  explicit Fixture(const std::vector<std::string>& overrides, bool cifar = false) {
    fs::create_directories(dir);
    if (cifar) {
      lira::testing::write_synthetic_cifar10(dir.string(), 1200, 300);
    } else {
      lira::testing::write_synthetic_dataset(dir.string(), 1200, 300);
    }
    std::vector<std::string> ov{"data.path=" + dir.string(), cifar ? "data.dataset=cifar10" : "data.dataset=mnist",
                                "data.candidates=1000", "experiment.models=4", "training.epochs=10",
                                "training.batch_size=64"};
    if (!cifar) ov.push_back("training.lr=0.05");
    ov.insert(ov.end(), overrides.begin(), overrides.end());
    config = parse_config("", "gpu-test", ov);
    data = load_dataset(config.data);
  }
  ~Fixture() { fs::remove_all(dir); }
  JobAssignment job(int64_t model) const {
    const Plan plan(config.experiment.models, config.data.candidates, 0);
    const auto row = plan.keep_row(model);
    return {model, plan.model_seed(model), 0, {row.begin(), row.end()}};
  }
};

// The name is a C string, not a std::string: GCC 14's -Wdangling-reference flags a
// returned reference when any argument is a temporary, as a std::string from a literal is.
const std::vector<float>& values(const ModelResult& r, const char* name) {
  for (const auto& s : r.signals)
    if (s.name == name) return s.values;
  throw std::runtime_error(std::string("no signal ") + name);
}

double mean_member_gap(const ModelResult& r, const JobAssignment& job) {
  const auto& conf = values(r, "logit_confidence");
  const size_t a = conf.size() / job.keep_row.size();
  double in = 0, out = 0, n_in = 0, n_out = 0;
  for (size_t n = 0; n < job.keep_row.size(); ++n) {
    (job.keep_row[n] ? in : out) += conf[n * a];
    (job.keep_row[n] ? n_in : n_out) += 1;
  }
  return in / n_in - out / n_out;
}

}  // namespace

TEST_CASE("a CNN trains on CUDA with bf16 autocast and channels-last, as well as on the CPU") {
  Fixture gpu({"model.arch=cnn", "training.device=cuda", "training.augment_flip=true", "training.augment_crop=1"});
  Fixture cpu({"model.arch=cnn", "training.device=cpu", "training.augment_flip=true", "training.augment_crop=1"});
  const auto job = gpu.job(0);
  const auto rg = make_torch_runner({gpu.config, gpu.data, 4})->run(job);
  const auto rc = make_torch_runner({cpu.config, cpu.data, 4})->run(job);
  for (float v : values(rg, "logit_confidence")) REQUIRE(std::isfinite(v));
  MESSAGE("cuda: train acc " << rg.train_accuracy << ", test acc " << rg.test_accuracy << ", " << rg.train_seconds
                             << " s; cpu: " << rc.train_accuracy << ", " << rc.test_accuracy << ", "
                             << rc.train_seconds << " s");
  CHECK(rg.train_accuracy > 0.9);
  CHECK(rg.test_accuracy == doctest::Approx(rc.test_accuracy).epsilon(0.1));
  CHECK(mean_member_gap(rg, job) > 0);  // members more confident: the signal survives bf16 training
}

TEST_CASE("airbench (data-dependent whitening) and a wide ResNet train on CUDA") {
  for (const char* arch : {"airbench", "wrn16-4"}) {
    CAPTURE(arch);
    Fixture f({std::string("model.arch=") + arch, "training.device=cuda",
               "training.optimizer=sgd", "training.nesterov=true", "training.schedule=onecycle",
               "training.warmup=0.2", "training.label_smoothing=0.2", "training.ema=0.9", "queries.shift=1",
               "training.epochs=6"});
    const auto r = make_torch_runner({f.config, f.data, 4})->run(f.job(1));
    CHECK(values(r, "loss").size() == 1000 * 18);
    for (float v : values(r, "loss")) REQUIRE(std::isfinite(v));
    CHECK(r.test_accuracy > 0.5);
  }
}

TEST_CASE("two runners on one GPU (ranks_per_gpu 2) train side by side") {
  Fixture f({"model.arch=cnn", "training.device=cuda"});
  auto a = make_torch_runner({f.config, f.data, 2, 0});
  auto b = make_torch_runner({f.config, f.data, 2, 0});
  ModelResult ra, rb;
  std::thread ta([&] { ra = a->run(f.job(2)); });
  std::thread tb([&] { rb = b->run(f.job(3)); });
  ta.join();
  tb.join();
  CHECK(ra.train_accuracy > 0.9);
  CHECK(rb.train_accuracy > 0.9);
}

// Trains models 0-3 as one pack on CUDA and each alone; their logit-scaled confidences
// agree within `tolerance` of the largest.
void check_pack_on_cuda(const std::vector<std::string>& overrides, double tolerance, bool cifar = false) {
  Fixture f(overrides, cifar);
  auto runner = make_torch_runner({f.config, f.data, 4});
  std::vector<JobAssignment> jobs;
  for (int64_t m = 0; m < 4; ++m) jobs.push_back(f.job(m));
  const auto packed = runner->run_pack(jobs);
  REQUIRE(packed.size() == 4);
  for (size_t i = 0; i < jobs.size(); ++i) {
    REQUIRE(std::holds_alternative<ModelResult>(packed[i]));
    const auto& p = std::get<ModelResult>(packed[i]);
    const auto alone = runner->run(jobs[i]);
    const auto& a = values(alone, "logit_confidence");
    const auto& b = values(p, "logit_confidence");
    double diff = 0, scale = 0;
    for (size_t n = 0; n < a.size(); ++n) {
      diff = std::max(diff, static_cast<double>(std::fabs(a[n] - b[n])));
      scale = std::max(scale, static_cast<double>(std::fabs(a[n])));
    }
    MESSAGE("model " << i << ": max |difference| " << diff << " of scale " << scale << "; " << p.train_seconds
                     << " s per model in the pack, " << alone.train_seconds << " s alone");
    CHECK(diff <= tolerance * scale);
    CHECK(std::fabs(alone.test_accuracy - p.test_accuracy) <= 0.02);
  }
}

TEST_CASE("a pack of 4 CNNs on CUDA (groups=K convolutions) trains the models trained alone") {
  // fp32 (no bf16 autocast): the pack and the single jobs then differ by kernel summation
  // order only, although cuDNN's algorithms are not bitwise deterministic.
  check_pack_on_cuda({"model.arch=cnn", "training.device=cuda", "training.bf16=false", "training.channels_last=false",
                      "training.augment_flip=true", "parallel.models_per_job=4"},
                     1e-3);
}

TEST_CASE("packs of 4 BatchNorm networks on CUDA (BatchNorm over K C channels) train the models trained alone") {
  // float64, as the CPU tests: BatchNorm training amplifies float32 rounding (docs/training.md).
  torch::set_default_dtype(caffe2::TypeMeta::Make<double>());
  check_pack_on_cuda({"model.arch=airbench94", "training.device=cuda", "training.bf16=false",
                      "training.channels_last=false", "training.epochs=4.5", "training.batch_size=100",
                      "parallel.models_per_job=4"},
                     1e-6, true);
  check_pack_on_cuda({"model.arch=wrn", "model.depth=10", "model.width=2", "training.device=cuda",
                      "training.bf16=false", "training.channels_last=false", "training.momentum=0.9",
                      "training.epochs=3", "parallel.models_per_job=4"},
                     1e-6);
  torch::set_default_dtype(caffe2::TypeMeta::Make<float>());
}

int main(int argc, char** argv) {
  if (!torch::cuda::is_available()) {
    std::printf("skipped: no CUDA device visible (this libtorch: %s)\n",
                torch_info().cuda_compiled ? "built with CUDA" : "CPU only");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
