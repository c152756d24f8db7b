// libFuzzer target: the YAML config loader. Any input must parse or throw ConfigError --
// never crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.hpp"
#include "common/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = lira::parse_config(text, "fuzz.yaml");
    // A config that parses must print to YAML that parses to the same text again.
    const auto yaml = lira::to_yaml(config);
    if (lira::to_yaml(lira::parse_config(yaml, "resolved")) != yaml) __builtin_trap();
  } catch (const lira::ConfigError&) {
  }
  return 0;
}
