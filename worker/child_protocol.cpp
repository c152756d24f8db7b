// Implements the job-process channel's framing (child_protocol.hpp).
#include "child_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.hpp"

namespace lira::child {
namespace {

constexpr uint32_t kMagic = 0x4c4a4f42;  // "LJOB"
constexpr uint64_t kMaxPayload = uint64_t{1} << 40;

struct Header {
  uint32_t magic;
  uint32_t kind;
  uint64_t size;
};

void send_all(int fd, const void* data, size_t size, const char* peer) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw CommError(std::string("sending to ") + peer + " failed: " + std::strerror(errno) +
                      " (the other process has ended)");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Reads exactly `size` bytes; false at end of stream before the first byte.
bool receive_all(int fd, void* data, size_t size, const char* peer) {
  auto* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(fd, p + got, size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    // A peer that died with our data unread resets the connection: the same as its end.
    if (n < 0 && errno != ECONNRESET)
      throw CommError(std::string("receiving from ") + peer + " failed: " + std::strerror(errno));
    if (n <= 0) {
      if (got == 0) return false;
      throw CommError(std::string(peer) + " closed the channel in the middle of a message");
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

void append(std::vector<std::byte>& out, const void* data, size_t size) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + size);
}

}  // namespace

Writer& Writer::u32(uint32_t v) {
  append(out_, &v, sizeof v);
  return *this;
}
Writer& Writer::i64(int64_t v) {
  append(out_, &v, sizeof v);
  return *this;
}
Writer& Writer::bytes(const void* data, size_t size) {
  i64(static_cast<int64_t>(size));
  append(out_, data, size);
  return *this;
}
Writer& Writer::str(const std::string& s) { return bytes(s.data(), s.size()); }

const std::byte* Reader::take(size_t n) {
  if (n > in_.size() - at_) throw CommError("job process channel: a message is shorter than its contents say");
  const std::byte* p = in_.data() + at_;
  at_ += n;
  return p;
}
uint32_t Reader::u32() {
  uint32_t v;
  std::memcpy(&v, take(sizeof v), sizeof v);
  return v;
}
int64_t Reader::i64() {
  int64_t v;
  std::memcpy(&v, take(sizeof v), sizeof v);
  return v;
}
std::pair<const std::byte*, size_t> Reader::bytes() {
  const int64_t n = i64();
  if (n < 0) throw CommError("job process channel: a negative length");
  return {take(static_cast<size_t>(n)), static_cast<size_t>(n)};
}
std::string Reader::str() {
  const auto [p, n] = bytes();
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::vector<std::byte> encode(const ChildInit& c) {
  Writer w;
  w.str(c.config_yaml).str(c.log_level).i64(c.log_rank).i64(c.threads).i64(c.device_index).i64(c.workers_on_node);
  w.i64(c.worker_index).i64(c.gang_rank).i64(c.gang_size).str(c.gang_name);
  return w.take();
}

ChildInit decode_init(const std::vector<std::byte>& payload) {
  Reader r(payload);
  ChildInit c;
  c.config_yaml = r.str();
  c.log_level = r.str();
  c.log_rank = static_cast<int32_t>(r.i64());
  c.threads = static_cast<int32_t>(r.i64());
  c.device_index = static_cast<int32_t>(r.i64());
  c.workers_on_node = static_cast<int32_t>(r.i64());
  c.worker_index = static_cast<int32_t>(r.i64());
  c.gang_rank = static_cast<int32_t>(r.i64());
  c.gang_size = static_cast<int32_t>(r.i64());
  c.gang_name = r.str();
  return c;
}

void send_frame(int fd, Kind kind, const std::vector<std::byte>& payload, const char* peer) {
  const Header h{kMagic, static_cast<uint32_t>(kind), payload.size()};
  send_all(fd, &h, sizeof h, peer);
  if (!payload.empty()) send_all(fd, payload.data(), payload.size(), peer);
}

void send_frame(int fd, Kind kind, const char* peer) { send_frame(fd, kind, {}, peer); }

std::optional<Frame> receive_frame(int fd, const char* peer) {
  Header h{};
  if (!receive_all(fd, &h, sizeof h, peer)) return std::nullopt;
  if (h.magic != kMagic || h.size > kMaxPayload)
    throw CommError(std::string(peer) + " sent something that is not a lira job-process message");
  Frame f;
  f.kind = static_cast<Kind>(h.kind);
  f.payload.resize(h.size);
  if (h.size > 0 && !receive_all(fd, f.payload.data(), h.size, peer))
    throw CommError(std::string(peer) + " closed the channel in the middle of a message");
  return f;
}

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw CommError(std::string("poll on the job-process channel failed: ") + std::strerror(errno));
    return rc > 0;
  }
}

}  // namespace lira::child
