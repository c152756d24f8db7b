// Implements write_external_target (results_file.hpp): `lira signals` output, a results
// file of one model in the minimal layout plus the fingerprints of the file it extends.
#include <filesystem>

#include "results_file.hpp"

namespace lira {
namespace fs = std::filesystem;

void write_external_target(const std::string& path, const ResultsReader& results, const ExternalTarget& target) {
  h5::silence_default_errors();
  const auto n = static_cast<hsize_t>(results.candidates());
  if (target.membership.size() != n)
    throw StorageError("external target: a membership of " + std::to_string(target.membership.size()) +
                       " entries for the " + std::to_string(n) + " candidates of '" + results.path() + "'");
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string partial = h5::partial_path(path);
  // Built under the temporary name and renamed into place once complete and durable, as
  // a results file; a failure on the way removes the temporary.
  h5::RemoveUnlessKept cleanup{partial};
  {
    auto file = h5::create_partial(path, "check that the directory is writable, or choose another path with --out");
    std::vector<uint8_t> keep(target.membership.begin(), target.membership.end());
    for (auto& k : keep) k = k ? 1 : 0;
    h5::write_dataset(file, "keep", H5T_STD_U8LE, H5T_NATIVE_UINT8, {1, n}, keep.data(), partial);
    auto signals = h5::group_id(H5Gcreate2(file, "signals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create /signals");
    for (const auto& s : target.result.signals) {
      std::vector<hsize_t> dims{1};
      for (auto d : s.shape) dims.push_back(static_cast<hsize_t>(d));
      h5::write_dataset(signals, s.name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, dims, s.values.data(), partial);
    }
    auto models = h5::group_id(H5Gcreate2(file, "models", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create /models");
    const uint8_t done = 1;
    h5::write_dataset(models, "done", H5T_STD_U8LE, H5T_NATIVE_UINT8, {1}, &done, partial);
    h5::write_dataset(models, "train_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1},
                      &target.result.train_accuracy, partial);
    h5::write_dataset(models, "test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1}, &target.result.test_accuracy,
                      partial);
    h5::write_string_attr(file, "generator", "lira signals");
    h5::write_string_attr(file, "model", target.model_path);
    h5::write_string_attr(file, "model_identity", target.model_identity);
    h5::write_string_attr(file, "results_file", results.path());
    h5::write_string_array_attr(file, "queries", results.queries());
    for (const char* a : {"config", "fingerprint_config", "fingerprint_data", "lira_version"}) {
      const auto v = results.attribute(a);
      if (!v.empty()) h5::write_string_attr(file, a, v);
    }
    h5::make_durable(file, partial);
  }
  cleanup.keep = true;  // whole: a failed rename leaves it for the next attempt to replace
  h5::commit_partial(path);
}

}  // namespace lira
