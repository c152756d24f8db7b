// Implements the MPI transports: one byte message per protocol message, tagged by
// direction, received with matched probes so sizes need no second message.
#include "mpi_transport.hpp"

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <climits>
#include <thread>
#include <vector>

#include "backoff.hpp"
#include "mpi_check.hpp"

namespace lira::mpi {
namespace {

constexpr int kTagToWorker = 101;
constexpr int kTagToCoordinator = 102;

// A worker waits up to a job's length between messages: 1 ms between polls at most. The
// coordinator, the one rank whose delay every worker feels, polls 4x as often.
constexpr int kWorkerPollCapUs = 1000;
constexpr int kCoordinatorPollCapUs = 250;
// Right after sending, a worker polls every ~20 us for ~40 polls (~2-3 ms: long enough
// for the coordinator's answer to a result, short enough to cost nothing).
constexpr int kWorkerFastPolls = 40;

// Linux lets a sleep overrun by up to the thread's timer slack, 50 us by default: a 20 us
// poll then lasts 70 us. With 1 us of slack the polls (and the workers' threads, which
// inherit it) sleep what they ask for.
void tighten_timer_slack() {
#ifdef __linux__
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);  // best effort: only the timing changes
#endif
}

// Receives one message if one is waiting; returns false otherwise.
bool try_receive(int source, int tag, MPI_Comm comm, std::vector<std::byte>& out, int& from) {
  int flag = 0;
  MPI_Message msg;
  MPI_Status status;
  LIRA_MPI_CHECK(MPI_Improbe(source, tag, comm, &flag, &msg, &status));
  if (!flag) return false;
  int count = 0;
  LIRA_MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &count));
  out.resize(static_cast<size_t>(count));
  LIRA_MPI_CHECK(MPI_Mrecv(out.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE));
  from = status.MPI_SOURCE;
  return true;
}

}  // namespace

PendingSends::~PendingSends() {
  // Normally empty by now: every message was answered. A peer that died never completes
  // its send; after a bounded wait, leave it to MPI (the run is ending anyway).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Backoff backoff(kWorkerPollCapUs);
  while (!sends_.empty() && std::chrono::steady_clock::now() < deadline) {
    int done = 0;
    if (LIRA_MPI_CALL(MPI_Test(&sends_.front().request, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS) break;
    if (done) {
      sends_.pop_front();
    } else {
      backoff.wait();
    }
  }
  for (auto& s : sends_) {
    LIRA_MPI_CALL(MPI_Request_free(&s.request));
    new std::vector<std::byte>(std::move(s.bytes));  // MPI may still read it: keep it alive (leaked)
  }
}

void PendingSends::start(std::vector<std::byte> bytes, int dest, int tag, MPI_Comm comm) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw CommError("message of " + std::to_string(bytes.size()) +
                    " bytes exceeds MPI's 2 GiB message limit; use fewer candidates or queries per model");
  progress();
  sends_.push_back(Send{std::move(bytes)});
  Send& s = sends_.back();
  LIRA_MPI_CHECK(MPI_Isend(s.bytes.data(), static_cast<int>(s.bytes.size()), MPI_BYTE, dest, tag, comm, &s.request));
  progress();  // an eager send completes here
}

void PendingSends::progress() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    LIRA_MPI_CHECK(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
    it = done ? sends_.erase(it) : std::next(it);
  }
}

void PendingSends::wait_all() {
  Backoff backoff(kWorkerPollCapUs);
  for (progress(); !sends_.empty(); progress()) backoff.wait();
}

CoordinatorEnd::CoordinatorEnd(MPI_Comm comm, std::vector<int> worker_ranks) : comm_(comm), ranks_(std::move(worker_ranks)) {
  LIRA_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  if (ranks_.empty())
    for (int r = 1; r < size_; ++r) ranks_.push_back(r);
  worker_of_.assign(static_cast<size_t>(size_), -1);
  for (size_t w = 0; w < ranks_.size(); ++w) worker_of_.at(static_cast<size_t>(ranks_[w])) = static_cast<int>(w);
  tighten_timer_slack();
}

std::string CoordinatorEnd::worker_name(int worker) const {
  return "rank " + std::to_string(ranks_.at(static_cast<size_t>(worker)));
}

std::optional<Incoming> CoordinatorEnd::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::byte> bytes;
  Backoff backoff(kCoordinatorPollCapUs);
  for (;;) {
    int from = -1;
    if (try_receive(MPI_ANY_SOURCE, kTagToCoordinator, comm_, bytes, from))
      return Incoming{from >= 0 && from < size_ ? worker_of_[static_cast<size_t>(from)] : -1,
                      decode_worker_message(bytes.data(), bytes.size())};
    sends_.progress();
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    backoff.wait();
  }
}

void CoordinatorEnd::send(int worker, const CoordinatorMessage& message) {
  sends_.start(encode(message), ranks_.at(static_cast<size_t>(worker)), kTagToWorker, comm_);
}

WorkerEnd::WorkerEnd(MPI_Comm comm) : comm_(comm) { tighten_timer_slack(); }

void WorkerEnd::send(const WorkerMessage& message) {
  // One message in flight at most: a worker's messages are few (a result, heartbeats).
  sends_.wait_all();
  sends_.start(encode(message), 0, kTagToCoordinator, comm_);
}

CoordinatorMessage WorkerEnd::receive() {
  std::vector<std::byte> bytes;
  Backoff backoff(kWorkerPollCapUs, kWorkerFastPolls);
  for (;;) {
    int from = -1;
    if (try_receive(0, kTagToWorker, comm_, bytes, from)) return decode_coordinator_message(bytes.data(), bytes.size());
    sends_.progress();
    backoff.wait();
  }
}

}  // namespace lira::mpi
