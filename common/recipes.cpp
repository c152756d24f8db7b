// The recipe table (recipes.hpp).
#include "recipes.hpp"

#include "errors.hpp"

namespace lira {
namespace {

// The training.* keys a recipe may fix: those of the optimization itself.
const std::vector<std::string> kOptimization = {
    "training.optimizer", "training.lr",   "training.momentum",       "training.nesterov",
    "training.weight_decay", "training.decay_all", "training.schedule", "training.warmup",
    "training.label_smoothing", "training.ema", "training.augment_flip", "training.augment_crop"};

void official_preset(TrainingConfig& t) {
  // The official LiRA code (train.py and its objax Momentum): docs/training.md.
  t.optimizer = "sgd";
  t.lr = 0.1;
  t.momentum = 0.9;
  t.nesterov = false;
  t.weight_decay = 5e-4;
  t.decay_all = false;
  t.schedule = "official";
  t.warmup = 0.01;
  t.label_smoothing = 0;
  t.ema = 0;
  t.augment_flip = true;
  t.augment_crop = 4;
}

std::vector<std::string> airbench94_fixes() {
  auto keys = kOptimization;
  keys.insert(keys.end(), {"training.grad_clip", "training.accumulate"});
  return keys;
}

}  // namespace

const std::vector<RecipeSpec>& recipes() {
  static const std::vector<RecipeSpec> all = {
      {"generic", "the training.* keys (optimizer, schedule, EMA, augmentation) for any network", nullptr,
       false, false, false, false, -1, false, {}, nullptr},
      {"airbench94", "Keller Jordan's published airbench94 recipe for the airbench94 network", "airbench94",
       /*drop_last_batch=*/true, /*summed_loss=*/true, /*alternating_flip=*/true, /*tta=*/true,
       /*label_smoothing=*/0.2, /*images=*/true, airbench94_fixes(), nullptr},
      {"official", "the official LiRA code's WRN training: SGD 0.1, momentum 0.9, decay 5e-4, its cosine schedule, "
                   "flip and 4-pixel crop", nullptr,
       false, false, false, false, -1, /*images=*/true, kOptimization, official_preset},
  };
  return all;
}

void resolve_recipe(Config& c) { c.training.recipe = recipe_of(c).name; }

const RecipeSpec& recipe_named(const std::string& recipe, const std::string& arch) {
  const std::string name = recipe == "auto" ? (arch == "airbench94" ? "airbench94" : "generic") : recipe;
  for (const auto& r : recipes())
    if (name == r.name) return r;
  throw ConfigError("training.recipe: unknown recipe '" + name + "'");
}

const RecipeSpec& recipe_of(const Config& c) { return recipe_named(c.training.recipe, c.model.arch); }

void apply_recipe(Config& c) {
  if (const auto preset = recipe_of(c).preset) preset(c.training);
}

}  // namespace lira
