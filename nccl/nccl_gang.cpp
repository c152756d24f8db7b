// Implements the NCCL gang. Compiled only with LIRA_HAVE_NCCL; nccl_stub.cpp otherwise.
#include "nccl/nccl_gang.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <thread>

#include "common/errors.hpp"

namespace lira {
namespace {

#define LIRA_CUDA_CHECK(call)                                                                        \
  do {                                                                                               \
    const cudaError_t lira_cuda_rc_ = (call);                                                        \
    if (lira_cuda_rc_ != cudaSuccess)                                                                \
      throw CommError(std::string(#call) + " failed at " + __FILE__ + ":" + std::to_string(__LINE__) + \
                      ": " + cudaGetErrorString(lira_cuda_rc_));                                     \
  } while (0)

std::string nccl_error(ncclResult_t rc) { return ncclGetErrorString(rc); }

class NcclGang final : public GangComm {
 public:
  NcclGang(GangComm& bootstrap, int device, std::chrono::seconds timeout)
      : rank_(bootstrap.rank()), size_(bootstrap.size()), name_(bootstrap.name()), device_(device), timeout_(timeout) {
    LIRA_CUDA_CHECK(cudaSetDevice(device_));
    ncclUniqueId id{};
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap.broadcast(&id, sizeof id, "broadcast of the NCCL unique id");
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // init and collectives return at once; errors and hangs are polled
    const ncclResult_t rc = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
    if (rc != ncclSuccess && rc != ncclInProgress) fail(rc, "ncclCommInitRankConfig");
    wait_comm("ncclCommInitRankConfig");
#else
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
#endif
    LIRA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    LIRA_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
  }

  ~NcclGang() override {
    if (comm_) broken_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_);
    if (ready_) cudaEventDestroy(ready_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_ + " [NCCL]"; }
  bool device_memory() const override { return true; }
  bool broken() const override { return broken_; }

  void allreduce_sum(float* data, size_t count, const char* what) override {
    run(what, [&] { return ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comm_, stream_); });
  }
  void allreduce_sum(double* data, size_t count, const char* what) override {
    run(what, [&] { return ncclAllReduce(data, data, count, ncclFloat64, ncclSum, comm_, stream_); });
  }
  void broadcast(void* data, size_t bytes, const char* what) override {
    run(what, [&] { return ncclBroadcast(data, data, bytes, ncclUint8, 0, comm_, stream_); });
  }

 private:
  [[noreturn]] void fail(ncclResult_t rc, const std::string& what) {
    broken_ = true;
    throw CommError(name_ + ": " + what + " failed: " + nccl_error(rc) + " (NCCL_DEBUG=INFO says more)");
  }
  void check(ncclResult_t rc, const char* what) {
    if (rc != ncclSuccess) fail(rc, what);
  }

  // Waits for a non-blocking communicator operation (init) to finish.
  void wait_comm(const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (auto delay = std::chrono::microseconds(20);; delay = std::min(delay * 2, std::chrono::microseconds(1000))) {
      ncclResult_t state = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) fail(state, what);
      if (std::chrono::steady_clock::now() >= deadline) timed_out(what);
      std::this_thread::sleep_for(delay);
    }
  }

  [[noreturn]] void timed_out(const std::string& what) {
    broken_ = true;
    // Abort now: a stuck collective would otherwise keep the GPU and the peers waiting.
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    throw CommError(name_ + ": " + what + " did not complete within " + std::to_string(timeout_.count()) +
                    " s (parallel.collective_timeout): a rank of the gang is stuck or dead. The model goes to another "
                    "gang and this gang retires");
  }

  template <class Enqueue>
  void run(const char* what, Enqueue enqueue) {
    if (broken_) throw CommError(name_ + ": " + what + " on a broken gang");
    LIRA_CUDA_CHECK(cudaSetDevice(device_));  // the calling thread may not be the one that built us
    // After everything already queued on the legacy default stream (libtorch's).
    LIRA_CUDA_CHECK(cudaEventRecord(ready_, cudaStreamLegacy));
    LIRA_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
    const ncclResult_t rc = enqueue();
    if (rc != ncclSuccess && rc != ncclInProgress) fail(rc, what);
    // On a non-blocking communicator ncclInProgress means the collective may not be on
    // the stream yet: until ncclCommGetAsyncError says ncclSuccess, an idle stream says
    // nothing about it. Then poll the stream. Both polls sleep and time out.
    if (rc == ncclInProgress) wait_comm(what);
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    int fast = 200;
    for (auto delay = std::chrono::microseconds(20);;) {
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) LIRA_CUDA_CHECK(q);
      ncclResult_t state = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclSuccess && state != ncclInProgress) fail(state, what);
      if (std::chrono::steady_clock::now() >= deadline) timed_out(what);
      std::this_thread::sleep_for(delay);
      if (--fast < 0) delay = std::min(delay * 2, std::chrono::microseconds(1000));
    }
  }

  int rank_, size_;
  std::string name_;
  int device_;
  std::chrono::seconds timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  bool broken_ = false;
};

}  // namespace

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "?";
  // NCCL >= 2.9: major * 10000 + minor * 100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

std::unique_ptr<GangComm> make_nccl_gang(GangComm& bootstrap, int device, std::chrono::seconds timeout) {
  return std::make_unique<NcclGang>(bootstrap, device, timeout);
}

}  // namespace lira
