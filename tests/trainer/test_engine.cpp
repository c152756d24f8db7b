// Tests of the one training engine: every training.* and model.* key is applied by each
// task that can apply it or refused naming the key and the task; and the bugs fixed in
// the engine stay fixed (tied parameters stepped once, packed records at their own
// positions, evaluation leaving BatchNorm's statistics alone).
#include "../torch_doctest.hpp"  // first: see there
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "../tools/idx_writer.hpp"
#include "common/config.hpp"
#include "common/config_schema.hpp"
#include "common/errors.hpp"
#include "orchestrator/plan.hpp"
#include "trainer/job_loop.hpp"
#include "trainer/lm.hpp"
#include "trainer/recipe.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"

using namespace lira;
namespace fs = std::filesystem;

namespace {

const std::string kModels = LIRA_TEST_MODELS_DIR;

// A classifier dataset (synthetic IDX images) and a text dataset (one record per line).
struct Data {
  fs::path dir = fs::temp_directory_path() / ("lira-engine-test-" + std::to_string(getpid()));
  Data() {
    fs::create_directories(dir / "idx");
    lira::testing::write_synthetic_dataset((dir / "idx").string(), 300, 100);
    std::ofstream text(dir / "lines.txt");
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"};
    for (int i = 0; i < 80; ++i) {
      for (int w = 0; w < 3 + i % 4; ++w) text << (w ? " " : "") << words[(i * 7 + w * 3) % 10];
      text << "\n";
    }
  }
  ~Data() { fs::remove_all(dir); }
};
const Data& data() {
  static const Data d;
  return d;
}

std::vector<std::string> task_base(bool lm) {
  if (lm)
    return {"data.dataset=text", "data.path=" + (data().dir / "lines.txt").string(), "data.candidates=40",
            "data.test_examples=20", "data.max_tokens=16", "experiment.models=2", "training.epochs=2",
            "training.batch_size=4", "training.lr=0.05", "training.threads=1", "queries.mirror=false"};
  return {"data.path=" + (data().dir / "idx").string(), "data.candidates=200", "experiment.models=2",
          "training.epochs=2", "training.batch_size=32", "training.lr=0.05", "training.threads=1"};
}

const std::map<std::string, std::vector<std::string>>& archs() {
  static const std::map<std::string, std::vector<std::string>> a = {
      {"mlp", {"model.arch=mlp", "model.hidden=[32]"}},
      {"cnn", {"model.arch=cnn", "model.channels=[4]", "model.hidden=[16]"}},
      {"wrn", {"model.arch=wrn", "model.depth=10", "model.width=1"}},
      {"airbench", {"model.arch=airbench", "model.airbench_widths=[8,16,16]"}},
      {"ts-cnn", {"model.arch=torchscript", "model.torchscript_path=" + kModels + "/tiny_cnn.pt"}},
      {"gpt", {"model.arch=gpt", "model.layers=1", "model.heads=2", "model.embed=16", "model.context=32"}},
      {"ts-lm", {"model.arch=torchscript", "model.torchscript_path=" + kModels + "/untied_lm.pt", "model.context=32"}},
  };
  return a;
}

// One key's check: `value` set on top of a task's base with architecture `arch`. The
// value differs from both the key's default and the base's, so a key that is ignored
// shows as "changed nothing" and a key that does not apply must be refused.
struct KeyCase {
  std::string key, value, classifier_arch, lm_arch;
  std::vector<std::string> extra = {};  // more base keys, e.g. a weight decay for decay_all
  std::string lm_value = "";            // the value for the language model, when not `value`
};

const std::vector<KeyCase>& key_cases() {
  static const std::vector<KeyCase> cases = {
      {"model.arch", "cnn", "mlp", "gpt"},
      {"model.hidden", "[16]", "mlp", "gpt"},
      {"model.channels", "[6]", "cnn", "gpt"},
      {"model.depth", "16", "wrn", "gpt"},
      {"model.width", "4", "wrn", "gpt"},
      {"model.dropout", "0.3", "wrn", "gpt"},
      {"model.norm", "group", "wrn", "gpt"},
      {"model.airbench_widths", "[8,16,24]", "airbench", "gpt"},
      {"model.torchscript_path", kModels + "/tiny_mlp_traced.pt", "ts-cnn", "ts-lm", {}, kModels + "/tied_lm.pt"},
      {"model.torchscript_reinit", "true", "ts-cnn", "ts-lm"},
      {"model.layers", "3", "mlp", "gpt"},
      {"model.heads", "8", "mlp", "gpt"},
      {"model.embed", "32", "mlp", "gpt"},
      {"model.context", "16", "mlp", "gpt"},
      {"model.job_seconds", "1", "mlp", "gpt"},
      {"model.synthetic_failure_rate", "0.5", "mlp", "gpt"},
      {"model.synthetic_slow_fraction", "0.5", "mlp", "gpt"},
      {"model.synthetic_slowdown", "8", "mlp", "gpt"},
      {"training.recipe", "official", "mlp", "gpt"},
      {"training.epochs", "3", "mlp", "gpt"},
      {"training.batch_size", "16", "mlp", "gpt"},
      {"training.optimizer", "adamw", "mlp", "gpt"},
      {"training.lr", "0.01", "mlp", "gpt"},
      {"training.momentum", "0.5", "mlp", "gpt"},
      {"training.nesterov", "true", "mlp", "gpt"},
      {"training.weight_decay", "0.01", "mlp", "gpt"},
      {"training.decay_all", "true", "mlp", "gpt", {"training.weight_decay=0.05"}},
      {"training.schedule", "cosine", "mlp", "gpt"},
      {"training.warmup", "0.3", "mlp", "gpt"},
      {"training.label_smoothing", "0.1", "mlp", "gpt"},
      {"training.ema", "0.9", "mlp", "gpt"},
      {"training.augment_flip", "true", "mlp", "gpt"},
      {"training.augment_crop", "2", "mlp", "gpt"},
      {"training.grad_clip", "0.5", "mlp", "gpt"},
      {"training.accumulate", "2", "mlp", "gpt"},
      {"training.channels_last", "false", "mlp", "gpt"},  // refused: no convolutions to lay out
  };
  return cases;
}

// Keys that change where or how fast training runs, not what it computes on this CPU.
const std::set<std::string> kDeviceKeys = {"training.threads", "training.device", "training.bf16"};

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<float> confidences(const std::vector<std::string>& overrides) {
  const auto config = parse_config("", "test", overrides);
  auto dataset = load_dataset(config.data);
  auto runner = make_torch_runner({config, dataset, 1});
  const Plan plan(config.experiment.models, config.data.candidates, 0);
  const auto row = plan.keep_row(0);
  const auto r = runner->run({0, plan.model_seed(0), 0, {row.begin(), row.end()}});
  for (const auto& s : r.signals)
    if (s.name == "logit_confidence") return s.values;
  FAIL("no logit_confidence");
  return {};
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

}  // namespace

TEST_CASE("every training.* and model.* key is covered by this test") {
  std::set<std::string> covered(kDeviceKeys);
  for (const auto& c : key_cases()) covered.insert(c.key);
  for (const auto& k : schema::keys()) {
    const std::string section = k.section;
    if (section != "training" && section != "model") continue;
    CHECK_MESSAGE(covered.count(k.dotted()) == 1, k.dotted() << " has no case in key_cases(): add one");
  }
}

TEST_CASE("each key is applied by every task that can apply it, or refused naming the key and the task") {
  std::map<std::vector<std::string>, std::vector<float>> base_cache;
  for (const auto& c : key_cases()) {
    for (const bool lm : {false, true}) {
      const auto& arch = archs().at(lm ? c.lm_arch : c.classifier_arch);
      const auto base = joined(joined(task_base(lm), arch), c.extra);
      const auto changed = joined(base, {c.key + "=" + (lm && !c.lm_value.empty() ? c.lm_value : c.value)});
      CAPTURE(c.key);
      CAPTURE(lm);
      try {
        parse_config("", "test", changed);
      } catch (const ConfigError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(c.key) != std::string::npos, what);
        continue;
      }
      if (!base_cache.count(base)) base_cache[base] = confidences(base);
      const auto after = confidences(changed);
      CHECK_MESSAGE(max_difference(base_cache[base], after) > 0, c.key << "=" << c.value << " changed nothing for "
                                                                       << std::string(lm ? "the language model" : "the classifier"));
    }
  }
}

TEST_CASE("grad_clip 1e-9 leaves the weights almost at their initial values, for both tasks") {
  for (const bool lm : {false, true}) {
    const auto base = joined(task_base(lm), archs().at(lm ? "gpt" : "mlp"));
    const auto untrained = confidences(joined(base, {"training.lr=0"}));
    const auto clipped = confidences(joined(base, {"training.grad_clip=1e-9"}));
    const auto trained = confidences(base);
    CAPTURE(lm);
    CHECK(max_difference(untrained, clipped) < 1e-4);
    CHECK(max_difference(untrained, trained) > 1e-2);
  }
}

namespace {

// A task that only holds parameters: what the recipe sees of a model.
class ParameterTask final : public Task {
 public:
  explicit ParameterTask(NamedTensors params) : params_(std::move(params)) { width_ = 1; }
  const char* name() const override { return "parameters"; }
  int64_t candidates() const override { return 0; }
  void build(const std::vector<Lane>&) override {}
  NamedTensors parameters() override { return params_; }
  std::vector<torch::Tensor> buffers() override { return {}; }
  void set_training(bool) override {}
  int64_t begin_epoch(int64_t, int64_t) override { return 0; }
  StepLoss loss(const std::vector<int64_t>&, int, int) override { return {}; }
  void evaluate(const std::vector<const std::vector<uint8_t>*>&, const std::vector<ModelResult*>&) override {}

 private:
  NamedTensors params_;
};

}  // namespace

TEST_CASE("a TorchScript LM with tied embedding and output steps like PyTorch's AdamW (each tensor once)") {
  ModelConfig m;
  m.arch = "torchscript";
  m.torchscript_path = kModels + "/tied_lm.pt";
  torch::manual_seed(0);
  auto model = make_lm_model(m, 257, torch::kCPU);
  const auto listed = model->named_parameters();
  const auto params = unique_parameters(listed);
  CHECK(listed.size() == 4);  // emb.weight, lin.weight, lin.bias, head.weight (= emb.weight)
  REQUIRE(params.size() == 3);
  TrainingConfig t = default_config().training;
  t.optimizer = "adamw";
  t.lr = 0.01;
  t.weight_decay = 0.1;
  ParameterTask task(params);
  auto recipe = make_recipe(t, m, task);
  const auto idx = (torch::arange(12, torch::kInt64).view({2, 6}) * 7).remainder(257);
  model->set_training(true);
  const auto logits = model->forward(idx, {}).slice(1, 0, -1);
  const auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 257}), idx.slice(1, 1).reshape({-1}));
  recipe->before_step({LaneStep{true, 0, 1, -1.0, 0}});
  recipe->zero_grad();
  loss.backward();
  recipe->step();
  std::ifstream in(kModels + "/tied_lm_step.bin", std::ios::binary);
  REQUIRE(in);
  for (const char* name : {"emb.weight", "lin.weight", "lin.bias"}) {
    torch::Tensor p;
    for (const auto& [n, v] : params)
      if (n == name) p = v;
    REQUIRE(p.defined());
    std::vector<float> expected(static_cast<size_t>(p.numel()));
    in.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * sizeof(float)));
    REQUIRE(in);
    const auto want = torch::from_blob(expected.data(), p.sizes(), torch::kFloat32);
    CAPTURE(name);
    CHECK((p.detach() - want).abs().max().item<double>() < 1e-6);
  }
}

TEST_CASE("a record packed after others gets the logits it gets alone (positions restart per record)") {
  torch::manual_seed(3);
  ModelConfig m;
  m.layers = 1, m.heads = 2, m.embed = 16, m.context = 32;
  Gpt net(m, 257);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto a = torch::randint(0, 256, {1, 10}, torch::kInt64), b = torch::randint(0, 256, {1, 8}, torch::kInt64);
  const auto packed = torch::cat({a, b, torch::zeros({1, 6}, torch::kInt64)}, 1);
  const auto ids = torch::cat({torch::zeros({1, 10}, torch::kInt64), torch::ones({1, 8}, torch::kInt64),
                               torch::full({1, 6}, -1, torch::kInt64)},
                              1);
  const auto together = net->forward(packed, ids);
  const auto alone = net->forward(b, torch::zeros({1, 8}, torch::kInt64));
  CHECK((together.slice(1, 10, 18) - alone).abs().max().item<double>() < 1e-5);
  const auto first = net->forward(a, torch::zeros({1, 10}, torch::kInt64));
  CHECK((together.slice(1, 0, 10) - first).abs().max().item<double>() < 1e-5);
}

TEST_CASE("queries.batchnorm train: evaluation leaves BatchNorm's running statistics as training left them") {
  for (const std::string mode : {"train", "eval"}) {
    TrainerContext context;
    context.config = parse_config("", "test", joined(joined(task_base(false), archs().at("ts-cnn")),
                                                     {"queries.batchnorm=" + mode, "training.epochs=3"}));
    context.dataset = load_dataset(context.config.data);
    auto task = make_classifier_task(context, torch::kCPU);
    LoopOptions options{&context.config.training, &context.config.model, torch::kCPU, 1, nullptr};
    const Plan plan(2, 200, 0);
    const auto row = plan.keep_row(0);
    const JobAssignment job{0, plan.model_seed(0), 0, {row.begin(), row.end()}};
    const auto first = run_job(options, *task, job);  // trains, then evaluates
    std::vector<torch::Tensor> stats;
    for (auto& b : task->buffers()) stats.push_back(b.clone());
    ModelResult again;
    task->evaluate({&job.keep_row}, {&again});
    CAPTURE(mode);
    const auto now = task->buffers();
    REQUIRE(now.size() == stats.size());
    REQUIRE(!stats.empty());
    for (size_t i = 0; i < stats.size(); ++i) CHECK(torch::equal(now[i], stats[i]));
    CHECK(again.test_accuracy == first.test_accuracy);
    CHECK(again.signals[0].values == first.signals[0].values);
  }
}

TEST_CASE("per-token statistics of a large vocabulary (the CPU's fused pass) equal a direct float64 computation") {
  torch::manual_seed(5);
  const int64_t V = 6000;
  const auto logits = torch::randn({5, V}) * 4.0;
  const auto targets = torch::randint(0, V, {5}, torch::kInt64);
  const auto s = token_stats(logits, targets);
  const auto z = logits.to(torch::kFloat64);
  const auto logp = torch::log_softmax(z, -1);
  const auto p = logp.exp();
  const auto mu = (p * logp).sum(-1);
  const auto sigma = ((p * logp * logp).sum(-1) - mu * mu).sqrt();
  const auto lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
  CHECK((s.logprob - lp).abs().max().item<double>() < 1e-12);
  CHECK((s.mu - mu).abs().max().item<double>() < 1e-12);
  CHECK((s.sigma - sigma).abs().max().item<double>() < 1e-9);
}
