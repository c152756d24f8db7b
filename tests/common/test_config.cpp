// Tests of the config module: defaults, parsing, errors with locations, overrides.
#include <doctest/doctest.h>

#include <string>

#include "common/config.hpp"
#include "common/config_schema.hpp"
#include "common/errors.hpp"
#include "common/recipes.hpp"

using lira::ConfigError;
using lira::parse_config;
using lira::recipes;
using lira::to_yaml;
namespace schema = lira::schema;

namespace {
// The message of the ConfigError that parsing `yaml` throws ("" if none).
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "test.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("an empty config resolves to the declared defaults") {
  const auto c = parse_config("", "empty.yaml");
  CHECK(c.experiment.name == "quickstart");
  CHECK(c.experiment.models == 16);
  CHECK(c.experiment.output == "results/quickstart.h5");
  CHECK(c.data.dataset == "fashion-mnist");
  CHECK(c.model.hidden == std::vector<int64_t>{256});
  CHECK(c.training.lr == doctest::Approx(0.1));
  CHECK(c.query_names() == std::vector<std::string>{"identity", "mirror"});
}

TEST_CASE("values are read with their types") {
  const auto c = parse_config(R"(
experiment: {name: demo, seed: 7, models: 64}
data: {candidates: 1000}
model: {arch: cnn, hidden: [128, 64], channels: [8]}
training: {epochs: 3, lr: 1e-3, optimizer: adam, nesterov: false}
queries: {mirror: false}
)",
                              "t.yaml");
  CHECK(c.experiment.seed == 7);
  CHECK(c.experiment.output == "results/demo.h5");
  CHECK(c.model.arch == "cnn");
  CHECK(c.model.hidden == std::vector<int64_t>{128, 64});
  CHECK(c.training.lr == doctest::Approx(1e-3));
  CHECK(c.training.optimizer == "adam");
  CHECK(c.query_names() == std::vector<std::string>{"identity"});
}

TEST_CASE("an unknown key names the key, its line and a suggestion") {
  const auto msg = error_of("experiment:\n  name: x\ntraining:\n  epoch: 3\n");
  CHECK(contains(msg, "test.yaml:4:3"));
  CHECK(contains(msg, "unknown key 'training.epoch'"));
  CHECK(contains(msg, "did you mean 'training.epochs'?"));
}

TEST_CASE("an unknown section gets a suggestion") {
  const auto msg = error_of("trainig:\n  epochs: 3\n");
  CHECK(contains(msg, "unknown section 'trainig'"));
  CHECK(contains(msg, "did you mean 'training'?"));
}

TEST_CASE("wrong types and out-of-range values name the key and the line") {
  CHECK(contains(error_of("training:\n  epochs: ten\n"), "test.yaml:2:11: training.epochs: expected a number"));
  CHECK(contains(error_of("training:\n  epochs: 0\n"), "training.epochs: 0 is out of range [0.01, 1e+05]"));
  CHECK(contains(error_of("training:\n  lr: -1\n"), "training.lr: -1 is out of range"));
  CHECK(contains(error_of("training:\n  batch_size: 2.5\n"), "expected an integer"));
  CHECK(contains(error_of("queries:\n  mirror: maybe\n"), "queries.mirror: expected true or false"));
  CHECK(contains(error_of("model:\n  arch: resnet\n"), "model.arch: 'resnet' is not one of mlp | cnn"));
  CHECK(contains(error_of("model:\n  hidden: [256, x]\n"), "expected a list of integers"));
  CHECK(contains(error_of("model:\n  hidden: 256\n"), "expected a list of integers"));
}

TEST_CASE("every problem is reported at once") {
  const auto msg = error_of("training:\n  epochs: 0\n  lr: x\nfoo: 1\n");
  CHECK(contains(msg, "3 problems"));
}

TEST_CASE("duplicate keys and sections are errors, not silently last-wins") {
  CHECK(contains(error_of("training:\n  epochs: 1\n  epochs: 2\n"), "appears twice"));
}

TEST_CASE("malformed YAML reports the position") {
  const auto msg = error_of("training:\n  epochs: [1, 2\n");
  CHECK(contains(msg, "malformed YAML in test.yaml:"));
}

TEST_CASE("the top level must be a map") {
  CHECK(contains(error_of("- a\n- b\n"), "the top level must be a map"));
}

TEST_CASE("rules across keys: odd model counts, no query") {
  CHECK(contains(error_of("experiment:\n  models: 15\n"), "experiment.models: 15 is odd"));
  CHECK(contains(error_of("experiment:\n  models: 1\n"), "experiment.models: 1 is out of range"));
  CHECK(contains(error_of("queries: {identity: false, mirror: false}\n"), "every query is disabled"));
  CHECK(contains(error_of("training: {nesterov: true, momentum: 0}\n"), "training.nesterov: needs"));
}

TEST_CASE("--set overrides file values and is checked like them") {
  const auto c = parse_config("training:\n  epochs: 3\n", "t.yaml",
                              {"training.epochs=5", "model.hidden=[32, 16]", "experiment.output=out/x.h5"});
  CHECK(c.training.epochs == 5);
  CHECK(c.model.hidden == std::vector<int64_t>{32, 16});
  CHECK(c.experiment.output == "out/x.h5");
  CHECK(contains(error_of("", {"training.epoch=5"}), "did you mean 'training.epochs'?"));
  CHECK(contains(error_of("", {"epochs=5"}), "expected section.key=value"));
  CHECK(contains(error_of("", {"training.epochs=abc"}), "--set: training.epochs: expected a number"));
}

TEST_CASE("--set takes text values verbatim: a path with ' #', quotes or a newline stays that path") {
  const std::string odd = "res #1/'q' \"d\" $(x)\nline2.h5";
  const auto c = parse_config("", "t", {"experiment.output=" + odd, "experiment.name= spaced "});
  CHECK(c.experiment.output == odd);
  CHECK(c.experiment.name == " spaced ");
  // The resolved YAML round-trips such values.
  CHECK(parse_config(lira::to_yaml(c), "resolved").experiment.output == odd);
}

TEST_CASE("the resolved YAML parses back to the same config") {
  const auto c = parse_config("experiment: {name: 'we\"ird: $(touch x)', seed: 3}\ntraining: {lr: 0.0125}\n", "t");
  const auto yaml = lira::to_yaml(c);
  const auto back = parse_config(yaml, "resolved");
  CHECK(lira::to_yaml(back) == yaml);
  CHECK(back.experiment.name == c.experiment.name);
  CHECK(back.training.lr == c.training.lr);
}

TEST_CASE("a missing config file is a clear error") {
  CHECK_THROWS_WITH_AS(lira::load_config("/nonexistent/x.yaml"),
                       doctest::Contains("cannot read config file '/nonexistent/x.yaml'"), ConfigError);
}

TEST_CASE("the key documentation lists every key") {
  const auto md = lira::keys_markdown();
  for (const char* key : {"experiment.models", "data.candidates", "training.lr", "queries.mirror"})
    CHECK(contains(md, std::string("`") + key + "`"));
}

TEST_CASE("training.recipe: auto resolves by network, official fixes its values, a fixed key is refused") {
  // Configs written before the key: model.arch airbench94 means its published recipe.
  CHECK(parse_config("model: {arch: airbench94}\ndata: {dataset: cifar10}", "t").training.recipe == "airbench94");
  CHECK(parse_config("model: {arch: wrn28-2}", "t").training.recipe == "generic");
  // The network under training.* keys: allowed now that the recipe is its own key.
  CHECK(parse_config("model: {arch: airbench94}\ntraining: {recipe: generic, lr: 0.3}", "t").training.lr == 0.3);
  const auto official = parse_config("model: {arch: wrn28-2}\ntraining: {recipe: official, epochs: 100}", "t");
  CHECK(official.training.recipe == "official");
  CHECK(official.training.lr == 0.1);
  CHECK(official.training.weight_decay == 5e-4);
  CHECK(official.training.schedule == "official");
  CHECK(official.training.warmup == 0.01);
  CHECK(official.training.augment_crop == 4);
  CHECK(official.training.augment_flip);
  CHECK(official.training.epochs == 100);
  // Its resolved config, stored with the results, reads back the same (a resume).
  CHECK(parse_config(to_yaml(official), "t").training.lr == 0.1);
  CHECK_THROWS_WITH_AS(parse_config("training: {recipe: official, lr: 0.2}", "t"),
                       doctest::Contains("training.lr: training.recipe official fixes it"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_config("model: {arch: airbench94}\ntraining: {momentum: 0.5}", "t"),
                       doctest::Contains("training.momentum: training.recipe airbench94 fixes it"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_config("training: {recipe: airbench94}", "t"),
                       doctest::Contains("is written for model.arch airbench94"), ConfigError);
  // A written key is refused even at its default, which the preset would override.
  CHECK_THROWS_WITH_AS(parse_config("training: {recipe: official, augment_flip: false}", "t"),
                       doctest::Contains("training.augment_flip: training.recipe official fixes it"), ConfigError);
  // Its flip and crop are for images: csv and text data are refused before they could be.
  CHECK_THROWS_WITH_AS(parse_config("data: {dataset: fortunes}\nmodel: {arch: gpt}\ntraining: {recipe: official}", "t"),
                       doctest::Contains("trains image classifiers"), ConfigError);
}

TEST_CASE("training.recipe's choices are auto and the recipes of common/recipes.cpp, in order") {
  const auto* key = schema::find_key("training", "recipe");
  REQUIRE(key != nullptr);
  const auto& choice = std::get<schema::ChoiceKey>(key->kind);
  std::vector<std::string> want{"auto"};
  for (const auto& r : recipes()) want.emplace_back(r.name);
  std::vector<std::string> have(choice.choices.begin(), choice.choices.end());
  CHECK(have == want);
}
