// Implements output_files.hpp.
#include "output_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attack/report.hpp"
#include "common/errors.hpp"
#include "lira/build_info.hpp"
#include "storage/scores_file.hpp"

namespace lira {
namespace {

constexpr const char* kNpyMark = "# written by lira score";
constexpr const char* kScoresCsvHeader = "target_model,candidate,member";
constexpr const char* kRocCsvHeader = "attack,fpr,tpr,threshold";
constexpr const char* kScoresFormats = ".h5 (or .hdf5), .csv or .npy";

std::string extension(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

std::string head(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string s(bytes, '\0');
  in.read(s.data(), static_cast<std::streamsize>(bytes));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

bool written_by_lira(const std::string& path) {
  const std::string ext = extension(path);
  if (ext == ".h5" || ext == ".hdf5") return written_by_lira_score(path);
  if (ext == ".npy") return head(path, 512).find(kNpyMark) != std::string::npos;
  if (ext == ".svg") return head(path, 512).find(kSvgMarker) != std::string::npos;
  if (ext == ".csv") {
    const std::string h = head(path, 256);
    return h.rfind(kScoresCsvHeader, 0) == 0 || h.rfind(kRocCsvHeader, 0) == 0;
  }
  if (ext == ".json") {
    try {
      std::ifstream in(path);
      const auto j = nlohmann::json::parse(in);
      return j.is_object() && j.value("generator", std::string()).rfind("lira ", 0) == 0;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

std::string temporary_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void rename_into_place(const std::string& tmp, const std::string& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw StorageError("cannot replace '" + path + "': " + why);
  }
}

void write_bytes_atomically(const std::string& path, const void* data, size_t size) {
  const std::string tmp = temporary_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw StorageError("cannot write '" + path + "': " + std::strerror(errno) +
                       "; check that its directory exists and is writable");
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd), ::unlink(tmp.c_str());
      throw StorageError("cannot write '" + path + "': " + why + " (is the disk full?)");
    }
    p += w, left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw StorageError("cannot write '" + path + "': " + why);
  }
  rename_into_place(tmp, path);
}

std::string scores_csv(const ScoreResult& r) {
  std::ostringstream out;
  out.precision(17);
  out << kScoresCsvHeader;
  for (const auto& a : r.report.attacks) out << "," << a.name;
  out << "\n";
  const int64_t N = r.report.candidates;
  for (size_t ti = 0; ti < r.report.targets.size(); ++ti)
    for (int64_t n = 0; n < N; ++n) {
      out << r.report.targets[ti] << "," << n << "," << int(r.membership[ti][static_cast<size_t>(n)]);
      for (const auto& m : r.scores) {
        const double v = m.at(static_cast<int64_t>(ti), n);
        out << ",";
        if (!std::isnan(v)) out << v;
      }
      out << "\n";
    }
  return out.str();
}

std::string scores_npy(const ScoreResult& r) {
  const size_t A = r.scores.size(), T = r.report.targets.size(), N = static_cast<size_t>(r.report.candidates);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(A) + ", " +
                       std::to_string(T) + ", " + std::to_string(N) + "), } " + kNpyMark + ", attacks:";
  for (const auto& a : r.report.attacks) header += " " + a.name;
  // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  out += header;
  for (const auto& m : r.scores)
    for (size_t ti = 0; ti < T; ++ti) {
      const auto row = m.row(static_cast<int64_t>(ti));
      out.append(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(double));  // little-endian hosts
    }
  return out;
}

}  // namespace

void check_scores_format(const std::string& path) {
  const std::string ext = extension(path);
  if (ext != ".h5" && ext != ".hdf5" && ext != ".csv" && ext != ".npy")
    throw StorageError("--scores-out '" + path + "': unknown format '" + ext + "'; use " + kScoresFormats);
}

void check_svg(const std::string& path, const char* flag) {
  if (extension(path) != ".svg")
    throw StorageError(std::string(flag) + " '" + path +
                       "': lira draws SVG only (no plotting library); name the file .svg and convert it if needed "
                       "(e.g. rsvg-convert -o plot.png plot.svg)");
}

void check_replaceable(const std::string& path, bool overwrite, const char* flag) {
  std::error_code ec;
  if (overwrite || !std::filesystem::exists(path, ec)) return;
  if (std::filesystem::is_directory(path, ec))
    throw StorageError(std::string(flag) + " '" + path + "' is a directory; give a file name");
  if (!written_by_lira(path))
    throw StorageError(std::string(flag) + " '" + path +
                       "' exists and was not written by lira; nothing was written. Choose another path, or pass "
                       "--overwrite to replace it");
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text.data(), text.size());
}

void write_scores(const std::string& path, const ScoreResult& result, const std::string& source) {
  check_scores_format(path);
  const std::string ext = extension(path);
  if (ext == ".csv") return write_text_atomically(path, scores_csv(result));
  if (ext == ".npy") return write_text_atomically(path, scores_npy(result));
  ScoresToWrite s;
  for (size_t a = 0; a < result.scores.size(); ++a) {
    const auto& ar = result.report.attacks[a];
    s.attacks.push_back(ar.name);
    // The rows of all targets are contiguous: [T, N] starting at target 0's row.
    s.scores.push_back({result.scores[a].row(0).data(), result.report.targets.size() * result.report.candidates});
    if (!ar.decisions.member_flip.empty()) {
      s.member_flip.push_back(ar.decisions.member_flip);
      s.member_flagged.push_back(ar.decisions.member_flagged);
    }
  }
  if (s.member_flip.size() != s.attacks.size()) s.member_flip.clear(), s.member_flagged.clear();
  s.targets = result.report.targets;
  for (const auto& row : result.membership) s.target_keep.insert(s.target_keep.end(), row.begin(), row.end());
  s.candidates = result.report.candidates;
  s.source = source;
  s.flavor = result.report.flavor;
  s.lira_version = std::string(build::kVersion) + " (" + build::kGitRevision + ")";
  // HDF5 writes the file itself: into a temporary beside it, then renamed.
  const std::string tmp = temporary_for(path);
  try {
    write_scores_file(tmp, s);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  rename_into_place(tmp, path);
}

}  // namespace lira
