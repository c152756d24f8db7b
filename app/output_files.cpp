// Implements output_files.hpp.
#include "output_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attack/html_report.hpp"
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

// A temporary beside path (its directory created if missing), renamed over it once complete.
std::string temporary_for(const std::string& path) {
  std::error_code ec;
  const auto parent = std::filesystem::absolute(path, ec).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  return path + ".tmp." + std::to_string(::getpid());
}

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

std::string role_name(Role role) {
  switch (role) {
    case Role::kResults: return "lira run's results file";
    case Role::kReport: return "lira score's --json report";
    case Role::kAudit: return "lira audit's --json report";
    case Role::kScores: return "lira score's --scores-out file";
    case Role::kRoc: return "lira score's --roc CSV";
    case Role::kRocPlot: return "lira score's --plot SVG";
    case Role::kScoresPlot: return "lira score's --plot-scores SVG";
    case Role::kExternalTarget: return "lira signals' external target file";
    case Role::kHtmlReport: return "lira report's HTML page";
  }
  return "a lira file";
}

std::optional<Role> file_role(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  const std::string h = head(path, 512);
  if (h.rfind("\x89HDF", 0) == 0 || h.find("\x89HDF\r\n") != std::string::npos) {
    const std::string kind = lira_hdf5_kind(path);
    if (kind == "results") return Role::kResults;
    if (kind == "scores") return Role::kScores;
    if (kind == "external target") return Role::kExternalTarget;
    return std::nullopt;
  }
  if (h.rfind("\x93NUMPY", 0) == 0)
    return h.find(kNpyMark) != std::string::npos ? std::optional(Role::kScores) : std::nullopt;
  if (h.find(kRocSvgMarker) != std::string::npos) return Role::kRocPlot;
  if (h.find(kScoresSvgMarker) != std::string::npos) return Role::kScoresPlot;
  if (h.find(kHtmlReportMarker) != std::string::npos) return Role::kHtmlReport;
  if (h.rfind(kScoresCsvHeader, 0) == 0) return Role::kScores;
  if (h.rfind(kRocCsvHeader, 0) == 0) return Role::kRoc;
  if (h.find_first_not_of(" \t\r\n") != std::string::npos && h[h.find_first_not_of(" \t\r\n")] == '{') {
    try {
      std::ifstream in(path);
      const auto j = nlohmann::json::parse(in);
      const std::string g = j.is_object() ? j.value("generator", std::string()) : std::string();
      if (g == "lira score") return Role::kReport;
      if (g == "lira audit") return Role::kAudit;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

namespace {

// The extensions (lower case) a role's file may have; empty: any.
std::vector<std::string> extensions_of(Role role) {
  switch (role) {
    case Role::kReport:
    case Role::kAudit: return {".json"};
    case Role::kScores: return {".h5", ".hdf5", ".csv", ".npy"};
    case Role::kRoc: return {".csv"};
    case Role::kRocPlot:
    case Role::kScoresPlot: return {".svg"};
    case Role::kHtmlReport: return {".html", ".htm"};
    case Role::kResults:
    case Role::kExternalTarget: return {};
  }
  return {};
}

void check_extension(const OutputPath& o) {
  const auto allowed = extensions_of(o.role);
  const std::string ext = extension(o.path);
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), ext) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  std::string why = std::string(o.flag) + " '" + o.path + "': " +
                    (ext.empty() ? std::string("no extension") : "the extension '" + ext + "'") + " is not " +
                    (allowed.size() == 1 ? "" : "one of ") + list + "; nothing was done";
  if (o.role == Role::kRocPlot || o.role == Role::kScoresPlot)
    why += ". lira draws SVG only (no plotting library): name the file .svg and convert it if needed "
           "(e.g. rsvg-convert -o plot.png plot.svg)";
  if (o.role == Role::kScores) why += ". The format follows the extension: " + std::string(kScoresFormats);
  if (o.role == Role::kReport || o.role == Role::kAudit) why += " (or '-' for standard output)";
  throw ConfigError(why);
}

// A file's identity: (device, inode) when it exists, else its absolute normal path.
struct Identity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string path;
  bool operator==(const Identity& o) const {
    return exists == o.exists && (exists ? dev == o.dev && ino == o.ino : path == o.path);
  }
};

Identity identity_of(const std::string& path) {
  Identity id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true, id.dev = st.st_dev, id.ino = st.st_ino;
    return id;
  }
  std::error_code ec;
  id.path = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec).lexically_normal().string();
  if (ec) id.path = std::filesystem::absolute(path).lexically_normal().string();
  return id;
}

// The files an input names: itself, or the files directly in it when it is a directory.
std::vector<std::pair<std::string, Identity>> input_files(const std::vector<InputPath>& inputs) {
  std::vector<std::pair<std::string, Identity>> files;
  for (const auto& in : inputs) {
    if (in.path.empty()) continue;
    std::error_code ec;
    if (std::filesystem::is_directory(in.path, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(in.path, ec))
        if (e.is_regular_file(ec)) files.emplace_back(in.what + " '" + e.path().string() + "'", identity_of(e.path()));
    } else {
      files.emplace_back(in.what + " '" + in.path + "'", identity_of(in.path));
    }
  }
  return files;
}

// The output's directory, or its nearest existing ancestor when it is still to be
// created, must take a new file: a probe file is created and removed, which also catches
// read-only filesystems and holds for root, whom access(2) calls able to write anywhere.
void check_directory_writable(const OutputPath& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = nearest_existing_directory(o.path);
  if (!fs::is_directory(dir, ec))
    throw StorageError(std::string(o.flag) + " '" + o.path + "': '" + dir.string() +
                       "' is a file, not a directory; choose another path (nothing was done)");
  const std::string probe = (dir / (".lira-probe." + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw StorageError(std::string(o.flag) + " '" + o.path + "': the directory '" + dir.string() +
                       "' does not take new files (" + std::strerror(errno) + "); choose another path (nothing was "
                       "done)");
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

std::string nearest_existing_directory(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::absolute(path, ec).parent_path();
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  return dir.string();
}

void check_outputs(const std::vector<InputPath>& inputs, const std::vector<OutputPath>& outputs, bool overwrite) {
  const auto in_files = input_files(inputs);
  std::vector<std::pair<const OutputPath*, Identity>> seen;
  for (const auto& o : outputs) {
    if (o.path.empty()) continue;
    if (o.path == "-") {
      if (o.role == Role::kReport || o.role == Role::kAudit) continue;  // standard output
      throw ConfigError(std::string(o.flag) + " -: only --json writes to standard output; give a file name");
    }
    check_extension(o);
    std::error_code ec;
    if (std::filesystem::is_directory(o.path, ec))
      throw ConfigError(std::string(o.flag) + " '" + o.path + "' is a directory; give a file name");
    const Identity id = identity_of(o.path);
    for (const auto& [what, in_id] : in_files)
      if (id == in_id)
        throw ConfigError(std::string(o.flag) + " '" + o.path + "' is " + what +
                          ", an input of this command; an output never replaces an input, --overwrite or not: "
                          "choose another path");
    for (const auto& [other, other_id] : seen)
      if (id == other_id)
        throw ConfigError(std::string(o.flag) + " '" + o.path + "' is also the path of " + other->flag +
                          "; give each output its own");
    seen.emplace_back(&o, id);
    // `lira run` without --overwrite resumes an existing results file: its own checks decide.
    if (id.exists && !(o.role == Role::kResults && !overwrite)) {
      const auto role = file_role(o.path);
      if (!role)
        throw ConfigError(std::string(o.flag) + " '" + o.path +
                          "' exists and lira did not write it (it has no mark of " + role_name(o.role) +
                          "); lira never replaces such a file, --overwrite or not. Choose another path, or move "
                          "the file away yourself");
      if (*role != o.role)
        throw ConfigError(std::string(o.flag) + " '" + o.path + "' exists and is " + role_name(*role) +
                          ", not " + role_name(o.role) + "; --overwrite replaces only a file of the same kind. "
                          "Choose another path");
      if (!overwrite)
        throw ConfigError(std::string(o.flag) + " '" + o.path + "' exists (" + role_name(*role) +
                          "); pass --overwrite to replace it, or choose another path");
    }
    check_directory_writable(o);
  }
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text.data(), text.size());
}

void write_scores(const std::string& path, const ScoreResult& result, const std::string& source) {
  check_extension({"--scores-out", path, Role::kScores});
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
