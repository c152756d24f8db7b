// Implements the config module: defaults, YAML parsing with locations, --set overrides,
// cross-key rules, the resolved YAML and the key documentation, all driven by the one
// key table in config_schema.cpp.
#include "config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config_rules.hpp"
#include "config_schema.hpp"
#include "errors.hpp"
#include "recipes.hpp"
#include "suggest.hpp"

namespace lira {
namespace {

using schema::Key;

// ------------------------------------------------------------------ small helpers

// " (did you mean 'x'?)" for the closest candidate, if it is close enough.
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  return did_you_mean(word, candidates);
}

std::string format_real(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  // Keep reals recognizably real in YAML ("1" would read back as an integer: fine for us,
  // but a reader should see the type).
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string format_int_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::string join_choices(const std::vector<const char*>& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i) s += (i ? " | " : "") + std::string(c[i]);
  return s;
}

// "a, b, c" for Markdown tables, where '|' would end a cell.
std::string join_list(const std::vector<const char*>& c) {
  std::string s;
  for (size_t i = 0; i < c.size(); ++i) s += (i ? ", " : "") + std::string(c[i]);
  return s;
}

std::string int_range(int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int64_t>::max()) return ">= " + std::to_string(lo);
  return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}


bool is_section(const std::string& name) {
  for (const auto& s : schema::sections())
    if (name == s.name) return true;
  return false;
}

std::vector<std::string> dotted_names() {
  std::vector<std::string> v;
  for (const auto& k : schema::keys()) v.push_back(k.dotted());
  return v;
}

std::vector<std::string> section_names() {
  std::vector<std::string> v;
  for (const auto& s : schema::sections()) v.push_back(s.name);
  return v;
}

// The sections that declare a key of this name ("training" for "epochs").
std::vector<std::string> sections_with_key(const std::string& key) {
  std::vector<std::string> v;
  for (const auto& k : schema::keys())
    if (k.name == key) v.push_back(k.section);
  return v;
}

// For an unknown section.key: the right section when the key exists in another one
// (experiment.epochs -> training.epochs), else the closest dotted name.
std::string key_suggestion(const std::string& section, const std::string& key) {
  const auto homes = sections_with_key(key);
  if (!homes.empty()) {
    std::string list;
    for (const auto& h : homes) list += (list.empty() ? "'" : "' or '") + h + "." + key;
    return " ('" + key + "' belongs in another section: did you mean " + list + "'?)";
  }
  return suggestion(section + "." + key, dotted_names());
}

// For an unknown top-level name: a section it resembles, or the section of the key it is
// (a key written at the top level, e.g. `epochs: 5` instead of under `training:`).
std::string section_suggestion(const std::string& name) {
  const auto homes = sections_with_key(name);
  if (!homes.empty())
    return " ('" + name + "' is a key of section '" + homes.front() + "': write it indented under " + homes.front() +
           ":, as " + homes.front() + "." + name + ")";
  return suggestion(name, section_names());
}

std::string where(const std::string& origin, const YAML::Mark& m) {
  if (m.is_null()) return origin;
  return origin + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// ------------------------------------------------------------------ value parsing

std::string node_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) return "";
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}


bool parse_int(const std::string& s, int64_t& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && b != e;
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  std::istringstream in(s);
  in.imbue(std::locale::classic());
  in >> out;
  return !in.fail() && in.peek() == std::char_traits<char>::eof() && std::isfinite(out);
}

bool parse_bool(std::string s, bool& out) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on") return out = true, true;
  if (s == "false" || s == "no" || s == "off") return out = false, true;
  return false;
}

// Applies one YAML value to one key of `config`. Returns an error message, or "" if ok.
std::string apply(const Key& key, const YAML::Node& node, Config& config) {
  const std::string name = key.dotted();
  auto scalar = [&](std::string& out) -> bool {
    if (!node.IsScalar()) return false;
    out = node.Scalar();
    return true;
  };
  return std::visit(
      [&](const auto& k) -> std::string {
        using K = std::decay_t<decltype(k)>;
        std::string s;
        if constexpr (std::is_same_v<K, schema::IntKey>) {
          int64_t v;
          if (!scalar(s) || !parse_int(s, v)) return name + ": expected an integer, got '" + node_text(node) + "'";
          if (v < k.lo || v > k.hi)
            return name + ": " + std::to_string(v) + " is out of range " + int_range(k.lo, k.hi);
          k.field(config) = v;
        } else if constexpr (std::is_same_v<K, schema::RealKey>) {
          double v;
          if (!scalar(s) || !parse_real(s, v)) return name + ": expected a number, got '" + node_text(node) + "'";
          if (v < k.lo || v > k.hi)
            return name + ": " + s + " is out of range [" + format_real(k.lo) + ", " + format_real(k.hi) + "]";
          k.field(config) = v;
        } else if constexpr (std::is_same_v<K, schema::BoolKey>) {
          bool v;
          if (!scalar(s) || !parse_bool(s, v)) return name + ": expected true or false, got '" + node_text(node) + "'";
          k.field(config) = v;
        } else if constexpr (std::is_same_v<K, schema::TextKey>) {
          if (node.IsNull()) {
            k.field(config).clear();
          } else if (scalar(s)) {
            k.field(config) = s;
          } else {
            return name + ": expected a string, got a " + (node.IsSequence() ? "list" : "map");
          }
        } else if constexpr (std::is_same_v<K, schema::ChoiceKey>) {
          if (!scalar(s)) return name + ": expected one of " + join_choices(k.choices);
          std::vector<std::string> options(k.choices.begin(), k.choices.end());
          if (std::find(options.begin(), options.end(), s) == options.end())
            return name + ": '" + s + "' is not one of " + join_choices(k.choices) + suggestion(s, options);
          k.field(config) = s;
        } else if constexpr (std::is_same_v<K, schema::IntListKey>) {
          std::vector<int64_t> v;
          if (node.IsSequence()) {
            for (const auto& item : node) {
              int64_t x;
              if (!item.IsScalar() || !parse_int(item.Scalar(), x))
                return name + ": expected a list of integers, got element '" + node_text(item) + "'";
              if (x < k.lo || x > k.hi)
                return name + ": element " + std::to_string(x) + " is out of range " + int_range(k.lo, k.hi);
              v.push_back(x);
            }
          } else if (node.IsNull()) {
            // an empty value is the empty list
          } else {
            return name + ": expected a list of integers like [256, 128], got '" + node_text(node) + "'";
          }
          if (v.size() < k.min_len || v.size() > k.max_len)
            return name + ": needs between " + std::to_string(k.min_len) + " and " + std::to_string(k.max_len) +
                   " elements, got " + std::to_string(v.size());
          k.field(config) = v;
        }
        return "";
      },
      key.kind);
}

void set_defaults(Config& c) {
  for (const auto& key : schema::keys()) {
    std::visit(
        [&](const auto& k) { k.field(c) = k.def; },
        key.kind);
  }
}

void resolve(Config& c) {
  if (c.experiment.output.empty()) c.experiment.output = "results/" + c.experiment.name + ".h5";
  resolve_recipe(c);
}

[[noreturn]] void fail(const std::string& origin, const std::vector<std::string>& errors) {
  std::string msg = errors.size() == 1 ? "invalid configuration (" + origin + "): "
                                       : "invalid configuration (" + origin + "), " +
                                             std::to_string(errors.size()) + " problems:";
  if (errors.size() == 1) {
    msg += errors.front();
  } else {
    for (const auto& e : errors) msg += "\n  - " + e;
  }
  throw ConfigError(msg);
}

}  // namespace

std::vector<QuerySpec> Config::query_specs() const {
  std::vector<QuerySpec> q;
  for (const bool mirror : {false, true}) {
    if (mirror ? !queries.mirror : !queries.identity) continue;
    const std::string base = mirror ? "mirror" : "identity";
    for (int64_t dy = -queries.shift; dy <= queries.shift; dy += queries.shift_stride)
      for (int64_t dx = -queries.shift; dx <= queries.shift; dx += queries.shift_stride) {
        QuerySpec s{mirror, dy, dx, base};
        if (queries.shift > 0) {  // appended piece by piece: GCC 12 misreads "(" + to_string(...) (-Wrestrict)
          s.name += '(';
          s.name += std::to_string(dy);
          s.name += ',';
          s.name += std::to_string(dx);
          s.name += ')';
        }
        q.push_back(std::move(s));
      }
  }
  return q;
}

std::vector<std::string> Config::query_names() const {
  std::vector<std::string> names;
  for (const auto& q : query_specs()) names.push_back(q.name);
  return names;
}

Config default_config() {
  Config c;
  set_defaults(c);
  resolve(c);
  return c;
}

Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides) {
  Config config;
  set_defaults(config);
  std::vector<std::string> errors;
  std::set<std::string> written;  // the keys the text and the overrides set

  // YAML forbids tabs in indentation; yaml-cpp's message for them is obscure, or it
  // silently reads another structure. Say it plainly, with the line.
  {
    size_t line = 1;
    for (size_t i = 0; i < yaml_text.size(); ++line) {
      const size_t end = std::min(yaml_text.find('\n', i), yaml_text.size());
      const size_t body = yaml_text.find_first_not_of(" \t", i);
      if (body != std::string::npos && body < end && yaml_text.find('\t', i) < body)
        throw ConfigError(origin + ":" + std::to_string(line) +
                          ": a tab in the indentation; YAML allows only spaces there: indent with spaces");
      i = end + 1;
    }
  }

  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("malformed YAML in " + where(origin, e.mark) + ": " + e.msg);
  }
  if (root.IsNull()) {
    // An empty file: all defaults.
  } else if (!root.IsMap()) {
    errors.push_back(where(origin, root.Mark()) + ": the top level must be a map of sections (" +
                     [] {
                       std::string s;
                       for (const auto& n : section_names()) s += (s.empty() ? "" : ", ") + n;
                       return s;
                     }() +
                     ")");
  } else {
    std::set<std::string> seen_sections;
    for (const auto& sec : root) {
      const std::string sname = sec.first.Scalar();
      const std::string at = where(origin, sec.first.Mark());
      if (!is_section(sname)) {
        errors.push_back(at + ": unknown section '" + sname + "'" + section_suggestion(sname));
        continue;
      }
      if (!seen_sections.insert(sname).second) {
        errors.push_back(at + ": section '" + sname + "' appears twice");
        continue;
      }
      if (sec.second.IsNull()) continue;  // "queries:" with nothing below: defaults
      if (!sec.second.IsMap()) {
        errors.push_back(at + ": section '" + sname + "' must be a map of keys");
        continue;
      }
      std::set<std::string> seen_keys;
      for (const auto& kv : sec.second) {
        const std::string kname = kv.first.Scalar();
        const std::string kat = where(origin, kv.first.Mark());
        const Key* key = schema::find_key(sname, kname);
        if (!key) {
          errors.push_back(kat + ": unknown key '" + sname + "." + kname + "'" + key_suggestion(sname, kname));
          continue;
        }
        if (!seen_keys.insert(kname).second) {
          errors.push_back(kat + ": key '" + key->dotted() + "' appears twice");
          continue;
        }
        if (auto err = apply(*key, kv.second, config); !err.empty())
          errors.push_back(where(origin, kv.second.Mark()) + ": " + err);
        written.insert(key->dotted());
      }
    }
  }

  for (const auto& ov : overrides) {
    const auto eq = ov.find('=');
    const auto dot = ov.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      errors.push_back("--set " + ov + ": expected section.key=value, e.g. --set training.epochs=5");
      continue;
    }
    const std::string sname = ov.substr(0, dot);
    const std::string kname = ov.substr(dot + 1, eq - dot - 1);
    const Key* key = schema::find_key(sname, kname);
    if (!key) {
      errors.push_back("--set: unknown key '" + sname + "." + kname + "'" + key_suggestion(sname, kname));
      continue;
    }
    YAML::Node value;
    try {
      // Text keys (names, paths) take the value verbatim: YAML would drop a " #..." tail
      // or reinterpret quotes, so `--out 'a #1.h5'` would write somewhere else.
      if (std::holds_alternative<schema::TextKey>(key->kind))
        value = YAML::Node(ov.substr(eq + 1));
      else
        value = YAML::Load(ov.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      errors.push_back("--set " + ov + ": malformed value: " + e.msg);
      continue;
    }
    if (auto err = apply(*key, value, config); !err.empty()) errors.push_back("--set: " + err);
    written.insert(key->dotted());
  }

  if (errors.empty()) {
    resolve(config);
    errors = check_conflicts(config, &written);
  }
  if (!errors.empty()) fail(origin, errors);
  // The recipe's fixed values, after the checks that refuse other values of its keys;
  // checked again, so that the resolved config (stored with the results, read back by
  // job processes and on resume) is itself valid.
  apply_recipe(config);
  if (auto again = check_conflicts(config); !again.empty()) fail(origin + ", with training.recipe's values", again);
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  // A directory is refused; a pipe (`lira validate <(envsubst < c.yaml)`) is read, and an
  // empty one, like /dev/null, is refused below for having no settings.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError("the config '" + path + "' is a directory; give a YAML file, e.g. configs/quickstart.yaml");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno) +
                             " (check the path; configs/quickstart.yaml is a working example)");
  std::stringstream buf;
  buf << in.rdbuf();
  // An empty file (or one of comments only) would silently be the built-in defaults.
  bool settings = false;
  try {
    settings = !YAML::Load(buf.str()).IsNull();
  } catch (const YAML::Exception&) {
    settings = true;  // malformed: parse_config says where
  }
  if (!settings)
    throw ConfigError("the config '" + path + "' has no settings (it is empty or holds only comments); a config "
                      "names at least its experiment and data, e.g. configs/quickstart.yaml");
  return parse_config(buf.str(), path, overrides);
}

namespace {
std::string yaml_of(const Config& config_in, bool only_results) {
  Config config = config_in;  // the field accessors take non-const references
  std::ostringstream out;
  for (const auto& sec : schema::sections()) {
    out << sec.name << ":\n";
    for (const auto& key : schema::keys()) {
      if (std::string(key.section) != sec.name || (only_results && !key.affects_results)) continue;
      out << "  " << key.name << ": ";
      std::visit(
          [&](const auto& k) {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, schema::IntKey>) {
              out << k.field(config);
            } else if constexpr (std::is_same_v<K, schema::RealKey>) {
              out << format_real(k.field(config));
            } else if constexpr (std::is_same_v<K, schema::BoolKey>) {
              out << (k.field(config) ? "true" : "false");
            } else if constexpr (std::is_same_v<K, schema::IntListKey>) {
              out << format_int_list(k.field(config));
            } else {
              YAML::Emitter e;  // always quoted: escapes anything a path or name may hold
              e << YAML::DoubleQuoted << k.field(config);
              out << e.c_str();
            }
          },
          key.kind);
      out << "\n";
    }
  }
  return out.str();
}
}  // namespace

std::string to_yaml(const Config& config) { return yaml_of(config, false); }
std::string results_yaml(const Config& config) { return yaml_of(config, true); }

std::string keys_markdown() {
  std::ostringstream out;
  for (const auto& sec : schema::sections()) {
    out << "## `" << sec.name << "`\n\n" << sec.meaning << "\n\n";
    out << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
    for (const auto& key : schema::keys()) {
      if (std::string(key.section) != sec.name) continue;
      std::string type, def, allowed;
      std::visit(
          [&](const auto& k) {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, schema::IntKey>) {
              type = "integer", def = std::to_string(k.def), allowed = int_range(k.lo, k.hi);
            } else if constexpr (std::is_same_v<K, schema::RealKey>) {
              type = "number", def = format_real(k.def),
              allowed = "[" + format_real(k.lo) + ", " + format_real(k.hi) + "]";
            } else if constexpr (std::is_same_v<K, schema::BoolKey>) {
              type = "bool", def = k.def ? "true" : "false", allowed = "true, false";
            } else if constexpr (std::is_same_v<K, schema::TextKey>) {
              type = "string", def = std::string("\"") + k.def + "\"", allowed = "any";
            } else if constexpr (std::is_same_v<K, schema::ChoiceKey>) {
              type = "choice", def = k.def, allowed = join_list(k.choices);
            } else {
              type = "integer list", def = format_int_list(k.def),
              allowed = std::to_string(k.min_len) + " to " + std::to_string(k.max_len) + " elements in " +
                        int_range(k.lo, k.hi);
            }
          },
          key.kind);
      out << "| `" << key.dotted() << "` | " << type << " | `" << def << "` | " << allowed << " | "
          << key.meaning << " |\n";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace lira
