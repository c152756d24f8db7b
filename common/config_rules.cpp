// The rules that span several keys (config_rules.hpp): which keys each task reads, and
// the combinations that cannot work, each refused with what to change.
#include "config_rules.hpp"

#include <string>
#include <vector>

#include "config_schema.hpp"
#include "errors.hpp"
#include "recipes.hpp"

namespace lira {
namespace {

using schema::Key;

// Keys that only some architectures, tasks or optimizers read. A key that differs from
// its default where nothing reads it is an error naming the key and the task: a setting
// that silently does nothing costs a week of GPU time as surely as a typo. (Keys at their
// default pass: the resolved config that every rank parses back holds every key.)
struct KeyUse {
  const char* key;  // "section.name"
  bool (*applies)(const Config& c);
  const char* applies_to;
};

// Whether `key` holds another value than its declared default in `c` (non-const: the
// field accessors take references).
bool differs_from_default(const Key& key, Config& copy) {
  return std::visit(
      [&](const auto& k) -> bool {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, schema::TextKey> || std::is_same_v<K, schema::ChoiceKey>)
          return k.field(copy) != std::string(k.def);
        else
          return k.field(copy) != k.def;
      },
      key.kind);
}

bool arch_in(const Config& c, std::initializer_list<const char*> archs) {
  for (const char* a : archs)
    if (c.model.arch == a) return true;
  return false;
}


constexpr const char* kDpOn = "DP-SGD (dp.noise_multiplier or dp.target_epsilon > 0)";

const std::vector<KeyUse>& key_uses() {
  static const std::vector<KeyUse> uses = {
      {"model.hidden", [](const Config& c) { return arch_in(c, {"mlp", "cnn"}); }, "model.arch mlp and cnn"},
      {"model.channels", [](const Config& c) { return arch_in(c, {"cnn"}); }, "model.arch cnn"},
      {"model.depth", [](const Config& c) { return arch_in(c, {"wrn"}); }, "model.arch wrn"},
      {"model.width", [](const Config& c) { return arch_in(c, {"wrn"}); }, "model.arch wrn"},
      {"model.dropout", [](const Config& c) { return arch_in(c, {"wrn", "wrn28-2", "wrn16-4"}); }, "the wide ResNets"},
      {"model.norm", [](const Config& c) { return arch_in(c, {"wrn", "wrn28-2", "wrn16-4", "resnet18"}); },
       "the wide ResNets and resnet18"},
      {"model.airbench_widths", [](const Config& c) { return arch_in(c, {"airbench"}); }, "model.arch airbench"},
      {"model.torchscript_path", [](const Config& c) { return arch_in(c, {"torchscript"}); }, "model.arch torchscript"},
      {"model.torchscript_reinit", [](const Config& c) { return arch_in(c, {"torchscript"}); }, "model.arch torchscript"},
      {"model.layers", [](const Config& c) { return arch_in(c, {"gpt"}); }, "model.arch gpt"},
      {"model.heads", [](const Config& c) { return arch_in(c, {"gpt"}); }, "model.arch gpt"},
      {"model.embed", [](const Config& c) { return arch_in(c, {"gpt"}); }, "model.arch gpt"},
      {"model.context", [](const Config& c) { return c.data.is_text(); }, "language models (gpt, or torchscript on text)"},
      {"model.job_seconds", [](const Config& c) { return arch_in(c, {"synthetic"}); }, "model.arch synthetic"},
      {"model.synthetic_failure_rate", [](const Config& c) { return arch_in(c, {"synthetic"}); }, "model.arch synthetic"},
      {"model.synthetic_slow_fraction", [](const Config& c) { return arch_in(c, {"synthetic"}); }, "model.arch synthetic"},
      {"model.synthetic_slowdown", [](const Config& c) { return arch_in(c, {"synthetic"}); }, "model.arch synthetic"},
      {"training.momentum", [](const Config& c) { return c.training.optimizer == "sgd"; }, "training.optimizer sgd"},
      {"training.nesterov", [](const Config& c) { return c.training.optimizer == "sgd"; }, "training.optimizer sgd"},
      {"dp.max_grad_norm", [](const Config& c) { return c.dp.enabled(); }, kDpOn},
      {"dp.delta", [](const Config& c) { return c.dp.enabled(); }, kDpOn},
      {"dp.clipping", [](const Config& c) { return c.dp.enabled(); }, kDpOn},
      {"data.canary_kind", [](const Config& c) { return c.data.canaries > 0; }, "data.canaries > 0"},
      {"defense.validation_examples", [](const Config& c) { return c.defense.early_stopping > 0; },
       "defense.early_stopping > 0"},
      {"training.channels_last", [](const Config& c) { return !c.data.is_text() && c.data.dataset != "csv" && c.model.arch != "mlp"; },
       "convolutional classifiers on images"},
  };
  return uses;
}

std::string task_of(const Config& c) {
  if (c.model.arch == "synthetic") return "the synthetic workload";
  return std::string(c.data.is_text() ? "the language-model task" : "the classifier task") + " (model.arch " +
         c.model.arch + ", training.optimizer " + c.training.optimizer + ")";
}

std::vector<std::string> unused_key_errors(const Config& c) {
  std::vector<std::string> errors;
  Config copy = c;
  for (const auto& u : key_uses()) {
    const std::string dotted = u.key;
    const auto dot = dotted.find('.');
    const Key* key = schema::find_key(dotted.substr(0, dot), dotted.substr(dot + 1));
    if (!key) throw Error("internal: key_uses() names '" + dotted + "', which the key table does not declare");
    if (differs_from_default(*key, copy) && !u.applies(c))
      errors.push_back(std::string(u.key) + ": set, but " + task_of(c) + " does not use it; it applies to " +
                       u.applies_to + ". Remove it, or leave it at its default");
  }
  return errors;
}

// A key the recipe fixes, set to another value than the recipe's: the recipe would
// silently override it, so it is refused. The recipe's value is its preset's, or the key's
// default when it has none (airbench94 reads none of them). Without the set of written
// keys, a value equal to the default counts as not set.
std::vector<std::string> recipe_key_errors(const Config& c, const std::set<std::string>* written) {
  std::vector<std::string> errors;
  const auto& recipe = recipe_of(c);
  Config expected = c, copy = c, defaults = c;
  std::vector<const Key*> keys;
  for (const auto& dotted : recipe.fixes) {
    const auto dot = dotted.find('.');
    const Key* key = schema::find_key(dotted.substr(0, dot), dotted.substr(dot + 1));
    if (!key) throw Error("internal: recipe " + std::string(recipe.name) + " fixes '" + dotted + "', which the key table does not declare");
    std::visit([&](const auto& k) { k.field(expected) = k.def, k.field(defaults) = k.def; }, key->kind);
    keys.push_back(key);
  }
  if (recipe.preset) recipe.preset(expected.training);
  for (const Key* key : keys) {
    const std::string dotted = key->dotted();
    const bool ok = std::visit(
        [&](const auto& k) {
          if (k.field(copy) == k.field(expected)) return true;
          return written ? written->count(dotted) == 0 : k.field(copy) == k.field(defaults);
        },
        key->kind);
    if (!ok)
      errors.push_back(dotted + ": training.recipe " + recipe.name + " fixes it (" + recipe.about +
                       "); remove it, or set training.recipe: generic to choose it yourself");
  }
  if (recipe.network && c.model.arch != recipe.network)
    errors.push_back(std::string("training.recipe: ") + recipe.name + " is written for model.arch " + recipe.network +
                     " (its parameter groups and schedule name that network's layers); set model.arch: " +
                     recipe.network + ", or training.recipe: generic");
  if (recipe.images && (c.data.is_text() || c.data.dataset == "csv"))
    errors.push_back(std::string("training.recipe: ") + recipe.name + " trains image classifiers (its flip and crop); " +
                     c.data.dataset + " data is not images: set training.recipe: generic");
  return errors;
}

}  // namespace

std::vector<std::string> check_conflicts(const Config& c, const std::set<std::string>* written) {
  std::vector<std::string> errors;
  if (c.experiment.models % 2 != 0)
    errors.push_back("experiment.models: " + std::to_string(c.experiment.models) +
                     " is odd; it must be even so every candidate is IN for exactly models/2 models");
  if (c.experiment.name.empty()) errors.push_back("experiment.name: must not be empty");
  if (c.data.population >= c.data.candidates)
    errors.push_back("data.population: " + std::to_string(c.data.population) + " leaves none of the " +
                     std::to_string(c.data.candidates) + " candidates to train on; it must be < data.candidates");
  if (!c.queries.identity && !c.queries.mirror)
    errors.push_back("queries: every query is disabled; enable at least queries.identity");
  if (c.training.nesterov && c.training.momentum <= 0.0)
    errors.push_back("training.nesterov: needs training.momentum > 0");
  if (c.model.arch == "cnn" && c.model.channels.empty())
    errors.push_back("model.channels: cnn needs at least one conv stage");
  if (c.model.arch == "wrn" && (c.model.depth - 4) % 6 != 0)
    errors.push_back("model.depth: " + std::to_string(c.model.depth) + " is not 6n + 4 (e.g. 16, 28, 40)");
  if (c.model.arch == "torchscript" && c.model.torchscript_path.empty())
    errors.push_back("model.torchscript_path: needed with model.arch: torchscript");
  if (c.data.dataset == "csv") {
    if (c.model.arch != "mlp" && c.model.arch != "torchscript")
      errors.push_back("model.arch: " + c.model.arch + " needs images; csv data trains mlp or torchscript models");
    if (c.queries.mirror || c.queries.shift > 0)
      errors.push_back("queries: mirror and shift need images; set queries.mirror: false and queries.shift: 0 for csv");
    if (c.training.augment_flip)
      errors.push_back("training.augment_flip: the classifier task on csv tables has no images to flip; turn it off");
    if (c.training.augment_crop > 0)
      errors.push_back("training.augment_crop: the classifier task on csv tables has no images to crop; set it to 0");
  }
  const bool text = c.data.is_text();
  if (text && c.model.arch != "gpt" && c.model.arch != "torchscript")
    errors.push_back("model.arch: " + c.model.arch + " cannot read text; " + c.data.dataset +
                     " data trains model.arch: gpt or a TorchScript language model");
  if (!text && c.model.arch == "gpt")
    errors.push_back("model.arch: gpt needs text data (data.dataset: text, fortunes or jsonl)");
  if (text && (c.queries.mirror || c.queries.shift > 0))
    errors.push_back("queries: mirror and shift need images; set queries.mirror: false and queries.shift: 0 for text");
  if (text && c.training.augment_flip)
    errors.push_back("training.augment_flip: the language-model task has no images to flip; turn it off");
  if (text && c.training.augment_crop > 0)
    errors.push_back("training.augment_crop: the language-model task has no images to crop; set it to 0");
  if (c.model.arch == "gpt" && c.model.embed % c.model.heads != 0)
    errors.push_back("model.embed: " + std::to_string(c.model.embed) + " is not a multiple of model.heads " +
                     std::to_string(c.model.heads));
  if (text && c.data.tokenizer == "bpe" && (c.data.bpe_vocab.empty() || c.data.bpe_merges.empty()))
    errors.push_back("data.tokenizer: bpe needs data.bpe_vocab and data.bpe_merges (GPT-2's vocab.json and merges.txt)");
  if ((c.model.arch == "gpt" || text) && c.data.max_tokens > c.model.context)
    errors.push_back("data.max_tokens: " + std::to_string(c.data.max_tokens) + " exceeds model.context " +
                     std::to_string(c.model.context));
  if (text && c.queries.batchnorm == "train")
    errors.push_back("queries.batchnorm: train is BatchNorm's training-mode inference; language models have no "
                     "BatchNorm: leave it at eval");
  if (c.dp.enabled()) {
    if (c.dp.noise_multiplier > 0 && c.dp.target_epsilon > 0)
      errors.push_back("dp.target_epsilon: set together with dp.noise_multiplier; give one of them (the noise "
                       "multiplier is solved from the target epsilon)");
    if (text)
      errors.push_back("dp: DP-SGD is implemented for classifiers only, not for the language-model task; remove "
                       "the dp section");
    const bool resnet = arch_in(c, {"wrn28-2", "wrn16-4", "wrn", "resnet18"});
    if ((resnet && c.model.norm != "group") || arch_in(c, {"airbench", "airbench94"}))
      errors.push_back("dp: model.arch " + c.model.arch + " uses BatchNorm, which mixes the examples of a batch, so "
                       "per-example gradients (and DP-SGD's guarantee) do not exist; use mlp, cnn, a TorchScript "
                       "model without BatchNorm" +
                       (resnet ? ", or model.norm: group (GroupNorm)" : std::string()));
    if (c.model.arch == "synthetic") errors.push_back("dp: the synthetic workload trains nothing; remove the dp section");
    if (c.training.grad_clip > 0)
      errors.push_back("training.grad_clip: DP-SGD clips every example's gradient (dp.max_grad_norm) instead; set "
                       "training.grad_clip to 0");
    if (c.training.accumulate > 1)
      errors.push_back("training.accumulate: DP-SGD draws one Poisson-sampled batch per step; set it to 1 and raise "
                       "training.batch_size (the expected batch) instead");
    if (c.parallel.ranks_per_model > 1)
      errors.push_back("parallel.ranks_per_model: DP-SGD trains each model on one rank; set it to 1");
  }
  const auto& d = c.defense;
  if (d.releases_scores() || d.early_stopping > 0) {
    if (text)
      errors.push_back("defense: the defenses are implemented for classifiers, not for the language-model task; "
                       "remove the defense section");
    if (c.model.arch == "synthetic")
      errors.push_back("defense: the synthetic workload trains nothing; remove the defense section");
  }
  if (d.label_only && (d.top_k > 0 || d.round_decimals > 0))
    errors.push_back("defense.label_only: releases the predicted class only, so defense.top_k and "
                     "defense.round_decimals have nothing to act on; set them to 0");
  if (d.releases_scores() && c.signals.logits)
    errors.push_back("signals.logits: would store the raw logits that the defense (defense.top_k, round_decimals "
                     "or label_only) keeps from the attacker; set signals.logits: false");
  if (d.early_stopping > 0) {
    if (recipe_of(c).name == std::string("airbench94"))
      errors.push_back("defense.early_stopping: airbench94's published recipe trains a fixed schedule with "
                       "lookahead; use training.recipe generic (the network under training.*) to stop early");
    if (c.training.ema > 0)
      errors.push_back("defense.early_stopping: keeps the best epoch's weights, which EMA would replace at the end; "
                       "set training.ema to 0");
    if (c.dp.enabled())
      errors.push_back("defense.early_stopping: not implemented with DP-SGD (its budget is accounted for the whole "
                       "schedule); lower training.epochs instead");
    if (c.parallel.ranks_per_model > 1)
      errors.push_back("defense.early_stopping: implemented for models trained on one rank; set "
                       "parallel.ranks_per_model to 1");
  }
  if (c.data.canaries > 0) {
    if (text)
      errors.push_back("data.canaries: canaries are images or table rows; the language-model task has none (remove "
                       "data.canaries)");
    if (c.model.arch == "synthetic")
      errors.push_back("data.canaries: the synthetic workload reads no data; remove data.canaries");
    if (c.data.canaries > c.data.candidates - c.data.population)
      errors.push_back("data.canaries: " + std::to_string(c.data.canaries) + " exceeds the " +
                       std::to_string(c.data.candidates - c.data.population) +
                       " candidates that models train on (data.candidates - data.population)");
    if (c.data.canary_kind == "noise" && c.data.dataset == "csv")
      errors.push_back("data.canary_kind: noise canaries are random images; csv tables take mislabeled canaries");
  }
  if (c.parallel.models_per_job > 1)
    for (auto& why : pack_limits(c)) errors.push_back("parallel.models_per_job: " + why);
  for (auto& e : unused_key_errors(c)) errors.push_back(std::move(e));
  for (auto& e : recipe_key_errors(c, written)) errors.push_back(std::move(e));
  return errors;
}

std::vector<std::string> pack_limits(const Config& c) {
  std::vector<std::string> out;
  const bool resnet = arch_in(c, {"wrn28-2", "wrn16-4", "wrn", "resnet18"});
  if (!arch_in(c, {"mlp", "cnn", "airbench", "airbench94", "synthetic"}) && !resnet)
    out.push_back("packs train mlp, cnn, airbench, airbench94, the wide ResNets and resnet18 (their K-wide forward "
                  "passes, trainer/fused_network.cpp); model.arch " + c.model.arch +
                  " trains one model per job (a TorchScript module or a language model has no model axis): set it to 1");
  if (resnet && c.model.norm == "group")
    out.push_back("packs fuse the BatchNorm ResNets; model.norm group trains one model per job: set it to 1 (or "
                  "model.norm to batch)");
  if (arch_in(c, {"wrn28-2", "wrn16-4", "wrn"}) && c.model.dropout > 0)
    out.push_back("packs fuse the wide ResNets without dropout (a dropout mask per model is not drawn as alone): set "
                  "model.dropout to 0 or models_per_job to 1");
  if (c.queries.batchnorm == "train" && !arch_in(c, {"mlp", "cnn", "synthetic"}))
    out.push_back("queries.batchnorm train evaluates each model in its own chunks of 5,000; packs evaluate with the "
                  "running statistics: set queries.batchnorm to eval or models_per_job to 1");
  if (c.dp.enabled())
    out.push_back("DP-SGD trains one model per job (its per-example clipping has no model axis yet): set it to 1");
  return out;
}

int64_t batches_per_epoch(const Config& c, int64_t examples) {
  const int64_t b = c.training.batch_size;
  return recipe_of(c).drop_last_batch ? examples / b : (examples + b - 1) / b;
}

}  // namespace lira
