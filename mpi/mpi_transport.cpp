// Implements the MPI transports: one byte message per protocol message, tagged by
// direction, received with matched probes so sizes need no second message.
#include "mpi_transport.hpp"

#include <algorithm>
#include <climits>
#include <thread>
#include <vector>

#include "mpi_check.hpp"

namespace lira::mpi {
namespace {

constexpr int kTagToWorker = 101;
constexpr int kTagToCoordinator = 102;

// Backoff between polls: short at first (a reply often follows quickly), then 1 ms.
class Backoff {
 public:
  void wait() {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    delay_us_ = std::min(delay_us_ * 2, 1000);
  }

 private:
  int delay_us_ = 20;
};

void send_bytes(const std::vector<std::byte>& bytes, int dest, int tag, MPI_Comm comm) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw CommError("message of " + std::to_string(bytes.size()) +
                    " bytes exceeds MPI's 2 GiB message limit; use fewer candidates or queries per model");
  MPI_Request req;
  LIRA_MPI_CHECK(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, comm, &req));
  Backoff backoff;
  for (;;) {
    int done = 0;
    LIRA_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    backoff.wait();
  }
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

CoordinatorEnd::CoordinatorEnd(MPI_Comm comm) : comm_(comm) { LIRA_MPI_CHECK(MPI_Comm_size(comm_, &size_)); }

std::string CoordinatorEnd::worker_name(int worker) const { return "rank " + std::to_string(worker + 1); }

std::optional<Incoming> CoordinatorEnd::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::byte> bytes;
  Backoff backoff;
  for (;;) {
    int from = -1;
    if (try_receive(MPI_ANY_SOURCE, kTagToCoordinator, comm_, bytes, from))
      return Incoming{from - 1, decode_worker_message(bytes.data(), bytes.size())};
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    backoff.wait();
  }
}

void CoordinatorEnd::send(int worker, const CoordinatorMessage& message) {
  send_bytes(encode(message), worker + 1, kTagToWorker, comm_);
}

WorkerEnd::WorkerEnd(MPI_Comm comm) : comm_(comm) {}

void WorkerEnd::send(const WorkerMessage& message) { send_bytes(encode(message), 0, kTagToCoordinator, comm_); }

CoordinatorMessage WorkerEnd::receive() {
  std::vector<std::byte> bytes;
  Backoff backoff;
  for (;;) {
    int from = -1;
    if (try_receive(0, kTagToWorker, comm_, bytes, from)) return decode_coordinator_message(bytes.data(), bytes.size());
    backoff.wait();
  }
}

}  // namespace lira::mpi
