// Implements `lira signals` (signals_command.hpp).
#include "signals_command.hpp"

#include "run_command.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "common/errors.hpp"
#include "common/shell.hpp"
#include "data/dataset.hpp"
#include "output_files.hpp"
#include "storage/results_file.hpp"
#include "trainer_loader.hpp"

namespace lira {
namespace fs = std::filesystem;
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("--membership '" + path + "' cannot be read: " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// numpy's .npy, version 1-3, 1-d, little-endian or byte types.
std::vector<uint8_t> parse_npy(const std::string& bytes, const std::string& path) {
  auto fail = [&](const std::string& what) -> std::vector<uint8_t> {
    throw ConfigError("--membership '" + path + "': " + what +
                      "; give a 1-d numpy array of bool or integers (np.save), or a text file of 0/1");
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return fail("not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else {
    if (bytes.size() < 12) return fail("truncated header");
    header_len = 0;
    for (int b = 3; b >= 0; --b) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + b]);
    start = 12;
  }
  if (start + header_len > bytes.size()) return fail("truncated header");
  const std::string header = bytes.substr(start, header_len);
  const auto field = [&](const std::string& key) {
    const auto k = header.find("'" + key + "'");
    if (k == std::string::npos) return std::string();
    const auto colon = header.find(':', k);
    auto end = header.find_first_of(",}", colon + 1);
    if (key == "shape") end = header.find(')', colon) + 1;
    std::string v = header.substr(colon + 1, end - colon - 1);
    v.erase(0, v.find_first_not_of(" '"));
    v.erase(v.find_last_not_of(" '") + 1);
    return v;
  };
  const std::string descr = field("descr"), order = field("fortran_order"), shape = field("shape");
  if (order == "True") return fail("Fortran order");
  size_t width = 0;
  if (descr == "|b1" || descr == "|u1" || descr == "|i1") width = 1;
  else if (descr == "<i4" || descr == "<u4") width = 4;
  else if (descr == "<i8" || descr == "<u8") width = 8;
  else return fail("dtype " + descr + " is not bool or an integer type");
  const auto open = shape.find('('), comma = shape.find(',');
  if (open == std::string::npos || comma == std::string::npos || shape.find_first_of("0123456789", comma) != std::string::npos)
    return fail("shape " + shape + " is not 1-d");
  const int64_t n = std::stoll(shape.substr(open + 1, comma - open - 1));
  const size_t data = start + header_len;
  if (bytes.size() - data < static_cast<size_t>(n) * width) return fail("fewer data bytes than its shape says");
  std::vector<uint8_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    for (size_t b = 0; b < width; ++b) v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[data + i * width + b])) << (8 * b);
    if (v > 1) return fail("entry " + std::to_string(i) + " is " + std::to_string(v) + ", not 0 or 1");
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  }
  return out;
}

}  // namespace

std::vector<uint8_t> read_membership(const std::string& path, int64_t candidates) {
  const std::string bytes = read_all(path);
  std::vector<uint8_t> m;
  if (bytes.compare(0, 6, "\x93NUMPY") == 0) {
    m = parse_npy(bytes, path);
  } else {
    std::string token;
    auto flush = [&] {
      if (token.empty()) return;
      if (token != "0" && token != "1")
        throw ConfigError("--membership '" + path + "': entry " + std::to_string(m.size()) + " is '" + token +
                          "', not 0 or 1");
      m.push_back(token == "1");
      token.clear();
    };
    for (char ch : bytes) {
      if (ch == ',' || std::isspace(static_cast<unsigned char>(ch))) flush();
      else token += ch;
    }
    flush();
  }
  if (static_cast<int64_t>(m.size()) != candidates)
    throw ConfigError("--membership '" + path + "' has " + std::to_string(m.size()) + " entries; the results file has " +
                      std::to_string(candidates) + " candidates (one 0/1 per candidate, in the file's order)");
  return m;
}

Subcommand add_signals_command(CLI::App& app) {
  struct Options {
    std::string model, results, membership, out;
    int threads = 0;
    bool overwrite = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "signals", "Signals of a TorchScript classifier trained elsewhere on a results file's candidates: an external "
                 "target that lira score/audit --external scores against the file's reference models");
  cmd->add_option("model", o->model, "TorchScript classifier (torch.jit.save), fed the candidates as lira's models are")
      ->required();
  cmd->add_option("results", o->results, "Results file of lira run whose candidates, queries and config are used")
      ->required();
  cmd->add_option("--membership", o->membership,
                  "Which candidates the model trained on: one 0/1 per candidate of the results file (.npy of bool or "
                  "integers, or text)")
      ->required();
  cmd->add_option("--out", o->out, "External target file (default: RESULTS without .h5, then .external/MODEL.h5)");
  cmd->add_option("--threads", o->threads, "Intra-op threads (0: all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("--overwrite", o->overwrite, "Replace an existing external target file (only one lira signals wrote)");
  auto run = [o]() -> int {
    std::error_code ec;
    if (!fs::is_regular_file(o->model, ec))
      throw ConfigError("lira signals: model '" + o->model + "' is not a file (a TorchScript module from torch.jit.save)");
    ResultsReader results(o->results);
    if (results.config_yaml().empty())
      throw StorageError("'" + o->results + "' has no config attribute: lira signals needs a results file of lira run, "
                         "whose config says how the candidates are read and queried");
    const Config config = parse_config(results.config_yaml(), o->results + " (config attribute)");
    const auto membership = read_membership(o->membership, results.candidates());
    std::string out = o->out;
    if (out.empty()) {
      fs::path r(o->results);
      out = (r.parent_path() / (r.stem().string() + ".external") / (fs::path(o->model).stem().string() + ".h5")).string();
    }
    check_outputs({{"the model", o->model}, {"the results file", o->results}, {"the membership file", o->membership}},
                  {{"--out", out, Role::kExternalTarget}}, o->overwrite);

    TrainerContext context;
    context.config = config;
    context.dataset = dataset_for(config);
    const auto recorded = results.attribute("fingerprint_data");
    if (!recorded.empty() && recorded != context.dataset->identity)
      throw DataError("the data files of '" + o->results + "' have changed since it was written (fingerprint_data); "
                      "the candidates would not be the ones its reference models saw");
    context.threads = o->threads > 0 ? o->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto& api = trainer();
    if (!api.external_signals) throw Error("the trainer module has no external_signals entry; rebuild lira");
    int64_t members = 0;
    for (auto m : membership) members += m;
    spdlog::info("signals of '{}' on the {} candidates of '{}' ({} members), {} queries", o->model,
                 results.candidates(), o->results, members, results.queries().size());
    ExternalTarget target;
    target.model_path = fs::absolute(o->model, ec).string();
    target.model_identity = file_identity(o->model);
    target.membership = membership;
    target.result = api.external_signals(context, o->model, membership);
    write_external_target(out, results, target);
    std::printf("%s: %lld candidates (%lld members), train accuracy %.4f, test accuracy %.4f, %.1f s\n", out.c_str(),
                static_cast<long long>(results.candidates()), static_cast<long long>(members),
                target.result.train_accuracy, target.result.test_accuracy, target.result.train_seconds);
    std::printf("score it: lira score %s --external %s\n", shell_word(o->results).c_str(), shell_word(out).c_str());
    return 0;
  };
  return {cmd, run};
}

}  // namespace lira
