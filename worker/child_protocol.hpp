// The channel between a worker rank and its job process (worker/child_runner.hpp): one
// AF_UNIX stream socket, framed messages. Plain POSIX; no MPI, no libtorch.
//
// A frame is {magic, kind, payload bytes} then the payload. Jobs, results and failures
// travel in the coordinator protocol's own encoding (orchestrator/messages.hpp); the
// rest is a few integers and strings written by Writer and checked by Reader. Every send
// uses MSG_NOSIGNAL: a dead peer is an error (EPIPE), never a SIGPIPE that kills the rank.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lira::child {

enum class Kind : uint32_t {
  kInit = 1,             // rank -> job process: ChildInit
  kReady = 2,            // job process -> rank: set up, waiting for jobs
  kInitFailed = 3,       // job process -> rank: i32 exit code, string message
  kJob = 4,              // rank -> job process: encode(CoordinatorMessage{JobAssignment or JobPack})
  kStop = 5,             // rank -> job process: leave
  kProgress = 6,         // job process -> rank: a training step or an evaluation batch went by
  kResult = 7,           // job process -> rank: encode(WorkerMessage{ModelResult})
  kFailure = 8,          // job process -> rank: encode(WorkerMessage{JobFailure})
  kCollective = 9,       // job process -> rank: u32 op, string what, bytes data
  kCollectiveReply = 10  // rank -> job process: u8 ok, then bytes data (ok) or string error
};

enum class CollectiveOp : uint32_t { kSumFloat = 0, kSumDouble = 1, kBroadcast = 2 };

struct Frame {
  Kind kind{};
  std::vector<std::byte> payload;
};

// What a job process needs to build its runner; sent at each start.
struct ChildInit {
  std::string config_yaml;  // the resolved config
  std::string log_level;
  int32_t log_rank = -1;  // the rank prefix of its log lines (-1: none)
  int32_t threads = 1;
  int32_t device_index = 0;
  int32_t workers_on_node = 0;
  int32_t worker_index = 0;  // over all workers (the synthetic workload's slow workers)
  // The rank's data-parallel gang, proxied through the rank (size 1: none).
  int32_t gang_rank = 0;
  int32_t gang_size = 1;
  std::string gang_name;
};

std::vector<std::byte> encode(const ChildInit& init);
ChildInit decode_init(const std::vector<std::byte>& payload);

// Little builders for payloads.
class Writer {
 public:
  Writer& u32(uint32_t v);
  Writer& i64(int64_t v);
  Writer& str(const std::string& s);
  Writer& bytes(const void* data, size_t size);
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

// Throws CommError on a short payload.
class Reader {
 public:
  explicit Reader(const std::vector<std::byte>& in) : in_(in) {}
  uint32_t u32();
  int64_t i64();
  std::string str();
  // The next length-prefixed byte block, as a pointer into the payload.
  std::pair<const std::byte*, size_t> bytes();

 private:
  const std::byte* take(size_t n);
  const std::vector<std::byte>& in_;
  size_t at_ = 0;
};

// Sends one frame; throws CommError naming `peer` when the socket is closed or fails.
void send_frame(int fd, Kind kind, const std::vector<std::byte>& payload, const char* peer);
void send_frame(int fd, Kind kind, const char* peer);
// Blocks for the next frame; nullopt when the peer closed the socket before a frame
// began. Throws CommError on a frame cut short or a bad magic number.
std::optional<Frame> receive_frame(int fd, const char* peer);
// Whether a frame (or the end of the stream) can be read within `timeout`.
bool readable(int fd, std::chrono::milliseconds timeout);

}  // namespace lira::child
