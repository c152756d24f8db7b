// Implements RowWriter: pwrite of a model's rows at the offsets the coordinator gave.
#include "row_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "common/errors.hpp"
#include "common/row_checksum.hpp"

#include <spdlog/spdlog.h>

namespace lira {
namespace {

// pwrite of all `bytes`, across short writes and EINTR; false with errno set on failure.
bool write_all(int fd, const void* data, size_t bytes, uint64_t offset) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n, bytes -= static_cast<size_t>(n), offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

RowWriter::~RowWriter() { close(); }

void RowWriter::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RowWriter::usable(const DirectRows& target) {
  if (!target.enabled()) return false;
  if (target.path == path_ && target.nonce == nonce_) return usable_;
  close();
  path_ = target.path, nonce_ = target.nonce, usable_ = false;
  if constexpr (std::endian::native != std::endian::little) {
    why_not_ = "this rank is big-endian and the file stores little-endian floats";
    return false;
  }
  fd_ = ::open(target.path.c_str(), O_RDWR | O_CLOEXEC);  // read: the nonce; write: the rows
  if (fd_ < 0) {
    why_not_ = "cannot open it for writing: " + std::string(std::strerror(errno));
    return false;
  }
  std::vector<uint8_t> seen(target.nonce.size());
  const ssize_t n = ::pread(fd_, seen.data(), seen.size(), static_cast<off_t>(target.nonce_offset));
  if (target.nonce.empty() || n != static_cast<ssize_t>(seen.size()) || seen != target.nonce) {
    why_not_ = "the file at that path is not the coordinator's (its run nonce differs: another node's copy?)";
    close();
    return false;
  }
  usable_ = true;
  return true;
}

void RowWriter::write(const DirectRows& target, ModelResult& result) {
  if (!usable(target)) throw StorageError("cannot write into '" + target.path + "': " + why_not_);
  const std::string where = "model " + std::to_string(result.model) + "'s rows in '" + target.path + "'";
  for (const auto& t : target.signals) {
    auto it = std::find_if(result.signals.begin(), result.signals.end(), [&](const SignalArray& s) { return s.name == t.name; });
    if (it == result.signals.end()) throw StorageError("writing " + where + ": the result lacks signal '" + t.name + "'");
    if (it->values.size() * sizeof(float) != t.row_bytes)
      throw StorageError("writing " + where + ": signal '" + t.name + "' has " + std::to_string(it->values.size()) +
                         " values, the file's row " + std::to_string(t.row_bytes / sizeof(float)));
    it->checksum = RowChecksum::of(it->values.data(), it->values.size());  // of the bytes written
    if (!write_all(fd_, it->values.data(), t.row_bytes, t.offset + static_cast<uint64_t>(result.model) * t.row_bytes))
      throw StorageError("writing " + where + " failed: " + std::strerror(errno) +
                         " (a full disk? the model is retried; free space and resume if it fails)");
  }
  if (::fdatasync(fd_) != 0)
    throw StorageError("fdatasync of " + where + " failed: " + std::strerror(errno));
  for (auto& s : result.signals) std::vector<float>().swap(s.values);
  result.written = true;
}

void write_rows(RowWriter& rows, const DirectRows& direct, std::vector<WorkerMessage>& replies, bool warn) {
  const bool pending = std::any_of(replies.begin(), replies.end(), [](const WorkerMessage& m) {
    const auto* r = std::get_if<ModelResult>(&m);
    return r && !r->written;
  });
  if (!direct.enabled() || !pending) return;
  if (!rows.usable(direct)) {
    if (warn && !rows.warned_)
      spdlog::warn("this worker cannot write its results into '{}' ({}); it sends them to the coordinator instead",
                   direct.path, rows.why_not());
    rows.warned_ = rows.warned_ || warn;
    return;
  }
  for (auto& reply : replies) {
    auto* result = std::get_if<ModelResult>(&reply);
    if (!result || result->written) continue;
    try {
      rows.write(direct, *result);
    } catch (const std::exception& e) {
      reply = JobFailure{result->model, result->attempt, e.what(), false};
    }
  }
}

}  // namespace lira
