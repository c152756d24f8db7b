// Trains model 0 of a config through lira's job loop and dumps what an independent
// implementation needs to retrace it (tests/trainer/recipe_equivalence.sh):
//   recipe_steps DIR [--float64] --set key=value ...
// --float64 trains in float64 (torch's default dtype), so that the comparison sees the
// recipe's logic and not float32 rounding, which BatchNorm's bias gradients amplify.
// DIR/manifest.json names the recipe, the step counts and hyperparameters, the loss of
// every step, and raw little-endian tensors: init/<state> (when training starts),
// preinit/<state> (airbench94: before the whitening init), batch/<s>/{x,y} (the exact
// inputs of step s), final/<state>, and whiten_sample (airbench94's whitening images).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/config.hpp"
#include "data/dataset.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/job_loop.hpp"
#include "trainer/trainer.hpp"

namespace fs = std::filesystem;
using namespace lira;

namespace {

class Dumper final : public LoopObserver {
 public:
  explicit Dumper(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_ / "t"); }
  void built(Task& task) override {
    const auto state = task.state();
    for (const auto& [name, t] : state) write("init/" + name, t);
    const auto before = task.state_before_data_init();
    for (size_t i = 0; i < before.size(); ++i) write("preinit/" + state[i].first, before[i]);
  }
  void stepped(Task& task, int64_t step, double loss_sum, double items) override {
    const auto [x, y] = task.last_batch();
    write("batch/" + std::to_string(step) + "/x", x);
    write("batch/" + std::to_string(step) + "/y", y);
    losses_.push_back(sum_loss_ ? loss_sum : loss_sum / items);
  }
  void finished(Task& task) override {
    for (const auto& [name, t] : task.state()) write("final/" + name, t);
  }
  void write(const std::string& name, const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    const bool integer = !c.is_floating_point();
    const bool wide = c.scalar_type() == torch::kFloat64;
    const auto v = integer ? c.to(torch::kInt64) : c.to(wide ? torch::kFloat64 : torch::kFloat32);
    const std::string file = "t/" + std::to_string(files_++) + ".bin";
    std::ofstream out(dir_ / file, std::ios::binary);
    out.write(static_cast<const char*>(v.data_ptr()), static_cast<std::streamsize>(v.numel() * v.element_size()));
    std::ostringstream shape;
    for (int64_t d = 0; d < v.dim(); ++d) shape << (d ? "," : "") << v.size(d);
    entries_ << (files_ > 1 ? ",\n" : "") << "  {\"name\": \"" << name << "\", \"file\": \"" << file
             << "\", \"shape\": [" << shape.str() << "], \"dtype\": \"" << (integer ? "int64" : wide ? "float64" : "float32") << "\"}";
  }
  void manifest(const Config& c, int64_t examples, int64_t steps_per_epoch) {
    std::ofstream out(dir_ / "manifest.json");
    out.precision(17);
    out << "{\"recipe\": \"" << c.model.arch << "\", \"steps\": " << losses_.size()
        << ", \"steps_per_epoch\": " << steps_per_epoch << ", \"batch_size\": " << c.training.batch_size
        << ", \"epochs\": " << c.training.epochs << ", \"examples\": " << examples << ", \"lr\": " << c.training.lr
        << ", \"momentum\": " << c.training.momentum << ", \"weight_decay\": " << c.training.weight_decay
        << ", \"warmup\": " << c.training.warmup << ",\n \"losses\": [";
    for (size_t i = 0; i < losses_.size(); ++i) out << (i ? ", " : "") << losses_[i];
    out << "],\n \"tensors\": [\n" << entries_.str() << "]}\n";
  }
  bool sum_loss_ = false;

 private:
  fs::path dir_;
  int files_ = 0;
  std::ostringstream entries_;
  std::vector<double> losses_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [--set key=value]...\n", argv[0]);
    return 2;
  }
  std::vector<std::string> overrides;
  bool float64 = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--float64") float64 = true;
    else if (a == "--set" && i + 1 < argc) overrides.push_back(argv[++i]);
    else {
      std::fprintf(stderr, "recipe_steps: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (float64) torch::set_default_dtype(caffe2::TypeMeta::Make<double>());
  try {
    const auto config = parse_config("", "recipe_steps", overrides);
    const auto dataset = load_dataset(config.data);
    TrainerContext context{config, dataset, 1};
    torch::set_num_threads(1);
    auto task = make_classifier_task(context, torch::kCPU);
    const Plan plan(config.experiment.models, config.data.candidates, 0);
    const auto row = plan.keep_row(0);
    Dumper dump(argv[1]);
    const bool airbench94 = config.model.arch == "airbench94";
    dump.sum_loss_ = airbench94;
    LoopOptions options{&config.training, &config.model, torch::kCPU, 1, nullptr};
    options.observer = &dump;
    run_job(options, *task, {0, plan.model_seed(0), 0, {row.begin(), row.end()}});
    const int64_t n_in = task->examples(0), b = config.training.batch_size;
    if (airbench94) {
      // The normalized first 5000 IN images, computed here from the raw data.
      const auto& d = dataset->candidates;
      std::vector<int64_t> in;
      for (int64_t i = 0; i < d.count && static_cast<int64_t>(in.size()) < 5000; ++i)
        if (row[i]) in.push_back(i);
      const auto raw = torch::from_blob(const_cast<uint8_t*>(d.pixels.data()), {d.count, 3, 32, 32}, torch::kUInt8);
      const auto x = raw.index_select(0, torch::tensor(in)).to(torch::typeMetaToScalarType(torch::get_default_dtype())) *
                         torch::tensor(dataset->scale).view({1, 3, 1, 1}).to(torch::kFloat32) +
                     torch::tensor(dataset->shift).view({1, 3, 1, 1}).to(torch::kFloat32);
      dump.write("whiten_sample", x);
    }
    dump.manifest(config, n_in, airbench94 ? n_in / b : (n_in + b - 1) / b);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recipe_steps: %s\n", e.what());
    return 1;
  }
  return 0;
}
