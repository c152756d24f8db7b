// The training recipes by name (training.recipe), torch-free: what each one fixes and the
// rules the data side, the config checks and the docs need. Each recipe's optimization --
// its optimizer, groups, schedule and averages -- is in trainer/ (recipe.hpp: one file per
// recipe, registered in make_recipe). A recipe is chosen by training.recipe, never by the
// network: model.arch names only the network.
//  - generic: the training.* keys drive it, for every network.
//  - airbench94: Keller Jordan's published airbench94 recipe, item by item, for the
//    airbench94 network (docs/training.md).
//  - official: the official LiRA code's WRN-28-2 training (SGD 0.1, momentum 0.9, decay
//    5e-4 on weights, its cosine schedule with 1% warmup, flip and 4-pixel crop), which
//    the generic machinery runs with those values fixed.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace lira {

struct RecipeSpec {
  const char* name;
  const char* about;            // one line, for the key's documentation and errors
  const char* network;          // the model.arch it is written for, or nullptr (any)
  bool drop_last_batch = false;  // the last partial batch of an epoch is dropped
  bool summed_loss = false;      // a batch's loss is its sum (else its mean)
  bool alternating_flip = false; // airbench94's flip-and-translate augmentation (else training.augment_*)
  bool tta = false;              // the test accuracy is taken with test-time augmentation
  double label_smoothing = -1;   // fixed by the recipe; < 0: training.label_smoothing
  bool images = false;           // trains image classifiers only (its augmentation)
  // The training.* keys the recipe fixes. A config that sets one to another value than
  // the recipe's is refused (config_rules.cpp); the recipe's values are in the resolved
  // config (apply_recipe below).
  std::vector<std::string> fixes;
  void (*preset)(TrainingConfig&) = nullptr;  // sets the values it fixes in the config, or nullptr
};

// Every recipe, in the order the docs list them.
const std::vector<RecipeSpec>& recipes();
// The config's recipe (training.recipe resolved; see resolve_recipe). Throws ConfigError
// for a name that is not a recipe.
const RecipeSpec& recipe_of(const Config& c);
// The same from training.recipe and model.arch.
const RecipeSpec& recipe_named(const std::string& recipe, const std::string& arch);
// training.recipe auto -> airbench94 for model.arch airbench94 (their published pairing,
// and what configs written before training.recipe mean), generic for every other network.
void resolve_recipe(Config& c);
// Writes the recipe's fixed values into c.training (after the config checks).
void apply_recipe(Config& c);

}  // namespace lira
