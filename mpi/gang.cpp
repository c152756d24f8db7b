// Implements the MPI gangs.
#include "gang.hpp"

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "backoff.hpp"
#include "common/errors.hpp"
#include "mpi_check.hpp"

namespace lira::mpi {
namespace {

// Gradient all-reduces come every training step: poll fast (a step on CPU is milliseconds)
// for a while, then back off to at most 1 ms.
constexpr int kCollectivePollCapUs = 1000;
constexpr int kCollectiveFastPolls = 200;

}  // namespace

GangLayout gang_layout(int world_rank, int world_size, int ranks_per_model) {
  const int workers = world_size - 1;
  if (ranks_per_model < 1 || workers < ranks_per_model || workers % ranks_per_model != 0)
    throw ConfigError("parallel.ranks_per_model is " + std::to_string(ranks_per_model) + " but there are " +
                      std::to_string(workers) + " worker ranks (MPI ranks - 1): start k x gangs + 1 ranks, e.g. " +
                      std::to_string(ranks_per_model + 1) + " or " + std::to_string(2 * ranks_per_model + 1));
  GangLayout g;
  g.ranks_per_model = ranks_per_model;
  for (int r = 1; r < world_size; r += ranks_per_model) g.leaders.push_back(r);
  if (world_rank > 0) {
    g.gang = (world_rank - 1) / ranks_per_model;
    g.gang_rank = (world_rank - 1) % ranks_per_model;
  }
  return g;
}

MpiGang::MpiGang(MPI_Comm world, const GangLayout& layout, std::chrono::seconds timeout) : timeout_(timeout) {
  int world_rank = 0;
  LIRA_MPI_CHECK(MPI_Comm_rank(world, &world_rank));
  LIRA_MPI_CHECK(MPI_Comm_split(world, layout.gang < 0 ? MPI_UNDEFINED : layout.gang, world_rank, &comm_));
  if (comm_ == MPI_COMM_NULL) return;
  LIRA_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  LIRA_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  const int first = layout.leaders.at(static_cast<size_t>(layout.gang));
  name_ = "gang " + std::to_string(layout.gang) + " (world ranks " + std::to_string(first) + "-" +
          std::to_string(first + size_ - 1) + ")";
}

MpiGang::~MpiGang() {
  // A broken gang may have a collective in flight: freeing the communicator then is
  // erroneous, and the run ends with MPI_Abort anyway.
  if (comm_ != MPI_COMM_NULL && !broken_) LIRA_MPI_CALL(MPI_Comm_free(&comm_));
}

void MpiGang::wait(MPI_Request& request, const char* what, bool forever) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  Backoff backoff(kCollectivePollCapUs, forever ? 0 : kCollectiveFastPolls);
  for (;;) {
    int done = 0;
    const int rc = LIRA_MPI_CALL(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (rc != MPI_SUCCESS) {
      broken_ = true;
      throw_mpi_error(rc, what, __FILE__, __LINE__);
    }
    if (done) return;
    if (!forever && std::chrono::steady_clock::now() >= deadline) {
      broken_ = true;
      throw CommError(name_ + ": " + what + " did not complete within " + std::to_string(timeout_.count()) +
                      " s (parallel.collective_timeout): a rank of the gang is stuck or dead. The model goes to "
                      "another gang and this gang retires");
    }
    backoff.wait();
  }
}

// Fault injection for tests/e2e/gangs.sh: LIRA_TEST_STALL_RANK=R:S makes world rank R
// sleep S seconds before its first all-reduce, as a rank stuck in a kernel or a dead GPU
// would. Read once; unset in normal runs.
static void stall_if_asked() {
  static bool done = false;
  if (done) return;
  done = true;
  const char* spec = std::getenv("LIRA_TEST_STALL_RANK");
  if (!spec) return;
  int rank = -1, seconds = 0, world = -1;
  if (std::sscanf(spec, "%d:%d", &rank, &seconds) != 2) return;

  LIRA_MPI_CALL(MPI_Comm_rank(MPI_COMM_WORLD, &world));
  if (world == rank) std::this_thread::sleep_for(std::chrono::seconds(seconds));
}

void MpiGang::allreduce(void* data, size_t count, MPI_Datatype type, const char* what) {
  if (broken_) throw CommError(name_ + ": " + what + " on a broken gang");
  if (size_ == 1) return;
  stall_if_asked();
  if (count > static_cast<size_t>(INT_MAX)) throw CommError(name_ + ": " + what + ": more than 2^31 elements");
  MPI_Request request = MPI_REQUEST_NULL;
  LIRA_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), type, MPI_SUM, comm_, &request));
  wait(request, what);
}

void MpiGang::allreduce_sum(float* data, size_t count, const char* what) { allreduce(data, count, MPI_FLOAT, what); }
void MpiGang::allreduce_sum(double* data, size_t count, const char* what) { allreduce(data, count, MPI_DOUBLE, what); }

void MpiGang::broadcast(void* data, size_t bytes, const char* what) {
  if (broken_) throw CommError(name_ + ": " + what + " on a broken gang");
  if (size_ == 1) return;
  if (bytes > static_cast<size_t>(INT_MAX)) throw CommError(name_ + ": " + what + ": more than 2 GiB");
  MPI_Request request = MPI_REQUEST_NULL;
  LIRA_MPI_CHECK(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, 0, comm_, &request));
  wait(request, what);
}

void MpiGang::share(const CoordinatorMessage& message) {
  auto bytes = encode(message);
  uint64_t size = bytes.size();
  broadcast(&size, sizeof size, "sharing the job with the gang");
  broadcast(bytes.data(), bytes.size(), "sharing the job with the gang");
}

CoordinatorMessage MpiGang::await() {
  uint64_t size = 0;
  if (broken_) throw CommError(name_ + ": waiting for a job on a broken gang");
  MPI_Request request = MPI_REQUEST_NULL;
  LIRA_MPI_CHECK(MPI_Ibcast(&size, sizeof size, MPI_BYTE, 0, comm_, &request));
  wait(request, "waiting for the leader's next job", /*forever=*/true);
  std::vector<std::byte> bytes(size);
  broadcast(bytes.data(), bytes.size(), "receiving the job from the leader");
  return decode_coordinator_message(bytes.data(), bytes.size());
}

}  // namespace lira::mpi
