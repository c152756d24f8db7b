// Internal to the config module: the shape of one declared key. The table itself is in
// config_schema.cpp; config.cpp derives defaults, parsing, printing and docs from it.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "config.hpp"

namespace lira::schema {

struct IntKey {
  int64_t def, lo, hi;
  int64_t& (*field)(Config&);
};
struct RealKey {
  double def, lo, hi;
  double& (*field)(Config&);
};
struct BoolKey {
  bool def;
  bool& (*field)(Config&);
};
struct TextKey {
  const char* def;
  std::string& (*field)(Config&);
};
struct ChoiceKey {
  const char* def;
  std::vector<const char*> choices;
  std::string& (*field)(Config&);
};
struct IntListKey {
  std::vector<int64_t> def;
  int64_t lo, hi;         // range of each element
  size_t min_len, max_len;
  std::vector<int64_t>& (*field)(Config&);
};

using Kind = std::variant<IntKey, RealKey, BoolKey, TextKey, ChoiceKey, IntListKey>;

struct Key {
  const char* section;
  const char* name;
  Kind kind;
  const char* meaning;
  // false for keys that cannot change the results (names, paths, retry and timing
  // policy): they are left out of the fingerprint that guards resuming a results file.
  bool affects_results = true;
  std::string dotted() const { return std::string(section) + "." + name; }
};

struct Section {
  const char* name;
  const char* meaning;
};

const std::vector<Section>& sections();
const std::vector<Key>& keys();
// The key section.name, or null.
const Key* find_key(const std::string& section, const std::string& name);

}  // namespace lira::schema
