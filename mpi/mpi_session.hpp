// The process's MPI lifetime and the few collectives the run needs at start-up.
//
// MPI is initialized only when the process was started by an MPI launcher (mpirun,
// srun): a plain `lira run` then works without any MPI runtime (no singleton init).
// The destructor never calls MPI_Finalize (an exception unwinding through it would turn a
// clean error into a hang); callers call finalize() on success and abort() on failure.
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

namespace lira::mpi {

// True if environment variables of a known MPI launcher are set (Open MPI, PMIx, PMI,
// MPICH/Hydra, Slurm's srun with --mpi).
bool launched_by_mpi_launcher();

// "Open MPI v4.1.4, ..." without initializing MPI.
std::string library_version();

class Session {
 public:
  // MPI_Init_thread asking for MPI_THREAD_SERIALIZED: a gang leader's job thread runs
  // the gang's collectives while its main thread talks to the coordinator, one call at a
  // time (mpi_check.hpp). Throws CommError on failure; a library that provides less is
  // recorded (thread_level()), and gangs are then refused (run_command.cpp).
  Session();
  ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int rank() const { return rank_; }
  // The thread support MPI provided (MPI_THREAD_SINGLE ... MPI_THREAD_MULTIPLE), and its name.
  int thread_level() const { return thread_level_; }
  static std::string thread_level_name(int level);
  int size() const { return size_; }
  MPI_Comm world() const { return MPI_COMM_WORLD; }
  // Ranks on this node, and this rank's index among them (MPI_COMM_TYPE_SHARED).
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }
  // Whether world rank 0 (the coordinator) runs on this node.
  bool coordinator_is_local() const { return coordinator_is_local_; }
  // This worker's index among the worker ranks of its node (the coordinator, world rank 0,
  // is local rank 0 where it runs): the GPU it should use.
  int local_worker_index() const { return local_rank_ - (coordinator_is_local_ ? 1 : 0); }

  void finalize();
  [[noreturn]] void abort(int code);

  // Rank `root`'s string on every rank.
  void broadcast(std::string& text, int root = 0) const;
  // Start-up agreement, collective: every rank says whether it is ready ("" = yes) and
  // with which exit code it would fail. Every rank gets the messages of the ranks that
  // are not ready ("rank 2: ...") and the highest exit code.
  struct Agreement {
    std::vector<std::string> failures;
    int exit_code = 0;
    bool ok() const { return failures.empty(); }
  };
  Agreement agree(const std::string& my_failure, int my_exit_code) const;

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0, thread_level_ = MPI_THREAD_SINGLE;
  bool coordinator_is_local_ = true;
  bool finalized_ = false;
};

}  // namespace lira::mpi
