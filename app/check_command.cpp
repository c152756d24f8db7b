// Implements `lira check`.
#include "check_command.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/row_checksum.hpp"
#include "storage/results_file.hpp"

namespace lira {
namespace {

constexpr int64_t kBlockBytes = int64_t{64} << 20;  // signals read per step

int check_file(const std::string& path) {
  ResultsReader r(path);
  const int64_t M = r.models(), N = r.candidates();
  const auto done = r.done();
  const auto done_count = std::count(done.begin(), done.end(), uint8_t{1});
  std::printf("%s: %lld models (%lld done), %lld candidates\n", path.c_str(), static_cast<long long>(M),
              static_cast<long long>(done_count), static_cast<long long>(N));
  int problems = 0;
  // The keep matrix: only 0 and 1 (ResultsReader refuses anything else, naming where).
  try {
    std::vector<uint8_t> keep;
    const int64_t step = std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(1, M));
    for (int64_t n0 = 0; n0 < N; n0 += step) r.read_keep(n0, std::min(N, n0 + step), keep);
    std::printf("keep: every value 0 or 1\n");
  } catch (const StorageError& e) {
    std::printf("keep: DAMAGED: %s\n", e.what());
    ++problems;
  }
  const auto signals = r.checksummed_signals();
  if (signals.empty()) {
    std::printf("signals: no row checksums in this file (written before lira kept them): rows not verified\n");
    return problems ? static_cast<int>(ExitCode::kIo) : 0;
  }
  std::vector<std::string> changed;
  for (const auto& name : signals) {
    const auto stored = r.checksums(name);
    const auto dims = r.stored_signal_dims(name);  // [M, S] for a per-token signal
    std::vector<RowChecksum> hashed(static_cast<size_t>(M));
    std::vector<float> buffer;
    if (dims.size() == 2) {
      // [M, S]: one row at a time (per-token signals have S tokens, not N candidates).
      for (int64_t m = 0; m < M; ++m) {
        if (!done[static_cast<size_t>(m)] || stored[static_cast<size_t>(m)] == 0) continue;
        r.read_token_signal(name, m, 0, dims[1], buffer);
        hashed[static_cast<size_t>(m)].update(buffer.data(), buffer.size());
      }
    } else {
      // [M, N, ...]: blocks of candidates, every model's slice of each block in turn.
      int64_t per_candidate = 4;
      for (size_t k = 2; k < dims.size(); ++k) per_candidate *= dims[k];
      const int64_t step = std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(1, M * per_candidate));
      for (int64_t n0 = 0; n0 < N; n0 += step) {
        r.read_signal(name, n0, std::min(N, n0 + step), buffer);
        const uint64_t per_model = buffer.size() / static_cast<uint64_t>(M);
        for (int64_t m = 0; m < M; ++m)
          if (done[static_cast<size_t>(m)] && stored[static_cast<size_t>(m)] != 0)
            hashed[static_cast<size_t>(m)].update(buffer.data() + static_cast<uint64_t>(m) * per_model, per_model);
      }
    }
    int64_t verified = 0, without = 0, bad = 0;
    for (int64_t m = 0; m < M; ++m) {
      if (!done[static_cast<size_t>(m)]) continue;
      if (stored[static_cast<size_t>(m)] == 0) {
        ++without;
        continue;
      }
      ++verified;
      if (hashed[static_cast<size_t>(m)].value() != stored[static_cast<size_t>(m)]) {
        ++bad;
        changed.push_back("model " + std::to_string(m) + " (" + name + ")");
      }
    }
    std::printf("%s: %lld done rows verified, %lld changed on disk%s\n", name.c_str(), static_cast<long long>(verified),
                static_cast<long long>(bad),
                without ? (", " + std::to_string(without) + " without a checksum (written before lira kept them)").c_str()
                        : "");
  }
  if (!changed.empty()) {
    std::printf("CHANGED ON DISK since their commit:");
    for (const auto& c : changed) std::printf(" %s;", c.c_str());
    std::printf("\nlira score and lira audit refuse this file. Restore it from a copy, or train those models again "
                "into a new file.\n");
    ++problems;
  }
  if (problems == 0) std::printf("ok: every committed row matches its checksum\n");
  return problems ? static_cast<int>(ExitCode::kIo) : 0;
}

}  // namespace

Subcommand add_check_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("check", "Verify a results file: every committed row against its checksum, and the "
                                          "keep matrix");
  cmd->add_option("file", *file, "Results file (HDF5)")->required();
  return {cmd, [file]() -> int { return check_file(*file); }};
}

}  // namespace lira
