// Job isolation: a worker rank trains in a child process, its job process, so that a
// segfault, abort(), an uncaught exception, the OOM killer's SIGKILL or a hang costs one
// job and not the rank (parallel.isolation: process; docs/reliability.md).
//
// The job process is this executable again (`lira __job-process`, started with
// posix_spawn: a fresh process image, nothing inherited from MPI or its threads). It is
// started once, reused for every job, and started again for the next job after it died.
// It owns libtorch, the dataset and the GPU context; the rank keeps MPI and relays:
// jobs in, results and failures out, and -- in a data-parallel gang -- the host-memory
// collectives, which the rank runs on its MPI gang for the job process (an NCCL gang is
// set up by the job processes themselves, its unique id broadcast through the ranks).
//
// A dead job process is reported as the job's failure with the cause (the signal's name
// or the exit code) and its last log line; a job process that shows no progress (a
// training step or an evaluation batch) for parallel.stall_seconds is killed and
// reported likewise. Its standard error is copied to the rank's, line by line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "child_protocol.hpp"
#include "common/gang_comm.hpp"
#include "job_runner.hpp"

namespace lira {

struct ChildOptions {
  std::string executable;         // the program to start ("/proc/self/exe")
  std::vector<std::string> args;  // its arguments after argv[0]
  child::ChildInit init;          // sent to every job process this runner starts
  std::chrono::seconds stall{600};
  // Set-up waits max(stall, setup_floor): loading libtorch and the data, creating a CUDA
  // context and meeting a gang's peers are slow on a loaded node and show no progress.
  std::chrono::seconds setup_floor{60};
  // The rank's host gang, on which the job process's collectives run (null: no gang).
  GangComm* gang = nullptr;
  std::string label = "the job process";  // for messages: "rank 3's job process"
};

class ChildRunner final : public JobRunner {
 public:
  // Starts the job process and waits until it is ready; throws its set-up error (with
  // its exit code: bad data is a DataError here as in the rank) when it cannot start.
  explicit ChildRunner(ChildOptions options);
  ~ChildRunner() override;
  ChildRunner(const ChildRunner&) = delete;
  ChildRunner& operator=(const ChildRunner&) = delete;

  ModelResult run(const JobAssignment& job) override;
  // The pack goes to the job process whole; if it dies, the whole pack failed (throws).
  std::vector<WorkerMessage> run_pack(const std::vector<JobAssignment>& jobs) override;
  // A job process that died inside a gang leaves the gang's other ranks in a collective
  // it will never join: the gang cannot go on.
  bool broken() const override { return broken_ || (options_.gang && options_.gang->broken()); }

  pid_t pid() const { return pid_; }  // 0 when no job process is running
  int starts() const { return starts_; }

 private:
  // Sends `work` (a job or a pack of `models`) and relays until `replies` results or
  // failures came back; throws TrainError when the job process dies or stalls.
  std::vector<WorkerMessage> exchange(const CoordinatorMessage& work, const std::vector<int64_t>& models,
                                      size_t replies);
  void start();      // asks the spawner thread to spawn, then does the handshake
  void spawn();      // on the spawner thread
  void handshake();  // init message, set-up, ready
  void stop_spawner();
  // Kills (if alive) and reaps the job process; returns why it ended, in words.
  std::string reap(bool kill_first);
  void serve_collective(const child::Frame& frame);
  std::string last_line();

  ChildOptions options_;
  pid_t pid_ = 0;
  int fd_ = -1;         // the channel
  int stderr_fd_ = -1;  // read end of the job process's standard error
  std::thread relay_;   // copies stderr_fd_ to our standard error
  std::mutex line_mutex_;
  std::string last_line_;
  bool broken_ = false;
  int starts_ = 0;
  std::thread spawner_;
  std::mutex spawn_mutex_;
  std::condition_variable spawn_cv_;
  bool spawn_requested_ = false, spawner_exit_ = false;
  std::exception_ptr spawn_error_;
};

}  // namespace lira
