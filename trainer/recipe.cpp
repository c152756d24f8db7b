// The recipes by name (training.recipe, common/recipes.hpp): one file each, registered here.
#include "recipe.hpp"

#include "common/errors.hpp"
#include "common/recipes.hpp"

namespace lira {

std::unique_ptr<Recipe> make_recipe(const TrainingConfig& training, const ModelConfig& model, Task& task) {
  const std::string name = recipe_named(training.recipe, model.arch).name;
  // official is the generic machinery with the official code's values, which the
  // config holds by now (apply_recipe).
  if (name == "generic" || name == "official") return make_generic_recipe(training, task);
  if (name == "airbench94") return make_airbench94_recipe(training, task);
  throw Error("make_recipe: recipe '" + name + "' is in common/recipes.cpp but not registered in trainer/recipe.cpp");
}

}  // namespace lira
